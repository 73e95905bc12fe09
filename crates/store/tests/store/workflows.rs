//! Projects, members and workflow versions.

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use weft_core::{ProjectRole, UserId};
use weft_store::{
    MemberChange, NewVersion, NewWorkflow, SaveOutcome, VERSIONS_PER_SNAPSHOT, VersionContent, WorkflowQuery,
    WorkflowStatus, snapshot_due,
};

use crate::helpers::{both, create_user, now};

fn new_workflow(project_id: weft_core::ProjectId, author: UserId, name: &str, tags: &[&str]) -> NewWorkflow {
    NewWorkflow {
        project_id,
        name: name.to_owned(),
        description: String::new(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        graph: r#"{"nodes":[],"edges":[]}"#.to_owned(),
        message: "created".to_owned(),
        author_id: author,
    }
}

both!(concurrent_saves_of_one_version_have_one_winner, |store| async move {
    let owner = create_user(&store, "owner@example.test").await;
    let project = store.create_project(owner.id, "P".into(), String::new(), now()).await.unwrap();
    let workflow = store.create_workflow(new_workflow(project.id, owner.id, "W", &[]), now()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let handle = store.handle();
        let id = workflow.id;
        tasks.push(tokio::spawn(async move {
            let new = NewVersion {
                expected_version: 1,
                content: VersionContent::Snapshot(format!(r#"{{"n":{i}}}"#)),
                author_id: owner.id,
                message: format!("save {i}"),
            };
            handle.save_version(id, new, chrono::Utc::now()).await.unwrap()
        }));
    }
    let mut saved = 0;
    for task in tasks {
        match task.await.unwrap() {
            SaveOutcome::Saved(w) => {
                saved += 1;
                assert_eq!(w.current_version, 2);
            }
            SaveOutcome::Conflict { current_version } => assert_eq!(current_version, 2),
            SaveOutcome::NotFound => panic!("workflow vanished"),
        }
    }
    assert_eq!(saved, 1, "exactly one editor wins");
    let versions = store.list_versions(workflow.id, None, 10).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
    assert!(versions.iter().all(|v| v.graph.is_none()), "listings carry no graphs");
    assert!(store.get_version(workflow.id, 2).await.unwrap().unwrap().graph.is_some());
});

both!(deltas_replay_onto_the_nearest_snapshot, |store| async move {
    let owner = create_user(&store, "owner@example.test").await;
    let project = store.create_project(owner.id, "P".into(), String::new(), now()).await.unwrap();
    let mut new = new_workflow(project.id, owner.id, "W", &[]);
    new.graph = r#"{"count":1,"log":[]}"#.to_owned();
    let workflow = store.create_workflow(new, now()).await.unwrap();
    // Version v has count = v and log = [2, ..., v]; a snapshot is written where one is due.
    let last = VERSIONS_PER_SNAPSHOT * 2 + 5;
    for version in 2..=last {
        let content = if snapshot_due(version) {
            let log: Vec<i32> = (2..=version).collect();
            VersionContent::Snapshot(serde_json::json!({ "count": version, "log": log }).to_string())
        } else {
            VersionContent::Delta(
                serde_json::json!([
                    { "op": "replace", "path": "/count", "value": version },
                    { "op": "add", "path": "/log/-", "value": version },
                ])
                .to_string(),
            )
        };
        let new =
            NewVersion { expected_version: version - 1, content, author_id: owner.id, message: "m".into() };
        assert!(matches!(store.save_version(workflow.id, new, now()).await.unwrap(), SaveOutcome::Saved(_)));
    }
    for version in
        [1, 2, 3, VERSIONS_PER_SNAPSHOT - 1, VERSIONS_PER_SNAPSHOT, VERSIONS_PER_SNAPSHOT + 1, last]
    {
        let stored = store.get_version(workflow.id, version).await.unwrap().unwrap();
        let graph: serde_json::Value = serde_json::from_str(stored.graph.as_deref().unwrap()).unwrap();
        let log: Vec<i32> = (2..=version).collect();
        assert_eq!(graph, serde_json::json!({ "count": version, "log": log }), "version {version}");
        assert_eq!(stored.version, version);
    }
    assert!(store.get_version(workflow.id, last + 1).await.unwrap().is_none());
    assert!(store.get_version(workflow.id, 0).await.unwrap().is_none());
    assert!(store.get_version(workflow.id, i32::MIN).await.unwrap().is_none());
    // A delta where a snapshot is due is refused and writes nothing.
    let mut expected = last;
    while !snapshot_due(expected + 1) {
        let delta = VersionContent::Delta(r#"[{"op":"replace","path":"/count","value":0}]"#.into());
        let new = NewVersion {
            expected_version: expected,
            content: delta,
            author_id: owner.id,
            message: "m".into(),
        };
        store.save_version(workflow.id, new, now()).await.unwrap();
        expected += 1;
    }
    let delta = VersionContent::Delta("[]".into());
    let new =
        NewVersion { expected_version: expected, content: delta, author_id: owner.id, message: "m".into() };
    assert!(store.save_version(workflow.id, new, now()).await.is_err());
    assert_eq!(store.find_workflow(workflow.id).await.unwrap().unwrap().current_version, expected);
});

both!(filters_publication_and_cascade, |store| async move {
    let owner = create_user(&store, "owner@example.test").await;
    let project = store.create_project(owner.id, "P".into(), String::new(), now()).await.unwrap();
    let a =
        store.create_workflow(new_workflow(project.id, owner.id, "Alpha", &["x", "y"]), now()).await.unwrap();
    let b = store.create_workflow(new_workflow(project.id, owner.id, "Beta", &["y"]), now()).await.unwrap();
    assert_eq!(a.tags, ["x", "y"]);
    assert!(store.publish_version(a.id, 1, now()).await.unwrap().is_some());
    assert!(
        store.publish_version(a.id, 7, now()).await.unwrap().is_none(),
        "cannot publish a version that does not exist"
    );
    let query = |tag: Option<&str>, status| WorkflowQuery {
        tag: tag.map(str::to_owned),
        status,
        limit: 10,
        ..Default::default()
    };
    let names = |page: weft_store::Page<weft_store::Workflow>| {
        page.items.into_iter().map(|w| w.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list_workflows(project.id, query(Some("y"), None)).await.unwrap()),
        ["Beta", "Alpha"]
    );
    assert_eq!(names(store.list_workflows(project.id, query(Some("x"), None)).await.unwrap()), ["Alpha"]);
    assert_eq!(
        names(store.list_workflows(project.id, query(None, Some(WorkflowStatus::Draft))).await.unwrap()),
        ["Beta"]
    );
    assert_eq!(
        names(store.list_workflows(project.id, query(None, Some(WorkflowStatus::Published))).await.unwrap()),
        ["Alpha"]
    );

    assert!(store.delete_project(project.id).await.unwrap());
    assert!(store.find_workflow(a.id).await.unwrap().is_none());
    assert!(store.find_workflow(b.id).await.unwrap().is_none());
    assert!(store.get_version(a.id, 1).await.unwrap().is_none(), "versions went with the project");
});

both!(a_project_has_exactly_one_owner, |store| async move {
    let owner = create_user(&store, "owner@example.test").await;
    let other = create_user(&store, "other@example.test").await;
    let project = store.create_project(owner.id, "P".into(), String::new(), now()).await.unwrap();
    // The database itself refuses a second owner.
    let conn = Database::connect(store.url()).await.unwrap();
    let backend = conn.get_database_backend();
    let (p, u) = if backend == DbBackend::Postgres {
        (format!("'{}'", project.id), format!("'{}'", other.id))
    } else {
        (format!("X'{}'", project.id.0.simple()), format!("X'{}'", other.id.0.simple()))
    };
    let sql = format!(
        "INSERT INTO project_members (project_id, user_id, role, created_at) VALUES ({p}, {u}, 'OWNER', '2026-01-01T00:00:00Z')"
    );
    assert!(
        conn.execute_raw(Statement::from_string(backend, sql)).await.is_err(),
        "a second OWNER row was accepted"
    );

    assert_eq!(
        store.transfer_ownership(project.id, owner.id, other.id).await.unwrap(),
        MemberChange::NotMember
    );
    assert_eq!(
        store.set_member_role(project.id, owner.id, ProjectRole::Viewer).await.unwrap(),
        MemberChange::OwnerRequired
    );
    assert_eq!(store.remove_member(project.id, owner.id).await.unwrap(), MemberChange::OwnerRequired);
    let members = store.list_members(project.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role, ProjectRole::Owner);
});
