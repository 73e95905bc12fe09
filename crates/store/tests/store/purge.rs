//! Purging expired tickets, spent refresh tokens and long-ended sessions.

use weft_store::RefreshOutcome;

use crate::helpers::{both, create_user, days, hours, minutes, new_session, now, reload, rotate, token_hash};

both!(purge_removes_what_is_over_and_keeps_what_lives, |store| async move {
    let user = create_user(&store, "p@example.test").await;
    let at = now();

    // Live: a session with a valid refresh token and a valid ticket.
    let live_hash = token_hash();
    let live =
        store.create_session(new_session(user.id, at - hours(1), &live_hash), at - hours(1)).await.unwrap();
    let live_ticket = token_hash();
    store.create_stream_ticket(live.id, live_ticket.clone(), at + minutes(1)).await.unwrap();
    // Over: an expired ticket of that live session.
    let expired_ticket = token_hash();
    store.create_stream_ticket(live.id, expired_ticket.clone(), at - minutes(1)).await.unwrap();

    // Over: a session that expired 10 days ago, with its token.
    let mut expired = new_session(user.id, at - days(40), &token_hash());
    expired.expires_at = at - days(10);
    expired.refresh_expires_at = at - days(10);
    let expired = store.create_session(expired, at - days(40)).await.unwrap();

    // Over: a session revoked 10 days ago, with its token (expired 13 days ago).
    let long_ended = store
        .create_session(new_session(user.id, at - days(20), &token_hash()), at - days(20))
        .await
        .unwrap();
    assert!(store.revoke_session(user.id, long_ended.id, "logout", at - days(10)).await.unwrap());

    // Kept: a session revoked an hour ago, still inside the keep window.
    let recently_ended =
        store.create_session(new_session(user.id, at - days(1), &token_hash()), at - days(1)).await.unwrap();
    assert!(store.revoke_session(user.id, recently_ended.id, "logout", at - hours(1)).await.unwrap());

    let removed = store.purge_expired_auth(at, days(7)).await.unwrap();
    // One ticket, two refresh tokens and two sessions.
    assert_eq!(removed, 5);

    assert!(store.session_with_user(expired.id).await.unwrap().is_none());
    assert!(store.session_with_user(long_ended.id).await.unwrap().is_none());
    assert_eq!(reload(&store, &recently_ended).await.revoked_reason.as_deref(), Some("logout"));
    assert!(reload(&store, &live).await.is_active(at));
    assert_eq!(store.active_sessions(user.id, at).await.unwrap(), vec![live.clone()]);

    // Presented at a time when it was still valid, the expired ticket is refused: it is gone.
    assert_eq!(store.consume_stream_ticket(&expired_ticket, at - hours(1)).await.unwrap(), None);
    assert_eq!(store.consume_stream_ticket(&live_ticket, at).await.unwrap(), Some(live.id));
    match rotate(&store, &live_hash, at).await.0 {
        RefreshOutcome::Rotated { session, .. } => assert_eq!(session.id, live.id),
        other => panic!("the live session's token was purged: {other:?}"),
    }

    assert_eq!(store.purge_expired_auth(at, days(7)).await.unwrap(), 0, "a second purge found more");
    assert_eq!(store.active_sessions(user.id, at).await.unwrap().len(), 1);
});

both!(purge_of_an_empty_database_removes_nothing, |store| async move {
    assert_eq!(store.purge_expired_auth(now(), days(7)).await.unwrap(), 0);
});

both!(purge_keeps_used_tokens_of_live_sessions, |store| async move {
    // Sessions last 30 days, refresh tokens 7; a token used on day 1 expires on day 8.
    let user = create_user(&store, "keep@example.test").await;
    let t0 = now() - days(20);
    let first = token_hash();
    let session = store.create_session(new_session(user.id, t0, &first), t0).await.unwrap();
    let (outcome, _) = rotate(&store, &first, t0 + days(1)).await;
    assert!(matches!(outcome, RefreshOutcome::Rotated { .. }), "{outcome:?}");

    // Day 20: the session lives; the used token expired 12 days ago.
    let at = t0 + days(20);
    store.purge_expired_auth(at, days(7)).await.unwrap();
    assert!(reload(&store, &session).await.is_active(at));

    // Replaying the stolen first token must still be recognised as reuse.
    let (outcome, _) = rotate(&store, &first, at).await;
    assert!(
        matches!(outcome, RefreshOutcome::Reused { .. }),
        "reuse went undetected after purge: {outcome:?}"
    );
});
