//! Credentials, the ledger of AI calls, budgets and usage reports.

use weft_core::CredentialId;
use weft_store::{
    AiCallRecord, BudgetPeriod, BudgetScope, CredentialChanges, CredentialKind, NewCredential, StoreError,
    UsageGroup, UsageQuery,
};

use crate::helpers::{both, create_user, days, now};

fn call(
    project: Option<weft_core::ProjectId>,
    user: weft_core::UserId,
    model: &str,
    cost: i64,
) -> AiCallRecord {
    AiCallRecord {
        user_id: Some(user),
        project_id: project,
        workflow_id: None,
        run_id: None,
        node_id: Some("ask".to_owned()),
        purpose: "node".to_owned(),
        provider: "local".to_owned(),
        model: model.to_owned(),
        prompt_tokens: 10,
        completion_tokens: 5,
        cost_micro_usd: cost,
        latency_ms: 12,
        outcome: "ok".to_owned(),
    }
}

both!(credentials_keep_only_sealed_secrets_and_unique_names, |store| async move {
    let owner = create_user(&store, "owner@example.test").await;
    let project = store.create_project(owner.id, "P".into(), String::new(), now()).await.unwrap();
    let new = NewCredential {
        id: CredentialId::new(),
        project_id: project.id,
        name: "openrouter".into(),
        kind: CredentialKind::AiProvider,
        base_url: Some("https://openrouter.example/api/v1".into()),
        header_name: None,
        models: vec!["gpt-4o-mini".into()],
        sealed: "v1.sealed".into(),
        hint: "…abcd".into(),
        created_by: Some(owner.id),
    };
    let created = store.create_credential(new.clone(), now()).await.unwrap();
    assert_eq!(created.models, ["gpt-4o-mini"]);
    let again = NewCredential { id: CredentialId::new(), ..new };
    assert!(matches!(store.create_credential(again, now()).await, Err(StoreError::Conflict { .. })));
    let changes = CredentialChanges {
        name: Some("router".into()),
        secret: Some(("v1.other".into(), "…wxyz".into())),
        ..CredentialChanges::default()
    };
    let updated = store.update_credential(created.id, changes, now()).await.unwrap().unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.sealed.as_str(), updated.hint.as_str()),
        ("router", "v1.other", "…wxyz")
    );
    assert_eq!(updated.base_url, created.base_url, "unchanged fields stay");
    assert!(
        store
            .update_credential(CredentialId::new(), CredentialChanges::default(), now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_credentials(project.id).await.unwrap().len(), 1);
    assert!(store.delete_credential(created.id).await.unwrap());
    assert!(!store.delete_credential(created.id).await.unwrap());
    assert!(store.get_credential(created.id).await.unwrap().is_none());
});

both!(spend_budgets_and_usage_add_up_the_ledger, |store| async move {
    let owner = create_user(&store, "owner@example.test").await;
    let project = store.create_project(owner.id, "P".into(), String::new(), now()).await.unwrap();
    let earlier = now() - days(40);
    store.record_ai_calls(vec![call(Some(project.id), owner.id, "old", 1_000_000)], earlier).await.unwrap();
    let calls = vec![
        call(Some(project.id), owner.id, "small", 150),
        call(Some(project.id), owner.id, "small", 250),
        call(Some(project.id), owner.id, "large", 2_000),
        call(None, owner.id, "small", 7),
    ];
    store.record_ai_calls(calls, now()).await.unwrap();
    let since = BudgetPeriod::Month.start(now());
    assert_eq!(store.spent_since(BudgetScope::Project, project.id.0, since).await.unwrap(), 2_400);
    assert_eq!(store.spent_since(BudgetScope::User, owner.id.0, since).await.unwrap(), 2_407);

    store.set_budget(BudgetScope::Project, project.id.0, BudgetPeriod::Day, 5_000, now()).await.unwrap();
    store.set_budget(BudgetScope::Project, project.id.0, BudgetPeriod::Day, 9_000, now()).await.unwrap();
    store.set_budget(BudgetScope::User, owner.id.0, BudgetPeriod::Month, 1, now()).await.unwrap();
    let budgets = store
        .budgets_of(&[(BudgetScope::Project, project.id.0), (BudgetScope::User, owner.id.0)])
        .await
        .unwrap();
    assert_eq!(budgets.len(), 2, "setting again replaces: {budgets:?}");
    assert!(budgets.iter().any(|b| b.period == BudgetPeriod::Day && b.limit_micro_usd == 9_000));
    assert!(store.delete_budget(BudgetScope::User, owner.id.0, BudgetPeriod::Month).await.unwrap());

    let query = |group_by| UsageQuery {
        project_ids: vec![project.id],
        user_id: None,
        from: now() - days(1),
        to: now() + days(1),
        group_by,
    };
    let by_model = store.usage(query(UsageGroup::Model)).await.unwrap();
    assert_eq!(
        by_model.iter().map(|r| (r.key.as_str(), r.calls, r.cost_micro_usd)).collect::<Vec<_>>(),
        [("local/large", 1, 2_000), ("local/small", 2, 400)]
    );
    let by_day = store.usage(query(UsageGroup::Day)).await.unwrap();
    assert_eq!(by_day.len(), 1);
    assert_eq!(by_day[0].key, now().date_naive().to_string());
    assert_eq!((by_day[0].prompt_tokens, by_day[0].completion_tokens), (30, 15));
    let by_project = store.usage(query(UsageGroup::Project)).await.unwrap();
    assert_eq!(by_project[0].key, project.id.0.to_string());
    let mine = UsageQuery { project_ids: Vec::new(), user_id: Some(owner.id), ..query(UsageGroup::Project) };
    let mine = store.usage(mine).await.unwrap();
    assert_eq!(
        mine.iter().map(|r| r.cost_micro_usd).sum::<i64>(),
        2_407,
        "a user's own calls, with and without project"
    );
});

both!(reservations_keep_concurrent_calls_within_a_budget, |store| async move {
    use weft_store::{BudgetCheck, Reservation};
    let owner = create_user(&store, "owner@example.test").await;
    let project = store.create_project(owner.id, "P".into(), String::new(), now()).await.unwrap();
    let check = BudgetCheck {
        scope: BudgetScope::Project,
        subject_id: project.id.0,
        since: BudgetPeriod::Day.start(now()),
        limit_micro_usd: 1_000,
    };
    // Ten attempts of 300 each race for a budget of 1,000: exactly three fit.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, check) = (store.handle(), check.clone());
        let placeholder =
            AiCallRecord { outcome: "reserved".into(), ..call(Some(project.id), owner.id, "m", 300) };
        tasks.push(tokio::spawn(
            async move { store.reserve_spend(&[check], placeholder, now()).await.unwrap() },
        ));
    }
    let mut reserved = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Reservation::Reserved(id) => reserved.push(id),
            Reservation::Refused { check, spent_micro_usd } => {
                assert_eq!(check, 0);
                assert!(spent_micro_usd > 700, "refused only when it would not fit: {spent_micro_usd}");
            }
        }
    }
    assert_eq!(reserved.len(), 3);
    assert_eq!(store.spent_since(BudgetScope::Project, project.id.0, check.since).await.unwrap(), 900);
    // Settling replaces the worst case with the real cost.
    let actual = call(Some(project.id), owner.id, "m", 40);
    store
        .settle_ai_calls(
            vec![(Some(reserved[0]), actual), (None, call(Some(project.id), owner.id, "m", 5))],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(store.spent_since(BudgetScope::Project, project.id.0, check.since).await.unwrap(), 645);
});
