//! [`Reply`]: one scripted answer of the test provider, rendered as a chat completion, an
//! SSE stream (OpenRouter-style, with `: OPENROUTER PROCESSING` comments, usage in the last
//! chunk and `data: [DONE]`) or an HTTP error.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};

/// What the test provider answers to one chat-completions request.
#[derive(Clone, Debug)]
pub struct Reply {
    kind: ReplyKind,
    headers: Vec<(String, String)>,
    delay: Duration,
    chunk_delay: Duration,
    usage: Option<(u64, u64)>,
}

#[derive(Clone, Debug)]
enum ReplyKind {
    Text(String),
    Refusal(String),
    ContentFilter(String),
    ProviderError { code: u16, message: String },
    Status { status: u16, body: String },
    Malformed,
}

/// Prompt tokens reported when a reply sets none.
pub const DEFAULT_PROMPT_TOKENS: u64 = 10;

impl Reply {
    /// An answer; streamed word by word when the request streams. Usage defaults to
    /// [`DEFAULT_PROMPT_TOKENS`] prompt tokens and one completion token per word.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        let words = u64::try_from(pieces(&text).len()).unwrap_or(u64::MAX);
        Self::of(ReplyKind::Text(text), Some((DEFAULT_PROMPT_TOKENS, words)))
    }

    /// An answer whose text is `value` serialised.
    pub fn json(value: &Value) -> Self {
        Self::text(value.to_string())
    }

    /// A refusal: the message's `refusal` field (delta `refusal` when streaming).
    pub fn refusal(message: impl Into<String>) -> Self {
        Self::of(ReplyKind::Refusal(message.into()), Some((DEFAULT_PROMPT_TOKENS, 3)))
    }

    /// Some text, then finish reason `content_filter`.
    pub fn content_filter(partial: impl Into<String>) -> Self {
        Self::of(ReplyKind::ContentFilter(partial.into()), Some((DEFAULT_PROMPT_TOKENS, 1)))
    }

    /// HTTP 200 carrying an OpenRouter-style `{"error": {"code", "message"}}` instead of an
    /// answer (in the stream, as a data chunk).
    pub fn provider_error(code: u16, message: impl Into<String>) -> Self {
        Self::of(ReplyKind::ProviderError { code, message: message.into() }, None)
    }

    /// An HTTP error with an OpenAI-style error body carrying `message`.
    pub fn status(status: u16, message: impl Into<String>) -> Self {
        Self::of(ReplyKind::Status { status, body: message.into() }, None)
    }

    /// HTTP 429 with `Retry-After: {retry_after}` (seconds or an HTTP date).
    pub fn rate_limited(retry_after: &str) -> Self {
        Self::status(429, "rate limit reached").header("retry-after", retry_after)
    }

    /// HTTP 500.
    pub fn server_error() -> Self {
        Self::status(500, "internal server error")
    }

    /// HTTP 200 whose body (or a stream chunk) is not valid JSON.
    pub fn malformed() -> Self {
        Self::of(ReplyKind::Malformed, None)
    }

    /// The same reply with a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same reply, sent after `delay` (longer than the client's timeout: a timeout).
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The same reply, with `delay` between stream chunks.
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = delay;
        self
    }

    /// The same reply, reporting this usage.
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.usage = Some((prompt_tokens, completion_tokens));
        self
    }

    /// The same reply, reporting no usage at all.
    pub fn without_usage(mut self) -> Self {
        self.usage = None;
        self
    }

    fn of(kind: ReplyKind, usage: Option<(u64, u64)>) -> Self {
        Self { kind, headers: Vec::new(), delay: Duration::ZERO, chunk_delay: Duration::ZERO, usage }
    }

    /// Waits the delay, then answers `model` (as a stream when `stream`).
    pub(crate) async fn respond(self, model: &str, stream: bool, include_usage: bool) -> Response {
        tokio::time::sleep(self.delay).await;
        let mut response = match (&self.kind, stream) {
            (ReplyKind::Status { status, body }, _) => {
                let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let error =
                    json!({"error": {"message": body, "type": "test_error", "code": status.as_u16()}});
                (status, [(header::CONTENT_TYPE, "application/json")], error.to_string()).into_response()
            }
            (_, false) => {
                ([(header::CONTENT_TYPE, "application/json")], self.completion(model)).into_response()
            }
            (_, true) => {
                let frames = self.frames(model, include_usage);
                let chunk_delay = self.chunk_delay;
                let body = futures::stream::iter(frames.into_iter().enumerate()).then(
                    move |(idx, frame)| async move {
                        if idx > 0 {
                            tokio::time::sleep(chunk_delay).await;
                        }
                        Ok::<_, Infallible>(Bytes::from(frame))
                    },
                );
                ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(body)).into_response()
            }
        };
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value))
            {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }

    fn usage_json(&self) -> Value {
        match self.usage {
            Some((prompt, completion)) => {
                json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
            }
            None => Value::Null,
        }
    }

    /// The non-streaming body.
    fn completion(&self, model: &str) -> String {
        let (message, finish_reason) = match &self.kind {
            ReplyKind::Text(text) => (json!({"role": "assistant", "content": text, "refusal": null}), "stop"),
            ReplyKind::Refusal(refusal) => {
                (json!({"role": "assistant", "content": null, "refusal": refusal}), "stop")
            }
            ReplyKind::ContentFilter(text) => {
                (json!({"role": "assistant", "content": text}), "content_filter")
            }
            ReplyKind::ProviderError { code, message } => {
                return json!({"error": {"code": code, "message": message}}).to_string();
            }
            ReplyKind::Malformed => return "{\"choices\": [{\"message\": ".to_owned(),
            ReplyKind::Status { .. } => return String::new(),
        };
        let mut body = json!({
            "id": "chatcmpl-test", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        });
        if self.usage.is_some() {
            body["usage"] = self.usage_json();
        }
        body.to_string()
    }

    /// The SSE frames of the streaming body.
    fn frames(&self, model: &str, include_usage: bool) -> Vec<String> {
        let chunk = |choices: Value| {
            let body = json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000,
                              "model": model, "choices": choices});
            format!("data: {body}\n\n")
        };
        let delta = |delta: Value, finish_reason: Value| {
            chunk(json!([{"index": 0, "delta": delta, "finish_reason": finish_reason}]))
        };
        let mut frames = vec![
            ": OPENROUTER PROCESSING\n\n".to_owned(),
            delta(json!({"role": "assistant", "content": ""}), Value::Null),
        ];
        let (field, text, finish_reason) = match &self.kind {
            ReplyKind::Text(text) => ("content", text.as_str(), "stop"),
            ReplyKind::Refusal(refusal) => ("refusal", refusal.as_str(), "stop"),
            ReplyKind::ContentFilter(text) => ("content", text.as_str(), "content_filter"),
            ReplyKind::ProviderError { code, message } => {
                frames.push(format!("data: {}\n\n", json!({"error": {"code": code, "message": message}})));
                frames.push("data: [DONE]\n\n".to_owned());
                return frames;
            }
            ReplyKind::Malformed => {
                frames.push("data: {\"choices\": [{\"delta\": \n\n".to_owned());
                frames.push("data: [DONE]\n\n".to_owned());
                return frames;
            }
            ReplyKind::Status { .. } => return Vec::new(),
        };
        for (idx, piece) in pieces(text).into_iter().enumerate() {
            frames.push(delta(json!({ field: piece }), Value::Null));
            if idx == 0 {
                frames.push(": OPENROUTER PROCESSING\n\n".to_owned());
            }
        }
        frames.push(delta(json!({}), json!(finish_reason)));
        if include_usage && self.usage.is_some() {
            let body = json!({"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000,
                              "model": model, "choices": [], "usage": self.usage_json()});
            frames.push(format!("data: {body}\n\n"));
        }
        frames.push("data: [DONE]\n\n".to_owned());
        frames
    }
}

/// The stream pieces of a text: words with their following space.
pub fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}
