//! HTTP details: request ids, CORS, probes, and JSON-RPC over WebSocket.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HeaderMap, HeaderValue};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};

use crate::helpers::*;

both!(probes_and_request_ids, |app| {
    let health = app.http.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let generated = health.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok());
    let ready = app
        .http
        .get(format!("{}/ready", app.base))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert_eq!(ready.headers().get("x-request-id").unwrap(), "trace-me-42");
    let missing = app.http.get(format!("{}/nothing-here", app.base)).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
});

both!(cors_allows_only_configured_origins, |app| {
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.rpc_url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(allowed.headers().get("access-control-allow-origin").unwrap(), "http://localhost:5173");
    let allow_headers =
        allowed.headers().get("access-control-allow-headers").unwrap().to_str().unwrap().to_lowercase();
    assert!(allow_headers.contains("authorization") && allow_headers.contains("content-type"));
    // What the client's `subscribeEvents` sends on `GET /events` (issue 16: without
    // `cache-control` in the list the browser's preflight failed and no event arrived).
    for header in ["cache-control", "last-event-id"] {
        assert!(allow_headers.contains(header), "{header} not allowed: {allow_headers}");
    }
    let denied = preflight("http://evil.example").await.unwrap();
    assert!(denied.headers().get("access-control-allow-origin").is_none());

    let events = app
        .http
        .get(format!("{}/events", app.base))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers().get("access-control-allow-origin").unwrap(), "http://localhost:5173");
});

both!(json_rpc_over_websocket, |app| {
    let session = app.register(&email("ws")).await;
    let ws_url = format!("ws://{}/rpc", app.addr);

    let anonymous = WsClientBuilder::default().build(&ws_url).await.unwrap();
    let discover: Value = anonymous.request("rpc.discover", rpc_params![]).await.unwrap();
    assert_eq!(discover["openrpc"], "1.3.2");
    let error = anonymous.request::<Value, _>("auth.me", rpc_params![]).await.unwrap_err();
    assert!(error.to_string().contains("-32001"), "{error}");

    let mut headers = HeaderMap::new();
    headers
        .insert("authorization", HeaderValue::from_str(&format!("Bearer {}", session.access_token)).unwrap());
    let client = WsClientBuilder::default().set_headers(headers).build(&ws_url).await.unwrap();
    let me: Value = client.request("auth.me", jsonrpsee::core::params::ObjectParams::new()).await.unwrap();
    assert_eq!(me["id"], session.user["id"]);

    // The socket's session is re-checked on every call: logging out ends its rights.
    let _: Value = client.request("auth.logout", jsonrpsee::core::params::ObjectParams::new()).await.unwrap();
    let error = client
        .request::<Value, _>("auth.me", jsonrpsee::core::params::ObjectParams::new())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("sessionRevoked"), "{error}");
});

both!(websocket_upgrades_check_origin_and_credentials, |app| {
    let ws_url = format!("ws://{}/rpc", app.addr);
    let mut evil = HeaderMap::new();
    evil.insert("origin", HeaderValue::from_static("http://evil.example"));
    assert!(WsClientBuilder::default().set_headers(evil).build(&ws_url).await.is_err());
    let mut good = HeaderMap::new();
    good.insert("origin", HeaderValue::from_static("http://localhost:5173"));
    assert!(WsClientBuilder::default().set_headers(good).build(&ws_url).await.is_ok());
    let mut bad_token = HeaderMap::new();
    bad_token.insert("authorization", HeaderValue::from_static("Bearer nope"));
    assert!(WsClientBuilder::default().set_headers(bad_token).build(&ws_url).await.is_err());

    // Browsers authenticate a socket with a single-use ticket.
    let session = app.register(&email("ticket")).await;
    let ticket: Value = app.call("auth.streamTicket", json!({}), Some(&session.access_token)).await.unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let url = format!("{ws_url}?ticket={ticket}");
    let client = WsClientBuilder::default().build(&url).await.unwrap();
    let me: Value = client.request("auth.me", jsonrpsee::core::params::ObjectParams::new()).await.unwrap();
    assert_eq!(me["id"], session.user["id"]);
    assert!(WsClientBuilder::default().build(&url).await.is_err(), "a ticket works once");
});

both!(the_playground_is_served_from_the_binary_with_a_strict_policy, |app| {
    for (path, content_type, needle) in [
        ("/playground", "text/html", "/playground/app.js"),
        ("/playground/app.js", "text/javascript", "rpc.discover"),
        ("/playground/app.css", "text/css", "main {"),
    ] {
        let response = app.http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with(content_type), "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{policy}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let body = response.text().await.unwrap();
        assert!(body.contains(needle), "{path}");
        // Nothing is fetched from elsewhere.
        assert!(!body.contains("https://") && !body.contains("http://"), "{path} names another origin");
    }
});
