//! [`Attempt`]: the record of one request to one provider, successful or not, from which the
//! caller writes its usage rows.

use serde::{Deserialize, Serialize};
use weft_core::workflow::ErrorClass;

/// One request sent to a provider (a fallback or a Retry-After retry is another attempt).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// The provider's configured id.
    pub provider: String,
    /// The model, as the provider names it.
    pub model: String,
    /// Prompt tokens (the provider's count, or an estimate when `usage_estimated`).
    pub prompt_tokens: u64,
    /// Completion tokens (the provider's count, or an estimate when `usage_estimated`).
    pub completion_tokens: u64,
    /// The provider reported no usage and the counts are estimates
    /// (see [`crate::cost::estimate_tokens`]).
    pub usage_estimated: bool,
    /// Cost at the catalogue's prices, in micro-USD (see [`crate::cost::cost_micro_usd`]).
    /// Attempts that ended without an answer (timeouts, HTTP errors) cost 0: the provider
    /// reports nothing for them.
    pub cost_micro_usd: u64,
    /// From sending the request to the end of the answer, in milliseconds.
    pub latency_ms: u64,
    /// How the attempt ended.
    pub outcome: AttemptOutcome,
    /// Why it failed, sanitised (no secrets, provider bodies truncated); `None` when ok.
    pub detail: Option<String>,
}

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttemptOutcome {
    /// An answer was received.
    Ok,
    /// No answer (or no further stream chunk) within the attempt timeout.
    Timeout,
    /// The connection failed or broke.
    Network,
    /// HTTP 429 or a provider rate-limit error.
    RateLimited,
    /// HTTP 5xx, or the provider reported an error instead of an answer.
    ServerError,
    /// HTTP 4xx other than 429 (a bad key, a request the provider rejects).
    ClientError,
    /// The model declined: finish reason `content_filter` or a `refusal` message.
    Refused,
    /// The answer could not be parsed as a chat completion.
    Malformed,
}

impl AttemptOutcome {
    /// The stable camelCase name (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::RateLimited => "rateLimited",
            Self::ServerError => "serverError",
            Self::ClientError => "clientError",
            Self::Refused => "refused",
            Self::Malformed => "malformed",
        }
    }

    /// Whether the attempt produced the answer.
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }

    /// Whether the failure says the provider is unhealthy, and so counts towards opening its
    /// circuit breaker. Refusals and 4xx answers show a working provider.
    pub fn counts_against_provider(self) -> bool {
        match self {
            Self::Timeout | Self::Network | Self::RateLimited | Self::ServerError | Self::Malformed => true,
            Self::Ok | Self::ClientError | Self::Refused => false,
        }
    }

    /// The workflow retry class of a failure; `None` for [`AttemptOutcome::Ok`].
    pub fn error_class(self) -> Option<ErrorClass> {
        match self {
            Self::Ok => None,
            Self::Timeout => Some(ErrorClass::Timeout),
            Self::Network => Some(ErrorClass::Network),
            Self::RateLimited => Some(ErrorClass::RateLimited),
            // A garbled answer is the provider's fault and usually passes.
            Self::ServerError | Self::Malformed => Some(ErrorClass::ServerError),
            Self::ClientError => Some(ErrorClass::ClientError),
            Self::Refused => Some(ErrorClass::Other),
        }
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sum of the attempts' costs, in micro-USD.
pub fn total_cost_micro_usd(attempts: &[Attempt]) -> u64 {
    attempts.iter().fold(0_u64, |sum, attempt| sum.saturating_add(attempt.cost_micro_usd))
}
