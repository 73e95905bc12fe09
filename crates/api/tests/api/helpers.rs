//! Spawning a real server with a fresh database, and small clients for it.

use std::net::SocketAddr;
use std::time::Duration;

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::http_client::{HeaderMap, HeaderValue, HttpClientBuilder};
use jsonrpsee::types::ErrorObjectOwned;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use weft_api::auth::TokenConfig;
use weft_api::{ApiConfig, AppState};
use weft_store::testing::TestDatabase;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const PASSWORD: &str = "violet-Tangerine-88-harbour";

/// Runs a test body on SQLite and on PostgreSQL (optionally with a custom `ApiConfig`).
macro_rules! both {
    ($name:ident, config = $config:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = weft_store::testing::TestDatabase::sqlite().unwrap();
                let $app = $crate::helpers::TestApp::start(db, $config).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let name = concat!(module_path!(), "::", stringify!($name));
                let Some(db) = weft_store::testing::TestDatabase::postgres(name).await.unwrap() else {
                    return;
                };
                let $app = $crate::helpers::TestApp::start(db, $config).await;
                $body
            }
        }
    };
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::TestApp::sqlite().await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) =
                    $crate::helpers::TestApp::postgres(concat!(module_path!(), "::", stringify!($name)))
                        .await
                else {
                    return;
                };
                $body
            }
        }
    };
}
pub(crate) use both;

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    stop: CancellationToken,
    _db: TestDatabase,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
        self.state.shutdown_token().cancel();
    }
}

pub fn test_config() -> ApiConfig {
    let mut config = ApiConfig::with_tokens(TokenConfig {
        secret: SecretString::from(JWT_SECRET.to_owned()),
        issuer: "weft".into(),
        audience: "weft-api".into(),
        access_ttl: Duration::from_secs(900),
        leeway: Duration::from_secs(0),
    });
    config.limits.max_body_bytes = 64 * 1024;
    config.limits.max_batch = 10;
    config.cors_origins = vec!["http://localhost:5173".into()];
    config.heartbeat_interval = Duration::from_millis(300);
    config.login_throttle.max_failures_per_account = 5;
    config.login_throttle.max_failures_per_ip = 12;
    config.registrations_per_ip_per_hour = 8;
    // Test targets are local servers on 127.0.0.1; everything else stays refused.
    config.engine.outbound = weft_engine::http::OutboundPolicy::new(false, ["127.0.0.1"]).unwrap();
    config.engine.poll_interval = Duration::from_millis(50);
    config.engine.lease = Duration::from_secs(3);
    config.engine.ai.secret_key = Some(SecretString::from("test-credential-key-0123456789abcdef".to_owned()));
    config
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::start(TestDatabase::sqlite().unwrap(), test_config()).await
    }

    pub async fn postgres(name: &str) -> Option<TestApp> {
        let db = TestDatabase::postgres(name).await.unwrap()?;
        Some(Self::start(db, test_config()).await)
    }

    pub async fn start(db: TestDatabase, config: ApiConfig) -> TestApp {
        let store = db.store().await.unwrap();
        let state = AppState::with_event_log(store, config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let serve = weft_api::http::serve(listener, state.clone(), async move { stopped.cancelled().await });
        tokio::spawn(async move { serve.await.unwrap() });
        state.engine().spawn_workers(stop.clone());
        weft_engine::install_tls_provider();
        TestApp { addr, base: format!("http://{addr}"), state, http: reqwest::Client::new(), stop, _db: db }
    }

    /// Another instance on the same database (its own engine, no workers, no listener), as
    /// a second server process would be.
    pub async fn another_instance(&self, config: ApiConfig) -> AppState {
        let store = self._db.store().await.unwrap();
        AppState::new(store, weft_events::EventBus::new(256), config).unwrap()
    }

    /// Runs statements on the app's database directly, to stage states the API never makes
    /// (a stored version damaged, say).
    pub async fn execute_sql(&self, sql: &str) {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(self._db.url()).await.unwrap();
        db.execute_unprepared(sql).await.unwrap();
        db.close().await.unwrap();
    }

    pub fn rpc_url(&self) -> String {
        format!("{}/rpc", self.base)
    }

    /// Calls a procedure through jsonrpsee's HTTP client, with an optional bearer token.
    pub async fn call<R: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
        token: Option<&str>,
    ) -> Result<R, ErrorObjectOwned> {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        }
        let client = HttpClientBuilder::default().set_headers(headers).build(self.rpc_url()).unwrap();
        let mut object = ObjectParams::new();
        for (key, value) in params.as_object().cloned().unwrap_or_default() {
            object.insert(&key, value).unwrap();
        }
        match client.request::<R, _>(method, object).await {
            Ok(value) => Ok(value),
            Err(jsonrpsee::core::client::Error::Call(error)) => Err(error),
            Err(other) => panic!("transport failure calling {method}: {other}"),
        }
    }

    /// Posts a raw body to `/rpc` and returns status, headers and text.
    pub async fn post_raw(&self, body: &str) -> (u16, reqwest::header::HeaderMap, String) {
        self.post_raw_as(body, None).await
    }

    /// Posts a raw body to `/rpc` with an optional bearer token.
    pub async fn post_raw_as(
        &self,
        body: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request =
            self.http.post(self.rpc_url()).header("content-type", "application/json").body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// Posts a raw body and parses the answer as JSON.
    pub async fn post_json(&self, body: &str) -> Value {
        let (status, _, text) = self.post_raw(body).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Registers a fresh user; returns the session.
    pub async fn register(&self, email: &str) -> Session {
        self.call(
            "auth.register",
            json!({ "email": email, "password": PASSWORD, "displayName": "Test User" }),
            None,
        )
        .await
        .unwrap()
    }

    /// Logs in; returns the session.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, ErrorObjectOwned> {
        self.call("auth.login", json!({ "email": email, "password": password }), None).await
    }

    /// Creates an ADMIN directly (as `weft admin create-user` does) and logs in.
    pub async fn admin(&self, email: &str) -> Session {
        let params = weft_api::routers::auth::types::RegisterParams {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            display_name: "Admin".to_owned(),
        };
        weft_api::routers::auth::create_account(&self.state, params, weft_core::Role::Admin).await.unwrap();
        self.login(email, PASSWORD).await.unwrap()
    }
}

/// The parts of `AuthSession` tests read.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
    pub user: Value,
}

/// The `data` of an error object as JSON.
pub fn data(error: &ErrorObjectOwned) -> Value {
    error.data().map(|raw| serde_json::from_str(raw.get()).unwrap()).unwrap_or(Value::Null)
}

/// Asserts an error's code and `data.kind`, returning the data.
pub fn expect_error(result: Result<Value, ErrorObjectOwned>, code: i32, kind: &str) -> Value {
    let error = result.expect_err("expected an error");
    assert_eq!(error.code(), code, "{error:?}");
    let data = data(&error);
    assert_eq!(data["kind"], kind, "{error:?}");
    data
}

/// A unique e-mail address.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Invites `email` and accepts as `invitee`; returns nothing, asserts success.
pub async fn add_member(app: &TestApp, owner: &Session, project_id: &str, invitee: &Session, role: &str) {
    let email = invitee.user["email"].as_str().unwrap();
    let invitation: Value = app
        .call(
            "project.invite",
            json!({"projectId": project_id, "email": email, "role": role}),
            Some(&owner.access_token),
        )
        .await
        .unwrap();
    let joined: Value = app
        .call(
            "project.acceptInvitation",
            json!({"invitationId": invitation["id"]}),
            Some(&invitee.access_token),
        )
        .await
        .unwrap();
    assert_eq!(joined["myRole"], role);
}

/// Waits until `condition` holds, checking it every few milliseconds; `false` when it still
/// does not after `within`.
pub async fn wait_until(within: Duration, condition: impl Fn() -> bool) -> bool {
    tokio::time::timeout(within, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .is_ok()
}
