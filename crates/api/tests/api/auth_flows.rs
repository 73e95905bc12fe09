//! The auth router's happy paths and session lifecycle.

use serde_json::{Value, json};

use crate::helpers::*;

both!(register_login_me_and_sessions, |app| {
    let address = email("Ada");
    let registered = app
        .call::<Value>("auth.register", json!({"email": format!("  {}  ", address.to_uppercase()), "password": PASSWORD, "displayName": " Ada "}), None)
        .await
        .unwrap();
    assert_eq!(registered["user"]["email"], address.to_lowercase());
    assert_eq!(registered["user"]["displayName"], "Ada");
    assert_eq!(registered["user"]["role"], "USER");
    assert!(registered["refreshToken"].as_str().unwrap().starts_with("wrt_"));

    let session = app.login(&address.to_uppercase(), PASSWORD).await.unwrap();
    let me: Value = app.call("auth.me", json!({}), Some(&session.access_token)).await.unwrap();
    assert_eq!(me["id"], registered["user"]["id"]);

    let list: Value = app.call("auth.sessions", json!({}), Some(&session.access_token)).await.unwrap();
    let sessions = list["items"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], session.session_id.as_str());
    assert_eq!(current[0]["ipAddress"], "127.0.0.1");
});

both!(refresh_rotates_and_reuse_revokes_the_session, |app| {
    let first = app.register(&email("rotate")).await;
    let second: Session =
        app.call("auth.refresh", json!({"refreshToken": first.refresh_token}), None).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.session_id, first.session_id);
    let me: Value = app.call("auth.me", json!({}), Some(&second.access_token)).await.unwrap();
    assert_eq!(me["id"], first.user["id"]);

    // Presenting the used token again is theft or a bug: the whole family ends.
    let reused = app.call::<Value>("auth.refresh", json!({"refreshToken": first.refresh_token}), None).await;
    assert_eq!(expect_error(reused, -32001, "unauthenticated")["reason"], "invalidRefreshToken");
    let newest = app.call::<Value>("auth.refresh", json!({"refreshToken": second.refresh_token}), None).await;
    assert_eq!(expect_error(newest, -32001, "unauthenticated")["reason"], "invalidRefreshToken");
    let me = app.call::<Value>("auth.me", json!({}), Some(&second.access_token)).await;
    assert_eq!(expect_error(me, -32001, "unauthenticated")["reason"], "sessionRevoked");
});

both!(logout_ends_only_that_session, |app| {
    let address = email("logout");
    let a = app.register(&address).await;
    let b = app.login(&address, PASSWORD).await.unwrap();
    let out: Value = app.call("auth.logout", json!({}), Some(&a.access_token)).await.unwrap();
    assert_eq!(out["sessionId"], a.session_id.as_str());
    let me = app.call::<Value>("auth.me", json!({}), Some(&a.access_token)).await;
    assert_eq!(expect_error(me, -32001, "unauthenticated")["reason"], "sessionRevoked");
    let refresh = app.call::<Value>("auth.refresh", json!({"refreshToken": a.refresh_token}), None).await;
    expect_error(refresh, -32001, "unauthenticated");
    assert!(app.call::<Value>("auth.me", json!({}), Some(&b.access_token)).await.is_ok());
});

both!(change_password_ends_every_session_and_reissues, |app| {
    let address = email("pw");
    let a = app.register(&address).await;
    let b = app.login(&address, PASSWORD).await.unwrap();
    let wrong = app
        .call::<Value>(
            "auth.changePassword",
            json!({"currentPassword": "nope-nope-nope", "newPassword": "quartz-Meadow-41-lantern"}),
            Some(&a.access_token),
        )
        .await;
    assert_eq!(expect_error(wrong, -32022, "validation")["fields"][0]["path"], "currentPassword");
    let weak = app
        .call::<Value>(
            "auth.changePassword",
            json!({"currentPassword": PASSWORD, "newPassword": "password1"}),
            Some(&a.access_token),
        )
        .await;
    assert_eq!(expect_error(weak, -32022, "validation")["fields"][0]["path"], "newPassword");

    let fresh: Session = app
        .call(
            "auth.changePassword",
            json!({"currentPassword": PASSWORD, "newPassword": "quartz-Meadow-41-lantern"}),
            Some(&a.access_token),
        )
        .await
        .unwrap();
    for old in [&a, &b] {
        let me = app.call::<Value>("auth.me", json!({}), Some(&old.access_token)).await;
        expect_error(me, -32001, "unauthenticated");
    }
    assert!(app.call::<Value>("auth.me", json!({}), Some(&fresh.access_token)).await.is_ok());
    expect_error(app.login(&address, PASSWORD).await.map(|_| Value::Null), -32001, "unauthenticated");
    assert!(app.login(&address, "quartz-Meadow-41-lantern").await.is_ok());
});

both!(sessions_of_other_users_are_not_found, |app| {
    let alice_address = email("alice");
    let alice = app.register(&alice_address).await;
    let alice_laptop = app.login(&alice_address, PASSWORD).await.unwrap();
    let mallory = app.register(&email("mallory")).await;

    let attempt = app
        .call::<Value>(
            "auth.revokeSession",
            json!({"sessionId": alice.session_id}),
            Some(&mallory.access_token),
        )
        .await;
    assert_eq!(expect_error(attempt, -32004, "notFound")["resource"], "session");
    let unknown = app
        .call::<Value>(
            "auth.revokeSession",
            json!({"sessionId": uuid::Uuid::now_v7()}),
            Some(&mallory.access_token),
        )
        .await;
    let unknown = expect_error(unknown, -32004, "notFound");
    assert_eq!(unknown["resource"], "session", "another user's id and an unknown id answer alike");
    assert!(app.call::<Value>("auth.me", json!({}), Some(&alice.access_token)).await.is_ok());

    // Alice may end her own other session.
    let done: Value = app
        .call("auth.revokeSession", json!({"sessionId": alice_laptop.session_id}), Some(&alice.access_token))
        .await
        .unwrap();
    assert_eq!(done["sessionId"], alice_laptop.session_id.as_str());
    expect_error(
        app.call::<Value>("auth.me", json!({}), Some(&alice_laptop.access_token)).await,
        -32001,
        "unauthenticated",
    );
});

both!(roles_are_enforced_from_the_declaration, |app| {
    let admin = app.admin(&email("admin")).await;
    let user_address = email("user");
    let user = app.register(&user_address).await;
    let user_id = user.user["id"].as_str().unwrap().to_owned();

    let denied = app
        .call::<Value>("auth.setRole", json!({"userId": user_id, "role": "ADMIN"}), Some(&user.access_token))
        .await;
    assert_eq!(expect_error(denied, -32003, "forbidden")["requiredRole"], "ADMIN");

    let changed: Value = app
        .call("auth.setRole", json!({"userId": user_id, "role": "GUEST"}), Some(&admin.access_token))
        .await
        .unwrap();
    assert_eq!(changed["role"], "GUEST");
    // The role change ended the user's sessions; a new login carries the new role.
    expect_error(
        app.call::<Value>("auth.me", json!({}), Some(&user.access_token)).await,
        -32001,
        "unauthenticated",
    );
    let again = app.login(&user_address, PASSWORD).await.unwrap();
    let me: Value = app.call("auth.me", json!({}), Some(&again.access_token)).await.unwrap();
    assert_eq!(me["role"], "GUEST");

    let missing = app
        .call::<Value>(
            "auth.setRole",
            json!({"userId": uuid::Uuid::now_v7(), "role": "USER"}),
            Some(&admin.access_token),
        )
        .await;
    expect_error(missing, -32004, "notFound");
    let admin_id = admin.user["id"].as_str().unwrap();
    let last = app
        .call::<Value>("auth.setRole", json!({"userId": admin_id, "role": "USER"}), Some(&admin.access_token))
        .await;
    expect_error(last, -32009, "conflict");
    let bad_role = app
        .call::<Value>("auth.setRole", json!({"userId": user_id, "role": "ROOT"}), Some(&admin.access_token))
        .await;
    assert_eq!(expect_error(bad_role, -32602, "invalidParams")["fields"][0]["path"], "role");
});

both!(security_events_are_audited, |app| {
    let address = email("audit");
    let session = app.register(&address).await;
    let _ = app.login(&address, "wrong-password-123").await;
    app.call::<Value>("auth.logout", json!({}), Some(&session.access_token)).await.unwrap();
    let user_id: weft_core::UserId = session.user["id"].as_str().unwrap().parse().unwrap();
    let kinds: Vec<String> =
        app.state.store().audit_for_user(user_id, 10).await.unwrap().into_iter().map(|r| r.kind).collect();
    assert_eq!(kinds, ["logout", "login.failed", "registered"]);
});
