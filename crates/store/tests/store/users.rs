//! User accounts: creation, look-ups, unique e-mail addresses, roles.

use std::collections::HashSet;

use weft_core::{Role, UserId};
use weft_store::StoreError;

use crate::helpers::{both, create_user, hours, new_user, now, open_session, reload};

both!(created_user_is_found_by_email_and_id, |store| async move {
    let at = now();
    let created = store.create_user(new_user("ada@example.test", Role::Admin), at).await.unwrap();
    assert_eq!(created.email, "ada@example.test");
    assert_eq!(created.display_name, "Name of ada@example.test");
    assert_eq!(created.role, Role::Admin);
    assert_eq!(created.created_at, at);
    assert_eq!(created.updated_at, at);

    assert_eq!(store.find_user_by_email("ada@example.test").await.unwrap(), Some(created.clone()));
    assert_eq!(store.find_user(created.id).await.unwrap(), Some(created));
    assert_eq!(store.find_user_by_email("nobody@example.test").await.unwrap(), None);
    assert_eq!(store.find_user(UserId::new()).await.unwrap(), None);
});

both!(duplicate_email_is_a_conflict, |store| async move {
    let first = create_user(&store, "dup@example.test").await;

    let mut second = new_user("dup@example.test", Role::Admin);
    second.display_name = "Impostor".to_owned();
    let err = store.create_user(second, now()).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "expected a conflict, got {err:?}");

    assert_eq!(store.find_user_by_email("dup@example.test").await.unwrap(), Some(first));
    assert_eq!(store.count_users_with_role(Role::Admin).await.unwrap(), 0);
    // The failed insert left the single write connection usable.
    create_user(&store, "other@example.test").await;
});

both!(set_role_updates_the_user_and_revokes_only_their_sessions, |store| async move {
    let t0 = now() - hours(5);
    let target = create_user(&store, "target@example.test").await;
    let bystander = create_user(&store, "bystander@example.test").await;
    let (first, _) = open_session(&store, target.id, t0).await;
    let (second, _) = open_session(&store, target.id, t0 + hours(1)).await;
    let (logged_out, _) = open_session(&store, target.id, t0 + hours(2)).await;
    assert!(store.revoke_session(target.id, logged_out.id, "logout", t0 + hours(3)).await.unwrap());
    let (untouched, _) = open_session(&store, bystander.id, t0).await;

    let at = now();
    let (updated, revoked) = store.set_role(target.id, Role::Admin, at).await.unwrap().unwrap();
    assert_eq!(updated.id, target.id);
    assert_eq!(updated.role, Role::Admin);
    assert_eq!(updated.updated_at, at);
    assert_eq!(updated.created_at, target.created_at);
    assert_eq!(updated.email, target.email);
    assert_eq!(store.find_user(target.id).await.unwrap(), Some(updated));

    let revoked: HashSet<_> = revoked.into_iter().collect();
    assert_eq!(revoked, HashSet::from([first.id, second.id]));
    for session in [&first, &second] {
        let session = reload(&store, session).await;
        assert_eq!(session.revoked_at, Some(at));
        assert_eq!(session.revoked_reason.as_deref(), Some("roleChanged"));
    }
    let logged_out = reload(&store, &logged_out).await;
    assert_eq!(logged_out.revoked_reason.as_deref(), Some("logout"), "an ended session was ended again");
    assert_eq!(logged_out.revoked_at, Some(t0 + hours(3)));
    assert!(store.active_sessions(target.id, at).await.unwrap().is_empty());

    assert!(reload(&store, &untouched).await.is_active(at), "another user's session was revoked");
    assert_eq!(store.active_sessions(bystander.id, at).await.unwrap(), vec![untouched]);
});

both!(set_role_of_unknown_user_is_none, |store| async move {
    create_user(&store, "someone@example.test").await;
    assert!(store.set_role(UserId::new(), Role::Admin, now()).await.unwrap().is_none());
    assert_eq!(store.count_users_with_role(Role::Admin).await.unwrap(), 0);
});

both!(users_are_counted_by_role, |store| async move {
    for role in [Role::Admin, Role::User, Role::Guest] {
        assert_eq!(store.count_users_with_role(role).await.unwrap(), 0);
    }
    let at = now();
    store.create_user(new_user("a1@example.test", Role::Admin), at).await.unwrap();
    let promoted = store.create_user(new_user("u1@example.test", Role::User), at).await.unwrap();
    store.create_user(new_user("u2@example.test", Role::User), at).await.unwrap();
    store.create_user(new_user("g1@example.test", Role::Guest), at).await.unwrap();
    assert_eq!(store.count_users_with_role(Role::Admin).await.unwrap(), 1);
    assert_eq!(store.count_users_with_role(Role::User).await.unwrap(), 2);
    assert_eq!(store.count_users_with_role(Role::Guest).await.unwrap(), 1);

    store.set_role(promoted.id, Role::Admin, now()).await.unwrap().unwrap();
    assert_eq!(store.count_users_with_role(Role::Admin).await.unwrap(), 2);
    assert_eq!(store.count_users_with_role(Role::User).await.unwrap(), 1);
});
