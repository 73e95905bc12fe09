//! Realtime delivery: the event log on the store ([`journal`]), what a stream follows
//! ([`follow`]), the instance's live fan-out ([`hub`]), feeding a stream ([`pump`]) for SSE
//! and WebSocket subscriptions alike, into a queue or straight into a socket
//! ([`socket_sink`]), and the expiry of vanished editors' presence.

pub mod cache;
pub mod follow;
pub mod hub;
pub mod journal;
pub mod pump;
pub mod socket;
pub mod socket_sink;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use weft_core::{ProjectId, RunId, UserId, WorkflowId};
use weft_events::journal::StoredRecord;
use weft_events::{Audience, EventBus, JournalOptions, JournaledBus, WeftEvent};
use weft_store::{EventRow, Store};

use crate::AppState;

/// Settings of event streams and collaboration.
#[derive(Clone, Copy, Debug)]
pub struct RealtimeConfig {
    /// Frames queued per stream before it counts as slow (streams with a queue: WebSocket
    /// subscriptions, SSE through hyper; a stream written into its socket has the socket's
    /// send buffer instead).
    pub stream_buffer: usize,
    /// How long a slow stream may stay full before it is closed.
    pub slow_consumer_grace: Duration,
    /// Most events one catch-up replays; beyond, the stream sends `resync`.
    pub max_replay: usize,
    /// How long the event log keeps events (resume window).
    pub event_retention: Duration,
    /// An editor without a heartbeat for this long has left.
    pub presence_ttl: Duration,
    /// Most topics one stream follows.
    pub max_topics: usize,
    /// Capacity of the in-process bus (events a subscriber may lag before catching up).
    pub bus_capacity: usize,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            stream_buffer: 256,
            slow_consumer_grace: Duration::from_secs(10),
            max_replay: 10_000,
            event_retention: Duration::from_secs(24 * 3600),
            presence_ttl: Duration::from_secs(30),
            max_topics: 50,
            bus_capacity: 4096,
        }
    }
}

/// A bus whose durable events go through the store's event log.
pub fn journaled_bus(store: &Store, config: &RealtimeConfig, shutdown: CancellationToken) -> JournaledBus {
    let options = JournalOptions {
        retention: config.event_retention,
        poll: Duration::from_secs(2),
        prune_every: Duration::from_secs(60),
    };
    EventBus::journaled(
        config.bus_capacity,
        Arc::new(journal::StoreJournal(store.clone())),
        options,
        shutdown,
    )
}

/// A log row as the journal hands it out; `None` (logged) for a row without a valid audience.
pub(crate) fn stored_record(row: EventRow) -> Option<StoredRecord> {
    let audience = Audience::from_parts(
        row.user_id.map(UserId),
        row.project_id.map(ProjectId),
        row.workflow_id.map(WorkflowId),
        row.run_id.map(RunId),
    );
    if audience.is_none() {
        tracing::warn!(id = row.id, "event log row without a valid audience");
    }
    Some(StoredRecord { id: row.id, audience: audience?, data: row.data })
}

/// Removes editors that stopped sending heartbeats and tells the workflow's followers,
/// until the server stops. Each expired editor is announced by one instance only.
pub async fn expire_presence(state: AppState) {
    let ttl = state.config().realtime.presence_ttl;
    let mut tick = tokio::time::interval((ttl / 3).max(Duration::from_millis(200)));
    let shutdown = state.shutdown_token().clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Ok(ttl) = chrono::Duration::from_std(ttl) else { return };
        match state.store().expire_presence(Utc::now() - ttl).await {
            Ok(expired) => {
                for presence in expired {
                    state.bus().publish(
                        Audience::Workflow { project: presence.project_id, workflow: presence.workflow_id },
                        WeftEvent::CollabLeft {
                            workflow_id: presence.workflow_id,
                            client_id: presence.client_id,
                            user_id: presence.user_id,
                            expired: true,
                        },
                    );
                }
            }
            Err(err) => tracing::warn!(error = %err, "failed to expire presence"),
        }
    }
}
