//! Live fan-out: one dispatcher per instance takes every event off the bus once, finds the
//! streams that follow its subject through an index by topic, checks each distinct caller's
//! project membership once, and queues the frame into each stream's bounded buffer
//! without waiting. A frame shared by every stream of a transport (an SSE frame) is built
//! once per event.
//!
//! Streams are registered with the hub by their pump ([`super::pump`]), which replays from the
//! event log and then hands the stream over ("goes live"). While a stream is live the
//! dispatcher owns its position; when its buffer is full (or the dispatcher itself lagged)
//! the stream is paused and its pump takes it back to catch up from the log. The hand-over is
//! exact: a pump goes live only when the dispatcher has not yet started on a durable event
//! beyond the pump's position, so every durable event is delivered once, by one of them, in
//! id order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;
use weft_core::{ProjectId, RunId, SessionId, UserId, WorkflowId};
use weft_events::{Audience, Envelope, Topic, WeftEvent};

use super::follow::Follow;
use crate::AppState;
use crate::state::WeakState;

/// An event on its way to the streams, with the frame its transport shares.
pub struct Prepared {
    /// The event.
    pub envelope: Arc<Envelope>,
    shared: OnceLock<Bytes>,
}

impl Prepared {
    /// An event to deliver.
    pub fn new(envelope: Arc<Envelope>) -> Self {
        Self { envelope, shared: OnceLock::new() }
    }

    /// The frame every stream of the (one) transport that shares frames sends for this
    /// event, built on first use.
    pub fn shared(&self, build: impl FnOnce() -> Bytes) -> Bytes {
        self.shared.get_or_init(build).clone()
    }
}

/// How many streams one task offers an event to when its delivery is split into parts.
const PART: usize = 256;

/// What became of a frame offered to a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Queued.
    Sent,
    /// Written in part (to a socket): the rest goes out first when the stream's pump has
    /// it back. The frame counts as delivered.
    Partial,
    /// The stream's buffer is full; the frame was not taken.
    Full,
    /// The consumer is gone.
    Closed,
}

/// Where a stream's frames go: frames an event and queues it without waiting.
pub trait Outlet: Send + Sync {
    /// Offers `prepared` with log position `id`.
    fn offer(&self, id: Option<i64>, prepared: &Prepared) -> Offer;
}

/// Who owns a stream's position.
#[derive(Debug, Default)]
pub struct Flow {
    /// The dispatcher delivers live events (else the pump is replaying).
    pub live: bool,
    /// The newest log id delivered or passed over.
    pub cursor: i64,
    /// The stream's session was revoked: the pump ends it.
    pub ended: bool,
}

/// A registered stream.
pub struct Subscriber {
    id: u64,
    user: UserId,
    session: SessionId,
    keys: Vec<Key>,
    outlet: Arc<dyn Outlet>,
    flow: Mutex<Flow>,
    /// Signalled when the dispatcher paused or ended the stream.
    pub wake: Notify,
}

impl Subscriber {
    /// Delivers a live event (the caller checked that the stream may see it); whether the
    /// stream's buffer was full (it is paused).
    fn offer(&self, prepared: &Prepared) -> bool {
        let Ok(mut flow) = self.flow.lock() else { return false };
        let id = prepared.envelope.id;
        if !flow.live || id.is_some_and(|id| id <= flow.cursor) {
            return false;
        }
        match self.outlet.offer(id, prepared) {
            offer @ (Offer::Sent | Offer::Partial) => {
                if let Some(id) = id {
                    flow.cursor = id;
                }
                // Its session's end ends the stream; a frame written in part pauses it. Either
                // way the pump takes over and first finishes the frame.
                let revoked = matches!(&prepared.envelope.event, WeftEvent::SessionRevoked { session_id, .. } if *session_id == self.session);
                let paused = offer == Offer::Partial && !revoked;
                if revoked || paused {
                    flow.live = false;
                    flow.ended = revoked;
                    self.wake.notify_one();
                }
                paused
            }
            offer => {
                flow.live = false;
                self.wake.notify_one();
                offer == Offer::Full
            }
        }
    }

    /// After a wake-up: `None` when the stream ended, else whether the pump has it back
    /// (with its position).
    pub fn state(&self) -> Option<Option<i64>> {
        let flow = self.flow.lock().ok()?;
        if flow.ended {
            return None;
        }
        Some((!flow.live).then_some(flow.cursor))
    }
}

/// What a stream is indexed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    User(UserId),
    Project(ProjectId),
    Workflow(WorkflowId),
    Run(RunId),
    /// A stream without topics: every project its caller is a member of.
    AllProjects,
}

/// The index keys an event reaches.
fn keys_for(audience: &Audience) -> ([Option<Key>; 4], bool) {
    let all = audience.project().is_some();
    let keys = match *audience {
        Audience::User { user } => [Some(Key::User(user)), None, None, None],
        Audience::Project { project } => [Some(Key::Project(project)), None, None, None],
        Audience::Workflow { project, workflow } => {
            [Some(Key::Project(project)), Some(Key::Workflow(workflow)), None, None]
        }
        Audience::Run { project, workflow, run } => {
            [Some(Key::Project(project)), Some(Key::Workflow(workflow)), Some(Key::Run(run)), None]
        }
    };
    (keys, all)
}

#[derive(Default)]
struct Registry {
    by_key: HashMap<Key, HashMap<u64, Arc<Subscriber>>>,
    all: HashMap<u64, Arc<Subscriber>>,
}

/// The instance's live fan-out.
#[derive(Default)]
pub struct Hub {
    registry: Mutex<Registry>,
    /// The newest durable id the dispatcher has started delivering.
    dispatched: AtomicI64,
    next_id: AtomicU64,
    started: AtomicBool,
    /// Streams paused because their buffer was full.
    paused: AtomicU64,
}

/// A stream's place in the hub; leaving it (drop) unregisters the stream.
pub struct Registration {
    state: AppState,
    subscriber: Arc<Subscriber>,
}

impl Registration {
    /// The registered stream.
    pub fn subscriber(&self) -> &Arc<Subscriber> {
        &self.subscriber
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.hub().unregister(&self.subscriber);
    }
}

impl Hub {
    /// Registers a stream (paused: its pump hands it over with [`Hub::go_live`]). Starts the
    /// dispatcher with the first stream, so the stream's pump reads the log's position after
    /// the dispatcher listens.
    pub fn register(&self, state: &AppState, follow: &Follow, outlet: Arc<dyn Outlet>) -> Registration {
        self.start(state);
        let mut keys = vec![Key::User(follow.user_id)];
        keys.extend(follow.topics.iter().map(|topic| match topic {
            Topic::Run(id) => Key::Run(id),
            Topic::Workflow(id) => Key::Workflow(id),
            Topic::Project(id) => Key::Project(id),
        }));
        if follow.all_projects {
            keys.push(Key::AllProjects);
        }
        let subscriber = Arc::new(Subscriber {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user: follow.user_id,
            session: follow.session_id,
            keys,
            outlet,
            flow: Mutex::new(Flow::default()),
            wake: Notify::new(),
        });
        if let Ok(mut registry) = self.registry.lock() {
            registry.all.insert(subscriber.id, subscriber.clone());
            for key in &subscriber.keys {
                registry.by_key.entry(*key).or_default().insert(subscriber.id, subscriber.clone());
            }
        }
        Registration { state: state.clone(), subscriber }
    }

    fn unregister(&self, subscriber: &Subscriber) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.all.remove(&subscriber.id);
            for key in &subscriber.keys {
                if let Some(subscribers) = registry.by_key.get_mut(key) {
                    subscribers.remove(&subscriber.id);
                    if subscribers.is_empty() {
                        registry.by_key.remove(key);
                    }
                }
            }
        }
    }

    /// Hands a stream whose pump delivered everything up to `cursor` to the dispatcher;
    /// `false` when the dispatcher already started on a later durable event (the pump reads
    /// the log again first).
    pub fn go_live(&self, subscriber: &Subscriber, cursor: i64) -> bool {
        let Ok(mut flow) = subscriber.flow.lock() else { return false };
        if self.dispatched.load(Ordering::SeqCst) > cursor {
            return false;
        }
        flow.cursor = cursor;
        flow.live = true;
        true
    }

    /// How many streams are registered (open) on this instance.
    pub fn registered(&self) -> usize {
        self.registry.lock().map_or(0, |registry| registry.all.len())
    }

    /// Takes a live stream back from the dispatcher because its pump found its buffer full
    /// (a heartbeat did not fit); its position. Counted like a pause by the dispatcher,
    /// unless the dispatcher had paused it already.
    pub fn pause(&self, subscriber: &Subscriber) -> i64 {
        let Ok(mut flow) = subscriber.flow.lock() else { return 0 };
        if flow.live {
            flow.live = false;
            self.paused.fetch_add(1, Ordering::Relaxed);
        }
        flow.cursor
    }

    /// How many times a stream was paused because its buffer was full, whether the dispatcher
    /// or the stream's heartbeat found it full (it then caught up from the log).
    pub fn paused(&self) -> u64 {
        self.paused.load(Ordering::Relaxed)
    }

    /// How many registered streams the dispatcher is feeding (handed over by their pump and
    /// not paused since).
    pub fn live(&self) -> usize {
        let subscribers: Vec<Arc<Subscriber>> =
            self.registry.lock().map(|r| r.all.values().cloned().collect()).unwrap_or_default();
        subscribers.iter().filter(|s| s.flow.lock().is_ok_and(|flow| flow.live)).count()
    }

    fn start(&self, state: &AppState) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let events = state.bus().subscribe();
        let shutdown = state.shutdown_token().clone();
        let weak = state.downgrade();
        tokio::spawn(dispatch(weak, events, shutdown));
    }

    /// The live streams an event reaches (before the membership check).
    fn candidates(&self, audience: &Audience) -> Vec<Arc<Subscriber>> {
        let (keys, all) = keys_for(audience);
        let Ok(registry) = self.registry.lock() else { return Vec::new() };
        let mut sources = 0;
        let mut found: Vec<Arc<Subscriber>> = Vec::new();
        let lists = keys.iter().flatten().filter_map(|key| registry.by_key.get(key));
        let everything = all.then(|| registry.by_key.get(&Key::AllProjects)).flatten();
        for subscribers in lists.chain(everything) {
            sources += 1;
            found.extend(subscribers.values().cloned());
        }
        if sources > 1 {
            found.sort_unstable_by_key(|s| s.id);
            found.dedup_by_key(|s| s.id);
        }
        found
    }

    async fn deliver(&self, state: &AppState, envelope: Arc<Envelope>) {
        if let Some(id) = envelope.id {
            self.dispatched.fetch_max(id, Ordering::SeqCst);
        }
        let candidates = self.candidates(&envelope.audience);
        if candidates.is_empty() {
            return;
        }
        let project = envelope.project();
        let mut members: HashMap<UserId, bool> = HashMap::new();
        let mut reached = Vec::with_capacity(candidates.len());
        for subscriber in candidates {
            if let Some(project) = project {
                let member = match members.get(&subscriber.user) {
                    Some(member) => *member,
                    None => {
                        let member = state.memberships().is_member(state, project, subscriber.user).await;
                        members.insert(subscriber.user, member);
                        member
                    }
                };
                if !member {
                    continue;
                }
            }
            reached.push(subscriber);
        }
        let prepared = Arc::new(Prepared::new(envelope));
        // Offering may be a socket write per stream (≈ 10 µs): many streams are offered in
        // parts of their own tasks, which the runtime's workers share and interleave with
        // other work (JSON-RPC calls wait for one part at most, not for the whole event). The
        // next event waits for all of them (per-stream order).
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let mut paused = 0;
        if workers > 1 && reached.len() > PART {
            let mut parts = tokio::task::JoinSet::new();
            while reached.len() > PART {
                let part = reached.split_off(reached.len() - PART);
                let prepared = prepared.clone();
                parts.spawn(async move { offer_all(&part, &prepared) });
            }
            paused += offer_all(&reached, &prepared);
            while let Some(part) = parts.join_next().await {
                paused += part.unwrap_or(0);
            }
        } else {
            paused = offer_all(&reached, &prepared);
        }
        self.paused.fetch_add(paused, Ordering::Relaxed);
    }

    /// The dispatcher missed events: every live stream catches up from the log.
    fn pause_all(&self) {
        let subscribers: Vec<Arc<Subscriber>> =
            self.registry.lock().map(|r| r.all.values().cloned().collect()).unwrap_or_default();
        for subscriber in subscribers {
            if let Ok(mut flow) = subscriber.flow.lock()
                && flow.live
            {
                flow.live = false;
                subscriber.wake.notify_one();
            }
        }
    }
}

/// Offers an event to streams that may see it; how many were paused.
fn offer_all(subscribers: &[Arc<Subscriber>], prepared: &Prepared) -> u64 {
    subscribers.iter().map(|subscriber| u64::from(subscriber.offer(prepared))).sum()
}

async fn dispatch(
    state: WeakState,
    mut events: tokio::sync::broadcast::Receiver<Arc<Envelope>>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = events.recv() => received,
        };
        let Some(state) = state.upgrade() else { return };
        match received {
            Ok(envelope) => state.hub().deliver(&state, envelope).await,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "event dispatcher lagged; streams catch up from the log");
                state.hub().pause_all();
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_the_keys_of_their_subject() {
        let (user, project, workflow, run) =
            (UserId::new(), ProjectId::new(), WorkflowId::new(), RunId::new());
        let flat = |audience| {
            let (keys, all) = keys_for(&audience);
            (keys.into_iter().flatten().collect::<Vec<_>>(), all)
        };
        assert_eq!(flat(Audience::User { user }), (vec![Key::User(user)], false));
        assert_eq!(flat(Audience::Project { project }), (vec![Key::Project(project)], true));
        assert_eq!(
            flat(Audience::Run { project, workflow, run }),
            (vec![Key::Project(project), Key::Workflow(workflow), Key::Run(run)], true)
        );
    }

    /// Takes every frame and records its id.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Option<i64>>>);

    impl Outlet for Recorder {
        fn offer(&self, id: Option<i64>, _: &Prepared) -> Offer {
            self.0.lock().unwrap().push(id);
            Offer::Sent
        }
    }

    #[test]
    fn a_pump_hands_its_stream_over_only_when_the_dispatcher_is_not_ahead_and_pauses_count_once() {
        let hub = Hub::default();
        let outlet = Arc::new(Recorder::default());
        let subscriber = Subscriber {
            id: 0,
            user: UserId::new(),
            session: SessionId::new(),
            keys: Vec::new(),
            outlet: outlet.clone(),
            flow: Mutex::default(),
            wake: Notify::new(),
        };
        hub.dispatched.store(10, Ordering::SeqCst);
        assert!(!hub.go_live(&subscriber, 9), "the dispatcher passed over event 10: the pump reads it first");
        assert!(hub.go_live(&subscriber, 10));
        let event = |id| {
            let user = UserId::new();
            Prepared::new(Arc::new(Envelope::new(
                Some(id),
                Audience::User { user },
                WeftEvent::Heartbeat { at: chrono::Utc::now() },
            )))
        };
        assert!(!subscriber.offer(&event(10)));
        assert!(!subscriber.offer(&event(11)));
        assert_eq!(*outlet.0.lock().unwrap(), [Some(11)], "event 10 was the pump's to deliver");
        assert_eq!(subscriber.state(), Some(None), "live");
        assert_eq!(hub.pause(&subscriber), 11, "the pump takes it back after event 11");
        assert_eq!(hub.pause(&subscriber), 11);
        assert_eq!(hub.paused(), 1, "a stream paused twice in a row is counted once");
    }
}
