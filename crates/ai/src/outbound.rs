//! Outbound addresses. Provider base URLs may come from project editors (stored credentials),
//! so the server's SSRF policy must apply to them; that policy lives in the engine, which
//! depends on this crate, so it comes in by injection: a DNS resolver
//! ([`crate::AiConfig::resolver`], used for every connection) and a [`UrlGuard`]
//! ([`crate::AiConfig::url_guard`], asked before every request, which covers IP-literal
//! hosts that never reach a resolver). Redirects are never followed (see
//! [`crate::transport`]). Reasons and URLs shown in errors and `Debug` carry no secret.

use std::sync::Arc;

use reqwest::Url;

use crate::sanitize::Scrubber;

/// A URL fit for logs and `Debug`: without user name, password and query (any of which may
/// carry a key), or `[invalid url]`.
pub(crate) fn display_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw.trim()) else {
        return "[invalid url]".to_owned();
    };
    if !url.username().is_empty() || url.password().is_some() {
        // Only fails for URLs that cannot have credentials, which then have none.
        let _ = url.set_username("redacted");
        let _ = url.set_password(None);
    }
    if url.query().is_some() {
        url.set_query(Some("redacted"));
    }
    url.set_fragment(None);
    url.to_string()
}

/// Decides whether a provider base URL may be contacted: the server's outbound-address
/// (SSRF) policy, injected by the crate that owns it. Called before every request with the
/// provider's base URL, so IP-literal hosts (which never reach a resolver) are checked too;
/// host names are checked again at connection time by [`crate::AiConfig::resolver`].
///
/// Any `Fn(&Url) -> Result<(), String> + Send + Sync` is a guard. The reason is shown in
/// errors after the provider's secrets are scrubbed out: it should name the host or address,
/// never the whole URL.
pub trait UrlGuard: Send + Sync {
    /// `Ok` when `url` may be contacted, otherwise why not (lower case).
    fn check(&self, url: &Url) -> Result<(), String>;
}

impl<F> UrlGuard for F
where
    F: Fn(&Url) -> Result<(), String> + Send + Sync,
{
    fn check(&self, url: &Url) -> Result<(), String> {
        self(url)
    }
}

/// A provider's [`UrlGuard`], with what it takes to report a refusal cleanly.
#[derive(Clone)]
pub(crate) struct ProviderGuard {
    guard: Arc<dyn UrlGuard>,
    base_url: Url,
    scrubber: Arc<Scrubber>,
}

impl ProviderGuard {
    pub(crate) fn new(guard: Arc<dyn UrlGuard>, base_url: Url, scrubber: Arc<Scrubber>) -> Self {
        Self { guard, base_url, scrubber }
    }

    /// The guard's verdict on the provider's base URL.
    pub(crate) fn check_base_url(&self) -> Result<(), String> {
        self.check(&self.base_url)
    }

    /// The guard's verdict on `url`, its reason free of the URL's credentials and the
    /// provider's secrets.
    pub(crate) fn check(&self, url: &Url) -> Result<(), String> {
        self.guard.check(url).map_err(|reason| {
            let reason = reason.replace(url.as_str(), &display_url(url.as_str()));
            self.scrubber.clean(&reason)
        })
    }
}

/// A request the [`UrlGuard`] refused, carried through async-openai as a boxed error.
#[derive(Debug, thiserror::Error)]
#[error("refused by the outbound address policy: {reason}")]
pub(crate) struct GuardRefusal {
    reason: String,
}

impl GuardRefusal {
    pub(crate) fn new(reason: String) -> Self {
        Self { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        assert_eq!(
            display_url("https://user:pw-123@api.example/v1?key=abc#x"),
            "https://redacted@api.example/v1?redacted"
        );
        assert_eq!(display_url(" http://127.0.0.1:8080/v1 "), "http://127.0.0.1:8080/v1");
        assert_eq!(display_url("not a url"), "[invalid url]");
    }
}
