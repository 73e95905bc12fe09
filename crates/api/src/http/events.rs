//! `GET /events`: the caller's Server-Sent Events stream.
//!
//! Authenticated by `Authorization: Bearer` or, for browsers' `EventSource`, by a
//! single-use `?ticket=` from `auth.streamTicket`. The stream sends a heartbeat at once and
//! then periodically; on each heartbeat the session is re-checked in the database, so a
//! session ended on another instance also closes the stream here. A `session.revoked`
//! event for the stream's own session is delivered and then the stream closes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_core::SessionId;
use weft_events::{RevokeReason, WeftEvent};

use crate::AppState;
use crate::auth::{Caller, Credentials};
use crate::error::{ApiError, UnauthenticatedReason};
use crate::http::rpc::{TicketQuery, connection_credentials, unauthorized};

/// Frames buffered per connection before the producer waits.
const STREAM_BUFFER: usize = 64;

fn frame(event: &WeftEvent) -> Option<Event> {
    Event::default().event(event.type_name()).json_data(event).ok()
}

pub(crate) async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TicketQuery>,
) -> Response {
    let caller = match open(&state, &headers, query.ticket.as_deref()).await {
        Ok(caller) => caller,
        Err(err) => return unauthorized(err),
    };
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    tokio::spawn(pump(state, caller, tx));
    Sse::new(ReceiverStream::new(rx)).into_response()
}

async fn open(state: &AppState, headers: &HeaderMap, ticket: Option<&str>) -> Result<Caller, ApiError> {
    let session_id = match connection_credentials(state, headers, ticket).await? {
        Credentials::Session(session_id) => session_id,
        _ => return Err(ApiError::Unauthenticated(UnauthenticatedReason::MissingToken)),
    };
    session_caller(state, session_id).await?.map_err(ApiError::Unauthenticated)
}

async fn session_caller(
    state: &AppState,
    session_id: SessionId,
) -> Result<Result<Caller, UnauthenticatedReason>, ApiError> {
    crate::auth::caller::caller_for_session(state, session_id, None).await
}

/// Feeds one connection until the client leaves, the session ends, or the server stops.
async fn pump(state: AppState, caller: Caller, tx: mpsc::Sender<Result<Event, Infallible>>) {
    let mut events = state.bus().subscribe();
    let mut memberships = Memberships::default();
    let mut heartbeat =
        tokio::time::interval(state.config().heartbeat_interval.max(Duration::from_millis(100)));
    let shutdown = state.shutdown_token().clone();
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tx.closed() => return,
            _ = heartbeat.tick() => {
                match session_caller(&state, caller.session_id).await {
                    Ok(Ok(_)) => Some(WeftEvent::Heartbeat { at: Utc::now() }),
                    Ok(Err(_)) => {
                        // Ended elsewhere (another instance, or an event this stream missed).
                        let reason = revoke_reason(&state, caller.session_id).await;
                        let _ = send(&tx, &WeftEvent::SessionRevoked { session_id: caller.session_id, reason }).await;
                        return;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "event stream could not re-check its session");
                        None
                    }
                }
            }
            received = events.recv() => match received {
                Ok(envelope) if envelope.is_for_user(caller.user_id) => Some(envelope.event.clone()),
                Ok(envelope) => match envelope.project() {
                    Some(project) if memberships.is_member(&state, project, caller.user_id).await => {
                        Some(envelope.event.clone())
                    }
                    _ => None,
                },
                Err(RecvError::Lagged(missed)) => {
                    // The client fell behind; it reconnects and resynchronises.
                    tracing::warn!(missed, "event stream lagged; closing");
                    return;
                }
                Err(RecvError::Closed) => return,
            },
        };
        let Some(event) = next else { continue };
        let ends_stream = matches!(&event, WeftEvent::SessionRevoked { session_id, .. } if *session_id == caller.session_id);
        if send(&tx, &event).await.is_err() || ends_stream {
            return;
        }
    }
}

/// The caller's project memberships as this stream last checked them: events addressed to
/// a project reach its members only, and a membership is re-checked after a few seconds so
/// a removed member stops receiving them.
#[derive(Default)]
struct Memberships {
    checked: std::collections::HashMap<weft_core::ProjectId, (bool, std::time::Instant)>,
}

impl Memberships {
    const TTL: Duration = Duration::from_secs(5);

    async fn is_member(
        &mut self,
        state: &AppState,
        project: weft_core::ProjectId,
        user: weft_core::UserId,
    ) -> bool {
        if let Some((member, at)) = self.checked.get(&project)
            && at.elapsed() < Self::TTL
        {
            return *member;
        }
        let member = match state.store().project_role(project, user).await {
            Ok(role) => role.is_some(),
            Err(err) => {
                tracing::warn!(error = %err, "event stream could not check a membership");
                false
            }
        };
        self.checked.insert(project, (member, std::time::Instant::now()));
        member
    }
}

async fn send(tx: &mpsc::Sender<Result<Event, Infallible>>, event: &WeftEvent) -> Result<(), ()> {
    match frame(event) {
        Some(frame) => tx.send(Ok(frame)).await.map_err(|_| ()),
        None => Ok(()),
    }
}

async fn revoke_reason(state: &AppState, session_id: SessionId) -> RevokeReason {
    match state.store().session_with_user(session_id).await {
        Ok(Some((session, _))) => {
            session.revoked_reason.as_deref().and_then(RevokeReason::parse).unwrap_or(RevokeReason::Revoked)
        }
        _ => RevokeReason::Revoked,
    }
}
