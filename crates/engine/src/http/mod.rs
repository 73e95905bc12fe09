//! Outbound HTTP for the `http` node: one shared client behind the SSRF guard.
//!
//! [`OutboundHttp::send`] follows redirects itself (reqwest's are off) so that every hop is
//! checked by the [`OutboundPolicy`]; host names are resolved by the guard's resolver, so the
//! connection only ever uses checked addresses. Failures carry an [`ErrorClass`] for the
//! engine's retry policy.

mod address;
mod error;
mod guard;
mod request;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use url::Url;

pub use address::{AddressKind, classify_ip};
pub use error::{ErrorClass, HttpError};
pub use guard::{
    ALLOW_HOSTS_SETTING, ALLOW_PRIVATE_SETTING, HostCheck, InvalidAllowEntry, LookupError, OutboundPolicy,
    Refusal,
};
pub use request::{
    DEFAULT_TIMEOUT, HttpMethod, OutboundBody, OutboundRequest, OutboundResponse, ResponseFormat,
};

use guard::GuardedResolver;
use request::{EncodedBody, ResponseSpec, header_map, origin, read_response};

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;
/// Limit for establishing a connection (TCP and TLS), within the request's own timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers that must not follow a redirect to another origin.
const CREDENTIAL_HEADERS: [header::HeaderName; 3] =
    [header::AUTHORIZATION, header::PROXY_AUTHORIZATION, header::COOKIE];

/// The outbound client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("failed to build the outbound http client: {0}")]
pub struct ClientBuildError(#[source] reqwest::Error);

/// The engine's outbound HTTP client. Cheap to clone; clones share connections.
#[derive(Clone, Debug)]
pub struct OutboundHttp {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

impl OutboundHttp {
    /// Builds the client: rustls with the ring provider and the platform's roots, no proxy
    /// from the environment, no automatic redirects, the guard's DNS resolver.
    pub fn new(policy: OutboundPolicy) -> Result<Self, ClientBuildError> {
        // reqwest is built without a crypto provider; another crate may have installed one
        // already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(CONNECT_TIMEOUT)
            .dns_resolver(GuardedResolver { policy: Arc::clone(&policy) })
            .build()
            .map_err(ClientBuildError)?;
        Ok(Self { client, policy })
    }

    /// The policy requests are checked against.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// The DNS resolver of outbound clients: hands out only addresses the policy allows.
    pub fn resolver(policy: &OutboundPolicy) -> Arc<dyn reqwest::dns::Resolve> {
        Arc::new(GuardedResolver { policy: Arc::new(policy.clone()) })
    }

    /// Sends a request, following up to [`MAX_REDIRECTS`] redirects, and reads the response.
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, HttpError> {
        let timeout = request.timeout;
        match tokio::time::timeout(timeout, self.exchange(&request)).await {
            Ok(result) => result,
            Err(_elapsed) => {
                let origin = Url::parse(&request.url).map(|url| origin(&url)).unwrap_or_default();
                Err(HttpError::Timeout { origin, after: timeout })
            }
        }
    }

    async fn exchange(&self, request: &OutboundRequest) -> Result<OutboundResponse, HttpError> {
        let mut url = request_url(request)?;
        let mut hop = Hop {
            method: method(request.method),
            headers: header_map(request)?,
            body: request.body.as_ref().map(OutboundBody::encode).transpose()?,
            secret_headers: request
                .secret_headers
                .iter()
                .filter_map(|name| header::HeaderName::from_bytes(name.as_bytes()).ok())
                .collect(),
        };
        let spec = ResponseSpec {
            format: request.response_format,
            max_bytes: request.max_bytes,
            fail_on_status: request.fail_on_status,
            timeout: request.timeout,
        };
        let mut n_redirects = 0;
        loop {
            self.check(&url).await?;
            let response = self.send_once(&url, &hop, request.timeout).await?;
            let Some(next) = redirect_target(&response, &url)? else {
                return read_response(response, spec, &origin(&url)).await;
            };
            if n_redirects == MAX_REDIRECTS {
                return Err(HttpError::Redirect {
                    origin: origin(&url),
                    detail: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            n_redirects += 1;
            hop.follow(response.status(), url.origin() == next.origin());
            tracing::debug!(from = %origin(&url), to = %origin(&next), "following redirect");
            url = next;
        }
    }

    /// Checks a URL against the policy; names are checked again by the resolver.
    async fn check(&self, url: &Url) -> Result<(), HttpError> {
        match self.policy.check_url(url)? {
            HostCheck::Allowed | HostCheck::AtResolution => Ok(()),
            HostCheck::LookupFirst(host) => match self.policy.lookup(&host, false).await {
                Ok(_) => Ok(()),
                Err(LookupError::Refused(refusal)) => Err(refusal.into()),
                Err(err @ LookupError::Dns { .. }) => {
                    Err(HttpError::Network { origin: origin(url), detail: err.to_string() })
                }
            },
        }
    }

    async fn send_once(
        &self,
        url: &Url,
        hop: &Hop,
        timeout: Duration,
    ) -> Result<reqwest::Response, HttpError> {
        let mut builder = self.client.request(hop.method.clone(), url.clone()).headers(hop.headers.clone());
        if let Some(body) = &hop.body {
            if !hop.headers.contains_key(header::CONTENT_TYPE) {
                builder = builder.header(header::CONTENT_TYPE, body.content_type);
            }
            builder = builder.body(body.bytes.clone());
        }
        builder.send().await.map_err(|err| transport_error(err, &origin(url), timeout))
    }
}

/// What is sent to each URL of a redirect chain.
struct Hop {
    method: Method,
    headers: HeaderMap,
    body: Option<EncodedBody>,
    /// Credential headers of the request besides the standard ones.
    secret_headers: Vec<header::HeaderName>,
}

impl Hop {
    /// 301/302/303 turn into a `GET` without body (`HEAD` stays); 307/308 resend as is.
    fn follow(&mut self, status: StatusCode, same_origin: bool) {
        let keeps_request = matches!(status, StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT);
        if !keeps_request && self.method != Method::HEAD {
            self.method = Method::GET;
            self.body = None;
            self.headers.remove(header::CONTENT_TYPE);
        }
        if !same_origin {
            for name in CREDENTIAL_HEADERS.iter().chain(&self.secret_headers) {
                self.headers.remove(name);
            }
        }
    }
}

fn method(method: HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
    }
}

/// The URL with the request's query parameters appended.
fn request_url(request: &OutboundRequest) -> Result<Url, HttpError> {
    let mut url = Url::parse(request.url.trim())
        .map_err(|err| HttpError::InvalidRequest(format!("invalid url: {err}")))?;
    if !request.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&request.query);
    }
    Ok(url)
}

/// The next URL when the response is a redirect that can be followed.
fn redirect_target(response: &reqwest::Response, url: &Url) -> Result<Option<Url>, HttpError> {
    let followed = [
        StatusCode::MOVED_PERMANENTLY,
        StatusCode::FOUND,
        StatusCode::SEE_OTHER,
        StatusCode::TEMPORARY_REDIRECT,
        StatusCode::PERMANENT_REDIRECT,
    ];
    if !followed.contains(&response.status()) {
        return Ok(None);
    }
    let invalid = |detail: &str| HttpError::Redirect { origin: origin(url), detail: detail.to_owned() };
    let location = response
        .headers()
        .get(header::LOCATION)
        .ok_or_else(|| invalid("redirect without a Location header"))?
        .to_str()
        .map_err(|_| invalid("redirect Location is not valid text"))?;
    url.join(location).map(Some).map_err(|_| invalid("redirect Location is not a valid URL"))
}

/// Classifies a reqwest error. The URL is dropped from it: its query may hold secrets.
pub(crate) fn transport_error(err: reqwest::Error, origin: &str, timeout: Duration) -> HttpError {
    if let Some(refusal) = find_refusal(&err) {
        return HttpError::Refused(refusal);
    }
    if err.is_timeout() {
        let after = if err.is_connect() { CONNECT_TIMEOUT.min(timeout) } else { timeout };
        return HttpError::Timeout { origin: origin.to_owned(), after };
    }
    let is_builder = err.is_builder();
    let detail = error_chain(&err.without_url());
    if is_builder {
        return HttpError::InvalidRequest(detail);
    }
    HttpError::Network { origin: origin.to_owned(), detail }
}

/// The guard's refusal, when the resolver refused every address of a name.
fn find_refusal(err: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(refusal) = err.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        if let Some(LookupError::Refused(refusal)) = err.downcast_ref::<LookupError>() {
            return Some(refusal.clone());
        }
        current = err.source();
    }
    None
}

/// An error and its causes, joined with ": ", repeats dropped.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(err) = current {
        let part = err.to_string();
        if parts.last().is_none_or(|last| !last.contains(&part)) {
            parts.push(part);
        }
        current = err.source();
    }
    parts.join(": ")
}
