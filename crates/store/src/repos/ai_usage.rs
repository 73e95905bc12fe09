//! The ledger of language-model calls and the budgets that bound them.
//!
//! Every attempt of a model call is one `ai_calls` row (who, where, which provider and
//! model, tokens, cost in micro-USD, latency, outcome), so spend is the sum of rows. A budget
//! limits the spend of a user or a project per UTC day or calendar month (UTC); callers
//! check it before each attempt with [`Store::spent_since`].

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use weft_core::{ProjectId, RunId, UserId, WorkflowId};

use crate::entities::{ai_budgets, ai_calls};
use crate::error::{Context, StoreError};
use crate::{Backend, Store};

/// One attempt of a model call, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AiCallRecord {
    /// Who caused it.
    pub user_id: Option<UserId>,
    /// In which project.
    pub project_id: Option<ProjectId>,
    /// For which workflow.
    pub workflow_id: Option<WorkflowId>,
    /// In which run.
    pub run_id: Option<RunId>,
    /// At which node.
    pub node_id: Option<String>,
    /// `node`, `generateWorkflow`, `suggestNext`.
    pub purpose: String,
    /// Provider id.
    pub provider: String,
    /// Model id.
    pub model: String,
    /// Prompt tokens.
    pub prompt_tokens: i32,
    /// Completion tokens.
    pub completion_tokens: i32,
    /// Cost in millionths of a US dollar.
    pub cost_micro_usd: i64,
    /// Latency.
    pub latency_ms: i32,
    /// `ok` or the failure's class.
    pub outcome: String,
}

/// Whose spend a budget limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BudgetScope {
    /// A user's calls, wherever they run.
    User,
    /// A project's calls, whoever causes them.
    Project,
}

impl BudgetScope {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Project => "project",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "user" => Ok(Self::User),
            "project" => Ok(Self::Project),
            other => Err(StoreError::Corrupt(format!("budget scope {other:?}"))),
        }
    }
}

/// The window a budget covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BudgetPeriod {
    /// The current UTC day.
    Day,
    /// The current calendar month (UTC).
    Month,
}

impl BudgetPeriod {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "day" => Ok(Self::Day),
            "month" => Ok(Self::Month),
            other => Err(StoreError::Corrupt(format!("budget period {other:?}"))),
        }
    }

    /// When the period containing `now` began.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let date = now.date_naive();
        let first = match self {
            Self::Day => date,
            Self::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date),
        };
        first.and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

/// A spending limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Whose spend.
    pub scope: BudgetScope,
    /// The user or project.
    pub subject_id: uuid::Uuid,
    /// Per day or month.
    pub period: BudgetPeriod,
    /// The limit in millionths of a US dollar.
    pub limit_micro_usd: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn budget_from_row(row: ai_budgets::Model) -> Result<Budget, StoreError> {
    Ok(Budget {
        scope: BudgetScope::parse(&row.scope)?,
        subject_id: row.subject_id,
        period: BudgetPeriod::parse(&row.period)?,
        limit_micro_usd: row.limit_micro_usd,
        updated_at: row.updated_at,
    })
}

/// How [`Store::usage`] groups calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageGroup {
    /// By UTC day (`YYYY-MM-DD`).
    Day,
    /// By model (`provider/model`).
    Model,
    /// By project.
    Project,
    /// By workflow.
    Workflow,
}

/// Which calls [`Store::usage`] adds up.
#[derive(Clone, Debug)]
pub struct UsageQuery {
    /// Calls in these projects; with `user_id` also the user's calls outside projects.
    pub project_ids: Vec<ProjectId>,
    /// Only this user's calls.
    pub user_id: Option<UserId>,
    /// From this time on.
    pub from: DateTime<Utc>,
    /// Before this time.
    pub to: DateTime<Utc>,
    /// The grouping.
    pub group_by: UsageGroup,
}

/// Spend and tokens of one group.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct UsageRow {
    /// The group: a day, `provider/model`, a project or workflow id (empty for none).
    pub key: String,
    /// Attempts.
    pub calls: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Cost in millionths of a US dollar.
    pub cost_micro_usd: i64,
}

/// A budget an attempt must fit in.
#[derive(Clone, Debug)]
pub struct BudgetCheck {
    /// Whose spend.
    pub scope: BudgetScope,
    /// The user or project.
    pub subject_id: uuid::Uuid,
    /// Spend counts from here (the period's start).
    pub since: DateTime<Utc>,
    /// The limit, micro-USD.
    pub limit_micro_usd: i64,
}

/// What [`Store::reserve_spend`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The worst case fits every budget: this ledger row holds it until the attempt is settled.
    Reserved(uuid::Uuid),
    /// It would exceed `checks[check]`, which has `spent_micro_usd` spent (reservations included).
    Refused {
        /// Which check.
        check: usize,
        /// Spent so far in its period.
        spent_micro_usd: i64,
    },
}

fn call_row(id: uuid::Uuid, call: AiCallRecord, now: DateTime<Utc>) -> ai_calls::ActiveModel {
    ai_calls::ActiveModel {
        id: Set(id),
        user_id: Set(call.user_id.map(|u| u.0)),
        project_id: Set(call.project_id.map(|p| p.0)),
        workflow_id: Set(call.workflow_id.map(|w| w.0)),
        run_id: Set(call.run_id.map(|r| r.0)),
        node_id: Set(call.node_id),
        purpose: Set(call.purpose),
        provider: Set(call.provider),
        model: Set(call.model),
        prompt_tokens: Set(call.prompt_tokens),
        completion_tokens: Set(call.completion_tokens),
        cost_micro_usd: Set(call.cost_micro_usd),
        latency_ms: Set(call.latency_ms),
        outcome: Set(call.outcome),
        created_at: Set(now),
    }
}

async fn spent_on<C: ConnectionTrait>(
    conn: &C,
    scope: BudgetScope,
    subject: uuid::Uuid,
    since: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let column = match scope {
        BudgetScope::User => ai_calls::Column::UserId,
        BudgetScope::Project => ai_calls::Column::ProjectId,
    };
    let total: Option<Option<i64>> = ai_calls::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COALESCE(SUM(cost_micro_usd), 0) AS BIGINT)"), "total")
        .filter(column.eq(subject))
        .filter(ai_calls::Column::CreatedAt.gte(since))
        .into_tuple()
        .one(conn)
        .await
        .context("failed to add up spend")?;
    Ok(total.flatten().unwrap_or(0))
}

impl Store {
    /// Reserves the worst-case cost of an attempt against `checks`, atomically: the spend of
    /// each budget (including other reservations) plus `placeholder.cost_micro_usd` must fit,
    /// and then `placeholder` is written to the ledger (outcome `reserved`) so that concurrent
    /// attempts see it. Reservations of one subject are serialised (a transaction-scoped
    /// advisory lock on PostgreSQL; SQLite's single writer). [`Store::settle_ai_calls`] replaces
    /// the placeholder with what the attempt cost.
    pub async fn reserve_spend(
        &self,
        checks: &[BudgetCheck],
        placeholder: AiCallRecord,
        now: DateTime<Utc>,
    ) -> Result<Reservation, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        if self.backend() == Backend::Postgres {
            let mut keys: Vec<i64> = checks
                .iter()
                .map(|c| i64::from_be_bytes(c.subject_id.as_bytes()[..8].try_into().unwrap_or_default()))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                let lock = Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock($1)",
                    [key.into()],
                );
                txn.execute_raw(lock).await.context("failed to lock a budget")?;
            }
        }
        for (index, check) in checks.iter().enumerate() {
            let spent = spent_on(&txn, check.scope, check.subject_id, check.since).await?;
            if spent.saturating_add(placeholder.cost_micro_usd) > check.limit_micro_usd {
                return Ok(Reservation::Refused { check: index, spent_micro_usd: spent });
            }
        }
        let id = uuid::Uuid::now_v7();
        call_row(id, placeholder, now).insert(&txn).await.context("failed to reserve spend")?;
        txn.commit().await.context("failed to reserve spend")?;
        Ok(Reservation::Reserved(id))
    }

    /// Writes attempts to the ledger: replacing their reservation when they had one.
    pub async fn settle_ai_calls(
        &self,
        calls: Vec<(Option<uuid::Uuid>, AiCallRecord)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut fresh = Vec::new();
        for (reservation, call) in calls {
            match reservation {
                Some(id) => {
                    let mut row = call_row(id, call, now);
                    row.created_at = sea_orm::ActiveValue::NotSet;
                    row.update(&self.write).await.context("failed to settle an ai call")?;
                }
                None => fresh.push(call),
            }
        }
        self.record_ai_calls(fresh, now).await
    }

    /// Appends attempts to the ledger.
    pub async fn record_ai_calls(
        &self,
        calls: Vec<AiCallRecord>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if calls.is_empty() {
            return Ok(());
        }
        let rows = calls.into_iter().map(|call| call_row(uuid::Uuid::now_v7(), call, now));
        ai_calls::Entity::insert_many(rows)
            .exec_without_returning(&self.write)
            .await
            .context("failed to record ai calls")?;
        Ok(())
    }

    /// What `scope`'s subject has spent since `since`, in micro-USD.
    pub async fn spent_since(
        &self,
        scope: BudgetScope,
        subject: uuid::Uuid,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        spent_on(&self.read, scope, subject, since).await
    }

    /// Sets (creates or replaces) a budget.
    pub async fn set_budget(
        &self,
        scope: BudgetScope,
        subject: uuid::Uuid,
        period: BudgetPeriod,
        limit_micro_usd: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = ai_budgets::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            scope: Set(scope.as_str().to_owned()),
            subject_id: Set(subject),
            period: Set(period.as_str().to_owned()),
            limit_micro_usd: Set(limit_micro_usd),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let mut conflict = OnConflict::columns([
            ai_budgets::Column::Scope,
            ai_budgets::Column::SubjectId,
            ai_budgets::Column::Period,
        ]);
        conflict.update_columns([ai_budgets::Column::LimitMicroUsd, ai_budgets::Column::UpdatedAt]);
        ai_budgets::Entity::insert(row)
            .on_conflict(conflict.to_owned())
            .exec_without_returning(&self.write)
            .await
            .context("failed to set budget")?;
        Ok(())
    }

    /// Removes a budget; `false` when there was none.
    pub async fn delete_budget(
        &self,
        scope: BudgetScope,
        subject: uuid::Uuid,
        period: BudgetPeriod,
    ) -> Result<bool, StoreError> {
        let result = ai_budgets::Entity::delete_many()
            .filter(ai_budgets::Column::Scope.eq(scope.as_str()))
            .filter(ai_budgets::Column::SubjectId.eq(subject))
            .filter(ai_budgets::Column::Period.eq(period.as_str()))
            .exec(&self.write)
            .await
            .context("failed to delete budget")?;
        Ok(result.rows_affected == 1)
    }

    /// The budgets of `subjects` (users and projects).
    pub async fn budgets_of(
        &self,
        subjects: &[(BudgetScope, uuid::Uuid)],
    ) -> Result<Vec<Budget>, StoreError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = subjects.iter().map(|(_, id)| *id).collect();
        let rows = ai_budgets::Entity::find()
            .filter(ai_budgets::Column::SubjectId.is_in(ids))
            .order_by_asc(ai_budgets::Column::Scope)
            .order_by_asc(ai_budgets::Column::Period)
            .all(&self.read)
            .await
            .context("failed to load budgets")?;
        let budgets: Vec<Budget> = rows.into_iter().map(budget_from_row).collect::<Result<_, _>>()?;
        Ok(budgets.into_iter().filter(|b| subjects.contains(&(b.scope, b.subject_id))).collect())
    }

    /// Spend and tokens grouped as `query` says, largest cost first (by key for days).
    pub async fn usage(&self, query: UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let key = match (query.group_by, self.backend()) {
            (UsageGroup::Day, Backend::Sqlite) => "substr(created_at, 1, 10)",
            (UsageGroup::Day, Backend::Postgres) => "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            (UsageGroup::Model, _) => "provider || '/' || model",
            (UsageGroup::Project, Backend::Sqlite) => "COALESCE(lower(hex(project_id)), '')",
            (UsageGroup::Project, Backend::Postgres) => "COALESCE(CAST(project_id AS TEXT), '')",
            (UsageGroup::Workflow, Backend::Sqlite) => "COALESCE(lower(hex(workflow_id)), '')",
            (UsageGroup::Workflow, Backend::Postgres) => "COALESCE(CAST(workflow_id AS TEXT), '')",
        };
        let mut find = ai_calls::Entity::find()
            .select_only()
            .column_as(Expr::cust(key), "key")
            .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "calls")
            .column_as(Expr::cust("CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT)"), "prompt_tokens")
            .column_as(Expr::cust("CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT)"), "completion_tokens")
            .column_as(Expr::cust("CAST(COALESCE(SUM(cost_micro_usd), 0) AS BIGINT)"), "cost_micro_usd")
            .filter(ai_calls::Column::CreatedAt.gte(query.from))
            .filter(ai_calls::Column::CreatedAt.lt(query.to));
        let projects: Vec<uuid::Uuid> = query.project_ids.iter().map(|p| p.0).collect();
        find = match query.user_id {
            Some(user) if projects.is_empty() => find.filter(ai_calls::Column::UserId.eq(user.0)),
            Some(user) => find
                .filter(ai_calls::Column::UserId.eq(user.0))
                .filter(ai_calls::Column::ProjectId.is_in(projects)),
            None => find.filter(ai_calls::Column::ProjectId.is_in(projects)),
        };
        let mut rows: Vec<UsageRow> = find
            .group_by(Expr::cust(key))
            .into_model::<UsageRow>()
            .all(&self.read)
            .await
            .context("failed to add up usage")?;
        if self.backend() == Backend::Sqlite
            && matches!(query.group_by, UsageGroup::Project | UsageGroup::Workflow)
        {
            for row in &mut rows {
                row.key = hex_to_uuid(&row.key);
            }
        }
        if query.group_by == UsageGroup::Day {
            rows.sort_by(|a, b| a.key.cmp(&b.key));
        } else {
            rows.sort_by(|a, b| b.cost_micro_usd.cmp(&a.cost_micro_usd).then_with(|| a.key.cmp(&b.key)));
        }
        Ok(rows)
    }
}

/// SQLite keeps uuids as 16-byte blobs; `lower(hex(..))` gives their 32 hex digits.
fn hex_to_uuid(hex: &str) -> String {
    uuid::Uuid::try_parse(hex).map(|id| id.to_string()).unwrap_or_default()
}
