//! Inbound webhooks: `/hooks/<id>` (any method) starts a run of the webhook's workflow.
//!
//! In order: an unknown id answers 404; past the webhook's rate 429 with `Retry-After`; a
//! body over its limit 413; a missing or wrong signature or token 401 (HMAC signatures carry
//! a timestamp, refused outside the tolerance; a signature is claimed in `trigger_fires` in
//! the transaction of the run it starts, so a signature accepted before — on any instance,
//! before a restart too — is a replay, refused 401 and starting nothing); a workflow without
//! a published version 409. Then the run starts with the
//! request as data (`method`, `headers` without credentials, `query`, `body`: parsed JSON
//! for JSON bodies, else text, else base64; a body is never read as a file or a path).
//! Async webhooks answer 202 `{ runId }`; sync ones wait for the run up to their timeout
//! and answer 200 with its output, 500 with its error, or 202 when it is still running.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine as _;
use chrono::Utc;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::Sha256;
use weft_core::WebhookId;
use weft_engine::StartRun;
use weft_store::{FireClaim, RunStatus, Webhook};

use crate::AppState;
use crate::routers::webhook::{cipher, seal_context};

/// The signature header of HMAC webhooks.
pub const SIGNATURE_HEADER: &str = "x-weft-signature";
/// The token header of token webhooks (besides `Authorization: Bearer`).
pub const TOKEN_HEADER: &str = "x-weft-token";

/// Server-wide webhook limits.
#[derive(Clone, Debug)]
pub struct WebhookLimits {
    /// Largest body any webhook accepts (and the default of each).
    pub max_body_bytes: usize,
    /// How far a signature's timestamp may be from now.
    pub tolerance: Duration,
    /// Longest a sync webhook waits for its run.
    pub max_sync_wait: Duration,
}

impl Default for WebhookLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            tolerance: Duration::from_secs(300),
            max_sync_wait: Duration::from_secs(60),
        }
    }
}

/// Per-webhook rate limiters (GCRA), in this process.
#[derive(Default)]
pub struct HookGuards {
    limiters: Mutex<HashMap<WebhookId, (i64, Arc<DefaultDirectRateLimiter>)>>,
}

impl HookGuards {
    /// `Err(seconds to wait)` when the webhook is over its rate.
    fn admit(&self, webhook: &Webhook) -> Result<(), u64> {
        let limiter = {
            let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = || {
                let per_minute = u32::try_from(webhook.rate_per_minute).ok().and_then(NonZeroU32::new);
                Arc::new(RateLimiter::direct(Quota::per_minute(per_minute.unwrap_or(NonZeroU32::MIN))))
            };
            let entry = limiters.entry(webhook.id).or_insert_with(|| (webhook.rate_per_minute, fresh()));
            if entry.0 != webhook.rate_per_minute {
                *entry = (webhook.rate_per_minute, fresh());
            }
            entry.1.clone()
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until
                .wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// A request refused with an HTTP status and a JSON body `{ error, message }`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(json!({ "error": self.code, "message": self.message }))).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

fn refuse(status: StatusCode, code: &'static str, message: &str) -> Refusal {
    Refusal { status, code, message: message.to_owned(), retry_after: None }
}

/// `/hooks/{id}`.
pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &id, method, query, headers, body).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

async fn handle(
    state: &AppState,
    id: &str,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let not_found = || refuse(StatusCode::NOT_FOUND, "notFound", "no such webhook");
    let id: WebhookId = id.parse().map_err(|_| not_found())?;
    let webhook = state.store().get_webhook(id).await.map_err(internal)?.ok_or_else(not_found)?;
    if let Err(retry_after) = state.hooks().admit(&webhook) {
        let refusal =
            refuse(StatusCode::TOO_MANY_REQUESTS, "rateLimited", "too many requests to this webhook");
        return Err(Refusal { retry_after: Some(retry_after.max(1)), ..refusal });
    }
    let limit = usize::try_from(webhook.max_body_bytes)
        .unwrap_or(usize::MAX)
        .min(state.config().webhooks.max_body_bytes);
    let too_large = || {
        refuse(StatusCode::PAYLOAD_TOO_LARGE, "payloadTooLarge", &format!("the body exceeds {limit} bytes"))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes: Bytes =
        http_body_util::Limited::new(body, limit).collect().await.map_err(|_| too_large())?.to_bytes();
    let claim = verify(state, &webhook, &headers, &bytes)?;
    let workflow =
        state.store().find_workflow(webhook.workflow_id).await.map_err(internal)?.ok_or_else(not_found)?;
    let Some(version) = workflow.published_version else {
        return Err(refuse(StatusCode::CONFLICT, "notPublished", "the workflow has no published version"));
    };
    let input = json!({
        "trigger": "webhook",
        "webhookId": webhook.id,
        "method": method.as_str(),
        "headers": header_data(&headers),
        "query": query_data(query.as_deref()),
        "body": body_data(&headers, &bytes),
    });
    let events = state.bus().subscribe();
    let start = StartRun {
        workflow_id: workflow.id,
        project_id: workflow.project_id,
        version,
        input,
        trigger: "webhook".to_owned(),
        started_by: webhook.created_by,
        timeout: None,
    };
    let started = match claim {
        // A signed call is claimed in its run's transaction: on every instance, once.
        Some(claim) => state.engine().start_fired_run(start, claim).await,
        None => state.engine().start_run(start).await.map(Some),
    };
    let run = started
        .map_err(|err| {
            tracing::warn!(webhook = %webhook.id, error = %err, "a webhook could not start its run");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the run could not be started")
        })?
        .ok_or_else(|| {
            refuse(StatusCode::UNAUTHORIZED, "unauthorized", "this signature was used already (replay)")
        })?;
    if webhook.mode != "sync" {
        return Ok((StatusCode::ACCEPTED, Json(json!({ "runId": run.id, "status": run.status.as_str() })))
            .into_response());
    }
    let wait = Duration::from_millis(u64::try_from(webhook.sync_timeout_ms).unwrap_or(0))
        .min(state.config().webhooks.max_sync_wait);
    let deadline = tokio::time::Instant::now() + wait;
    let run = crate::routers::run::wait_for_end(state, run.id, events, deadline)
        .await
        .map_err(|_| refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the run could not be read"))?;
    let parse =
        |text: Option<&str>| text.and_then(|t| serde_json::from_str::<Value>(t).ok()).unwrap_or(Value::Null);
    let (status, body) = match run.status {
        RunStatus::Succeeded => (
            StatusCode::OK,
            json!({ "runId": run.id, "status": "succeeded", "output": parse(run.output.as_deref()) }),
        ),
        RunStatus::Failed | RunStatus::Cancelled => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "runId": run.id, "status": run.status.as_str(), "error": parse(run.error.as_deref()) }),
        ),
        other => (StatusCode::ACCEPTED, json!({ "runId": run.id, "status": other.as_str() })),
    };
    Ok((status, Json(body)).into_response())
}

fn internal(err: weft_store::StoreError) -> Refusal {
    tracing::error!(error = %err, "a webhook request failed");
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
}

/// Checks the request's signature or token against the webhook's secret; for a signed call,
/// the claim its run must take (a signature already claimed is a replay).
fn verify(
    state: &AppState,
    webhook: &Webhook,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<FireClaim>, Refusal> {
    let unauthorized = |message: &str| refuse(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let secret = cipher(state)
        .map_err(|_| refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", "webhooks need WEFT_SECRET_KEY"))?
        .open(&webhook.sealed, &seal_context(webhook.id, webhook.project_id))
        .map_err(|_| {
            refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the webhook's secret cannot be opened")
        })?;
    let secret = secret.expose_secret().as_bytes();
    if webhook.auth == "token" {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let token = bearer.or_else(|| headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()));
        let token = token.ok_or_else(|| unauthorized("missing token"))?;
        // Compare MACs of both under a fresh key: constant time whatever the lengths.
        let key: [u8; 32] = rand::random();
        let tag = |value: &[u8]| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| unauthorized("invalid token"))?;
            mac.update(value);
            Ok::<_, Refusal>(mac)
        };
        let expected = tag(secret)?.finalize().into_bytes();
        tag(token.as_bytes())?.verify_slice(&expected).map_err(|_| unauthorized("invalid token"))?;
        return Ok(None);
    }
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("missing signature"))?;
    let (timestamp, signature) =
        parse_signature(header).ok_or_else(|| unauthorized("malformed signature header"))?;
    let tolerance = i64::try_from(state.config().webhooks.tolerance.as_secs()).unwrap_or(i64::MAX);
    if (Utc::now().timestamp() - timestamp).abs() > tolerance {
        return Err(unauthorized("the signature's timestamp is outside the tolerance"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| unauthorized("invalid signature"))?;
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&signature).map_err(|_| unauthorized("invalid signature"))?;
    let fire_at = chrono::DateTime::from_timestamp(timestamp, 0).unwrap_or_else(Utc::now);
    Ok(Some(FireClaim::New { trigger_id: webhook.id.0, key: signature_key(&signature), fire_at }))
}

/// The `trigger_fires` key that claims a signed call (per webhook): its signature, which
/// covers the timestamp and the body (`sig:` and 43 characters, within the key's 64).
fn signature_key(signature: &[u8]) -> String {
    format!("sig:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature))
}

/// `t=<unix seconds>,v1=<hex>` into its parts.
fn parse_signature(header: &str) -> Option<(i64, Vec<u8>)> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    Some((timestamp?, signature?))
}

/// Request headers as data, without credentials.
fn header_data(headers: &HeaderMap) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if matches!(name, "authorization" | "cookie" | SIGNATURE_HEADER | TOKEN_HEADER) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    Value::Object(map)
}

/// The query string as an object; a repeated key becomes a list.
fn query_data(query: Option<&str>) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = Value::String(value.into_owned());
        match map.get_mut(key.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(existing) => *existing = Value::Array(vec![existing.take(), value]),
            None => {
                map.insert(key.into_owned(), value);
            }
        }
    }
    Value::Object(map)
}

/// The body as data: JSON when it says so and parses, else UTF-8 text, else base64.
fn body_data(headers: &HeaderMap, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().ends_with("json")));
    if json && let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return value;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_headers_parse() {
        assert_eq!(parse_signature("t=17,v1=0aff"), Some((17, vec![0x0a, 0xff])));
        assert_eq!(parse_signature("v1=00, t=5"), Some((5, vec![0])));
        assert_eq!(parse_signature("t=5"), None);
        assert_eq!(parse_signature("t=x,v1=00"), None);
    }

    #[test]
    fn query_and_body_are_data() {
        assert_eq!(query_data(Some("a=1&b=2&a=3")), json!({ "a": ["1", "3"], "b": "2" }));
        let mut headers = HeaderMap::new();
        assert_eq!(body_data(&headers, b"../../etc/passwd"), json!("../../etc/passwd"));
        assert_eq!(body_data(&headers, &[0xff, 0x00]), json!({ "base64": "/wA=" }));
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(body_data(&headers, br#"{"x":1}"#), json!({ "x": 1 }));
    }
}
