//! The event log behind a bus: durable events are appended in batches, read back in id
//! order by one reader per process and only then delivered, so every subscriber of every
//! instance sees the same order with the same ids, and a stream can resume from any id the
//! log still holds. Ephemeral events skip the log and are relayed to other instances.
//!
//! The storage is behind [`Journal`] (the store implements it on SQLite and PostgreSQL); this
//! module owns the tasks: the writer (batching appends and relays), the reader (woken by the
//! writer, by the journal's signals from other instances, and by a periodic poll), and the
//! pruning of what is older than the retention.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_core::{ProjectId, UserId};

use crate::bus::{Audience, Envelope, EventBus, Outgoing};
use crate::event::WeftEvent;

/// Events written in one append at most.
const APPEND_BATCH: usize = 512;
/// Rows read per query by the reader and by replays.
pub const READ_BATCH: u32 = 512;

/// A failure of the storage behind the log, as text (the store's error is not this crate's).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JournalError(pub String);

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewRecord {
    /// Who may receive it.
    pub audience: Audience,
    /// `run.started`, ...
    pub kind: &'static str,
    /// The event as JSON.
    pub data: Arc<str>,
    /// When it was published.
    pub at: DateTime<Utc>,
}

/// An event read back from the log.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// Its position.
    pub id: i64,
    /// Who may receive it.
    pub audience: Audience,
    /// The event as JSON.
    pub data: String,
}

impl StoredRecord {
    /// Decodes the event.
    pub fn envelope(self) -> Option<Envelope> {
        match serde_json::from_str::<WeftEvent>(&self.data) {
            Ok(event) => {
                Some(Envelope { id: Some(self.id), audience: self.audience, event, data: self.data.into() })
            }
            Err(err) => {
                tracing::warn!(id = self.id, error = %err, "skipping an event the log holds in an unknown shape");
                None
            }
        }
    }
}

/// Which rows a read may return (the caller still checks each one).
#[derive(Clone, Debug, Default)]
pub struct ReadScope {
    /// Personal events of this user.
    pub user: Option<UserId>,
    /// Events of these projects; `None` reads every project.
    pub projects: Option<Vec<ProjectId>>,
}

impl ReadScope {
    /// Every row.
    pub fn all() -> Self {
        Self { user: None, projects: None }
    }
}

/// What the log holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Everything up to this id was pruned (0: nothing was).
    pub pruned_through: i64,
    /// The newest id (0: the log was always empty).
    pub last_id: i64,
}

/// Something another instance did.
#[derive(Clone, Debug)]
pub enum Signal {
    /// Events were appended: read the log.
    Appended,
    /// An ephemeral event (a [`RelayFrame`] as JSON).
    Relay(String),
}

/// An ephemeral event travelling between instances.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RelayFrame {
    /// The instance that published it (it has delivered it already).
    pub origin: uuid::Uuid,
    /// Who may receive it.
    pub audience: Audience,
    /// The event.
    pub event: WeftEvent,
}

/// Storage of the event log. Appends must commit in id order (one writer at a time), so
/// that a reader that has seen id `n` never later finds a smaller one.
pub trait Journal: Send + Sync + 'static {
    /// Appends events; ids are assigned in order.
    fn append<'a>(&'a self, records: &'a [NewRecord]) -> BoxFuture<'a, Result<(), JournalError>>;
    /// Up to `limit` events after `after`, oldest first, narrowed by `scope`.
    fn read_after<'a>(
        &'a self,
        after: i64,
        limit: u32,
        scope: &'a ReadScope,
    ) -> BoxFuture<'a, Result<Vec<StoredRecord>, JournalError>>;
    /// What the log holds.
    fn bounds(&self) -> BoxFuture<'_, Result<Bounds, JournalError>>;
    /// Deletes events published before `before`; answers how many.
    fn prune(&self, before: DateTime<Utc>) -> BoxFuture<'_, Result<u64, JournalError>>;
    /// Sends an ephemeral event to the other instances (nothing to do with one instance).
    fn relay(&self, frame: String) -> BoxFuture<'_, Result<(), JournalError>>;
    /// What other instances do (an empty stream with one instance).
    fn signals(&self) -> BoxStream<'static, Signal>;
}

/// How the log is kept.
#[derive(Clone, Copy, Debug)]
pub struct JournalOptions {
    /// Events older than this are pruned.
    pub retention: Duration,
    /// How often the reader looks at the log when nothing woke it.
    pub poll: Duration,
    /// How often old events are pruned.
    pub prune_every: Duration,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(2),
            prune_every: Duration::from_secs(60),
        }
    }
}

/// A bus whose durable events go through `journal`, with its tasks.
pub struct JournaledBus {
    /// The bus to publish on and subscribe to.
    pub bus: EventBus,
    /// The writer and reader; they stop when `shutdown` is cancelled (the writer after
    /// writing what was queued).
    pub tasks: JoinHandle<()>,
}

impl EventBus {
    /// A bus backed by an event log. Must be called inside a Tokio runtime.
    pub fn journaled(
        capacity: usize,
        journal: Arc<dyn Journal>,
        options: JournalOptions,
        shutdown: CancellationToken,
    ) -> JournaledBus {
        let (sender, _) = broadcast::channel(capacity.max(1));
        let (queue, outgoing) = mpsc::unbounded_channel();
        let bus = EventBus { sender, journal: Some(queue) };
        let origin = uuid::Uuid::now_v7();
        let appended = Arc::new(Notify::new());
        let (ready_tx, ready_rx) = oneshot::channel();
        let reader = Reader {
            bus: bus.clone(),
            journal: journal.clone(),
            origin,
            appended: appended.clone(),
            options,
        };
        let writer = Writer { bus: bus.clone(), journal, origin, appended };
        let reader_shutdown = shutdown.clone();
        let tasks = tokio::spawn(async move {
            let reader = tokio::spawn(reader.run(ready_tx, reader_shutdown));
            // Appends wait until the reader knows where the log ends, so it misses none.
            let _ = ready_rx.await;
            writer.run(outgoing, shutdown).await;
            let _ = reader.await;
        });
        JournaledBus { bus, tasks }
    }
}

struct Writer {
    bus: EventBus,
    journal: Arc<dyn Journal>,
    origin: uuid::Uuid,
    appended: Arc<Notify>,
}

impl Writer {
    async fn run(self, mut outgoing: mpsc::UnboundedReceiver<Outgoing>, shutdown: CancellationToken) {
        let mut batch = Vec::new();
        loop {
            let first = tokio::select! {
                biased;
                item = outgoing.recv() => item,
                _ = shutdown.cancelled() => None,
            };
            let Some(first) = first else { break };
            batch.push(first);
            while batch.len() < APPEND_BATCH {
                match outgoing.try_recv() {
                    Ok(item) => batch.push(item),
                    Err(_) => break,
                }
            }
            self.write(&mut batch).await;
        }
        // Write what was published before the shutdown.
        while let Ok(item) = outgoing.try_recv() {
            batch.push(item);
        }
        self.write(&mut batch).await;
    }

    async fn write(&self, batch: &mut Vec<Outgoing>) {
        let mut records = Vec::new();
        let mut unlogged = Vec::new();
        for item in batch.drain(..) {
            match item {
                Outgoing::Durable(envelope) => {
                    records.push(NewRecord {
                        audience: envelope.audience,
                        kind: envelope.event.type_name(),
                        data: envelope.data.clone(),
                        at: Utc::now(),
                    });
                    unlogged.push(envelope);
                }
                Outgoing::Ephemeral(envelope) => {
                    let frame = RelayFrame {
                        origin: self.origin,
                        audience: envelope.audience,
                        event: envelope.event,
                    };
                    if let Ok(frame) = serde_json::to_string(&frame)
                        && let Err(err) = self.journal.relay(frame).await
                    {
                        tracing::debug!(error = %err, "could not relay an ephemeral event");
                    }
                }
            }
        }
        if records.is_empty() {
            return;
        }
        for attempt in 0..3u32 {
            match self.journal.append(&records).await {
                Ok(()) => {
                    self.appended.notify_one();
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, attempt, "failed to append to the event log");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        // Live delivery goes on without the log: these events have no id and cannot be replayed.
        tracing::error!(events = unlogged.len(), "event log unavailable; delivering events without ids");
        for envelope in unlogged {
            self.bus.deliver(Arc::new(envelope));
        }
    }
}

struct Reader {
    bus: EventBus,
    journal: Arc<dyn Journal>,
    origin: uuid::Uuid,
    appended: Arc<Notify>,
    options: JournalOptions,
}

impl Reader {
    async fn run(self, ready: oneshot::Sender<()>, shutdown: CancellationToken) {
        let mut signals = self.journal.signals();
        let mut last = loop {
            match self.journal.bounds().await {
                Ok(bounds) => break bounds.last_id,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the event log; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        let _ = ready.send(());
        let mut poll = tokio::time::interval(self.options.poll);
        let mut prune = tokio::time::interval(self.options.prune_every);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // The writer flushes on shutdown: deliver what it wrote.
                    self.drain(&mut last).await;
                    return;
                }
                _ = self.appended.notified() => {}
                signal = signals.next() => match signal {
                    Some(Signal::Appended) => {}
                    Some(Signal::Relay(frame)) => {
                        self.relayed(&frame);
                        continue;
                    }
                    None => signals = futures::stream::pending().boxed(),
                },
                _ = poll.tick() => {}
                _ = prune.tick() => {
                    self.prune().await;
                    continue;
                }
            }
            self.drain(&mut last).await;
        }
    }

    /// Delivers everything after `last`.
    async fn drain(&self, last: &mut i64) {
        let scope = ReadScope::all();
        loop {
            let rows = match self.journal.read_after(*last, READ_BATCH, &scope).await {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(error = %err, "failed to read the event log");
                    return;
                }
            };
            let full = rows.len() == READ_BATCH as usize;
            for row in rows {
                *last = row.id;
                if let Some(envelope) = row.envelope() {
                    self.bus.deliver(Arc::new(envelope));
                }
            }
            if !full {
                return;
            }
        }
    }

    fn relayed(&self, frame: &str) {
        match serde_json::from_str::<RelayFrame>(frame) {
            Ok(frame) if frame.origin != self.origin => {
                self.bus.deliver(Arc::new(Envelope::new(None, frame.audience, frame.event)));
            }
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err, "ignoring a relayed event of unknown shape"),
        }
    }

    async fn prune(&self) {
        let Ok(retention) = chrono::Duration::from_std(self.options.retention) else { return };
        match self.journal.prune(Utc::now() - retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "pruned the event log"),
            Err(err) => tracing::warn!(error = %err, "failed to prune the event log"),
        }
    }
}
