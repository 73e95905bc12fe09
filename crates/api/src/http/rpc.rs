//! JSON-RPC transports: `POST /rpc` and a WebSocket at `/rpc`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc};

use crate::AppState;
use crate::auth::{Credentials, hash_secret};
use crate::error::{ApiError, ErrorCode, ErrorData, LimitKind, RpcErrorObject, UnauthenticatedReason};
use crate::http::{authorization, origin_allowed, request_info};
use crate::rpc::envelope_error;

/// Messages one WebSocket may have in flight at once.
const WS_MAX_IN_FLIGHT: usize = 32;

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /rpc`: one JSON-RPC message per request. Answers 200 with the response, 204
/// when only notifications were sent, 413 past the body limit, 415 for non-JSON bodies.
pub(crate) async fn post_rpc(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limits = state.config().limits;
    if !is_json(&headers) {
        let error = RpcErrorObject::protocol(
            ErrorCode::InvalidRequest,
            ErrorData::InvalidRequest { detail: "content-type must be application/json".to_owned() },
        );
        return json_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, envelope_error(error));
    }
    let too_large = || {
        let error = ApiError::PayloadTooLarge { limit: limits.max_body_bytes as u64, what: LimitKind::Body };
        json_response(StatusCode::PAYLOAD_TOO_LARGE, envelope_error(error.into_object()))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limits.max_body_bytes) {
        return too_large();
    }
    let bytes: Bytes = match http_body_util::Limited::new(body, limits.max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(err) => {
            tracing::debug!(error = %err, "failed to read request body");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        let error = RpcErrorObject::protocol(
            ErrorCode::ParseError,
            ErrorData::Parse { detail: "body is not valid UTF-8".to_owned() },
        );
        return json_response(StatusCode::OK, envelope_error(error));
    };
    let request = Arc::new(request_info(&state, &headers, Some(peer), authorization(&headers)));
    match state.registry().handle_message(&state, &request, limits, text).await {
        Some(answer) => json_response(StatusCode::OK, answer),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Query of the WebSocket and event-stream endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct TicketQuery {
    /// A ticket from `auth.streamTicket`, for clients that cannot send headers.
    pub ticket: Option<String>,
}

/// Authenticates a long-lived connection when it opens: from the `Authorization` header,
/// or from a single-use ticket. Returns `Credentials::None` when neither is present.
pub(crate) async fn connection_credentials(
    state: &AppState,
    headers: &HeaderMap,
    ticket: Option<&str>,
) -> Result<Credentials, ApiError> {
    if let Some(ticket) = ticket {
        let session = state.store().consume_stream_ticket(&hash_secret(ticket), Utc::now()).await?;
        return session
            .map(Credentials::Session)
            .ok_or(ApiError::Unauthenticated(UnauthenticatedReason::InvalidTicket));
    }
    match authorization(headers) {
        Credentials::None => Ok(Credentials::None),
        credentials => {
            let probe = crate::auth::RequestInfo::new(String::new(), None, None, credentials);
            let caller = probe.authenticate(state).await?;
            Ok(Credentials::Session(caller.session_id))
        }
    }
}

pub(crate) fn unauthorized(error: ApiError) -> Response {
    let status = match error.code() {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_response(status, error)
}

/// An HTTP error answer carrying the JSON-RPC error object (for non-RPC endpoints).
pub(crate) fn error_response(status: StatusCode, error: ApiError) -> Response {
    json_response(status, envelope_error(error.into_object()))
}

/// `GET /rpc` with an upgrade: JSON-RPC over WebSocket. Authenticated at upgrade time
/// (header or ticket); the session is re-checked on every call.
pub(crate) async fn websocket(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<TicketQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.config().cors_origins) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let credentials = match connection_credentials(&state, &headers, query.ticket.as_deref()).await {
        Ok(credentials) => credentials,
        Err(err) => return unauthorized(err),
    };
    let max = state.config().limits.max_body_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve_socket(state, socket, headers, peer, credentials))
}

async fn serve_socket(
    state: AppState,
    socket: WebSocket,
    headers: HeaderMap,
    peer: SocketAddr,
    credentials: Credentials,
) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        while let Some(message) = out_rx.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let link = crate::realtime::socket::SocketLink::new(out_tx.clone());
    let in_flight = Arc::new(Semaphore::new(WS_MAX_IN_FLIGHT));
    let shutdown = state.shutdown_token().clone();
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            message = stream.next() => message,
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text.to_string(),
            Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                Ok(text) => text,
                Err(_) => {
                    let error = RpcErrorObject::protocol(
                        ErrorCode::ParseError,
                        ErrorData::Parse { detail: "message is not valid UTF-8".to_owned() },
                    );
                    let _ = out_tx.send(Message::Text(envelope_error(error).into())).await;
                    continue;
                }
            },
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => continue,
        };
        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
        let state = state.clone();
        let out_tx = out_tx.clone();
        let request =
            Arc::new(request_info(&state, &headers, Some(peer), credentials.clone()).on_socket(link.clone()));
        tokio::spawn(async move {
            let limits = state.config().limits;
            if let Some(answer) = state.registry().handle_message(&state, &request, limits, &text).await {
                let _ = out_tx.send(Message::Text(answer.into())).await;
            }
            drop(permit);
        });
    }
    link.close();
    drop(link);
    drop(out_tx);
    let _ = writer.await;
}
