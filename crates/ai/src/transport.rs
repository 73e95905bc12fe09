//! One provider's connection: an async-openai client pointed at its base URL, with our own
//! HTTP service underneath so that non-2xx answers are turned into a [`Failure`] that keeps
//! the status and Retry-After (async-openai's default executor would retry 429s and 5xx
//! itself and drop the headers; retries and fallbacks are [`crate::AiClient`]'s job).
//!
//! Every text coming back is cleaned by the provider's [`Scrubber`] before it is kept.
//!
//! Outbound addresses: the HTTP client resolves names with [`AiConfig::resolver`] (when
//! set) and follows no redirect (a 3xx is a failed attempt); every request's URL is checked
//! by the [`UrlGuard`] first, so IP-literal hosts are covered too.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::CreateChatCompletionRequest;
use futures::{Stream, StreamExt};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::attempt::AttemptOutcome;
use crate::config::{AiConfig, ProviderConfig, is_credential_header};
use crate::error::AiError;
use crate::outbound::{GuardRefusal, ProviderGuard, UrlGuard, display_url};
use crate::sanitize::Scrubber;
use crate::wire::Completion;

/// Most bytes of an error body read from a provider.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// Why an exchange with a provider failed, already sanitised.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub outcome: AttemptOutcome,
    pub message: String,
    /// From a 429's `Retry-After` (or `retry-after-ms`) header.
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn new(outcome: AttemptOutcome, message: impl Into<String>) -> Self {
        Self { outcome, message: message.into(), retry_after: None }
    }
}

/// A non-2xx answer, carried through async-openai as a boxed error.
#[derive(Debug, thiserror::Error)]
#[error("http {status}: {message}")]
struct HttpFailure {
    status: u16,
    retry_after: Option<Duration>,
    message: String,
}

/// The parsed chunks of a streamed answer.
pub(crate) type ChunkStream = std::pin::Pin<Box<dyn Stream<Item = Result<Completion, Failure>> + Send>>;

/// The endpoint as async-openai sees it. Unlike `OpenAIConfig` it reads no `OPENAI_*`
/// environment variable (a local server must never receive the OpenAI key) and sends no
/// `Authorization` header without a key.
#[derive(Clone)]
struct Endpoint {
    base_url: String,
    api_key: SecretString,
    headers: HeaderMap,
}

impl Config for Endpoint {
    fn headers(&self) -> HeaderMap {
        let mut headers = self.headers.clone();
        let key = self.api_key.expose_secret();
        if !key.is_empty()
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {key}"))
        {
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn query(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    fn api_base(&self) -> &str {
        &self.base_url
    }

    fn api_key(&self) -> &SecretString {
        &self.api_key
    }
}

/// One configured provider.
pub(crate) struct Transport {
    client: Client<Endpoint>,
    scrubber: Arc<Scrubber>,
    guard: Option<ProviderGuard>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &display_url(&self.client.config().base_url))
            .field("guarded", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

/// The shared HTTP client: rustls with the ring provider (as the engine), no proxy from the
/// environment (a proxy would resolve names past the resolver), no redirects, a connection
/// timeout, and the configured resolver.
pub(crate) fn http_client(
    connect_timeout: Duration,
    resolver: Option<&Arc<dyn reqwest::dns::Resolve>>,
) -> Result<reqwest::Client, AiError> {
    // reqwest is built without a crypto provider; another crate may have installed one
    // already, which is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
        .no_proxy()
        // A redirect could lead anywhere the guard never saw; providers do not redirect.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(connect_timeout);
    if let Some(resolver) = resolver {
        builder = builder.dns_resolver(Arc::clone(resolver));
    }
    builder.build().map_err(|error| AiError::InvalidConfig {
        reason: format!("failed to build the ai http client: {error}"),
    })
}

/// The client for `config`: its connection timeout and resolver.
pub(crate) fn http_client_for(config: &AiConfig) -> Result<reqwest::Client, AiError> {
    http_client(config.connect_timeout, config.resolver.as_ref())
}

impl Transport {
    /// The transport of `provider` over `http`; every request is first checked by `guard`.
    pub(crate) fn new(
        provider: &ProviderConfig,
        http: reqwest::Client,
        guard: Option<Arc<dyn UrlGuard>>,
    ) -> Result<Self, AiError> {
        let invalid = |reason: String| AiError::InvalidConfig { reason };
        let base_url = provider.base_url.trim().trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(invalid(format!("provider `{}` needs an http(s) base url", provider.id)));
        }
        let parsed_base = Url::parse(&base_url)
            .ok()
            .filter(|url| url.host().is_some())
            .ok_or_else(|| invalid(format!("provider `{}` has an invalid base url", provider.id)))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &provider.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                invalid(format!("provider `{}` has an invalid header name `{name}`", provider.id))
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                invalid(format!("provider `{}` has an invalid value for header `{name}`", provider.id))
            })?;
            value.set_sensitive(is_credential_header(name.as_str()));
            headers.insert(name, value);
        }
        let api_key = provider.api_key.clone().unwrap_or_else(|| SecretString::from(String::new()));
        let header_secrets = provider.headers.iter().filter(|(name, _)| is_credential_header(name));
        // A base URL may carry a key in its password or query.
        let url_secrets: Vec<String> = parsed_base
            .password()
            .map(str::to_owned)
            .into_iter()
            .chain(parsed_base.query_pairs().map(|(_, value)| value.into_owned()))
            .collect();
        let secrets = provider
            .api_key
            .iter()
            .map(|key| key.expose_secret())
            .chain(header_secrets.map(|(_, value)| value.as_str()))
            .chain(url_secrets.iter().map(String::as_str));
        let scrubber = Arc::new(Scrubber::new(secrets));
        let guard = guard.map(|guard| ProviderGuard::new(guard, parsed_base, Arc::clone(&scrubber)));
        let service = {
            let scrubber = Arc::clone(&scrubber);
            let guard = guard.clone();
            let http = http.clone();
            tower::service_fn(move |factory: HttpRequestFactory| {
                send(http.clone(), Arc::clone(&scrubber), guard.clone(), factory)
            })
        };
        let client = Client::build(http, Endpoint { base_url, api_key, headers }).with_http_service(service);
        Ok(Self { client, scrubber, guard })
    }

    /// The [`UrlGuard`]'s verdict on the base URL (`Ok` without a guard); the reason is
    /// free of secrets.
    pub(crate) fn check_base_url(&self) -> Result<(), String> {
        match &self.guard {
            Some(guard) => guard.check_base_url(),
            None => Ok(()),
        }
    }

    /// Sends a non-streaming chat completion.
    pub(crate) async fn complete(
        &self,
        request: &CreateChatCompletionRequest,
    ) -> Result<Completion, Failure> {
        self.client.chat().create_byot(request).await.map_err(|error| self.classify(error))
    }

    /// Sends a streaming chat completion; chunks arrive as the provider sends them.
    pub(crate) async fn stream(&self, request: &CreateChatCompletionRequest) -> Result<ChunkStream, Failure> {
        let stream =
            self.client.chat().create_stream_byot(request).await.map_err(|error| self.classify(error))?;
        let scrubber = Arc::clone(&self.scrubber);
        Ok(Box::pin(stream.map(move |chunk| chunk.map_err(|error| classify(&scrubber, error)))))
    }

    /// `GET {base_url}/models`, as raw JSON.
    pub(crate) async fn list_models(&self) -> Result<Value, Failure> {
        self.client.models().list_byot().await.map_err(|error| self.classify(error))
    }

    /// Cleans a provider text with this provider's scrubber.
    pub(crate) fn clean(&self, text: &str) -> String {
        self.scrubber.clean(text)
    }

    fn classify(&self, error: OpenAIError) -> Failure {
        classify(&self.scrubber, error)
    }
}

/// Our HTTP service under async-openai: sends, and turns non-2xx answers into an
/// [`HttpFailure`] read from a bounded part of the body.
async fn send(
    http: reqwest::Client,
    scrubber: Arc<Scrubber>,
    guard: Option<ProviderGuard>,
    factory: HttpRequestFactory,
) -> Result<reqwest::Response, OpenAIError> {
    let request = factory.build().await?;
    // The client checks the base URL before each call; this covers every request path.
    if let Some(guard) = &guard
        && let Err(reason) = guard.check(request.url())
    {
        return Err(OpenAIError::Boxed(Box::new(GuardRefusal::new(reason))));
    }
    let mut response = http.execute(request).await?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    let message = if status.is_redirection() {
        // The location is not ours to show (nor to follow).
        "redirect not followed".to_owned()
    } else {
        scrubber.clean(&error_message(&body))
    };
    Err(OpenAIError::Boxed(Box::new(HttpFailure { status: status.as_u16(), retry_after, message })))
}

/// The `error.message` of an OpenAI-style error body, or the body itself.
fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let message = parsed.as_ref().and_then(|value| {
        let error = value.get("error").unwrap_or(value);
        error.get("message").and_then(Value::as_str).or_else(|| error.as_str())
    });
    match message {
        Some(message) => message.to_owned(),
        None if text.trim().is_empty() => "no details".to_owned(),
        None => text.into_owned(),
    }
}

/// How long a rate-limited provider asks us to wait: `retry-after-ms` (OpenAI), or
/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    if let Some(millis) = text("retry-after-ms").and_then(|value| value.parse::<f64>().ok())
        && millis.is_finite()
        && millis >= 0.0
    {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    let value = text(RETRY_AFTER.as_str())?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Sorts an async-openai error into an attempt outcome with a clean message.
fn classify(scrubber: &Scrubber, error: OpenAIError) -> Failure {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
            Ok(http) => {
                let outcome = match http.status {
                    429 => AttemptOutcome::RateLimited,
                    408 => AttemptOutcome::Timeout,
                    500..=599 => AttemptOutcome::ServerError,
                    // Including 3xx: redirects are not followed.
                    _ => AttemptOutcome::ClientError,
                };
                Failure { outcome, message: http.to_string(), retry_after: http.retry_after }
            }
            Err(other) => match other.downcast::<GuardRefusal>() {
                Ok(refusal) => Failure::new(AttemptOutcome::ClientError, refusal.to_string()),
                Err(other) => Failure::new(AttemptOutcome::Network, scrubber.clean(&other.to_string())),
            },
        },
        OpenAIError::Reqwest(error) => {
            let outcome = if error.is_timeout() { AttemptOutcome::Timeout } else { AttemptOutcome::Network };
            Failure::new(outcome, scrubber.clean(&reqwest_message(error)))
        }
        OpenAIError::ApiError(api) => {
            let outcome = match api.status_code.as_u16() {
                429 => AttemptOutcome::RateLimited,
                500..=599 => AttemptOutcome::ServerError,
                _ => AttemptOutcome::ClientError,
            };
            Failure::new(
                outcome,
                scrubber.clean(&format!("http {}: {}", api.status_code.as_u16(), api.api_error.message)),
            )
        }
        // Only serde's description: the content may be long and is not ours to log.
        OpenAIError::JSONDeserialize(error, _content) => {
            Failure::new(AttemptOutcome::Malformed, format!("malformed answer: {error}"))
        }
        OpenAIError::StreamError(error) => {
            Failure::new(AttemptOutcome::Network, scrubber.clean(&format!("stream failed: {error}")))
        }
        other => Failure::new(AttemptOutcome::ClientError, scrubber.clean(&other.to_string())),
    }
}

/// A reqwest error and its causes, without the URL.
fn reqwest_message(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (HeaderName::from_static(name), HeaderValue::from_str(value).unwrap()))
            .collect()
    }

    #[test]
    fn reads_retry_after_in_its_three_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after(&headers(&[("retry-after", "3")]), now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "3")]), now),
            Some(Duration::from_millis(250))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(retry_after(&headers(&[("retry-after", &later)]), now), Some(Duration::from_secs(7)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(retry_after(&headers(&[("retry-after", &earlier)]), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn error_bodies_yield_their_message() {
        assert_eq!(error_message(br#"{"error": {"message": "bad key", "type": "auth"}}"#), "bad key");
        assert_eq!(error_message(br#"{"error": "overloaded"}"#), "overloaded");
        assert_eq!(error_message(b"<html>502</html>"), "<html>502</html>");
        assert_eq!(error_message(b"  "), "no details");
    }

    #[test]
    fn the_endpoint_sends_a_sensitive_key_only_when_there_is_one() {
        let endpoint = |key: &str| Endpoint {
            base_url: "http://localhost/v1".to_owned(),
            api_key: SecretString::from(key.to_owned()),
            headers: HeaderMap::new(),
        };
        let with_key = endpoint("sk-secret").headers();
        let authorization = with_key.get(AUTHORIZATION).unwrap();
        assert!(authorization.is_sensitive());
        assert!(!format!("{with_key:?}").contains("sk-secret"));
        assert!(endpoint("").headers().get(AUTHORIZATION).is_none());
    }
}
