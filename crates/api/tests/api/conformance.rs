//! JSON-RPC 2.0 conformance, checked against the specification's section 7 examples
//! with raw HTTP bodies.

use serde_json::{Value, json};

use crate::helpers::*;

fn error_code(value: &Value) -> i64 {
    value["error"]["code"].as_i64().unwrap()
}

both!(parse_errors_answer_with_a_null_id, |app| {
    for body in [r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#, "", "{", "nul"] {
        let answer = app.post_json(body).await;
        assert_eq!(error_code(&answer), -32700, "{body}");
        assert_eq!(answer["id"], Value::Null);
        assert_eq!(answer["error"]["data"]["kind"], "parse");
    }
    // A batch that is not valid JSON is one parse error, not an array.
    let answer = app.post_json(r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#).await;
    assert_eq!(error_code(&answer), -32700);
});

both!(invalid_request_objects, |app| {
    // The specification's example: method is not a string.
    let answer = app.post_json(r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#).await;
    assert_eq!(error_code(&answer), -32600);
    assert_eq!(answer["id"], Value::Null);
    for (body, id) in [
        (r#"{"jsonrpc": "1.0", "method": "auth.me", "id": 1}"#, json!(1)),
        (r#"{"method": "auth.me", "id": 2}"#, json!(2)),
        (r#"{"jsonrpc": "2.0", "id": 3}"#, json!(3)),
        (r#"{"jsonrpc": "2.0", "method": "auth.me", "params": "x", "id": 4}"#, json!(4)),
        (r#"{"jsonrpc": "2.0", "method": "auth.me", "params": null, "id": 5}"#, json!(5)),
        (r#"{"jsonrpc": "2.0", "method": "auth.me", "id": {"a": 1}}"#, Value::Null),
        (r#"{"jsonrpc": "2.0", "method": "auth.me", "id": [1]}"#, Value::Null),
        (r#"{"jsonrpc": "2.0", "method": "auth.me", "id": true}"#, Value::Null),
        ("42", Value::Null),
        (r#""text""#, Value::Null),
    ] {
        let answer = app.post_json(body).await;
        assert_eq!(error_code(&answer), -32600, "{body}");
        assert_eq!(answer["id"], id, "{body}");
        assert_eq!(answer["error"]["data"]["kind"], "invalidRequest");
    }
});

both!(batches_follow_the_specification, |app| {
    // Empty batch: a single error, not an array.
    let answer = app.post_json("[]").await;
    assert!(answer.is_object());
    assert_eq!(error_code(&answer), -32600);
    // Invalid batch members each get an error.
    let answer = app.post_json("[1]").await;
    assert_eq!(answer.as_array().unwrap().len(), 1);
    let answer = app.post_json("[1,2,3]").await;
    let answers = answer.as_array().unwrap();
    assert_eq!(answers.len(), 3);
    assert!(answers.iter().all(|a| error_code(a) == -32600 && a["id"].is_null()));
    // Mixed batch: results, errors, and notifications that get no answer.
    let body = r#"[
        {"jsonrpc": "2.0", "method": "rpc.discover", "id": "1"},
        {"jsonrpc": "2.0", "method": "auth.me", "params": {}},
        {"jsonrpc": "2.0", "method": "auth.me", "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "auth.register", "params": [], "id": "9"}
    ]"#;
    let answer = app.post_json(body).await;
    let answers = answer.as_array().unwrap();
    assert_eq!(answers.len(), 5);
    let by_id = |id: Value| answers.iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(by_id(json!("1"))["result"]["openrpc"], "1.3.2");
    assert_eq!(error_code(&by_id(json!("2"))), -32001);
    assert_eq!(error_code(&by_id(Value::Null)), -32600);
    assert_eq!(error_code(&by_id(json!("5"))), -32601);
    assert_eq!(error_code(&by_id(json!("9"))), -32602);
});

both!(notifications_are_never_answered, |app| {
    for body in [
        r#"{"jsonrpc": "2.0", "method": "auth.me"}"#,
        r#"{"jsonrpc": "2.0", "method": "no.such.method", "params": {}}"#,
        r#"{"jsonrpc": "2.0", "method": "auth.register", "params": {"email": 1}}"#,
        r#"[{"jsonrpc": "2.0", "method": "auth.me"}, {"jsonrpc": "2.0", "method": "nope"}]"#,
    ] {
        let (status, _, text) = app.post_raw(body).await;
        assert_eq!(status, 204, "{body}");
        assert!(text.is_empty(), "{body}: {text}");
    }
});

both!(ids_are_echoed_exactly, |app| {
    for id in
        ["\"abc\"", "\"\"", "0", "-7", "1.5", "1e3", "12345678901234567890123456789", "null", "\"ü\\u00e9\""]
    {
        let body = format!(r#"{{"jsonrpc": "2.0", "method": "no.such", "id": {id}}}"#);
        let (_, _, text) = app.post_raw(&body).await;
        assert!(text.ends_with(&format!(r#""id":{id}}}"#)), "id {id} not echoed: {text}");
    }
});

both!(unknown_methods_and_bad_params, |app| {
    let answer = app.post_json(r#"{"jsonrpc":"2.0","method":"auth.nope","id":1}"#).await;
    assert_eq!(error_code(&answer), -32601);
    assert_eq!(answer["error"]["data"], json!({"kind": "methodNotFound", "method": "auth.nope"}));

    let cases = [
        (json!({"email": 5, "password": "x"}), "email", "invalidType"),
        (json!({"email": "a@example.com"}), "password", "required"),
        (json!({"email": "a@example.com", "password": "x", "admin": true}), "admin", "unknownField"),
    ];
    for (params, path, code) in cases {
        let body = json!({"jsonrpc": "2.0", "method": "auth.login", "params": params, "id": 1}).to_string();
        let answer = app.post_json(&body).await;
        assert_eq!(error_code(&answer), -32602, "{body}");
        let field = &answer["error"]["data"]["fields"][0];
        assert_eq!(
            (field["path"].as_str().unwrap(), field["code"].as_str().unwrap()),
            (path, code),
            "{body}"
        );
    }
    let answer = app
        .post_json(r#"{"jsonrpc":"2.0","method":"auth.login","params":["a@example.com","pw"],"id":1}"#)
        .await;
    assert_eq!(answer["error"]["data"]["fields"][0]["code"], "byPosition");
    // Wrong shapes never reach the handler: nothing was written.
    let answer = app
        .post_json(
            r#"{"jsonrpc":"2.0","method":"auth.revokeSession","params":{"sessionId":"not-a-uuid"},"id":1}"#,
        )
        .await;
    assert_eq!(error_code(&answer), -32001, "auth is checked before params");
});

both!(limits_give_clear_errors, |app| {
    let huge = format!(
        r#"{{"jsonrpc":"2.0","method":"auth.login","params":{{"email":"{}"}},"id":1}}"#,
        "a".repeat(70 * 1024)
    );
    let (status, _, text) = app.post_raw(&huge).await;
    assert_eq!(status, 413);
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error_code(&answer), -32013);
    assert_eq!(answer["error"]["data"], json!({"kind": "payloadTooLarge", "limit": 65536, "what": "body"}));

    let batch: Vec<Value> =
        (0..11).map(|i| json!({"jsonrpc": "2.0", "method": "rpc.discover", "id": i})).collect();
    let answer = app.post_json(&Value::Array(batch).to_string()).await;
    assert_eq!(error_code(&answer), -32013);
    assert_eq!(answer["error"]["data"]["what"], "batch");
    assert_eq!(answer["error"]["data"]["limit"], 10);
});

both!(non_json_content_types_are_refused, |app| {
    let response = app
        .http
        .post(app.rpc_url())
        .header("content-type", "text/plain")
        .body(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(error_code(&answer), -32600);
});

both!(internal_errors_reveal_nothing_but_a_correlation_id, |app| {
    let session = app.register(&email("internal")).await;
    app.state.store().clone().close().await;
    let error = app.call::<Value>("auth.me", json!({}), Some(&session.access_token)).await.unwrap_err();
    assert_eq!(error.code(), -32603);
    assert_eq!(error.message(), "Internal error");
    let data = data(&error);
    assert_eq!(data["kind"], "internal");
    assert_eq!(data.as_object().unwrap().len(), 2);
    assert!(uuid::Uuid::parse_str(data["correlationId"].as_str().unwrap()).is_ok());
    let ready = app.http.get(format!("{}/ready", app.base)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
});
