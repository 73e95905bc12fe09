//! Connecting: URL checks, SQLite file creation, and the health check.

use std::time::Duration;

use weft_store::{Backend, Store, StoreError, StoreOptions};

use crate::helpers::{both, create_user};

async fn connect(url: &str) -> Result<Store, StoreError> {
    let mut options = StoreOptions::new(url);
    options.acquire_timeout = Duration::from_secs(5);
    Store::connect(&options).await
}

#[tokio::test]
async fn unsupported_schemes_are_config_errors() {
    for url in ["mysql://root@localhost/weft", "http://localhost/weft", "weft.db", ""] {
        let err = connect(url).await.unwrap_err();
        assert!(matches!(err, StoreError::Config(_)), "{url:?}: {err:?}");
    }
}

#[tokio::test]
async fn malformed_postgres_url_is_a_config_error() {
    let err = connect("postgres://postgres@localhost:notaport/weft").await.unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
}

#[tokio::test]
async fn unreachable_postgres_is_a_database_error() {
    // Port 1 on the loopback interface refuses connections at once.
    let err = connect("postgres://postgres@127.0.0.1:1/weft").await.unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
}

#[tokio::test]
async fn in_memory_sqlite_is_refused() {
    let mut accepted = Vec::new();
    for url in ["sqlite::memory:", "sqlite://:memory:", "sqlite://weft.db?mode=memory"] {
        match connect(url).await {
            Err(StoreError::Config(_)) => {}
            other => accepted.push(format!("{url:?} -> {other:?}")),
        }
    }
    assert!(accepted.is_empty(), "in-memory sqlite was not refused: {accepted:#?}");
}

#[tokio::test]
async fn sqlite_file_is_created_in_missing_nested_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not").join("yet").join("there").join("weft.db");
    let store = connect(&format!("sqlite://{}", path.display())).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.is_file(), "database file was not created");

    store.ping().await.unwrap();
    store.migrate_up(None).await.unwrap();
    create_user(&store, "nested@example.test").await;
    store.close().await;

    // Reopening finds the data.
    let store = connect(&format!("sqlite://{}", path.display())).await.unwrap();
    assert!(store.find_user_by_email("nested@example.test").await.unwrap().is_some());
    store.close().await;
}

both!(ping_answers_on_the_expected_backend, |store| async move {
    store.ping().await.unwrap();
    let expected = if store.url().starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
    assert_eq!(store.backend(), expected);

    // A second handle on the same database sees what the first wrote.
    create_user(&store, "shared@example.test").await;
    let second = connect(store.url()).await.unwrap();
    second.ping().await.unwrap();
    assert!(second.find_user_by_email("shared@example.test").await.unwrap().is_some());
    second.close().await;
});
