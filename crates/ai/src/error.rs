//! [`AiError`], everything a call into this crate can fail with, and the attempts that
//! failed calls still made (so their spend is recorded).
//!
//! Messages are lower case and never carry secrets: provider error bodies reach them only
//! after [`crate::transport`] has truncated them and scrubbed the API key out.

use weft_core::workflow::{ErrorClass, GraphIssue};

use crate::attempt::Attempt;
use crate::budget::BudgetRefusal;

/// What went wrong with a call. Every variant that can follow spending carries the attempts
/// made, so the caller can record them as usage rows.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// No provider is configured (or none serves the requested model).
    #[error("ai is not configured: {reason}")]
    NotConfigured {
        /// What is missing.
        reason: String,
    },
    /// The settings are inconsistent (a bad header, a negative price, a duplicate model).
    #[error("invalid ai configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The request itself is unusable (no messages, a JSON Schema that does not compile).
    #[error("invalid ai request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
    /// The named model is not in the catalogue.
    #[error("unknown model `{model}`")]
    UnknownModel {
        /// The name asked for.
        model: String,
    },
    /// No model in the catalogue fits the task and the cost ceiling.
    #[error("no model fits: {reason}")]
    NoModel {
        /// Why nothing fits.
        reason: String,
    },
    /// The budget guard refused every candidate the client got to, before any spend on them.
    #[error("budget exceeded: {refusal}")]
    BudgetExceeded {
        /// The guard's last refusal.
        refusal: BudgetRefusal,
        /// Attempts made before the refusal (earlier turns of a structured call).
        attempts: Vec<Attempt>,
    },
    /// Every candidate failed, was skipped by its circuit breaker or refused by the budget.
    #[error("all providers failed after {} attempt(s): {last_error}", attempts.len())]
    AllProvidersFailed {
        /// Every attempt made, failed ones included.
        attempts: Vec<Attempt>,
        /// Why the last candidate failed.
        last_error: String,
    },
    /// A streamed answer broke after tokens had reached the caller; no fallback is tried,
    /// since the caller already holds part of this answer.
    #[error("the answer from `{provider}` broke off while streaming: {reason}")]
    StreamInterrupted {
        /// The provider whose stream broke.
        provider: String,
        /// What broke it.
        reason: String,
        /// Every attempt made, the interrupted one included.
        attempts: Vec<Attempt>,
    },
    /// Structured output stayed invalid after every repair turn.
    #[error("invalid output after {n_repairs} repair turn(s): {}", errors.join("; "))]
    InvalidOutput {
        /// The last answer's parse or validation errors.
        errors: Vec<String>,
        /// Repair turns sent.
        n_repairs: u32,
        /// Every attempt of every turn.
        attempts: Vec<Attempt>,
    },
    /// A generated workflow (or every suggested node) stayed invalid after every repair
    /// turn.
    #[error("invalid workflow after {n_repairs} repair turn(s): {}", summary(issues))]
    InvalidWorkflow {
        /// The last answer's issues: parser and validator issues with their paths inside the
        /// graph (`nodes[2].config.url`; `suggestions[0].node…` for suggestions).
        issues: Vec<GraphIssue>,
        /// Repair turns sent.
        n_repairs: u32,
        /// Every attempt of every turn.
        attempts: Vec<Attempt>,
    },
    /// The outbound address policy ([`crate::UrlGuard`]) refused the base URL of every
    /// provider the call could use; nothing was sent.
    #[error("provider `{provider}` may not be contacted: {reason}")]
    UrlRefused {
        /// The (first) refused provider's id.
        provider: String,
        /// The guard's reason, free of secrets.
        reason: String,
    },
    /// The catalogue could not be refreshed from a provider's model list.
    #[error("catalogue refresh from `{provider}` failed: {reason}")]
    CatalogueRefresh {
        /// The provider asked.
        provider: String,
        /// Why it failed.
        reason: String,
    },
}

impl AiError {
    /// A stable camelCase name of the variant, for wire error codes and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotConfigured { .. } => "notConfigured",
            Self::InvalidConfig { .. } => "invalidConfig",
            Self::InvalidRequest { .. } => "invalidRequest",
            Self::UnknownModel { .. } => "unknownModel",
            Self::NoModel { .. } => "noModel",
            Self::BudgetExceeded { .. } => "budgetExceeded",
            Self::AllProvidersFailed { .. } => "allProvidersFailed",
            Self::StreamInterrupted { .. } => "streamInterrupted",
            Self::InvalidOutput { .. } => "invalidOutput",
            Self::InvalidWorkflow { .. } => "invalidWorkflow",
            Self::UrlRefused { .. } => "urlRefused",
            Self::CatalogueRefresh { .. } => "catalogueRefresh",
        }
    }

    /// The attempts made before the call failed (empty when none was).
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            Self::BudgetExceeded { attempts, .. }
            | Self::AllProvidersFailed { attempts, .. }
            | Self::StreamInterrupted { attempts, .. }
            | Self::InvalidOutput { attempts, .. }
            | Self::InvalidWorkflow { attempts, .. } => attempts,
            Self::NotConfigured { .. }
            | Self::InvalidConfig { .. }
            | Self::InvalidRequest { .. }
            | Self::UnknownModel { .. }
            | Self::NoModel { .. }
            | Self::UrlRefused { .. }
            | Self::CatalogueRefresh { .. } => &[],
        }
    }

    /// How a workflow retry policy should see this failure: transient provider trouble maps
    /// to its class (`timeout`, `rateLimited`, ...); configuration, budget and output errors
    /// are `other`, which retries do not cure.
    pub fn error_class(&self) -> ErrorClass {
        match self {
            Self::AllProvidersFailed { attempts, .. } => attempts
                .last()
                .and_then(|attempt| attempt.outcome.error_class())
                // Only breakers were open: the providers are known to be failing.
                .unwrap_or(ErrorClass::ServerError),
            Self::StreamInterrupted { .. } | Self::CatalogueRefresh { .. } => ErrorClass::Network,
            Self::NotConfigured { .. }
            | Self::InvalidConfig { .. }
            | Self::InvalidRequest { .. }
            | Self::UnknownModel { .. }
            | Self::NoModel { .. }
            | Self::UrlRefused { .. }
            | Self::BudgetExceeded { .. }
            | Self::InvalidOutput { .. }
            | Self::InvalidWorkflow { .. } => ErrorClass::Other,
        }
    }

    /// Puts `earlier` (attempts of previous turns) in front of this error's attempts, so a
    /// multi-turn call reports all its spend.
    pub(crate) fn with_earlier_attempts(mut self, mut earlier: Vec<Attempt>) -> Self {
        if earlier.is_empty() {
            return self;
        }
        match &mut self {
            Self::BudgetExceeded { attempts, .. }
            | Self::AllProvidersFailed { attempts, .. }
            | Self::StreamInterrupted { attempts, .. }
            | Self::InvalidOutput { attempts, .. }
            | Self::InvalidWorkflow { attempts, .. } => {
                earlier.append(attempts);
                *attempts = earlier;
            }
            // Routing changed between turns (the catalogue was refreshed): keep the spend.
            Self::NotConfigured { .. }
            | Self::InvalidConfig { .. }
            | Self::InvalidRequest { .. }
            | Self::UnknownModel { .. }
            | Self::NoModel { .. }
            | Self::UrlRefused { .. }
            | Self::CatalogueRefresh { .. } => {
                return Self::AllProvidersFailed { attempts: earlier, last_error: self.to_string() };
            }
        }
        self
    }
}

/// The first few issues, `path: message`.
fn summary(issues: &[GraphIssue]) -> String {
    const SHOWN: usize = 5;
    let mut parts: Vec<String> = issues
        .iter()
        .take(SHOWN)
        .map(|issue| match issue.path.as_str() {
            "" => issue.message.clone(),
            path => format!("{path}: {}", issue.message),
        })
        .collect();
    if issues.len() > SHOWN {
        parts.push(format!("{} more", issues.len() - SHOWN));
    }
    parts.join("; ")
}
