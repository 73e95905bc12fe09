//! Feeding one stream (an SSE connection or a WebSocket subscription): replay from a
//! position in the event log, then live events, each checked against what the stream
//! follows and may see.
//!
//! A slow consumer never slows anyone else: frames go into the stream's bounded buffer with
//! `try_send`. When it is full the stream stops taking live events, waits for room (at most
//! the grace period, else it is closed) and then catches up from the event log, like a
//! client resuming with `Last-Event-ID`; beyond the replay limit or the log's retention it
//! sends `resync` instead.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weft_events::journal::READ_BATCH;
use weft_events::{Envelope, ResyncReason, WeftEvent};

use super::follow::{Follow, may_see};
use crate::AppState;

/// How a transport frames events.
pub trait Render: Send + Sync + 'static {
    /// A frame.
    type Frame: Send + 'static;
    /// Frames an event (`id` is its log position, if it has one).
    fn frame(&self, id: Option<i64>, kind: &str, data: &str) -> Option<Self::Frame>;
    /// Whether the stream sends heartbeats (SSE does; a WebSocket has its own pings).
    fn heartbeats(&self) -> bool;
}

/// Why a stream ends.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The consumer went away or stayed full past the grace period.
    Gone,
    /// The stream's session ended.
    SessionEnded,
}

/// Streams `follow` into `out` from `resume_from` (a `Last-Event-ID`), or from now, until the
/// consumer leaves, the session ends, the server stops or `cancel` fires.
pub async fn pump<R: Render>(
    state: AppState,
    follow: Follow,
    resume_from: Option<i64>,
    out: mpsc::Sender<R::Frame>,
    render: R,
    cancel: CancellationToken,
) {
    let mut events = state.bus().subscribe();
    let mut pump = Pump { state, follow, out, render, cursor: 0 };
    let mut behind = match resume_from {
        Some(from) => {
            pump.cursor = from;
            Some(Instant::now())
        }
        None => {
            pump.cursor = pump.bounds().await.map_or(0, |(_, last)| last);
            None
        }
    };
    let config = pump.state.config().realtime;
    let period = pump.state.config().heartbeat_interval.max(Duration::from_millis(100));
    let mut heartbeat = tokio::time::interval(period);
    let shutdown = pump.state.shutdown_token().clone();
    let out = pump.out.clone();
    loop {
        if let Some(since) = behind {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = cancel.cancelled() => return,
                permit = out.reserve() => {
                    let Ok(permit) = permit else { return };
                    drop(permit);
                    if pump.catch_up(&config).await.is_err() {
                        return;
                    }
                    behind = None;
                }
                _ = tokio::time::sleep_until(since + config.slow_consumer_grace) => {
                    tracing::info!(user = %pump.follow.user_id, "closing an event stream that stopped reading");
                    return;
                }
                // Live events are dropped meanwhile: the catch-up reads them from the log.
                received = events.recv() => if let Err(RecvError::Closed) = received { return },
                _ = heartbeat.tick() => if pump.session_ended().await { return },
            }
            continue;
        }
        let envelope = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = cancel.cancelled() => return,
            _ = out.closed() => return,
            _ = heartbeat.tick() => {
                if pump.session_ended().await {
                    return;
                }
                if pump.render.heartbeats() {
                    let beat = Envelope::new(None, weft_events::Audience::User { user: pump.follow.user_id }, WeftEvent::Heartbeat { at: Utc::now() });
                    if pump.offer(&beat).is_err() {
                        behind = Some(Instant::now());
                    }
                }
                continue;
            }
            received = events.recv() => match received {
                Ok(envelope) => envelope,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "event stream lagged; catching up from the log");
                    behind = Some(Instant::now());
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        if envelope.id.is_some_and(|id| id <= pump.cursor)
            || !may_see(&pump.state, &pump.follow, &envelope).await
        {
            continue;
        }
        match pump.offer(&envelope) {
            Ok(()) if pump.ends_stream(&envelope) => return,
            Ok(()) => {}
            Err(End::Gone) if pump.out.is_closed() => return,
            Err(_) => behind = Some(Instant::now()),
        }
    }
}

struct Pump<R: Render> {
    state: AppState,
    follow: Follow,
    out: mpsc::Sender<R::Frame>,
    render: R,
    /// The newest log id this stream has delivered or passed over.
    cursor: i64,
}

impl<R: Render> Pump<R> {
    async fn bounds(&self) -> Option<(i64, i64)> {
        match self.state.store().event_log_bounds().await {
            Ok(bounds) => Some(bounds),
            Err(err) => {
                tracing::warn!(error = %err, "event stream could not read the event log");
                None
            }
        }
    }

    /// Queues a frame without waiting.
    fn offer(&mut self, envelope: &Envelope) -> Result<(), End> {
        let Some(frame) = self.render.frame(envelope.id, envelope.event.type_name(), &envelope.data) else {
            return Ok(());
        };
        self.out.try_send(frame).map_err(|_| End::Gone)?;
        if let Some(id) = envelope.id {
            self.cursor = id;
        }
        Ok(())
    }

    /// Queues a frame, waiting at most the grace period for room.
    async fn send(&mut self, id: Option<i64>, envelope: &Envelope) -> Result<(), End> {
        let Some(frame) = self.render.frame(id, envelope.event.type_name(), &envelope.data) else {
            return Ok(());
        };
        let grace = self.state.config().realtime.slow_consumer_grace;
        match tokio::time::timeout(grace, self.out.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }

    fn ends_stream(&self, envelope: &Envelope) -> bool {
        matches!(&envelope.event, WeftEvent::SessionRevoked { session_id, .. } if *session_id == self.follow.session_id)
    }

    /// Delivers what the log holds after the cursor (or `resync` when it cannot).
    async fn catch_up(&mut self, config: &super::RealtimeConfig) -> Result<(), End> {
        let Some((pruned, last)) = self.bounds().await else {
            return self.resync(ResyncReason::UnknownPosition, 0).await;
        };
        if self.cursor < pruned {
            return self.resync(ResyncReason::Retention, last).await;
        }
        if self.cursor > last {
            return self.resync(ResyncReason::UnknownPosition, last).await;
        }
        let scope = self.follow.read_scope();
        let projects: Vec<uuid::Uuid> = scope.projects.iter().flatten().map(|p| p.0).collect();
        let mut delivered = 0usize;
        loop {
            let rows = match self
                .state
                .store()
                .events_after(self.cursor, READ_BATCH, scope.user.map(|u| u.0), Some(&projects))
                .await
            {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(error = %err, "event stream could not read the event log");
                    return self.resync(ResyncReason::UnknownPosition, last).await;
                }
            };
            let full = rows.len() == READ_BATCH as usize;
            for row in rows {
                let id = row.id;
                let Some(envelope) = super::stored_record(row).and_then(|r| r.envelope()) else {
                    self.cursor = id;
                    continue;
                };
                if may_see(&self.state, &self.follow, &envelope).await {
                    if delivered >= config.max_replay {
                        let (_, last) = self.bounds().await.unwrap_or((0, id));
                        return self.resync(ResyncReason::TooFarBehind, last).await;
                    }
                    self.send(Some(id), &envelope).await?;
                    delivered += 1;
                    if self.ends_stream(&envelope) {
                        return Err(End::SessionEnded);
                    }
                }
                self.cursor = id;
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn resync(&mut self, reason: ResyncReason, last: i64) -> Result<(), End> {
        let envelope = Envelope::new(
            None,
            weft_events::Audience::User { user: self.follow.user_id },
            WeftEvent::Resync { reason },
        );
        self.send(Some(last), &envelope).await?;
        self.cursor = last;
        Ok(())
    }

    /// Re-checks the session (it may have ended on another instance); tells the consumer
    /// when it did.
    async fn session_ended(&mut self) -> bool {
        let session_id = self.follow.session_id;
        match crate::auth::caller::caller_for_session(&self.state, session_id, None).await {
            Ok(Ok(_)) => false,
            Ok(Err(_)) => {
                let reason = revoke_reason(&self.state, session_id).await;
                let revoked = Envelope::new(
                    None,
                    weft_events::Audience::User { user: self.follow.user_id },
                    WeftEvent::SessionRevoked { session_id, reason },
                );
                let _ = self.send(None, &revoked).await;
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "event stream could not re-check its session");
                false
            }
        }
    }
}

async fn revoke_reason(state: &AppState, session_id: weft_core::SessionId) -> weft_events::RevokeReason {
    use weft_events::RevokeReason;
    match state.store().session_with_user(session_id).await {
        Ok(Some((session, _))) => {
            session.revoked_reason.as_deref().and_then(RevokeReason::parse).unwrap_or(RevokeReason::Revoked)
        }
        _ => RevokeReason::Revoked,
    }
}
