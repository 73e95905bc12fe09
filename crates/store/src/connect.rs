//! Connecting to the database and applying migrations.
//!
//! SQLite runs in WAL mode with a busy timeout, and writes go through a pool of exactly one
//! connection: in-process writers queue on the pool instead of racing for SQLite's write
//! lock, so they never see "database is locked". Reads use a separate pool of read-only
//! connections that WAL lets run beside the writer. PostgreSQL uses one pool for both.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{ConnectionTrait, DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector, Statement};
use sea_orm_migration::MigratorTrait;
use weft_migrations::Migrator;

use crate::error::{Context, StoreError};

/// Which database engine a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// Shared PostgreSQL server.
    Postgres,
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// Connections in the pool (PostgreSQL) or in the read pool (SQLite).
    pub max_connections: u32,
    /// How long SQLite waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// How long a caller waits for a free pooled connection.
    pub acquire_timeout: Duration,
}

impl StoreOptions {
    /// Options with sensible pool sizes for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            busy_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// Whether each known migration has been applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    /// Migration name.
    pub name: String,
    /// Applied to this database.
    pub applied: bool,
}

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) write: DatabaseConnection,
    pub(crate) read: DatabaseConnection,
    backend: Backend,
    /// PostgreSQL: where the event listener opens its own connection (outside the pool, so
    /// closing the pool never waits for it).
    pub(crate) listen_url: Option<ListenUrl>,
}

/// A database URL kept for the event listener; never printed (it may hold a password).
#[derive(Clone)]
pub(crate) struct ListenUrl(pub(crate) std::sync::Arc<str>);

impl std::fmt::Debug for ListenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenUrl(..)")
    }
}

impl Store {
    /// Connects (creating the SQLite file and its directory if needed). Does not migrate.
    pub async fn connect(options: &StoreOptions) -> Result<Store, StoreError> {
        if options.url.starts_with("sqlite:") {
            Self::connect_sqlite(options).await
        } else if options.url.starts_with("postgres://") || options.url.starts_with("postgresql://") {
            Self::connect_postgres(options).await
        } else {
            Err(StoreError::Config("database url must start with sqlite:// or postgres://".to_owned()))
        }
    }

    async fn connect_sqlite(options: &StoreOptions) -> Result<Store, StoreError> {
        if is_in_memory(&options.url) {
            return Err(StoreError::Config("in-memory sqlite is not supported: use a file path".to_owned()));
        }
        let base = SqliteConnectOptions::from_str(&options.url)
            .map_err(|e| StoreError::Config(format!("bad sqlite url: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let filename = base.get_filename().to_path_buf();
        if filename.as_os_str() == ":memory:" || filename.as_os_str().is_empty() {
            return Err(StoreError::Config("in-memory sqlite is not supported: use a file path".to_owned()));
        }
        if let Some(dir) = filename.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            create_dir(dir)?;
        }
        // A local file cannot drop a connection the way a network can: no ping before use.
        let write_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(base.clone())
            .await
            .map_err(|e| StoreError::Database {
                context: "failed to open sqlite database",
                source: sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())),
            })?;
        let read_pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_lazy_with(base.read_only(true).create_if_missing(false));
        Ok(Store {
            write: SqlxSqliteConnector::from_sqlx_sqlite_pool(write_pool),
            read: SqlxSqliteConnector::from_sqlx_sqlite_pool(read_pool),
            backend: Backend::Sqlite,
            listen_url: None,
        })
    }

    async fn connect_postgres(options: &StoreOptions) -> Result<Store, StoreError> {
        let connect = PgConnectOptions::from_str(&options.url)
            .map_err(|e| StoreError::Config(format!("bad postgres url: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Database {
                context: "failed to connect to postgres",
                source: sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())),
            })?;
        let conn = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
        Ok(Store {
            write: conn.clone(),
            read: conn,
            backend: Backend::Postgres,
            listen_url: Some(ListenUrl(options.url.as_str().into())),
        })
    }

    /// The database engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations (all, or at most `steps`).
    pub async fn migrate_up(&self, steps: Option<u32>) -> Result<(), StoreError> {
        Migrator::up(&self.write, steps).await.context("failed to apply migrations")
    }

    /// Rolls back applied migrations: the last one, or the last `steps`.
    pub async fn migrate_down(&self, steps: Option<u32>) -> Result<(), StoreError> {
        Migrator::down(&self.write, Some(steps.unwrap_or(1))).await.context("failed to roll back migrations")
    }

    /// Lists known migrations and whether each is applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        let applied: Vec<String> = Migrator::get_applied_migrations(&self.write)
            .await
            .context("failed to read applied migrations")?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        Ok(Migrator::migrations()
            .iter()
            .map(|m| MigrationState {
                name: m.name().to_owned(),
                applied: applied.iter().any(|a| a == m.name()),
            })
            .collect())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let backend = self.read.get_database_backend();
        self.read
            .execute_raw(Statement::from_string(backend, "SELECT 1"))
            .await
            .context("database did not answer")?;
        Ok(())
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(self) {
        // Errors while closing mean the connection is already gone; nothing to do.
        let _ = self.read.close().await;
        if self.backend == Backend::Sqlite {
            let _ = self.write.close().await;
        }
    }
}

/// Whether a SQLite URL names an in-memory database, which would give the read and write
/// pools two different databases. Checked on the raw URL: sqlx rewrites `:memory:`.
fn is_in_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    path.is_empty()
        || path == ":memory:"
        || query.split('&').any(|pair| pair.eq_ignore_ascii_case("mode=memory"))
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Config(format!("cannot create database directory {}: {e}", dir.display())))
}
