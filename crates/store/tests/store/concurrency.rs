//! Concurrent writers: one winner per refresh token and per stream ticket, unique e-mail
//! addresses under races, and no "database is locked" from SQLite.

use tokio::task::JoinSet;
use weft_core::Role;
use weft_store::{RefreshOutcome, StoreError};

use crate::helpers::{
    both, create_user, days, hours, new_user, now, open_session, reload, rotate, token_hash,
};

/// Awaits every task, failing the test on a panic or on any store error.
async fn join_all<T: 'static>(mut tasks: JoinSet<Result<T, StoreError>>) -> Vec<T> {
    let mut results = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task panicked") {
            Ok(value) => results.push(value),
            Err(err) => panic!("store error under concurrency: {err:?} ({err})"),
        }
    }
    results
}

both!(concurrent_rotations_of_one_token_have_one_winner, |store| async move {
    let user = create_user(&store, "race@example.test").await;
    let at = now();
    let (session, presented) = open_session(&store, user.id, at - hours(1)).await;

    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (store, presented) = (store.handle(), presented.clone());
        tasks.spawn(async move {
            let next = token_hash();
            let outcome = store.rotate_refresh_token(&presented, next.clone(), at + days(7), at).await?;
            Ok::<_, StoreError>((outcome, next))
        });
    }
    let results = join_all(tasks).await;

    let winners: Vec<_> =
        results.iter().filter(|(o, _)| matches!(o, RefreshOutcome::Rotated { .. })).map(|(_, n)| n).collect();
    let n_reused = results.iter().filter(|(o, _)| matches!(o, RefreshOutcome::Reused { .. })).count();
    let n_invalid = results.iter().filter(|(o, _)| matches!(o, RefreshOutcome::Invalid)).count();
    assert_eq!(winners.len(), 1, "outcomes: {:?}", results.iter().map(|(o, _)| o).collect::<Vec<_>>());
    assert!(n_reused >= 1, "the losers did not detect the reuse");
    assert_eq!(n_reused + n_invalid, 7);
    for (outcome, _) in &results {
        if let RefreshOutcome::Reused { session_id, user_id } = outcome {
            assert_eq!((*session_id, *user_id), (session.id, user.id));
        }
    }

    // A concurrent reuse is still a reuse: the session is over, even for the winner's token.
    let ended = reload(&store, &session).await;
    assert_eq!(ended.revoked_reason.as_deref(), Some("refreshReuse"));
    let (outcome, _) = rotate(&store, winners[0], at + hours(1)).await;
    assert!(matches!(outcome, RefreshOutcome::Invalid), "{outcome:?}");
});

both!(concurrent_rotations_of_different_sessions_all_succeed, |store| async move {
    let user = create_user(&store, "many@example.test").await;
    let at = now();
    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (_, presented) = open_session(&store, user.id, at - hours(1)).await;
        let store = store.handle();
        tasks.spawn(
            async move { store.rotate_refresh_token(&presented, token_hash(), at + days(7), at).await },
        );
    }
    let results = join_all(tasks).await;
    assert!(results.iter().all(|o| matches!(o, RefreshOutcome::Rotated { .. })), "{results:?}");
    assert_eq!(store.active_sessions(user.id, at).await.unwrap().len(), 8);
});

both!(fifty_concurrent_registrations_all_succeed, |store| async move {
    let mut tasks = JoinSet::new();
    for i in 0..50 {
        let store = store.handle();
        tasks.spawn(async move {
            let user =
                store.create_user(new_user(&format!("user{i}@example.test"), Role::User), now()).await?;
            // Read back through the read side while other writers are busy.
            let found = store.find_user_by_email(&user.email).await?;
            Ok::<_, StoreError>((user, found))
        });
    }
    let results = join_all(tasks).await;
    assert_eq!(results.len(), 50);
    for (user, found) in &results {
        assert_eq!(found.as_ref(), Some(user), "a committed user was not visible to the reader");
    }
    assert_eq!(store.count_users_with_role(Role::User).await.unwrap(), 50);
});

both!(concurrent_registrations_of_one_email_have_one_winner, |store| async move {
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let store = store.handle();
        tasks.spawn(async move { store.create_user(new_user("same@example.test", Role::User), now()).await });
    }
    let mut n_created = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task panicked") {
            Ok(_) => n_created += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(err) => panic!("expected success or a conflict, got {err:?}"),
        }
    }
    assert_eq!(n_created, 1);
    assert_eq!(store.count_users_with_role(Role::User).await.unwrap(), 1);
});

both!(concurrent_ticket_consumers_have_one_winner, |store| async move {
    let user = create_user(&store, "ticket@example.test").await;
    let at = now();
    let (session, _) = open_session(&store, user.id, at - hours(1)).await;
    let ticket = token_hash();
    store.create_stream_ticket(session.id, ticket.clone(), at + hours(1)).await.unwrap();

    let mut tasks = JoinSet::new();
    for _ in 0..8 {
        let (store, ticket) = (store.handle(), ticket.clone());
        tasks.spawn(async move { store.consume_stream_ticket(&ticket, at).await });
    }
    let results = join_all(tasks).await;
    assert_eq!(results.iter().filter(|r| **r == Some(session.id)).count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| r.is_none()).count(), 7);
});
