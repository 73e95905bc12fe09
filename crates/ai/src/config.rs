//! Settings of the client: the providers ([`ProviderConfig`]), the knobs of timeouts,
//! Retry-After waits and circuit breakers, and the outbound-address hooks ([`AiConfig`]:
//! a DNS resolver and a [`UrlGuard`], see [`crate::outbound`]).

use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::Resolve;
use secrecy::SecretString;
use serde::Deserialize;

pub use crate::outbound::UrlGuard;
use crate::outbound::display_url;

/// One OpenAI-compatible endpoint: OpenRouter, OpenAI, Groq, Gemini's or Anthropic's
/// compatibility endpoints, or a local server (Ollama, llama.cpp, vLLM).
///
/// Well-known base URLs: `https://openrouter.ai/api/v1`, `https://api.openai.com/v1`,
/// `https://api.groq.com/openai/v1`,
/// `https://generativelanguage.googleapis.com/v1beta/openai`, `https://api.anthropic.com/v1`,
/// `http://localhost:11434/v1` (Ollama), `http://localhost:8080/v1` (llama.cpp),
/// `http://localhost:8000/v1` (vLLM).
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfig {
    /// Unique id, named by [`crate::ModelInfo::provider`] (e.g. `openrouter`).
    pub id: String,
    /// The base the API paths follow (`{base_url}/chat/completions`); a trailing `/` is
    /// ignored.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …`; local servers need none. Never printed.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// Models this provider may serve; empty means every catalogue model naming it.
    #[serde(default)]
    pub models: Vec<String>,
    /// Extra request headers (OpenRouter's `HTTP-Referer` and `X-Title`, for example).
    /// Values of credential-like headers (names with `auth`, `key`, `token`, `secret` or
    /// `cookie`) are treated as secrets; no value is ever printed.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("base_url", &display_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("models", &self.models)
            .field("header_names", &header_names)
            .finish()
    }
}

/// Whether a header's value is a credential, by its name.
pub(crate) fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "cookie"].iter().any(|part| name.contains(part))
}

/// How the client behaves; every duration has a production default ([`AiConfig::default`]).
#[derive(Clone)]
pub struct AiConfig {
    /// The providers calls may go to.
    pub providers: Vec<ProviderConfig>,
    /// Longest wait for an answer (non-streaming), or for the response headers and then for
    /// each next chunk (streaming). Default 60 s.
    pub attempt_timeout: Duration,
    /// Longest TCP/TLS connection set-up. Default 10 s.
    pub connect_timeout: Duration,
    /// A 429 whose Retry-After is at most this long is retried on the same model after
    /// waiting; a longer one (or none) moves on to the next candidate. Default 5 s.
    pub max_retry_after_wait: Duration,
    /// Consecutive failures (timeouts, network, 429, 5xx, malformed answers) that open a
    /// provider's circuit breaker; 0 disables breakers. Default 5.
    pub breaker_threshold: u32,
    /// How long an open breaker skips its provider before one probe call is let through
    /// (half-open). Default 30 s.
    pub breaker_cool_down: Duration,
    /// `max_tokens` sent when a request sets none, so the budget estimate is a true bound.
    /// Default 1024.
    pub default_max_tokens: u32,
    /// Resolves every host name the client connects to (the engine passes its guarded
    /// resolver, which hands out only permitted addresses); the system resolver when `None`.
    /// IP-literal hosts never reach it: see [`AiConfig::url_guard`].
    pub resolver: Option<Arc<dyn Resolve>>,
    /// Checks each provider's base URL before any request to it; a refused provider is
    /// skipped, and a call whose providers were all refused fails with
    /// [`crate::AiError::UrlRefused`]. No check when `None`.
    pub url_guard: Option<Arc<dyn UrlGuard>>,
}

impl std::fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hook = |set: bool| if set { "custom" } else { "none" };
        f.debug_struct("AiConfig")
            .field("providers", &self.providers)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retry_after_wait", &self.max_retry_after_wait)
            .field("breaker_threshold", &self.breaker_threshold)
            .field("breaker_cool_down", &self.breaker_cool_down)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("resolver", &hook(self.resolver.is_some()))
            .field("url_guard", &hook(self.url_guard.is_some()))
            .finish()
    }
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            attempt_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retry_after_wait: Duration::from_secs(5),
            breaker_threshold: 5,
            breaker_cool_down: Duration::from_secs(30),
            default_max_tokens: 1024,
            resolver: None,
            url_guard: None,
        }
    }
}
