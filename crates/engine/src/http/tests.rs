//! The client against real local HTTP servers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::*;

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> axum::Json<Value> {
    let header = |name: &str| headers.get(name).map(|value| value.to_str().unwrap().to_owned());
    axum::Json(json!({
        "method": method.as_str(),
        "query": uri.query(),
        "contentType": header("content-type"),
        "idempotencyKey": header("idempotency-key"),
        "authorization": header("authorization"),
        "apiKey": header("x-api-key"),
        "userAgent": header("user-agent"),
        "body": String::from_utf8_lossy(&body),
    }))
}

fn redirect(status: StatusCode, to: &str) -> Response {
    (status, [(header::LOCATION, to.to_owned())]).into_response()
}

async fn redirect_to(Query(params): Query<HashMap<String, String>>) -> Response {
    let status = params.get("status").map_or(StatusCode::FOUND, |code| code.parse().unwrap());
    redirect(status, &params["to"])
}

fn chunked(n_chunks: usize) -> Body {
    let chunks = std::iter::repeat_with(|| Ok::<_, std::io::Error>(vec![b'x'; 1024])).take(n_chunks);
    Body::from_stream(futures::stream::iter(chunks))
}

fn app() -> Router {
    Router::new()
        .route("/echo", any(echo))
        .route("/json", get(|| async { axum::Json(json!({"ok": true, "n": [1, 2]})) }))
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/text", get(|| async { "héllo" }))
        .route(
            "/binary",
            get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], vec![0u8, 1, 2, 255]) }),
        )
        .route("/not-json", get(|| async { "not json {" }))
        .route("/multi", get(|| async { (AppendHeaders([("x-multi", "a"), ("x-multi", "b")]), "ok") }))
        .route("/stream", get(|| async { chunked(10) }))
        .route("/big", get(|| async { vec![b'x'; 10 * 1024] }))
        .route("/redirect", get(redirect_to).post(redirect_to))
        .route("/loop", get(|| async { redirect(StatusCode::FOUND, "/loop") }))
        .route(
            "/limited",
            get(|| async { (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")], "slow down") }),
        )
        .route(
            "/limited-until",
            get(|| async {
                let at = chrono::Utc::now() + chrono::TimeDelta::seconds(120);
                let value = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, value)])
            }),
        )
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom\n at line 1") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no such thing") }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
}

async fn spawn(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A server on 127.0.0.1 and a client whose allow-list holds exactly that address.
async fn server_and_client() -> (String, OutboundHttp) {
    let addr = spawn(app()).await;
    let client = OutboundHttp::new(OutboundPolicy::new(false, [addr.to_string()]).unwrap()).unwrap();
    (format!("http://{addr}"), client)
}

fn post(url: String, body: OutboundBody) -> OutboundRequest {
    OutboundRequest { method: HttpMethod::Post, body: Some(body), ..OutboundRequest::get(url) }
}

#[tokio::test]
async fn loopback_is_refused_by_default() {
    let addr = spawn(app()).await;
    let client = OutboundHttp::new(OutboundPolicy::default()).unwrap();
    let err = client.send(OutboundRequest::get(format!("http://{addr}/json"))).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Refused);
    assert!(!err.retryable_default());
    assert_eq!(
        err.to_string(),
        "refused: 127.0.0.1 is a loopback address; allow it with WEFT_HTTP_ALLOW_HOSTS or WEFT_HTTP_ALLOW_PRIVATE=true"
    );
    let decimal = format!("http://2130706433:{}/json", addr.port());
    assert_eq!(client.send(OutboundRequest::get(decimal)).await.unwrap_err().class(), ErrorClass::Refused);
}

#[tokio::test]
async fn allow_listed_address_is_reached_and_json_parsed() {
    let (base, client) = server_and_client().await;
    let response = client.send(OutboundRequest::get(format!("{base}/json"))).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, json!({"ok": true, "n": [1, 2]}));
    assert_eq!(response.headers["content-type"], "application/json");
    let open = OutboundHttp::new(OutboundPolicy::new(true, Vec::<String>::new()).unwrap()).unwrap();
    assert_eq!(open.send(OutboundRequest::get(format!("{base}/json"))).await.unwrap().status, 200);
}

#[tokio::test]
async fn name_resolving_to_loopback_is_refused() {
    let addr = spawn(app()).await;
    let client = OutboundHttp::new(OutboundPolicy::new(false, [addr.to_string()]).unwrap()).unwrap();
    let err = client
        .send(OutboundRequest::get(format!("http://localhost:{}/json", addr.port())))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Refused, "{err}");
    assert!(err.to_string().starts_with("refused: localhost resolves to "), "{err}");
    assert!(err.to_string().contains("a loopback address"), "{err}");

    // Allow-listed by name, on its port only: other ports are checked after resolution.
    let by_name = format!("localhost:{}", addr.port());
    let client = OutboundHttp::new(OutboundPolicy::new(false, [by_name]).unwrap()).unwrap();
    let response = client.send(OutboundRequest::get(format!("http://localhost:{}/json", addr.port()))).await;
    assert_eq!(response.unwrap().status, 200);
    let err = client.send(OutboundRequest::get("http://localhost:1/json")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Refused, "{err}");
}

#[tokio::test]
async fn redirects_to_refused_destinations_are_refused() {
    let (base, client) = server_and_client().await;
    let other = format!("http://{}/json", spawn(app()).await);
    for target in ["http://169.254.169.254/latest/meta-data/", other.as_str()] {
        let mut request = OutboundRequest::get(format!("{base}/redirect"));
        request.query = vec![("to".into(), target.to_owned())];
        let err = client.send(request).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Refused, "{target}: {err}");
    }
    let mut request = OutboundRequest::get(format!("{base}/redirect"));
    request.query = vec![("to".into(), "http://169.254.169.254/".into())];
    assert_eq!(
        client.send(request).await.unwrap_err().to_string(),
        "refused: 169.254.169.254 is a link-local/cloud-metadata address; allow it with WEFT_HTTP_ALLOW_HOSTS"
    );
    let mut request = OutboundRequest::get(format!("{base}/redirect"));
    request.query = vec![("to".into(), "file:///etc/passwd".into())];
    assert_eq!(client.send(request).await.unwrap_err().class(), ErrorClass::Refused);
}

#[tokio::test]
async fn redirect_307_keeps_method_and_body_303_turns_into_get() {
    let (base, client) = server_and_client().await;
    let mut request = post(format!("{base}/redirect"), OutboundBody::Json(json!({"a": 1})));
    request.query = vec![("to".into(), "/echo".into()), ("status".into(), "307".into())];
    let echoed = client.send(request.clone()).await.unwrap().body;
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["body"], r#"{"a":1}"#);
    assert_eq!(echoed["contentType"], "application/json");

    request.query[1].1 = "303".into();
    let echoed = client.send(request).await.unwrap().body;
    assert_eq!(echoed["method"], "GET");
    assert_eq!(echoed["body"], "");
    assert_eq!(echoed["contentType"], Value::Null);
}

#[tokio::test]
async fn credentials_do_not_follow_redirects_to_other_origins() {
    let first = spawn(app()).await;
    let second = spawn(app()).await;
    let policy = OutboundPolicy::new(false, [first.to_string(), second.to_string()]).unwrap();
    let client = OutboundHttp::new(policy).unwrap();
    let mut request = OutboundRequest::get(format!("http://{first}/redirect"));
    request.headers = vec![("Authorization".into(), "Bearer s3cret".into())];
    request.query = vec![("to".into(), "/echo".into())];
    assert_eq!(client.send(request.clone()).await.unwrap().body["authorization"], "Bearer s3cret");
    request.query = vec![("to".into(), format!("http://{second}/echo"))];
    assert_eq!(client.send(request).await.unwrap().body["authorization"], Value::Null);
}

#[tokio::test]
async fn stored_credential_headers_do_not_follow_redirects_to_other_origins() {
    let first = spawn(app()).await;
    let second = spawn(app()).await;
    let policy = OutboundPolicy::new(false, [first.to_string(), second.to_string()]).unwrap();
    let client = OutboundHttp::new(policy).unwrap();
    let mut request = OutboundRequest::get(format!("http://{first}/redirect"));
    request.headers = vec![("X-Api-Key".into(), "k-123".into()), ("X-Other".into(), "kept".into())];
    request.secret_headers = vec!["X-Api-Key".into()];
    request.query = vec![("to".into(), "/echo".into())];
    assert_eq!(client.send(request.clone()).await.unwrap().body["apiKey"], "k-123", "same origin keeps it");
    request.query = vec![("to".into(), format!("http://{second}/echo"))];
    assert_eq!(
        client.send(request).await.unwrap().body["apiKey"],
        Value::Null,
        "another origin never sees it"
    );
}

#[tokio::test]
async fn redirect_loops_stop() {
    let (base, client) = server_and_client().await;
    let err = client.send(OutboundRequest::get(format!("{base}/loop"))).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Other);
    assert!(err.to_string().starts_with("more than 10 redirects"), "{err}");
}

#[tokio::test]
async fn text_binary_and_empty_bodies() {
    let (base, client) = server_and_client().await;
    let mut request = OutboundRequest::get(format!("{base}/text"));
    request.response_format = ResponseFormat::Text;
    assert_eq!(client.send(request).await.unwrap().body, "héllo");
    let mut request = OutboundRequest::get(format!("{base}/binary"));
    request.response_format = ResponseFormat::Binary;
    assert_eq!(client.send(request).await.unwrap().body, "AAEC/w==");
    let response = client.send(OutboundRequest::get(format!("{base}/empty"))).await.unwrap();
    assert_eq!((response.status, response.body), (204, Value::Null));
    let mut request = OutboundRequest::get(format!("{base}/multi"));
    request.response_format = ResponseFormat::Text;
    let response = client.send(request).await.unwrap();
    assert_eq!(response.headers["x-multi"], "a, b");
}

#[tokio::test]
async fn invalid_json_is_an_error_of_class_other() {
    let (base, client) = server_and_client().await;
    let err = client.send(OutboundRequest::get(format!("{base}/not-json"))).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Other);
    assert!(err.to_string().starts_with(&format!("response from {base} is not valid JSON: ")), "{err}");
}

#[tokio::test]
async fn bodies_past_max_bytes_are_cut_off() {
    let (base, client) = server_and_client().await;
    for path in ["stream", "big"] {
        let mut request = OutboundRequest::get(format!("{base}/{path}"));
        request.response_format = ResponseFormat::Text;
        request.max_bytes = 4096;
        let err = client.send(request.clone()).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Other, "{path}");
        assert!(matches!(err, HttpError::TooLarge { max_bytes: 4096, .. }), "{path}: {err}");
        request.max_bytes = 10 * 1024;
        let body = client.send(request).await.unwrap().body;
        assert_eq!(body.as_str().map(str::len), Some(10 * 1024), "{path}");
    }
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let (base, client) = server_and_client().await;
    let err = client.send(OutboundRequest::get(format!("{base}/limited"))).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::RateLimited);
    assert!(err.retryable_default());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.to_string(), format!("{base} answered HTTP 429 Too Many Requests: slow down"));
    let err = client.send(OutboundRequest::get(format!("{base}/limited-until"))).await.unwrap_err();
    let after = err.retry_after().unwrap();
    assert!(after > Duration::from_secs(100) && after <= Duration::from_secs(120), "{after:?}");
}

#[tokio::test]
async fn status_errors_are_classified_unless_allowed() {
    let (base, client) = server_and_client().await;
    let mut request = OutboundRequest::get(format!("{base}/fail"));
    request.headers = vec![("Authorization".into(), "Bearer s3cret".into())];
    request.query = vec![("api_key".into(), "k3y".into())];
    let err = client.send(request.clone()).await.unwrap_err();
    assert_eq!((err.class(), err.status()), (ErrorClass::ServerError, Some(500)));
    assert_eq!(err.to_string(), format!("{base} answered HTTP 500 Internal Server Error: boom at line 1"));
    assert!(!format!("{err} {err:?}").contains("s3cret") && !format!("{err:?}").contains("k3y"));
    request.fail_on_status = false;
    request.response_format = ResponseFormat::Text;
    let response = client.send(request).await.unwrap();
    assert_eq!((response.status, response.body), (500, json!("boom\n at line 1")));
    let err = client.send(OutboundRequest::get(format!("{base}/missing"))).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::ClientError);
    assert!(!err.retryable_default());
}

#[tokio::test]
async fn slow_servers_time_out() {
    let (base, client) = server_and_client().await;
    let request = OutboundRequest {
        timeout: Duration::from_millis(300),
        ..OutboundRequest::get(format!("{base}/slow"))
    };
    let started = std::time::Instant::now();
    let err = client.send(request).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.class(), ErrorClass::Timeout);
    assert!(err.retryable_default());
    assert_eq!(err.to_string(), format!("request to {base} timed out after 300 ms"));
}

#[tokio::test]
async fn connection_failures_are_network_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = OutboundHttp::new(OutboundPolicy::new(false, [addr.to_string()]).unwrap()).unwrap();
    let err = client.send(OutboundRequest::get(format!("http://{addr}/"))).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Network, "{err}");
    assert!(err.to_string().starts_with(&format!("request to http://{addr} failed: ")), "{err}");
}

#[tokio::test]
async fn https_to_a_plain_server_fails_cleanly() {
    let (base, client) = server_and_client().await;
    let url = format!("{}/json", base.replacen("http://", "https://", 1));
    let err = client.send(OutboundRequest::get(url)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Network, "{err}");
}

#[tokio::test]
async fn request_parts_arrive() {
    let (base, client) = server_and_client().await;
    let mut request =
        post(format!("{base}/echo?fixed=1"), OutboundBody::Form(vec![("a".into(), "1 2".into())]));
    request.query = vec![("q".into(), "x y".into())];
    request.idempotency_key = Some("run-1-node-2".into());
    let echoed = client.send(request).await.unwrap().body;
    assert_eq!(echoed["idempotencyKey"], "run-1-node-2");
    assert_eq!(echoed["query"], "fixed=1&q=x+y");
    assert_eq!(echoed["contentType"], "application/x-www-form-urlencoded");
    assert_eq!(echoed["body"], "a=1+2");
    assert_eq!(echoed["userAgent"], concat!("weft/", env!("CARGO_PKG_VERSION")));

    let mut request = post(format!("{base}/echo"), OutboundBody::Text("hi".into()));
    request.headers = vec![("Content-Type".into(), "text/csv".into())];
    let echoed = client.send(request).await.unwrap().body;
    assert_eq!((&echoed["contentType"], &echoed["body"]), (&json!("text/csv"), &json!("hi")));
}

#[tokio::test]
async fn bad_urls_are_rejected_before_sending() {
    let client = OutboundHttp::new(OutboundPolicy::default()).unwrap();
    let err = client.send(OutboundRequest::get("not a url")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Other);
    let err = client.send(OutboundRequest::get("ftp://example.com/file")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Refused);
    assert_eq!(err.to_string(), "refused: unsupported URL scheme `ftp`; only http and https are allowed");
    let err = client.send(OutboundRequest::get("http://metadata.google.internal/")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Refused);
}
