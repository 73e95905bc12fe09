//! Feeding one stream (an SSE connection or a WebSocket subscription): replay from a
//! position in the event log, then live events, each checked against what the stream
//! follows and may see.
//!
//! A slow consumer never slows anyone else: frames go into the stream's bounded buffer with
//! `try_send`. When it is full the stream stops taking live events, waits for room (at most
//! the grace period, else it is closed) and then catches up from the event log, like a
//! client resuming with `Last-Event-ID`; beyond the replay limit or the log's retention it
//! sends `resync` instead.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weft_events::journal::READ_BATCH;
use weft_events::{Envelope, ResyncReason, WeftEvent};

use super::follow::{Follow, may_see};
use super::hub::{Offer, Outlet, Prepared};
use crate::AppState;

/// How a transport frames events.
pub trait Render: Send + Sync + 'static {
    /// A frame.
    type Frame: Send + 'static;
    /// Frames an event (`id` is its log position, if it has one).
    fn frame(&self, id: Option<i64>, prepared: &Prepared) -> Option<Self::Frame>;
    /// Whether the stream sends heartbeats (SSE does; a WebSocket has its own pings).
    fn heartbeats(&self) -> bool;
}

/// Where a stream's frames go: a bounded queue read by the transport's task, or the
/// connection's socket itself ([`super::socket_sink::SocketSink`]).
pub trait Sink: Send + Sync + 'static {
    /// A frame.
    type Frame: Send + 'static;
    /// Queues or writes a frame without waiting.
    fn try_send(&self, frame: Self::Frame) -> Offer;
    /// Sends a frame, waiting for room; `false` when the consumer is gone.
    fn send(&self, frame: Self::Frame) -> impl Future<Output = bool> + Send;
    /// Resolves when there is room for a frame; `false` when the consumer is gone.
    fn ready(&self) -> impl Future<Output = bool> + Send;
    /// Resolves when what was taken has gone out to the consumer (a frame written in part
    /// is finished), or the consumer is gone.
    fn flushed(&self) -> impl Future<Output = ()> + Send;
    /// Resolves when the consumer is gone.
    fn closed(&self) -> impl Future<Output = ()> + Send;
}

impl<T: Send + 'static> Sink for mpsc::Sender<T> {
    type Frame = T;

    fn try_send(&self, frame: T) -> Offer {
        match mpsc::Sender::try_send(self, frame) {
            Ok(()) => Offer::Sent,
            Err(TrySendError::Full(_)) => Offer::Full,
            Err(TrySendError::Closed(_)) => Offer::Closed,
        }
    }

    async fn send(&self, frame: T) -> bool {
        mpsc::Sender::send(self, frame).await.is_ok()
    }

    async fn ready(&self) -> bool {
        self.reserve().await.is_ok()
    }

    async fn flushed(&self) {
        // The reader drains what is queued after the sender is gone.
    }

    async fn closed(&self) {
        mpsc::Sender::closed(self).await;
    }
}

/// A stream's sink with its framing.
struct Channel<R: Render, S> {
    render: R,
    out: S,
}

impl<R: Render, S: Sink<Frame = R::Frame>> Outlet for Channel<R, S> {
    fn offer(&self, id: Option<i64>, prepared: &Prepared) -> Offer {
        let Some(frame) = self.render.frame(id, prepared) else { return Offer::Sent };
        self.out.try_send(frame)
    }
}

/// Why a stream ends.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The consumer went away or stayed full past the grace period.
    Gone,
    /// The stream's session ended.
    SessionEnded,
}

/// Where a new stream starts: after `resume_from` (a `Last-Event-ID`), or after the newest
/// event in the log now. Read when the stream is accepted, before the client is answered: a
/// client may act as soon as it has its answer (a browser's `EventSource` fires `open` on the
/// response head), and the events its action causes must reach it even when they are written
/// before the stream's pump has started; the pump replays them from the log.
pub async fn start_position(
    state: &AppState,
    resume_from: Option<i64>,
) -> Result<i64, crate::error::ApiError> {
    match resume_from {
        Some(from) => Ok(from),
        None => {
            let (_, last) = state.store().event_log_bounds().await?;
            Ok(last)
        }
    }
}

/// Streams `follow` into `out` after the log id `from` (see [`start_position`]) until the
/// consumer leaves, the session ends, the server stops or `cancel` fires.
///
/// The pump replays from the log and then hands the stream to the instance's dispatcher
/// ([`super::hub`]), which delivers live events; it takes the stream back when its buffer
/// fills, and meanwhile sends heartbeats and re-checks the session.
pub async fn pump<R: Render, S: Sink<Frame = R::Frame>>(
    state: AppState,
    follow: Follow,
    from: i64,
    out: S,
    render: R,
    cancel: CancellationToken,
) {
    let heartbeats = render.heartbeats();
    let channel = Arc::new(Channel { render, out });
    let sink = channel.clone();
    // Registered (and the dispatcher listening) before the replay from `from` starts, so
    // that every event after it is either replayed or delivered live.
    let registration = state.hub().register(&state, &follow, channel.clone());
    let subscriber = registration.subscriber().clone();
    let mut pump = Pump { state, follow, channel, cursor: from };
    let mut behind = Some(Instant::now());
    let period = pump.state.config().heartbeat_interval.max(Duration::from_millis(100));
    let mut heartbeat = tokio::time::interval(period);
    if heartbeats {
        // The first frame of a stream is a heartbeat: the consumer knows it is subscribed.
        heartbeat.tick().await;
        if !pump.heartbeat() {
            behind = Some(Instant::now());
        }
    }
    let config = pump.state.config().realtime;
    let shutdown = pump.state.shutdown_token().clone();
    loop {
        if let Some(since) = behind {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = cancel.cancelled() => return,
                ready = sink.out.ready() => {
                    if !ready {
                        return;
                    }
                    if pump.catch_up(&config).await.is_err() {
                        return;
                    }
                    // Live events the dispatcher started on meanwhile are read from the log first.
                    behind = if pump.state.hub().go_live(&subscriber, pump.cursor) { None } else { Some(Instant::now()) };
                }
                _ = tokio::time::sleep_until(since + config.slow_consumer_grace) => {
                    tracing::info!(user = %pump.follow.user_id, "closing an event stream that stopped reading");
                    return;
                }
                _ = heartbeat.tick() => if pump.session_ended().await { return },
            }
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = cancel.cancelled() => return,
            _ = sink.out.closed() => return,
            _ = heartbeat.tick() => {
                if pump.session_ended().await {
                    return;
                }
                if heartbeats && !pump.heartbeat() {
                    pump.cursor = pump.state.hub().pause(&subscriber);
                    behind = Some(Instant::now());
                }
            }
            _ = subscriber.wake.notified() => match subscriber.state() {
                None => {
                    // The session was revoked: its event (perhaps written in part) goes out whole.
                    let _ = tokio::time::timeout(config.slow_consumer_grace, sink.out.flushed()).await;
                    return;
                }
                Some(Some(cursor)) => {
                    pump.cursor = cursor;
                    behind = Some(Instant::now());
                }
                Some(None) => {}
            },
        }
    }
}

struct Pump<R: Render, S> {
    state: AppState,
    follow: Follow,
    channel: Arc<Channel<R, S>>,
    /// The newest log id this stream has delivered or passed over.
    cursor: i64,
}

impl<R: Render, S: Sink<Frame = R::Frame>> Pump<R, S> {
    async fn bounds(&self) -> Option<(i64, i64)> {
        match self.state.store().event_log_bounds().await {
            Ok(bounds) => Some(bounds),
            Err(err) => {
                tracing::warn!(error = %err, "event stream could not read the event log");
                None
            }
        }
    }

    /// Queues a heartbeat without waiting; whether there was room.
    fn heartbeat(&self) -> bool {
        let user = self.follow.user_id;
        let beat = Envelope::new(
            None,
            weft_events::Audience::User { user },
            WeftEvent::Heartbeat { at: Utc::now() },
        );
        self.channel.offer(None, &Prepared::new(Arc::new(beat))) == Offer::Sent
    }

    /// Queues a frame, waiting at most the grace period for room.
    async fn send(&mut self, id: Option<i64>, envelope: Envelope) -> Result<(), End> {
        let Some(frame) = self.channel.render.frame(id, &Prepared::new(Arc::new(envelope))) else {
            return Ok(());
        };
        let grace = self.state.config().realtime.slow_consumer_grace;
        match tokio::time::timeout(grace, self.channel.out.send(frame)).await {
            Ok(true) => Ok(()),
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
        if self.follow.all_projects {
            // A stream of every project the caller is a member of also replays projects joined
            // since it opened.
            match self.state.store().member_project_ids(self.follow.user_id).await {
                Ok(projects) => self.follow.projects = projects,
                Err(err) => tracing::warn!(error = %err, "event stream could not read its projects"),
            }
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
                    let ends = self.ends_stream(&envelope);
                    self.send(Some(id), envelope).await?;
                    delivered += 1;
                    if ends {
                        return Err(End::SessionEnded);
                    }
                }
                self.cursor = id;
            }
            if !full {
                // Rows up to `last` that the stream does not follow are passed over too.
                self.cursor = self.cursor.max(last);
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
        self.send(Some(last), envelope).await?;
        self.cursor = last;
        Ok(())
    }

    /// Re-checks the session (it may have ended on another instance; the streams of one
    /// session share the check); tells the consumer when it did.
    async fn session_ended(&mut self) -> bool {
        let session_id = self.follow.session_id;
        match self.state.sessions().is_active(&self.state, session_id).await {
            Some(true) | None => false,
            Some(false) => {
                let reason = revoke_reason(&self.state, session_id).await;
                let revoked = Envelope::new(
                    None,
                    weft_events::Audience::User { user: self.follow.user_id },
                    WeftEvent::SessionRevoked { session_id, reason },
                );
                let _ = self.send(None, revoked).await;
                true
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
