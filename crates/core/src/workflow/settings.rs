//! Settings every node type shares: retry policy, per-attempt timeout and what happens when
//! the node fails. They live beside the config (`node.settings`) rather than inside each
//! config so that the engine handles them in one place and editors show one form for them.
//!
//! Failure handling, in order: a failed attempt is retried while the policy allows; when the
//! node has given up, its `error` output port fires if any edge leaves it (the error is the
//! port's output, the regular ports are skipped); otherwise, with `continueOnFail`, the
//! regular ports fire with `{ "error": … }` as the output; otherwise the run fails.

use serde::{Deserialize, Serialize};

use super::nodes::ConfigIssues;

/// Most attempts a retry policy may ask for.
pub const MAX_RETRY_ATTEMPTS: u32 = 20;
/// Longest per-attempt timeout and retry delay: one day, in milliseconds.
pub const MAX_NODE_TIMEOUT_MS: u64 = 24 * 3600 * 1000;

/// Retry policy, timeout and failure handling of one node. All fields are optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeSettings {
    /// How failed attempts are retried; absent means one attempt only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry: Option<RetryPolicy>,
    /// Limit on each attempt, in milliseconds; absent means the engine's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub timeout_ms: Option<u64>,
    /// When the node has given up and no edge leaves its `error` port, continue the run
    /// with `{ "error": … }` as the node's output instead of failing the run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_fail: bool,
}

impl NodeSettings {
    /// Whether every setting has its default (then `settings` is left out of the JSON).
    pub fn is_default(&self) -> bool {
        *self == NodeSettings::default()
    }

    pub(crate) fn check(&self, issues: &mut ConfigIssues) {
        if let Some(timeout_ms) = self.timeout_ms {
            issues.range_u64("timeoutMs", timeout_ms, 1, MAX_NODE_TIMEOUT_MS);
        }
        if let Some(retry) = &self.retry {
            retry.check(issues);
        }
    }
}

/// Kinds of failure, as the engine classifies them, that a retry policy may retry.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ErrorClass {
    /// The attempt ran out of time.
    Timeout,
    /// The connection could not be made or broke.
    Network,
    /// The remote side asked to slow down (HTTP 429, provider rate limits).
    RateLimited,
    /// The remote side failed (HTTP 5xx, provider outages).
    ServerError,
    /// The remote side refused the request (HTTP 4xx other than 429).
    ClientError,
    /// A template or expression went past one of the evaluation limits (`WEFT_TEMPLATE_*`):
    /// trying again would meet it again.
    Limit,
    /// Anything else, including template and expression errors.
    Other,
}

/// A node's or a run's failure as stored and shown (`Run.error`, a step's `error`, the
/// `node.failed` and `run.failed` events). The engine writes it; this type documents its shape
/// for clients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepError {
    /// Kind of failure.
    pub class: ErrorClass,
    /// What happened (never a secret).
    pub message: String,
    /// The HTTP status, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub status: Option<u16>,
    /// With class `limit`: the setting whose limit was reached (`WEFT_TEMPLATE_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit: Option<String>,
    /// On a run's error: the node that failed (absent when the run itself timed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub node_id: Option<String>,
}

fn default_retry_on() -> Vec<ErrorClass> {
    vec![ErrorClass::Timeout, ErrorClass::Network, ErrorClass::RateLimited, ErrorClass::ServerError]
}

fn is_default_retry_on(value: &[ErrorClass]) -> bool {
    value == default_retry_on().as_slice()
}

/// Exponential backoff with full jitter: before attempt `k + 1` the engine waits a random
/// time between 0 and `min(maxDelayMs, initialDelayMs × multiplier^(k-1))` (or exactly that
/// time when `jitter` is off).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 to 20).
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds.
    pub initial_delay_ms: u64,
    /// Upper bound of any delay, in milliseconds.
    pub max_delay_ms: u64,
    /// Growth factor between delays (1 to 10); 2 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub multiplier: Option<f64>,
    /// Randomise delays (full jitter); on when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub jitter: Option<bool>,
    /// Which failures are retried; the rest fail at once. Defaults to the transient ones:
    /// `timeout`, `network`, `rateLimited`, `serverError`.
    #[serde(default = "default_retry_on", skip_serializing_if = "is_default_retry_on")]
    pub retry_on: Vec<ErrorClass>,
}

impl RetryPolicy {
    fn check(&self, issues: &mut ConfigIssues) {
        issues.range_u64("retry.maxAttempts", u64::from(self.max_attempts), 1, u64::from(MAX_RETRY_ATTEMPTS));
        issues.range_u64("retry.initialDelayMs", self.initial_delay_ms, 0, MAX_NODE_TIMEOUT_MS);
        issues.range_u64("retry.maxDelayMs", self.max_delay_ms, 0, MAX_NODE_TIMEOUT_MS);
        if self.max_delay_ms < self.initial_delay_ms {
            issues.invalid("retry.maxDelayMs", "must be at least initialDelayMs");
        }
        if let Some(multiplier) = self.multiplier {
            issues.range_f64("retry.multiplier", multiplier, 1.0, 10.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_left_out_of_json() {
        assert_eq!(serde_json::to_value(NodeSettings::default()).unwrap(), serde_json::json!({}));
        let retry: RetryPolicy = serde_json::from_value(
            serde_json::json!({"maxAttempts": 3, "initialDelayMs": 100, "maxDelayMs": 1000}),
        )
        .unwrap();
        assert_eq!(retry.retry_on, default_retry_on());
        assert_eq!(
            serde_json::to_value(&retry).unwrap(),
            serde_json::json!({"maxAttempts": 3, "initialDelayMs": 100, "maxDelayMs": 1000})
        );
    }

    #[test]
    fn settings_are_checked() {
        let settings = NodeSettings {
            retry: Some(RetryPolicy {
                max_attempts: 0,
                initial_delay_ms: 500,
                max_delay_ms: 100,
                multiplier: Some(0.5),
                jitter: None,
                retry_on: vec![],
            }),
            timeout_ms: Some(0),
            continue_on_fail: true,
        };
        let mut issues = ConfigIssues::default();
        settings.check(&mut issues);
        let paths: Vec<_> = issues.items.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["timeoutMs", "retry.maxAttempts", "retry.maxDelayMs", "retry.multiplier"]);
    }
}
