//! Throw-away databases for tests: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database on the server named by `WEFT_TEST_POSTGRES_URL`, dropped when the
//! guard is dropped. Compiled into the library so every crate's tests share one helper.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

use crate::{Store, StoreError, StoreOptions};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "WEFT_TEST_POSTGRES_URL";

/// A database that exists for the lifetime of the guard.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh SQLite file.
    pub fn sqlite() -> Result<Self, StoreError> {
        let dir =
            tempfile::tempdir().map_err(|e| StoreError::Config(format!("cannot create temp dir: {e}")))?;
        let url = format!("sqlite://{}", dir.path().join("weft.db").display());
        Ok(Self { url, cleanup: Cleanup::Sqlite(dir) })
    }

    /// A fresh PostgreSQL database, or `None` (with a loud message on stderr) when
    /// `WEFT_TEST_POSTGRES_URL` is unset. When `CI` is set, a missing URL is an error so
    /// that CI can never skip the PostgreSQL half silently.
    pub async fn postgres(test_name: &str) -> Result<Option<Self>, StoreError> {
        let Some(admin_url) = std::env::var(POSTGRES_URL_VAR).ok().filter(|url| !url.trim().is_empty())
        else {
            if std::env::var_os("CI").is_some() {
                return Err(StoreError::Config(format!("{POSTGRES_URL_VAR} must be set in CI")));
            }
            eprintln!(
                "\n*** SKIPPED (PostgreSQL): {test_name}: {POSTGRES_URL_VAR} is not set; this test ran on SQLite only ***\n"
            );
            return Ok(None);
        };
        let name = format!("weft_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(&admin_url).await.map_err(|source| StoreError::Database {
            context: "failed to connect to the test postgres server",
            source,
        })?;
        admin
            .execute_raw(Statement::from_string(DbBackend::Postgres, format!("CREATE DATABASE {name}")))
            .await
            .map_err(|source| StoreError::Database { context: "failed to create test database", source })?;
        let _ = admin.close().await;
        let url = replace_database(&admin_url, &name);
        Ok(Some(Self { url, cleanup: Cleanup::Postgres { admin_url, name } }))
    }

    /// The connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects and migrates.
    pub async fn store(&self) -> Result<Store, StoreError> {
        let mut options = StoreOptions::new(self.url.clone());
        options.max_connections = 8;
        options.acquire_timeout = Duration::from_secs(30);
        let store = Store::connect(&options).await?;
        store.migrate_up(None).await?;
        Ok(store)
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL, keeping the query.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else { return };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime; drop the database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = admin.execute_raw(Statement::from_string(DbBackend::Postgres, sql)).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
        let _ = dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }
}
