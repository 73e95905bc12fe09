//! A tour of Weft's JSON-RPC API from Rust with `jsonrpsee`: register over HTTP,
//! authenticated calls with a bearer token, a batch, the same calls over a WebSocket,
//! a typed error, and logout.
//!
//! Start a server (`cargo run --release`), then `cargo run -p weft-example-client`.
//! `WEFT_URL` overrides the base URL (default `http://127.0.0.1:8080`). The program
//! exits non-zero as soon as an answer is not what it should be.

mod types;

use anyhow::{Context, Result, bail, ensure};
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::{BatchRequestBuilder, ObjectParams};
use jsonrpsee::http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::WsClientBuilder;
use uuid::Uuid;

use types::{AuthSession, ErrorData, LogoutResult, SessionList, User};

const DEFAULT_URL: &str = "http://127.0.0.1:8080";
/// Long and uncommon enough for the server's password-strength check.
const PASSWORD: &str = "violet-Tangerine-88-harbour";
/// Weft's `UNAUTHENTICATED` error code.
const UNAUTHENTICATED: i32 = -32001;
const USER_AGENT: &str = concat!("weft-example-client/", env!("CARGO_PKG_VERSION"));

#[tokio::main]
async fn main() -> Result<()> {
    let base = std::env::var("WEFT_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let rpc_url = format!("{}/rpc", base.trim_end_matches('/'));
    let ws_url = websocket_url(&rpc_url)?;
    println!("Weft at {rpc_url}");

    heading(1, "register a new account over HTTP (auth.register)");
    let public = HttpClientBuilder::default()
        .set_headers(headers(None)?)
        .build(&rpc_url)
        .context("failed to build the http client")?;
    let email = format!("rust-example-{}@example.com", Uuid::new_v4().simple());
    let session = register(&public, &email).await?;
    ensure!(session.user.email == email, "registered as {}, expected {email}", session.user.email);
    println!(
        "registered {} ({}, role {}) as user {}, session {}",
        session.user.email, session.user.display_name, session.user.role, session.user.id, session.session_id
    );

    heading(2, "authenticated calls with a bearer token (auth.me, auth.sessions)");
    let authed = HttpClientBuilder::default()
        .set_headers(headers(Some(&session.access_token))?)
        .build(&rpc_url)
        .context("failed to build the authenticated http client")?;
    let me: User = authed.request("auth.me", ObjectParams::new()).await.context("auth.me failed")?;
    ensure!(me.id == session.user.id, "auth.me answered user {}, expected {}", me.id, session.user.id);
    println!("auth.me: {} <{}>", me.display_name, me.email);
    let list: SessionList =
        authed.request("auth.sessions", ObjectParams::new()).await.context("auth.sessions failed")?;
    ensure!(
        list.items.iter().any(|s| s.id == session.session_id && s.current),
        "auth.sessions does not list session {} as current",
        session.session_id
    );
    for s in &list.items {
        let agent = s.user_agent.as_deref().unwrap_or("-");
        println!("auth.sessions: {} current={} user agent {agent}", s.id, s.current);
    }

    heading(3, "a batch: auth.me and auth.sessions in one HTTP request");
    batch(&authed, &session).await?;

    heading(4, "auth.me over a WebSocket (Authorization header at upgrade)");
    let ws = WsClientBuilder::default()
        .set_headers(headers(Some(&session.access_token))?)
        .build(&ws_url)
        .await
        .with_context(|| format!("failed to connect to {ws_url}"))?;
    let me_ws: User = ws.request("auth.me", ObjectParams::new()).await.context("auth.me over ws failed")?;
    ensure!(me_ws.id == session.user.id, "auth.me over ws answered user {}", me_ws.id);
    println!("auth.me over {ws_url}: {} <{}>", me_ws.display_name, me_ws.email);

    heading(5, "a typed error: auth.me without a token");
    let reason = expect_unauthenticated(public.request("auth.me", ObjectParams::new()).await)?;
    ensure!(reason == "missingToken", "expected reason missingToken, got {reason}");

    heading(6, "logout (auth.logout)");
    let out: LogoutResult =
        authed.request("auth.logout", ObjectParams::new()).await.context("auth.logout failed")?;
    ensure!(out.session_id == session.session_id, "logout ended session {}", out.session_id);
    println!("ended session {}", out.session_id);
    // The WebSocket was authenticated once, at upgrade, but the server re-checks the
    // session on every call: the open connection stops working too.
    let reason = expect_unauthenticated(ws.request("auth.me", ObjectParams::new()).await)?;
    ensure!(reason == "sessionRevoked", "expected reason sessionRevoked, got {reason}");

    println!("\nall steps passed");
    Ok(())
}

fn heading(n: u32, title: &str) {
    println!("\n== {n}. {title}");
}

/// `http://host/rpc` → `ws://host/rpc`, `https://…` → `wss://…`.
fn websocket_url(rpc_url: &str) -> Result<String> {
    if let Some(rest) = rpc_url.strip_prefix("https://") {
        Ok(format!("wss://{rest}"))
    } else if let Some(rest) = rpc_url.strip_prefix("http://") {
        Ok(format!("ws://{rest}"))
    } else {
        bail!("WEFT_URL must start with http:// or https://, got {rpc_url}")
    }
}

/// A user agent (the server records it with each session, see `auth.sessions`) and,
/// given a token, `Authorization: Bearer <accessToken>`.
fn headers(access_token: Option<&str>) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert("user-agent", HeaderValue::from_static(USER_AGENT));
    if let Some(token) = access_token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .context("access token is not a valid header value")?;
        headers.insert("authorization", value);
    }
    Ok(headers)
}

/// Every Weft procedure takes one named-params object, so params are built with
/// `ObjectParams`; `rpc_params![…]` would send a by-position array, which the server
/// refuses with -32602.
async fn register(client: &HttpClient, email: &str) -> Result<AuthSession> {
    let mut params = ObjectParams::new();
    params.insert("email", email)?;
    params.insert("password", PASSWORD)?;
    params.insert("displayName", "Rust Example")?;
    client.request("auth.register", params).await.context("auth.register failed")
}

/// Sends `auth.me` and `auth.sessions` as one JSON-RPC batch. A batch has a single
/// result type, so the answers come back as JSON values and are typed one by one.
async fn batch(client: &HttpClient, session: &AuthSession) -> Result<()> {
    let mut batch = BatchRequestBuilder::new();
    batch.insert("auth.me", ObjectParams::new())?;
    batch.insert("auth.sessions", ObjectParams::new())?;
    let answers = client.batch_request::<serde_json::Value>(batch).await.context("batch request failed")?;
    ensure!(
        answers.len() == 2 && answers.num_failed_calls() == 0,
        "expected two successful answers, got {} ({} failed)",
        answers.len(),
        answers.num_failed_calls()
    );
    // jsonrpsee matches answers to requests by id, so they are in request order.
    let mut answers = answers.into_iter();
    let (Some(Ok(me)), Some(Ok(sessions))) = (answers.next(), answers.next()) else {
        bail!("batch answers are missing");
    };
    let me: User = serde_json::from_value(me).context("auth.me answer in the batch has the wrong shape")?;
    let sessions: SessionList =
        serde_json::from_value(sessions).context("auth.sessions answer in the batch has the wrong shape")?;
    ensure!(me.id == session.user.id, "batch auth.me answered user {}", me.id);
    ensure!(!sessions.items.is_empty(), "batch auth.sessions listed no session");
    println!("batch: auth.me → {}, auth.sessions → {} session(s)", me.email, sessions.items.len());
    Ok(())
}

/// Checks that a call failed with Weft's `UNAUTHENTICATED` error and returns its reason.
/// Errors carry a typed `data` object tagged by `kind`.
fn expect_unauthenticated(result: Result<User, ClientError>) -> Result<String> {
    let error = match result {
        Ok(user) => bail!("expected an UNAUTHENTICATED error, got user {}", user.id),
        Err(ClientError::Call(error)) => error,
        Err(other) => return Err(other).context("expected a JSON-RPC error, got a transport failure"),
    };
    let data = error.data().map(|raw| raw.get()).unwrap_or("null");
    println!("error code {} ({}), data {data}", error.code(), error.message());
    ensure!(error.code() == UNAUTHENTICATED, "expected code {UNAUTHENTICATED}, got {}", error.code());
    match serde_json::from_str::<ErrorData>(data).context("error data has the wrong shape")? {
        ErrorData::Unauthenticated { reason } => Ok(reason),
        ErrorData::Other => bail!("expected data of kind unauthenticated, got {data}"),
    }
}
