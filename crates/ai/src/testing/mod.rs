//! A local OpenAI-compatible provider for tests (feature `testing`): a real HTTP server on
//! `127.0.0.1:0` serving `POST /v1/chat/completions` (JSON answers and SSE streams) and
//! `GET /v1/models` (OpenRouter's format), answering with scripted [`Reply`]s and recording
//! every request it receives.
//!
//! Which reply a chat request gets: the next one queued for its model
//! ([`TestProvider::enqueue_for`]), else the model's standing reply
//! ([`TestProvider::set_reply_for`]), else the next one of the shared queue
//! ([`TestProvider::enqueue`]), else the standing default ([`TestProvider::set_default`],
//! initially `Reply::text("ok")`).
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use weft_ai::testing::{Reply, TestProvider};
//! let provider = TestProvider::start().await?;
//! provider.enqueue_for("small", Reply::rate_limited("1"));
//! provider.set_reply_for("large", Reply::text("hello there"));
//! let config = provider.provider_config("local", Some("sk-test-key"));
//! # Ok(()) }
//! ```

mod reply;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use serde_json::{Value, json};

pub use reply::{DEFAULT_PROMPT_TOKENS, Reply, pieces};

use crate::config::ProviderConfig;

/// A request the test provider received.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`.
    pub method: String,
    /// The path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Null` when none or not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(known, _)| *known == name).map(|(_, value)| value.as_str())
    }

    /// The `model` of a chat request.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }
}

#[derive(Debug, Default)]
struct Script {
    queue: VecDeque<Reply>,
    model_queues: HashMap<String, VecDeque<Reply>>,
    model_replies: HashMap<String, Reply>,
    default: Option<Reply>,
    models: Option<Value>,
    requests: Vec<RecordedRequest>,
}

type Shared = Arc<Mutex<Script>>;

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct TestProvider {
    base_url: String,
    script: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl TestProvider {
    /// Starts a server on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let script = Shared::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .with_state(Arc::clone(&script));
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "test provider stopped");
            }
        });
        Ok(Self { base_url: format!("http://{address}/v1"), script, server })
    }

    /// The base URL to configure (`http://127.0.0.1:{port}/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A provider configuration pointing at this server.
    pub fn provider_config(&self, id: &str, api_key: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            id: id.to_owned(),
            base_url: self.base_url.clone(),
            api_key: api_key.map(|key| SecretString::from(key.to_owned())),
            models: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Queues a reply for the next chat request of any model without its own script.
    pub fn enqueue(&self, reply: Reply) {
        self.lock().queue.push_back(reply);
    }

    /// Queues a reply for the next chat request for `model`.
    pub fn enqueue_for(&self, model: &str, reply: Reply) {
        self.lock().model_queues.entry(model.to_owned()).or_default().push_back(reply);
    }

    /// The reply to every request for `model` once its queue is empty.
    pub fn set_reply_for(&self, model: &str, reply: Reply) {
        self.lock().model_replies.insert(model.to_owned(), reply);
    }

    /// The reply when nothing else is scripted (initially `Reply::text("ok")`).
    pub fn set_default(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// What `GET /v1/models` answers (OpenRouter's format); a two-model list by default.
    pub fn set_models(&self, listing: Value) {
        self.lock().models = Some(listing);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The chat-completions requests received, in order.
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|request| request.path.ends_with("/chat/completions")).collect()
    }

    /// The models of the chat requests received, in order.
    pub fn models_asked(&self) -> Vec<String> {
        self.chat_requests().iter().filter_map(|request| request.model().map(str::to_owned)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        lock(&self.script)
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(script: &Shared) -> std::sync::MutexGuard<'_, Script> {
    script.lock().unwrap_or_else(PoisonError::into_inner)
}

fn record(script: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Value {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect();
    lock(script).requests.push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body: body.clone(),
    });
    body
}

async fn chat(
    State(script): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = record(&script, &method, &uri, &headers, &body);
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage =
        body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    let reply = {
        let mut script = lock(&script);
        let queued = script.model_queues.get_mut(&model).and_then(VecDeque::pop_front);
        queued
            .or_else(|| script.model_replies.get(&model).cloned())
            .or_else(|| script.queue.pop_front())
            .or_else(|| script.default.clone())
            .unwrap_or_else(|| Reply::text("ok"))
    };
    reply.respond(&model, stream, include_usage).await
}

async fn models(State(script): State<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    record(&script, &method, &uri, &headers, &[]);
    let listing = lock(&script).models.clone().unwrap_or_else(|| {
        json!({"data": [
            {"id": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o-mini", "context_length": 128000,
             "pricing": {"prompt": "0.00000015", "completion": "0.0000006"},
             "supported_parameters": ["max_tokens", "response_format", "structured_outputs"]},
            {"id": "meta-llama/llama-3.1-8b-instruct", "name": "Meta: Llama 3.1 8B Instruct",
             "context_length": 131072, "pricing": {"prompt": "0.00000002", "completion": "0.00000005"},
             "supported_parameters": ["max_tokens"]}
        ]})
    });
    axum::Json(listing).into_response()
}
