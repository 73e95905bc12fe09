//! Shared application state and the API's configuration.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use weft_events::EventBus;
use weft_store::Store;

use crate::auth::{LoginThrottle, PasswordHasher, TokenConfig, TokenService};
use crate::error::InternalError;
use crate::rpc::{Limits, Registry};

/// Everything the API layer needs to know from the settings.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Access token settings.
    pub tokens: TokenConfig,
    /// How long one refresh token stays valid if unused (idle timeout of a session).
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a session, however often it is refreshed.
    pub session_ttl: Duration,
    /// Lifetime of an event-stream ticket.
    pub stream_ticket_ttl: Duration,
    /// Body and batch limits.
    pub limits: Limits,
    /// Origins allowed to call from a browser (`*` for any). Empty: same-origin only.
    pub cors_origins: Vec<String>,
    /// Interval between heartbeats on event streams.
    pub heartbeat_interval: Duration,
    /// Login failure limits.
    pub login_throttle: LoginThrottle,
    /// Accounts one client address may create per hour.
    pub registrations_per_ip_per_hour: u64,
    /// How long a project invitation can be accepted.
    pub invitation_ttl: Duration,
    /// Size limits on workflow graphs.
    pub graph_limits: weft_core::workflow::GraphLimits,
    /// Parsed workflow graphs kept in memory (0 disables the cache).
    pub graph_cache_entries: usize,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// The workflow engine's settings.
    pub engine: weft_engine::EngineConfig,
    /// Longest a `workflow.execute` call may wait for its run's result.
    pub max_execute_wait: Duration,
    /// Event streams and collaboration.
    pub realtime: crate::realtime::RealtimeConfig,
    /// Limits of inbound webhooks (`/hooks/<id>`).
    pub webhooks: crate::http::hooks::WebhookLimits,
}

impl ApiConfig {
    /// Production defaults around the given token settings.
    pub fn with_tokens(tokens: TokenConfig) -> Self {
        Self {
            tokens,
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            stream_ticket_ttl: Duration::from_secs(60),
            limits: Limits { max_body_bytes: 1024 * 1024, max_batch: 50 },
            cors_origins: Vec::new(),
            heartbeat_interval: Duration::from_secs(15),
            login_throttle: LoginThrottle {
                max_failures_per_account: 5,
                max_failures_per_ip: 50,
                window: Duration::from_secs(15 * 60),
            },
            registrations_per_ip_per_hour: 20,
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            graph_limits: weft_core::workflow::GraphLimits::default(),
            graph_cache_entries: 32,
            trust_forwarded_for: false,
            engine: weft_engine::EngineConfig::default(),
            max_execute_wait: Duration::from_secs(300),
            realtime: crate::realtime::RealtimeConfig::default(),
            webhooks: crate::http::hooks::WebhookLimits::default(),
        }
    }
}

struct Inner {
    store: Store,
    bus: EventBus,
    tokens: TokenService,
    passwords: PasswordHasher,
    config: ApiConfig,
    registry: Registry,
    openrpc: serde_json::Value,
    graphs: crate::graph_cache::GraphCache,
    engine: weft_engine::Engine,
    hooks: crate::http::hooks::HookGuards,
    shutdown: CancellationToken,
    event_log: std::sync::Mutex<Option<EventLogTasks>>,
    memberships: crate::realtime::follow::MembershipCache,
    sessions: crate::realtime::follow::SessionCache,
    hub: crate::realtime::hub::Hub,
}

/// The event log's writer and reader, stopped after the server (so that what the last
/// requests and steps published is written).
struct EventLogTasks {
    stop: CancellationToken,
    tasks: tokio::task::JoinHandle<()>,
}

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// An [`AppState`] that does not keep it alive (for tasks that should end with it).
#[derive(Clone)]
pub struct WeakState(std::sync::Weak<Inner>);

impl WeakState {
    /// The state, while it lives.
    pub fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(AppState)
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state: token service, password hasher, procedure registry and OpenRPC
    /// document.
    pub fn new(store: Store, bus: EventBus, config: ApiConfig) -> Result<Self, InternalError> {
        let tokens = TokenService::new(config.tokens.clone())?;
        let passwords = PasswordHasher::owasp()?;
        let registry = crate::routers::registry();
        let openrpc = crate::codegen::openrpc_document(&registry);
        let graphs = crate::graph_cache::GraphCache::new(config.graph_cache_entries);
        let engine = weft_engine::Engine::new(store.clone(), bus.clone(), config.engine.clone())
            .map_err(|e| InternalError::new("failed to start the workflow engine", e))?;
        Ok(Self(Arc::new(Inner {
            store,
            bus,
            tokens,
            passwords,
            registry,
            openrpc,
            graphs,
            engine,
            hooks: crate::http::hooks::HookGuards::default(),
            shutdown: CancellationToken::new(),
            event_log: std::sync::Mutex::new(None),
            memberships: crate::realtime::follow::MembershipCache::default(),
            sessions: crate::realtime::follow::SessionCache::new(
                (config.heartbeat_interval / 2).min(Duration::from_secs(5)),
            ),
            hub: crate::realtime::hub::Hub::default(),
            config,
        })))
    }

    /// Builds the state around a bus backed by the store's event log (ids, resume,
    /// cross-instance delivery), and starts the expiry of vanished editors' presence. Must be
    /// called inside a Tokio runtime; stop with [`AppState::close_event_log`].
    pub fn with_event_log(store: Store, config: ApiConfig) -> Result<Self, InternalError> {
        let stop = CancellationToken::new();
        let journaled = crate::realtime::journaled_bus(&store, &config.realtime, stop.clone());
        let state = Self::new(store, journaled.bus, config)?;
        if let Ok(mut slot) = state.0.event_log.lock() {
            *slot = Some(EventLogTasks { stop, tasks: journaled.tasks });
        }
        tokio::spawn(crate::realtime::expire_presence(state.clone()));
        Ok(state)
    }

    /// Writes what is queued for the event log and stops its tasks (waiting at most
    /// `timeout`). Call after the server and workers stopped.
    pub async fn close_event_log(&self, timeout: Duration) {
        let tasks = self.0.event_log.lock().ok().and_then(|mut slot| slot.take());
        if let Some(EventLogTasks { stop, tasks }) = tasks {
            stop.cancel();
            if tokio::time::timeout(timeout, tasks).await.is_err() {
                tracing::warn!("the event log did not flush within the shutdown timeout");
            }
        }
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The workflow engine.
    pub fn engine(&self) -> &weft_engine::Engine {
        &self.0.engine
    }

    /// The event bus.
    pub fn bus(&self) -> &EventBus {
        &self.0.bus
    }

    /// Access token service.
    pub fn tokens(&self) -> &TokenService {
        &self.0.tokens
    }

    /// Password hasher.
    pub fn passwords(&self) -> &PasswordHasher {
        &self.0.passwords
    }

    /// Configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    /// The procedures.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// The OpenRPC document served by `rpc.discover`.
    pub fn openrpc_document(&self) -> &serde_json::Value {
        &self.0.openrpc
    }

    /// Parsed workflow graphs by workflow and version.
    pub fn graphs(&self) -> &crate::graph_cache::GraphCache {
        &self.0.graphs
    }

    /// Per-webhook rate limiters and recently seen signatures.
    pub(crate) fn hooks(&self) -> &crate::http::hooks::HookGuards {
        &self.0.hooks
    }

    /// Project memberships as event streams check them (shared by all streams).
    pub fn memberships(&self) -> &crate::realtime::follow::MembershipCache {
        &self.0.memberships
    }

    /// Session liveness as event streams re-check it (shared by all streams).
    pub fn sessions(&self) -> &crate::realtime::follow::SessionCache {
        &self.0.sessions
    }

    /// The live fan-out of events to this instance's streams.
    pub fn hub(&self) -> &crate::realtime::hub::Hub {
        &self.0.hub
    }

    /// A handle that does not keep the state alive.
    pub fn downgrade(&self) -> WeakState {
        WeakState(Arc::downgrade(&self.0))
    }

    /// Cancelled when the server shuts down: long-lived streams and sockets end on it.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.0.shutdown
    }
}
