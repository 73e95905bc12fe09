//! Fixtures shared by the store tests: the [`both`] macro that runs one test body on SQLite
//! and on PostgreSQL, a clock that keeps only what both databases store, and builders for
//! users and sessions.

use std::future::Future;
use std::ops::Deref;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use uuid::Uuid;
use weft_core::{Role, UserId};
use weft_store::testing::TestDatabase;
use weft_store::{NewSession, NewUser, RefreshOutcome, Session, Store, User};

/// Declares a module `$name` with two tests, `sqlite` and `postgres`, each running `$body`
/// (a closure taking a [`TestStore`] and returning a future) on a fresh, migrated database.
/// Attributes before the name (`#[ignore = "..."]`) apply to both tests.
macro_rules! both {
    ($(#[$meta:meta])* $name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                $crate::helpers::on_sqlite($body).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                $crate::helpers::on_postgres(module_path!(), $body).await;
            }
        }
    };
}
pub(crate) use both;

/// A migrated store on a throw-away database, and the URL of that database for the few
/// tests that look at rows the API does not expose.
#[derive(Clone)]
pub struct TestStore {
    store: Store,
    url: String,
}

impl TestStore {
    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An owned handle for spawned tasks.
    pub fn handle(&self) -> Store {
        self.store.clone()
    }
}

impl Deref for TestStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(TestStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::sqlite().expect("failed to create sqlite test database");
    run(&db, body).await;
}

pub async fn on_postgres<F, Fut>(test_name: &str, body: F)
where
    F: FnOnce(TestStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = TestDatabase::postgres(test_name).await.expect("failed to create postgres test database")
    else {
        return;
    };
    run(&db, body).await;
}

async fn run<F, Fut>(db: &TestDatabase, body: F)
where
    F: FnOnce(TestStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = db.store().await.expect("failed to connect and migrate");
    body(TestStore { store: store.clone(), url: db.url().to_owned() }).await;
    store.close().await;
}

/// The current time at microsecond precision: PostgreSQL keeps no more, so values read
/// back compare equal to the ones written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn minutes(n: i64) -> Duration {
    Duration::minutes(n)
}

pub fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

pub fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// A fresh 64-character hex string, shaped like the SHA-256 hashes the API stores.
pub fn token_hash() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

pub fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.to_owned(),
        display_name: format!("Name of {email}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        role,
    }
}

pub async fn create_user(store: &Store, email: &str) -> User {
    store.create_user(new_user(email, Role::User), now()).await.expect("failed to create user")
}

/// A session lasting 30 days from `at` whose first refresh token lasts 7 days.
pub fn new_session(user_id: UserId, at: DateTime<Utc>, refresh_token_hash: &str) -> NewSession {
    NewSession {
        user_id,
        user_agent: Some("weft-store-tests".to_owned()),
        ip_address: Some("192.0.2.10".to_owned()),
        expires_at: at + days(30),
        refresh_token_hash: refresh_token_hash.to_owned(),
        refresh_expires_at: at + days(7),
    }
}

/// Opens a session at `at`; returns it with the hash of its refresh token.
pub async fn open_session(store: &Store, user_id: UserId, at: DateTime<Utc>) -> (Session, String) {
    let hash = token_hash();
    let session =
        store.create_session(new_session(user_id, at, &hash), at).await.expect("failed to create session");
    (session, hash)
}

/// Exchanges `presented` for a fresh token valid 7 days; returns the outcome and the new hash.
pub async fn rotate(store: &Store, presented: &str, at: DateTime<Utc>) -> (RefreshOutcome, String) {
    let next = token_hash();
    let outcome = store
        .rotate_refresh_token(presented, next.clone(), at + days(7), at)
        .await
        .expect("rotation failed with a store error");
    (outcome, next)
}

/// A session as stored now, whatever its state.
pub async fn reload(store: &Store, session: &Session) -> Session {
    store.session_with_user(session.id).await.expect("failed to read session").expect("session is gone").0
}

/// The stored expiry of a refresh token, read straight from the table because the API
/// never returns token rows.
pub async fn refresh_token_expiry(url: &str, token_hash: &str) -> Option<DateTime<Utc>> {
    let conn = Database::connect(url).await.expect("failed to open a raw connection");
    let backend = conn.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT expires_at FROM refresh_tokens WHERE token_hash = $1",
        _ => "SELECT expires_at FROM refresh_tokens WHERE token_hash = ?",
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [token_hash.into()]))
        .await
        .expect("failed to read refresh token");
    let expiry = row.map(|row| row.try_get::<DateTime<Utc>>("", "expires_at").expect("bad expires_at"));
    let _ = conn.close().await;
    expiry
}
