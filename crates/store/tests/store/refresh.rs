//! Rotating refresh tokens and detecting their reuse.

use weft_store::RefreshOutcome;

use crate::helpers::{
    both, create_user, days, hours, minutes, new_session, now, open_session, refresh_token_expiry, reload,
    rotate, token_hash,
};

both!(rotation_then_reuse_revokes_the_whole_session, |store| async move {
    let user = create_user(&store, "r@example.test").await;
    let t0 = now() - hours(3);
    let (session, first) = open_session(&store, user.id, t0).await;

    let t1 = t0 + hours(1);
    let (outcome, second) = rotate(&store, &first, t1).await;
    let RefreshOutcome::Rotated { session: rotated, user: owner } = outcome else {
        panic!("a valid token was refused: {outcome:?}");
    };
    assert_eq!(rotated.id, session.id);
    assert_eq!(rotated.last_used_at, t1);
    assert_eq!(rotated.created_at, t0);
    assert_eq!(*owner, user);
    assert_eq!(reload(&store, &session).await.last_used_at, t1);

    let t2 = t1 + hours(1);
    let (outcome, newest) = rotate(&store, &second, t2).await;
    assert!(
        matches!(&outcome, RefreshOutcome::Rotated { session: s, .. } if s.last_used_at == t2),
        "the rotated token was refused: {outcome:?}"
    );

    let t3 = t2 + minutes(5);
    let (outcome, _) = rotate(&store, &first, t3).await;
    let RefreshOutcome::Reused { session_id, user_id } = outcome else {
        panic!("a used token was not recognised: {outcome:?}");
    };
    assert_eq!((session_id, user_id), (session.id, user.id));
    let revoked = reload(&store, &session).await;
    assert_eq!(revoked.revoked_at, Some(t3));
    assert_eq!(revoked.revoked_reason.as_deref(), Some("refreshReuse"));

    let (outcome, _) = rotate(&store, &newest, t3 + minutes(1)).await;
    assert!(matches!(outcome, RefreshOutcome::Invalid), "revoked session refreshed: {outcome:?}");
});

both!(unknown_token_is_invalid, |store| async move {
    let user = create_user(&store, "u@example.test").await;
    let (session, _) = open_session(&store, user.id, now()).await;
    let (outcome, _) = rotate(&store, &token_hash(), now()).await;
    assert!(matches!(outcome, RefreshOutcome::Invalid), "{outcome:?}");
    assert!(reload(&store, &session).await.is_active(now()));
});

both!(expired_token_is_invalid_and_stays_unused, |store| async move {
    let user = create_user(&store, "e@example.test").await;
    let at = now();
    let hash = token_hash();
    let mut new = new_session(user.id, at - days(1), &hash);
    new.refresh_expires_at = at - minutes(1);
    let session = store.create_session(new, at - days(1)).await.unwrap();

    let (outcome, _) = rotate(&store, &hash, at).await;
    assert!(matches!(outcome, RefreshOutcome::Invalid), "expired token accepted: {outcome:?}");
    // Refusing must not have consumed the token: presenting it again is not a reuse.
    let (outcome, _) = rotate(&store, &hash, at + minutes(1)).await;
    assert!(matches!(outcome, RefreshOutcome::Invalid), "expired token counted as used: {outcome:?}");
    let session = reload(&store, &session).await;
    assert!(session.is_active(at), "refusing an expired token ended the session: {session:?}");
    assert_eq!(session.last_used_at, at - days(1));
});

both!(token_of_a_revoked_session_is_invalid, |store| async move {
    let user = create_user(&store, "rv@example.test").await;
    let at = now();
    let (session, hash) = open_session(&store, user.id, at - hours(1)).await;
    assert!(store.revoke_session(user.id, session.id, "logout", at).await.unwrap());

    let (outcome, _) = rotate(&store, &hash, at + minutes(1)).await;
    assert!(matches!(outcome, RefreshOutcome::Invalid), "{outcome:?}");
    assert_eq!(reload(&store, &session).await.revoked_reason.as_deref(), Some("logout"));
});

both!(token_of_an_expired_session_is_invalid, |store| async move {
    let user = create_user(&store, "xs@example.test").await;
    let at = now();
    let hash = token_hash();
    let mut new = new_session(user.id, at - days(2), &hash);
    new.expires_at = at - minutes(1);
    new.refresh_expires_at = at + days(1);
    store.create_session(new, at - days(2)).await.unwrap();

    let (outcome, _) = rotate(&store, &hash, at).await;
    assert!(matches!(outcome, RefreshOutcome::Invalid), "{outcome:?}");
});

both!(new_token_never_outlives_its_session, |store| async move {
    let user = create_user(&store, "cap@example.test").await;
    let at = now();
    let first = token_hash();
    let mut new = new_session(user.id, at, &first);
    new.expires_at = at + hours(1);
    new.refresh_expires_at = at + hours(1);
    let session = store.create_session(new, at).await.unwrap();

    let second = token_hash();
    let asked = at + days(7);
    let outcome = store.rotate_refresh_token(&first, second.clone(), asked, at).await.unwrap();
    assert!(matches!(outcome, RefreshOutcome::Rotated { .. }), "{outcome:?}");
    assert_eq!(refresh_token_expiry(store.url(), &second).await, Some(session.expires_at));

    // A shorter expiry than the session's is kept as asked.
    let third = token_hash();
    let asked = at + minutes(30);
    store.rotate_refresh_token(&second, third.clone(), asked, at + minutes(1)).await.unwrap();
    assert_eq!(refresh_token_expiry(store.url(), &third).await, Some(asked));
});
