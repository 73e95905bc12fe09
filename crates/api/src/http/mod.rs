//! The HTTP surface on one port: `POST /rpc` and WebSocket `/rpc` (JSON-RPC 2.0),
//! `GET /events` (Server-Sent Events), webhooks (`/hooks/<id>`), `GET /playground` (a page for
//! trying the API by hand), `GET /health` and `GET /ready`,
//! served by [`serve`].

mod events;
pub mod hooks;
mod playground;
mod rpc;
mod serve;

pub use serve::serve;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::auth::{Credentials, RequestInfo};

/// The `x-request-id` header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the application's router. [`serve`] serves it; serving it otherwise, use
/// `into_make_service_with_connect_info::<SocketAddr>()` (client addresses are used for
/// throttling and the audit log), and event streams are then all served through hyper.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.config().cors_origins);
    Router::new()
        .route("/rpc", axum::routing::post(rpc::post_rpc).get(rpc::websocket))
        .route("/events", get(events::stream))
        .route("/hooks/{id}", axum::routing::any(hooks::receive))
        .route("/playground", get(playground::page))
        .route("/playground/app.js", get(playground::script))
        .route("/playground/app.css", get(playground::style))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .fallback(not_found)
        .with_state(state)
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let request_id = request
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST])
        // `cache-control` and `last-event-id`: what fetch-based event-stream clients (the
        // generated client's `subscribeEvents` among them) send on `GET /events`.
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CACHE_CONTROL,
            HeaderName::from_static("last-event-id"),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(3600))
}

/// Whether a browser `Origin` may open a WebSocket: same origin as the request's `Host`,
/// or listed in the CORS origins. Requests without `Origin` (non-browser clients) pass.
pub(crate) fn origin_allowed(headers: &HeaderMap, origins: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(host), Some(origin_host)) if host.eq_ignore_ascii_case(origin_host))
}

/// Builds the per-request facts from the headers and peer address.
pub(crate) fn request_info(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    credentials: Credentials,
) -> RequestInfo {
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let forwarded = state
        .config()
        .trust_forwarded_for
        .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    let client_ip = forwarded.or(peer.map(|addr| addr.ip()));
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    RequestInfo::new(request_id, client_ip, user_agent, credentials)
}

pub(crate) fn authorization(headers: &HeaderMap) -> Credentials {
    Credentials::from_authorization(headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()))
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "unavailable" })))
                .into_response()
        }
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "not found" }))).into_response()
}
