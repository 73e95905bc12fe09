//! Errors of outbound requests, and the classes the engine's retry policy works with.
//!
//! Messages name the origin (`scheme://host:port`) only: never header values, the query or
//! the path, any of which may carry secrets.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::guard::Refusal;

/// Kinds of failure of an outbound request. The names match the engine's retry classes
/// (`weft_core::workflow::ErrorClass`), plus `refused`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorClass {
    /// The request ran out of time.
    Timeout,
    /// The connection could not be made or broke, or DNS failed.
    Network,
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx.
    ServerError,
    /// HTTP 4xx other than 429.
    ClientError,
    /// The SSRF guard refused the destination, or the URL scheme is not http(s).
    Refused,
    /// Anything else: invalid requests, oversized or malformed responses, redirect loops.
    Other,
}

impl ErrorClass {
    /// Whether a failure of this class is worth retrying when the node says nothing.
    pub fn retryable_default(self) -> bool {
        matches!(self, Self::Timeout | Self::Network | Self::RateLimited | Self::ServerError)
    }

    /// The retry class a node's retry policy matches on; a refusal counts as `other`.
    pub fn retry_class(self) -> weft_core::workflow::ErrorClass {
        use weft_core::workflow::ErrorClass as Retry;
        match self {
            Self::Timeout => Retry::Timeout,
            Self::Network => Retry::Network,
            Self::RateLimited => Retry::RateLimited,
            Self::ServerError => Retry::ServerError,
            Self::ClientError => Retry::ClientError,
            Self::Refused | Self::Other => Retry::Other,
        }
    }
}

/// A failed outbound request.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The SSRF guard refused the URL, a redirect target or every resolved address.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The whole exchange (connect, redirects, body) took longer than the request's timeout.
    #[error("request to {origin} timed out after {} ms", after.as_millis())]
    Timeout {
        /// Origin of the URL being fetched.
        origin: String,
        /// The timeout.
        after: Duration,
    },
    /// Connecting, DNS, TLS or the transfer failed.
    #[error("request to {origin} failed: {detail}")]
    Network {
        /// Origin of the URL being fetched.
        origin: String,
        /// The transport's error chain.
        detail: String,
    },
    /// A status outside 200–299 with `fail_on_status`.
    #[error("{origin} answered {}{}", status_line(*status), snippet_suffix(snippet))]
    Status {
        /// Origin of the URL that answered.
        origin: String,
        /// The status code.
        status: u16,
        /// The `Retry-After` header, as a delay from now.
        retry_after: Option<Duration>,
        /// The start of the response body.
        snippet: String,
    },
    /// The response body is larger than `max_bytes`.
    #[error("response from {origin} is larger than the limit of {max_bytes} bytes")]
    TooLarge {
        /// Origin of the URL that answered.
        origin: String,
        /// The limit.
        max_bytes: u64,
    },
    /// The response format is JSON and the body is not.
    #[error("response from {origin} is not valid JSON: {detail}")]
    InvalidJson {
        /// Origin of the URL that answered.
        origin: String,
        /// The parser's error.
        detail: String,
    },
    /// A redirect chain longer than allowed, or a redirect without a usable target.
    #[error("{detail} (last redirect from {origin})")]
    Redirect {
        /// Origin of the URL that redirected.
        origin: String,
        /// What went wrong.
        detail: String,
    },
    /// The request could not be built: bad URL, header name or header value.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl HttpError {
    /// The class the engine's retry policy matches on.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Refused(_) => ErrorClass::Refused,
            Self::Timeout { .. } => ErrorClass::Timeout,
            Self::Network { .. } => ErrorClass::Network,
            Self::Status { status: 429, .. } => ErrorClass::RateLimited,
            Self::Status { status: 500..=599, .. } => ErrorClass::ServerError,
            Self::Status { status: 400..=499, .. } => ErrorClass::ClientError,
            Self::Status { .. }
            | Self::TooLarge { .. }
            | Self::InvalidJson { .. }
            | Self::Redirect { .. }
            | Self::InvalidRequest(_) => ErrorClass::Other,
        }
    }

    /// Whether this failure is worth retrying when the node says nothing.
    pub fn retryable_default(&self) -> bool {
        self.class().retryable_default()
    }

    /// How long the server asked to wait before retrying (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The response status, for status errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn status_line(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason());
    match reason {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

fn snippet_suffix(snippet: &str) -> String {
    if snippet.is_empty() { String::new() } else { format!(": {snippet}") }
}

/// Parses `Retry-After`: delay seconds or an HTTP date (a past date means now).
pub(crate) fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.to_utc() - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_serialize_as_the_retry_policy_names() {
        let names: Vec<String> = [
            ErrorClass::Timeout,
            ErrorClass::Network,
            ErrorClass::RateLimited,
            ErrorClass::ServerError,
            ErrorClass::ClientError,
            ErrorClass::Refused,
            ErrorClass::Other,
        ]
        .iter()
        .map(|class| serde_json::to_string(class).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "\"timeout\"",
                "\"network\"",
                "\"rateLimited\"",
                "\"serverError\"",
                "\"clientError\"",
                "\"refused\"",
                "\"other\""
            ]
        );
        for class in [ErrorClass::Timeout, ErrorClass::ServerError, ErrorClass::ClientError] {
            let retry = serde_json::to_value(class.retry_class()).unwrap();
            assert_eq!(retry, serde_json::to_value(class).unwrap());
        }
        assert_eq!(ErrorClass::Refused.retry_class(), weft_core::workflow::ErrorClass::Other);
    }

    #[test]
    fn status_errors_are_classified_by_code() {
        let status = |status| HttpError::Status {
            origin: "http://x".into(),
            status,
            retry_after: None,
            snippet: String::new(),
        };
        assert_eq!(status(429).class(), ErrorClass::RateLimited);
        assert_eq!(status(503).class(), ErrorClass::ServerError);
        assert_eq!(status(404).class(), ErrorClass::ClientError);
        assert_eq!(status(304).class(), ErrorClass::Other);
        assert!(status(502).retryable_default());
        assert!(!status(400).retryable_default());
        assert_eq!(status(404).to_string(), "http://x answered HTTP 404 Not Found");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z").unwrap().to_utc();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
