//! Bad input and hostile credentials against the auth router.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::*;

both!(registration_validates_every_field_at_once, |app| {
    let bad = app
        .call::<Value>(
            "auth.register",
            json!({"email": "not-an-email", "password": "short", "displayName": "  "}),
            None,
        )
        .await;
    let data = expect_error(bad, -32022, "validation");
    let paths: Vec<&str> =
        data["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["email", "displayName", "password"]);

    let common = app
        .call::<Value>(
            "auth.register",
            json!({"email": email("c"), "password": "password123", "displayName": "C"}),
            None,
        )
        .await;
    assert_eq!(expect_error(common, -32022, "validation")["fields"][0]["code"], "tooCommon");
    let long = "x7Qz".repeat(257);
    let too_long = app
        .call::<Value>(
            "auth.register",
            json!({"email": email("l"), "password": long, "displayName": "L"}),
            None,
        )
        .await;
    assert_eq!(expect_error(too_long, -32022, "validation")["fields"][0]["code"], "tooLong");

    let address = email("dup");
    app.register(&address).await;
    let duplicate = app
        .call::<Value>(
            "auth.register",
            json!({"email": address.to_uppercase(), "password": PASSWORD, "displayName": "Dup"}),
            None,
        )
        .await;
    expect_error(duplicate, -32009, "conflict");
});

both!(unknown_user_and_wrong_password_answer_alike, |app| {
    let address = email("same");
    app.register(&address).await;
    let wrong = app.login(&address, "not-the-password").await.unwrap_err();
    let unknown = app.login(&email("nobody"), "not-the-password").await.unwrap_err();
    assert_eq!(wrong.code(), unknown.code());
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(data(&wrong), data(&unknown));
    assert_eq!(data(&wrong), json!({"kind": "unauthenticated", "reason": "invalidCredentials"}));
});

both!(repeated_failures_are_throttled_per_account_and_per_address, |app| {
    let address = email("victim");
    app.register(&address).await;
    for _ in 0..5 {
        expect_error(
            app.login(&address, "guess-guess-guess").await.map(|_| Value::Null),
            -32001,
            "unauthenticated",
        );
    }
    // Even the right password is refused while throttled.
    let limited = app.login(&address, PASSWORD).await.map(|_| Value::Null);
    assert!(expect_error(limited, -32029, "rateLimited")["retryAfterSeconds"].as_u64().unwrap() > 0);
    // Other accounts are unaffected until the per-address limit (12 in tests) is reached.
    let other = email("other");
    app.register(&other).await;
    assert!(app.login(&other, PASSWORD).await.is_ok());
    for i in 0..7 {
        let _ = app.login(&email(&format!("spray{i}")), "guess-guess-guess").await;
    }
    let limited = app.login(&other, PASSWORD).await.map(|_| Value::Null);
    expect_error(limited, -32029, "rateLimited");
});

fn sign(claims: &Value, alg: Algorithm, key: &str) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
}

async fn me_reason(app: &TestApp, token: &str) -> Value {
    let result = app.call::<Value>("auth.me", json!({}), Some(token)).await;
    expect_error(result, -32001, "unauthenticated")["reason"].clone()
}

both!(hostile_tokens_are_refused, |app| {
    let session = app.register(&email("tokens")).await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": session.user["id"], "sid": session.session_id, "typ": "access",
        "iss": "weft", "aud": "weft-api", "exp": now + 600, "nbf": now, "iat": now, "jti": "t"
    });
    // A correctly signed token is accepted: the cases below differ in one thing each.
    assert!(
        app.call::<Value>("auth.me", json!({}), Some(&sign(&claims, Algorithm::HS256, JWT_SECRET)))
            .await
            .is_ok()
    );

    let mut expired = claims.clone();
    expired["exp"] = json!(now - 60);
    assert_eq!(me_reason(&app, &sign(&expired, Algorithm::HS256, JWT_SECRET)).await, "expiredToken");
    let mut refresh_typed = claims.clone();
    refresh_typed["typ"] = json!("refresh");
    assert_eq!(me_reason(&app, &sign(&refresh_typed, Algorithm::HS256, JWT_SECRET)).await, "invalidToken");
    assert_eq!(
        me_reason(&app, &sign(&claims, Algorithm::HS256, "another-secret-another-secret-0000")).await,
        "invalidToken"
    );
    assert_eq!(me_reason(&app, &sign(&claims, Algorithm::HS384, JWT_SECRET)).await, "invalidToken");

    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = engine.encode(serde_json::to_vec(&claims).unwrap());
    let none_header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    assert_eq!(me_reason(&app, &format!("{none_header}.{payload}.")).await, "invalidToken");
    // Tampered payload: another user id under the original signature.
    let parts: Vec<&str> = session.access_token.split('.').collect();
    let mut forged = claims.clone();
    forged["sub"] = json!(uuid::Uuid::now_v7());
    let forged = format!("{}.{}.{}", parts[0], engine.encode(serde_json::to_vec(&forged).unwrap()), parts[2]);
    assert_eq!(me_reason(&app, &forged).await, "invalidToken");
    // A validly signed token naming a session of another user.
    let mut crossed = claims.clone();
    crossed["sub"] = json!(uuid::Uuid::now_v7());
    assert_eq!(me_reason(&app, &sign(&crossed, Algorithm::HS256, JWT_SECRET)).await, "invalidToken");

    // A refresh token is not an access token, and the reverse.
    assert_eq!(me_reason(&app, &session.refresh_token).await, "invalidToken");
    let swapped =
        app.call::<Value>("auth.refresh", json!({"refreshToken": session.access_token}), None).await;
    assert_eq!(expect_error(swapped, -32001, "unauthenticated")["reason"], "invalidRefreshToken");
    // Missing and malformed headers.
    assert_eq!(
        expect_error(app.call::<Value>("auth.me", json!({}), None).await, -32001, "unauthenticated")["reason"],
        "missingToken"
    );
    let basic = app
        .http
        .post(app.rpc_url())
        .header("content-type", "application/json")
        .header("authorization", "Basic YTpi")
        .body(r#"{"jsonrpc":"2.0","method":"auth.me","id":1}"#)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(basic["error"]["data"]["reason"], "invalidToken");
});

both!(registrations_per_address_are_limited, |app| {
    for i in 0..8 {
        app.register(&email(&format!("bulk{i}"))).await;
    }
    let refused = app
        .call::<Value>(
            "auth.register",
            json!({"email": email("bulk"), "password": PASSWORD, "displayName": "B"}),
            None,
        )
        .await;
    assert_eq!(expect_error(refused, -32029, "rateLimited")["retryAfterSeconds"], 3600);
});
