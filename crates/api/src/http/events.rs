//! `GET /events`: the caller's Server-Sent Events stream.
//!
//! Authenticated by `Authorization: Bearer` or, for browsers' `EventSource`, by a
//! single-use `?ticket=` from `auth.streamTicket`. `?topics=run:<id>,workflow:<id>,project:<id>`
//! chooses what the stream follows besides the caller's personal events (without it: every
//! project the caller is a member of); a topic the caller may not see answers 404 and opens
//! nothing. Durable events carry their event-log id; a client reconnecting with
//! `Last-Event-ID` (header, or `?lastEventId=`) first receives what it missed, or `resync`
//! when the log no longer holds it. Heartbeats are sent at once and then periodically; on
//! each the session is re-checked, so a session ended on another instance also closes the
//! stream here.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::auth::{Caller, Credentials};
use crate::error::{ApiError, ErrorCode, UnauthenticatedReason};
use crate::http::rpc::{connection_credentials, error_response, unauthorized};
use crate::realtime::follow::{Follow, parse_topics};
use crate::realtime::hub::Prepared;
use crate::realtime::pump::{Render, pump};
use crate::realtime::socket_sink::SocketSink;

/// Query of `GET /events`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StreamQuery {
    /// A ticket from `auth.streamTicket`.
    ticket: Option<String>,
    /// Comma-separated topics.
    topics: Option<String>,
    /// Resume position, for clients that cannot send the `Last-Event-ID` header.
    last_event_id: Option<String>,
}

/// SSE framing: an event's frame is the same bytes for every stream (its id is the log's),
/// so it is built once per event and shared.
struct SseRender;

/// One SSE frame (`id:`, `event:`, a `data:` line per line of data, blank line).
fn sse_frame(id: Option<i64>, kind: &str, data: &str) -> Bytes {
    let mut frame = String::with_capacity(data.len() + kind.len() + 40);
    if let Some(id) = id {
        let _ = writeln!(frame, "id: {id}");
    }
    let _ = writeln!(frame, "event: {kind}");
    for line in data.split('\n') {
        let _ = writeln!(frame, "data: {}", line.trim_end_matches('\r'));
    }
    frame.push('\n');
    Bytes::from(frame)
}

impl Render for SseRender {
    type Frame = Bytes;

    fn frame(&self, id: Option<i64>, prepared: &Prepared) -> Option<Bytes> {
        let envelope = &prepared.envelope;
        let build = || sse_frame(id, envelope.event.type_name(), &envelope.data);
        Some(if id == envelope.id { prepared.shared(build) } else { build() })
    }

    fn heartbeats(&self) -> bool {
        true
    }
}

/// A stream accepted on a connection served without hyper ([`super::serve`]): started on
/// the socket once the response head is written.
pub(crate) struct Accepted {
    state: AppState,
    follow: Follow,
    /// The log id the stream starts after.
    from: i64,
}

impl Accepted {
    /// Feeds the stream into `socket` (its response head written) until it ends.
    pub(crate) async fn run(self, socket: tokio::net::TcpStream) {
        let sink = SocketSink::new(socket);
        pump(self.state, self.follow, self.from, sink, SseRender, CancellationToken::new()).await;
    }
}

/// Put into the request by [`super::serve`] when the connection is its own: the handler
/// leaves the accepted stream here instead of answering with a body.
#[derive(Clone, Default)]
pub(crate) struct DirectSlot(Arc<Mutex<Option<Accepted>>>);

impl DirectSlot {
    fn put(&self, accepted: Accepted) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(accepted);
        }
    }

    /// The stream the handler accepted, if it did.
    pub(crate) fn take(&self) -> Option<Accepted> {
        self.0.lock().ok()?.take()
    }
}

/// The headers of an event stream's response.
fn stream_headers() -> [(HeaderName, &'static str); 3] {
    [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-cache"),
        // Proxies such as nginx must not buffer the stream.
        (HeaderName::from_static("x-accel-buffering"), "no"),
    ]
}

pub(crate) async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
    direct: Option<Extension<DirectSlot>>,
) -> Response {
    let caller = match open(&state, &headers, query.ticket.as_deref()).await {
        Ok(caller) => caller,
        Err(err) => return unauthorized(err),
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id)
        .filter(|text| !text.trim().is_empty());
    let resume_from = match resume.map(|text| text.trim().parse::<i64>()) {
        None => None,
        Some(Ok(id)) if id >= 0 => Some(id),
        Some(_) => {
            let err = ApiError::field("lastEventId", "invalid", "an event id is a non-negative integer");
            return error_response(StatusCode::BAD_REQUEST, err);
        }
    };
    let list: Vec<String> = query
        .topics
        .as_deref()
        .map(|t| t.split(',').filter(|s| !s.trim().is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let follow = match parse_topics(&list, "topics", state.config().realtime.max_topics) {
        Ok(topics) => Follow::open(&state, caller.user_id, caller.session_id, topics).await,
        Err(err) => Err(err),
    };
    let follow = match follow {
        Ok(follow) => follow,
        Err(err) => {
            let status = match err.code() {
                ErrorCode::NotFound => StatusCode::NOT_FOUND,
                ErrorCode::InvalidParams | ErrorCode::Validation => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return error_response(status, err);
        }
    };
    let from = match crate::realtime::pump::start_position(&state, resume_from).await {
        Ok(position) => position,
        Err(err) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, err),
    };
    if let Some(Extension(slot)) = direct {
        slot.put(Accepted { state, follow, from });
        return (stream_headers(), Body::empty()).into_response();
    }
    let (tx, rx) = mpsc::channel(state.config().realtime.stream_buffer.max(1));
    tokio::spawn(pump(state, follow, from, tx, SseRender, CancellationToken::new()));
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    (stream_headers(), body).into_response()
}

async fn open(state: &AppState, headers: &HeaderMap, ticket: Option<&str>) -> Result<Caller, ApiError> {
    let session_id = match connection_credentials(state, headers, ticket).await? {
        Credentials::Session(session_id) => session_id,
        _ => return Err(ApiError::Unauthenticated(UnauthenticatedReason::MissingToken)),
    };
    crate::auth::caller::caller_for_session(state, session_id, None).await?.map_err(ApiError::Unauthenticated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_the_event_stream_format() {
        assert_eq!(
            sse_frame(Some(7), "run.started", r#"{"a":1}"#),
            "id: 7\nevent: run.started\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(sse_frame(None, "heartbeat", "a\r\nb"), "event: heartbeat\ndata: a\ndata: b\n\n");
    }
}
