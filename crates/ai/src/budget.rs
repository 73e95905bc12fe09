//! The budget hook: before every attempt the client asks a caller-supplied [`BudgetGuard`]
//! whether the attempt's worst-case cost ([`EstimatedCall`]) may be spent, so a call over
//! budget is refused before any request leaves. Where budgets are stored is the caller's
//! business; [`NoBudget`] and [`SpendLimit`] cover the simple cases.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::attempt::Attempt;

/// The worst case of the attempt about to be made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstimatedCall {
    /// The provider's configured id.
    pub provider: String,
    /// The model, as the provider names it.
    pub model: String,
    /// Estimated prompt tokens ([`crate::cost::estimate_prompt_tokens`]).
    pub prompt_tokens: u64,
    /// The `max_tokens` sent with the request: the completion cannot be longer.
    pub max_completion_tokens: u64,
    /// Cost of `prompt_tokens` and `max_completion_tokens` at the model's prices, micro-USD.
    pub max_cost_micro_usd: u64,
}

/// A guard's "no", with what it knows about the limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{reason}")]
pub struct BudgetRefusal {
    /// Lower-case explanation, shown to users (e.g. "project budget of 5000000 micro-usd
    /// reached").
    pub reason: String,
    /// The limit that would be crossed, micro-USD.
    pub limit_micro_usd: Option<u64>,
    /// What is left of it, micro-USD.
    pub remaining_micro_usd: Option<u64>,
}

/// The future a [`BudgetGuard`] answers with.
pub type Admission<'a> = Pin<Box<dyn Future<Output = Result<(), BudgetRefusal>> + Send + 'a>>;

/// Decides, before each attempt, whether its worst-case cost may be spent.
///
/// A refusal skips that candidate (a cheaper fallback may still fit); when every candidate
/// the client reaches is refused, the call fails with [`crate::AiError::BudgetExceeded`].
pub trait BudgetGuard: Send + Sync {
    /// Admits or refuses the attempt described by `call`.
    fn admit<'a>(&'a self, call: &'a EstimatedCall) -> Admission<'a>;

    /// Told about every attempt once it has ended, with its actual cost, so a guard can track
    /// spend within a call. Does nothing by default.
    fn record(&self, attempt: &Attempt) {
        let _ = attempt;
    }
}

/// Admits everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBudget;

impl BudgetGuard for NoBudget {
    fn admit<'a>(&'a self, _call: &'a EstimatedCall) -> Admission<'a> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A spending limit for one execution (every attempt of every turn): refuses an attempt whose
/// worst case would take the recorded spend past the limit.
#[derive(Debug)]
pub struct SpendLimit {
    limit_micro_usd: u64,
    spent_micro_usd: AtomicU64,
}

impl SpendLimit {
    /// A limit of `limit_micro_usd`, nothing spent yet.
    pub fn new(limit_micro_usd: u64) -> Self {
        Self { limit_micro_usd, spent_micro_usd: AtomicU64::new(0) }
    }

    /// What the recorded attempts cost so far, micro-USD.
    pub fn spent_micro_usd(&self) -> u64 {
        self.spent_micro_usd.load(Ordering::Relaxed)
    }
}

impl BudgetGuard for SpendLimit {
    fn admit<'a>(&'a self, call: &'a EstimatedCall) -> Admission<'a> {
        let remaining = self.limit_micro_usd.saturating_sub(self.spent_micro_usd());
        let verdict = if call.max_cost_micro_usd <= remaining {
            Ok(())
        } else {
            Err(BudgetRefusal {
                reason: format!(
                    "`{}` may cost up to {} micro-usd, more than the {} micro-usd left of the limit",
                    call.model, call.max_cost_micro_usd, remaining
                ),
                limit_micro_usd: Some(self.limit_micro_usd),
                remaining_micro_usd: Some(remaining),
            })
        };
        Box::pin(std::future::ready(verdict))
    }

    fn record(&self, attempt: &Attempt) {
        self.spent_micro_usd.fetch_add(attempt.cost_micro_usd, Ordering::Relaxed);
    }
}
