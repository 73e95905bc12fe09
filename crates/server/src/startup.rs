//! Building the application from settings, serving it, and shutting it down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use weft_api::AppState;
use weft_store::{Store, StoreOptions};

use crate::settings::Settings;

/// How often expired tickets, tokens, sessions and webhook signature claims are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// How long ended sessions stay visible for audit before being purged.
const KEEP_ENDED_SESSIONS: chrono::Duration = chrono::Duration::days(7);

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_timeout: Duration,
    embedded_workers: bool,
}

/// Connects to the database named by the settings and applies pending migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let mut options = StoreOptions::new(settings.database_url());
    options.max_connections = settings.db_max_connections;
    Store::connect(&options).await.context("failed to open the database")
}

impl Application {
    /// Opens and migrates the database, builds the state and binds the listener
    /// (port 0 picks a free port).
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let store = open_store(settings).await?;
        store.migrate_up(None).await.context("failed to migrate the database")?;
        let state = build_state(settings, store)?;
        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("failed to bind {}", settings.addr))?;
        Ok(Application {
            listener,
            state,
            shutdown_timeout: settings.shutdown_timeout,
            embedded_workers: settings.embedded_workers,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("listener has no address")
    }

    /// Serves until `signal` resolves, then stops accepting, ends event streams and
    /// sockets, and waits up to the shutdown timeout for in-flight requests.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        let state = self.state.clone();
        let purge = tokio::spawn(purge_loop(state.clone()));
        let shutdown = state.shutdown_token().clone();
        let workers = self.embedded_workers.then(|| state.engine().spawn_workers(shutdown.clone()));
        tracing::info!(%addr, backend = ?state.store().backend(), "weft listening");
        let serve = weft_api::http::serve(self.listener, state.clone(), {
            let shutdown = shutdown.clone();
            async move {
                signal.await;
                tracing::info!("shutting down: no new connections; closing streams");
                shutdown.cancel();
            }
        });
        let server = tokio::spawn(serve);
        shutdown.cancelled().await;
        let result = match tokio::time::timeout(self.shutdown_timeout, server).await {
            Ok(joined) => joined.context("server task failed")?.context("server failed"),
            Err(_) => {
                tracing::warn!("in-flight requests did not finish within the shutdown timeout");
                Ok(())
            }
        };
        purge.abort();
        if let Some(workers) = workers {
            // Steps in flight finish (or, past the timeout, lose their lease to another worker).
            if tokio::time::timeout(self.shutdown_timeout, workers).await.is_err() {
                tracing::warn!("steps in flight did not finish within the shutdown timeout");
            }
        }
        state.close_event_log(self.shutdown_timeout).await;
        state.store().clone().close().await;
        tracing::info!("stopped");
        result
    }
}

/// Runs only workers (no HTTP) until `signal`: `weft worker`, for scale-out on PostgreSQL.
pub async fn run_workers(
    settings: &Settings,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.migrate_up(None).await.context("failed to migrate the database")?;
    let state = build_state(settings, store)?;
    let shutdown = state.shutdown_token().clone();
    let workers = state.engine().spawn_workers(shutdown.clone());
    tracing::info!(worker = %state.engine().config().worker_id, backend = ?state.store().backend(), "weft worker running");
    signal.await;
    tracing::info!("shutting down: finishing steps in flight");
    shutdown.cancel();
    if tokio::time::timeout(settings.shutdown_timeout, workers).await.is_err() {
        tracing::warn!("steps in flight did not finish within the shutdown timeout");
    }
    state.close_event_log(settings.shutdown_timeout).await;
    state.store().clone().close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Builds the application state from settings and an open store.
pub fn build_state(settings: &Settings, store: Store) -> anyhow::Result<AppState> {
    let secret = settings.resolve_jwt_secret()?;
    AppState::with_event_log(store, settings.api_config(secret)?).context("failed to build application state")
}

async fn purge_loop(state: AppState) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        interval.tick().await;
        let now = chrono::Utc::now();
        match state.store().purge_expired_auth(now, KEEP_ENDED_SESSIONS).await {
            Ok(removed) => tracing::debug!(removed, "purged expired auth records"),
            Err(err) => tracing::warn!(error = %err, "failed to purge expired auth records"),
        }
        // Signed webhook calls older than the tolerance can never be replayed: their claims go.
        let tolerance = chrono::Duration::from_std(state.config().webhooks.tolerance).unwrap_or_default();
        match state.store().purge_webhook_claims(now - tolerance - chrono::Duration::minutes(5)).await {
            Ok(removed) => tracing::debug!(removed, "purged webhook signature claims"),
            Err(err) => tracing::warn!(error = %err, "failed to purge webhook signature claims"),
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
