//! Login sessions: opening, listing, revoking, and the password change that replaces them.

use std::collections::HashSet;

use weft_core::SessionId;
use weft_store::RefreshOutcome;

use crate::helpers::{
    both, create_user, days, hours, minutes, new_session, now, open_session, reload, rotate, token_hash,
};

both!(created_session_is_read_back_with_its_user, |store| async move {
    let user = create_user(&store, "s@example.test").await;
    let at = now();
    let session = store.create_session(new_session(user.id, at, &token_hash()), at).await.unwrap();
    assert_eq!(session.user_id, user.id);
    assert_eq!(session.created_at, at);
    assert_eq!(session.last_used_at, at);
    assert_eq!(session.expires_at, at + days(30));
    assert_eq!(session.revoked_at, None);
    assert_eq!(session.revoked_reason, None);
    assert_eq!(session.user_agent.as_deref(), Some("weft-store-tests"));
    assert_eq!(session.ip_address.as_deref(), Some("192.0.2.10"));

    let (read, owner) = store.session_with_user(session.id).await.unwrap().unwrap();
    assert_eq!(read, session);
    assert_eq!(owner, user);
    assert!(store.session_with_user(SessionId::new()).await.unwrap().is_none());
});

both!(active_sessions_exclude_ended_ones_newest_first, |store| async move {
    let user = create_user(&store, "many@example.test").await;
    let other = create_user(&store, "other@example.test").await;
    let at = now();
    let (oldest, _) = open_session(&store, user.id, at - hours(3)).await;
    let (newest, _) = open_session(&store, user.id, at - hours(1)).await;
    let (middle, _) = open_session(&store, user.id, at - hours(2)).await;
    let (revoked, _) = open_session(&store, user.id, at - minutes(30)).await;
    assert!(store.revoke_session(user.id, revoked.id, "logout", at - minutes(10)).await.unwrap());
    let mut expiring = new_session(user.id, at - days(2), &token_hash());
    expiring.expires_at = at - minutes(1);
    store.create_session(expiring, at - days(2)).await.unwrap();
    open_session(&store, other.id, at - minutes(5)).await;

    let ids: Vec<_> = store.active_sessions(user.id, at).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![newest.id, middle.id, oldest.id]);

    // A session whose end is exactly `now` is over.
    let ids: Vec<_> =
        store.active_sessions(user.id, oldest.expires_at).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![newest.id, middle.id]);
});

both!(revoke_session_needs_the_owner_and_an_active_session, |store| async move {
    let owner = create_user(&store, "owner@example.test").await;
    let intruder = create_user(&store, "intruder@example.test").await;
    let at = now();
    let (session, _) = open_session(&store, owner.id, at - hours(1)).await;

    assert!(!store.revoke_session(intruder.id, session.id, "logout", at).await.unwrap());
    let unchanged = reload(&store, &session).await;
    assert_eq!(unchanged, session, "another user's revocation changed the session");

    assert!(!store.revoke_session(owner.id, SessionId::new(), "logout", at).await.unwrap());

    assert!(store.revoke_session(owner.id, session.id, "logout", at).await.unwrap());
    let ended = reload(&store, &session).await;
    assert_eq!(ended.revoked_at, Some(at));
    assert_eq!(ended.revoked_reason.as_deref(), Some("logout"));
    assert!(!ended.is_active(at));

    let later = at + minutes(1);
    assert!(!store.revoke_session(owner.id, session.id, "sessionRevoked", later).await.unwrap());
    let still = reload(&store, &session).await;
    assert_eq!((still.revoked_at, still.revoked_reason), (Some(at), Some("logout".to_owned())));
});

both!(change_password_replaces_hash_and_sessions_at_once, |store| async move {
    let user = create_user(&store, "pw@example.test").await;
    let bystander = create_user(&store, "by@example.test").await;
    let at = now();
    let (first, first_hash) = open_session(&store, user.id, at - hours(2)).await;
    let (second, _) = open_session(&store, user.id, at - hours(1)).await;
    let (untouched, _) = open_session(&store, bystander.id, at - hours(1)).await;

    let replacement_hash = token_hash();
    let (revoked, replacement) = store
        .change_password(user.id, "$argon2id$new".to_owned(), new_session(user.id, at, &replacement_hash), at)
        .await
        .unwrap();

    assert_eq!(revoked.into_iter().collect::<HashSet<_>>(), HashSet::from([first.id, second.id]));
    assert_eq!(replacement.user_id, user.id);
    assert_eq!(replacement.created_at, at);
    assert!(replacement.is_active(at));
    assert!(![first.id, second.id].contains(&replacement.id));

    let changed = store.find_user(user.id).await.unwrap().unwrap();
    assert_eq!(changed.password_hash, "$argon2id$new");
    assert_eq!(changed.updated_at, at);
    for old in [&first, &second] {
        let old = reload(&store, old).await;
        assert_eq!(old.revoked_at, Some(at));
        assert_eq!(old.revoked_reason.as_deref(), Some("passwordChanged"));
    }
    assert_eq!(store.active_sessions(user.id, at).await.unwrap(), vec![replacement.clone()]);
    assert!(reload(&store, &untouched).await.is_active(at));

    // The old session's refresh token is dead; the replacement's works.
    let later = at + minutes(1);
    assert!(matches!(rotate(&store, &first_hash, later).await.0, RefreshOutcome::Invalid));
    match rotate(&store, &replacement_hash, later).await.0 {
        RefreshOutcome::Rotated { session, .. } => assert_eq!(session.id, replacement.id),
        other => panic!("the replacement session's token was refused: {other:?}"),
    }
});
