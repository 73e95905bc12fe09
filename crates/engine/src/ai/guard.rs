//! The budget guard of one AI call: the user's and the project's budgets (per day and per
//! month, from the store), and the node's own ceiling for one execution. An attempt is
//! admitted only when its worst-case cost fits every one of them: against the budgets it is
//! reserved in the ledger first ([`Store::reserve_spend`], atomic per user and project), so
//! concurrent calls cannot together overshoot a budget; the reservation is settled with the
//! attempt's real cost. It also keeps the ledger: every attempt it is told about is written by
//! [`StoreBudget::flush`], or, when the call is dropped half-way (a node timeout, a lost lease,
//! a cancelled run, a client that went away), when the guard itself is dropped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use weft_ai::{Admission, Attempt, BudgetGuard, BudgetRefusal, EstimatedCall};
use weft_core::{ProjectId, UserId};
use weft_store::{AiCallRecord, Budget, BudgetCheck, BudgetScope, Reservation, Store, StoreError};

/// A [`BudgetGuard`] over the store's budgets.
pub struct StoreBudget {
    store: Store,
    site: super::CallSite,
    /// Attempts not yet written to the ledger, with their reservation.
    unrecorded: Mutex<Vec<(Option<uuid::Uuid>, Attempt)>>,
    /// Reservations of admitted attempts not yet reported, oldest first.
    reservations: Mutex<std::collections::VecDeque<uuid::Uuid>>,
    budgets: Vec<Budget>,
    ceiling_micro_usd: Option<u64>,
    spent_micro_usd: AtomicU64,
}

impl StoreBudget {
    pub(crate) async fn load(
        store: Store,
        site: super::CallSite,
        user: Option<UserId>,
        project: Option<ProjectId>,
        max_cost_usd: Option<f64>,
    ) -> Result<Self, StoreError> {
        let mut subjects = Vec::new();
        if let Some(user) = user {
            subjects.push((BudgetScope::User, user.0));
        }
        if let Some(project) = project {
            subjects.push((BudgetScope::Project, project.0));
        }
        let budgets = store.budgets_of(&subjects).await?;
        let ceiling_micro_usd = max_cost_usd.map(|usd| (usd * 1_000_000.0).floor().max(0.0) as u64);
        Ok(Self {
            store,
            site,
            unrecorded: Mutex::new(Vec::new()),
            reservations: Mutex::new(std::collections::VecDeque::new()),
            budgets,
            ceiling_micro_usd,
            spent_micro_usd: AtomicU64::new(0),
        })
    }

    fn take_unrecorded(&self) -> Vec<(Option<uuid::Uuid>, Attempt)> {
        std::mem::take(&mut *self.unrecorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Writes the attempts made so far to the ledger (a failure is logged: the calls happened).
    pub async fn flush(&self) {
        let rows = super::ledger_rows(&self.site, self.take_unrecorded());
        if let Err(err) = self.store.settle_ai_calls(rows, Utc::now()).await {
            tracing::error!(error = %err, "failed to record ai calls");
        }
    }

    /// What this call has spent so far, micro-USD.
    pub fn spent_micro_usd(&self) -> u64 {
        self.spent_micro_usd.load(Ordering::Relaxed)
    }

    async fn check(&self, call: &EstimatedCall) -> Result<(), BudgetRefusal> {
        let spent_here = self.spent_micro_usd();
        if let Some(ceiling) = self.ceiling_micro_usd
            && spent_here.saturating_add(call.max_cost_micro_usd) > ceiling
        {
            return Err(BudgetRefusal {
                reason: format!(
                    "the node's cost ceiling of {} would be exceeded by {}/{}",
                    usd(ceiling),
                    call.provider,
                    call.model
                ),
                limit_micro_usd: Some(ceiling),
                remaining_micro_usd: Some(ceiling.saturating_sub(spent_here)),
            });
        }
        if self.budgets.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let checks: Vec<BudgetCheck> = self
            .budgets
            .iter()
            .map(|b| BudgetCheck {
                scope: b.scope,
                subject_id: b.subject_id,
                since: b.period.start(now),
                limit_micro_usd: b.limit_micro_usd,
            })
            .collect();
        let placeholder = AiCallRecord {
            provider: call.provider.clone(),
            model: call.model.clone(),
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_micro_usd: i64::try_from(call.max_cost_micro_usd).unwrap_or(i64::MAX),
            latency_ms: 0,
            outcome: "reserved".to_owned(),
            ..super::ledger_row(&self.site)
        };
        let reserved = self.store.reserve_spend(&checks, placeholder, now).await.map_err(|err| {
            tracing::error!(error = %err, "failed to reserve spend for a budget check");
            BudgetRefusal {
                reason: "spend could not be checked against the budget".to_owned(),
                limit_micro_usd: None,
                remaining_micro_usd: None,
            }
        })?;
        match reserved {
            Reservation::Reserved(id) => {
                self.reservations.lock().unwrap_or_else(|p| p.into_inner()).push_back(id);
                Ok(())
            }
            Reservation::Refused { check, spent_micro_usd } => {
                let budget = &self.budgets[check];
                let spent = u64::try_from(spent_micro_usd).unwrap_or(0);
                let limit = u64::try_from(budget.limit_micro_usd).unwrap_or(0);
                let whose = match budget.scope {
                    BudgetScope::User => "your",
                    BudgetScope::Project => "the project's",
                };
                Err(BudgetRefusal {
                    reason: format!(
                        "{whose} {} budget of {} would be exceeded (spent {}, this call may cost up to {})",
                        budget.period.as_str(),
                        usd(limit),
                        usd(spent),
                        usd(call.max_cost_micro_usd)
                    ),
                    limit_micro_usd: Some(limit),
                    remaining_micro_usd: Some(limit.saturating_sub(spent)),
                })
            }
        }
    }
}

impl StoreBudget {
    /// The budgets this call's spend took past 80 % of their limit, each with a sentence
    /// saying so (after the call's attempts were recorded).
    pub async fn nearly_reached(&self) -> Vec<(Budget, String)> {
        let spent_here = self.spent_micro_usd();
        if spent_here == 0 {
            return Vec::new();
        }
        let now = Utc::now();
        let mut crossed = Vec::new();
        for budget in &self.budgets {
            let Ok(spent) =
                self.store.spent_since(budget.scope, budget.subject_id, budget.period.start(now)).await
            else {
                continue;
            };
            let limit = u64::try_from(budget.limit_micro_usd).unwrap_or(0);
            let after = u64::try_from(spent).unwrap_or(0);
            let before = after.saturating_sub(spent_here);
            let threshold = |spent: u64| u128::from(spent) * 5 >= u128::from(limit) * 4;
            if limit > 0 && threshold(after) && !threshold(before) {
                let whose = match budget.scope {
                    BudgetScope::User => "Your",
                    BudgetScope::Project => "The project's",
                };
                let reason = format!(
                    "{whose} {} AI budget is {}% spent ({} of {})",
                    budget.period.as_str(),
                    u128::from(after) * 100 / u128::from(limit),
                    usd(after),
                    usd(limit)
                );
                crossed.push((budget.clone(), reason));
            }
        }
        crossed
    }
}

fn usd(micro: u64) -> String {
    format!("${:.6}", micro as f64 / 1_000_000.0)
}

impl BudgetGuard for StoreBudget {
    fn admit<'a>(&'a self, call: &'a EstimatedCall) -> Admission<'a> {
        Box::pin(self.check(call))
    }

    fn record(&self, attempt: &Attempt) {
        self.spent_micro_usd.fetch_add(attempt.cost_micro_usd, Ordering::Relaxed);
        let reservation = self.reservations.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        self.unrecorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((reservation, attempt.clone()));
    }
}

impl Drop for StoreBudget {
    /// A call dropped before its attempts were flushed still lands in the ledger.
    fn drop(&mut self) {
        let rows = super::ledger_rows(&self.site, self.take_unrecorded());
        if rows.is_empty() {
            return;
        }
        let store = self.store.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(err) = store.settle_ai_calls(rows, Utc::now()).await {
                        tracing::error!(error = %err, "failed to record ai calls of an interrupted call");
                    }
                });
            }
            Err(_) => tracing::error!(calls = rows.len(), "ai calls could not be recorded: no runtime"),
        }
    }
}
