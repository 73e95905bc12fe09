//! Runs, their steps, and the step queue.
//!
//! A step is one execution of one node in one scope (`""` for the top level). The steps
//! table doubles as the engine's queue: a `ready` step whose `available_at` has come, or a
//! `running` step whose lease has expired (its worker died), is claimed by a worker, which
//! then holds a lease on it until it records the outcome. Claims use `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL; on SQLite the single writer serialises them.
//!
//! Steps of nodes with several inputs are created on the first arrival (`pending`) and count
//! arrivals (`n_arrived`) and skipped inputs (`n_skipped`); the engine decides from the
//! counts when such a step becomes ready or is skipped. The unique `(run, node, scope)` key
//! makes every node run at most once per scope.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use weft_core::{ProjectId, RunId, StepId, UserId, WorkflowId};

use crate::entities::{runs, steps};
use crate::error::{Context, StoreError};
use crate::repos::split_page;
use crate::repos::step_txn::{StepTxn, find_step_on, held_by, step_outputs_on};
use crate::{Backend, Page, Store};

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The stored (and wire) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// Reads the stored spelling.
            pub fn parse(text: &str) -> Result<Self, StoreError> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(StoreError::Corrupt(format!(concat!(stringify!($name), " {:?}"), other))),
                }
            }
        }
    };
}

status_enum!(
    /// Where a run is in its life.
    RunStatus {
        /// Created; no step has started yet.
        Queued = "queued",
        /// Steps are running or ready.
        Running = "running",
        /// Nothing can run until something outside happens (an approval, a timer, a child run).
        Waiting = "waiting",
        /// Finished; `output` is the result.
        Succeeded = "succeeded",
        /// Finished with an error.
        Failed = "failed",
        /// Stopped by `run.cancel`.
        Cancelled = "cancelled",
    }
);

impl RunStatus {
    /// Statuses of finished runs.
    pub const TERMINAL: [RunStatus; 3] = [Self::Succeeded, Self::Failed, Self::Cancelled];

    /// Statuses of unfinished runs (all the others): a positive list, which an index on the
    /// status can serve.
    pub const LIVE: [RunStatus; 3] = [Self::Queued, Self::Running, Self::Waiting];

    /// Whether the run has finished.
    pub fn is_terminal(self) -> bool {
        Self::TERMINAL.contains(&self)
    }
}

status_enum!(
    /// Where a step is in its life.
    StepStatus {
        /// Some inputs have arrived; waiting for the others.
        Pending = "pending",
        /// Queued: claimable once `available_at` has come.
        Ready = "ready",
        /// Claimed by a worker holding the lease.
        Running = "running",
        /// Paused until something outside happens (approval, child run).
        Waiting = "waiting",
        /// Done, with an output.
        Succeeded = "succeeded",
        /// Gave up, with an error.
        Failed = "failed",
        /// Not taken (an untaken branch).
        Skipped = "skipped",
        /// Stopped because the run ended.
        Cancelled = "cancelled",
    }
);

impl StepStatus {
    /// Statuses of steps that still have something to do.
    pub const OPEN: [StepStatus; 4] = [Self::Pending, Self::Ready, Self::Running, Self::Waiting];
    /// Open steps that can make progress by themselves (a pending one waits for inputs).
    pub const LIVE: [StepStatus; 3] = [Self::Ready, Self::Running, Self::Waiting];

    /// Whether the step is done, one way or another.
    pub fn is_terminal(self) -> bool {
        !Self::OPEN.contains(&self)
    }
}

/// A run as stored; JSON members are JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The run.
    pub id: RunId,
    /// The workflow it executes.
    pub workflow_id: WorkflowId,
    /// The workflow's project (for access checks and listings).
    pub project_id: ProjectId,
    /// The executed version.
    pub version: i32,
    /// Status.
    pub status: RunStatus,
    /// Input (JSON text).
    pub input: String,
    /// Result (JSON text), once succeeded.
    pub output: Option<String>,
    /// Why it failed (JSON text).
    pub error: Option<String>,
    /// What started it (`manual`, `subWorkflow`, `schedule`, `webhook`, ...).
    pub trigger: String,
    /// Who started it.
    pub started_by: Option<UserId>,
    /// The run whose sub-workflow node started this one.
    pub parent_run_id: Option<RunId>,
    /// The parent's step waiting for this run.
    pub parent_step_id: Option<StepId>,
    /// Nesting depth (0 for a top-level run).
    pub depth: i32,
    /// `run.cancel` was called.
    pub cancel_requested: bool,
    /// When the run times out.
    pub deadline_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// First step started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A step as stored; JSON members are JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The step (and its idempotency key).
    pub id: StepId,
    /// Its run.
    pub run_id: RunId,
    /// The node it executes.
    pub node_id: String,
    /// `""` at the top level; loop iterations nest (`loop#3`, `loop#3/inner#0`).
    pub scope: String,
    /// Status.
    pub status: StepStatus,
    /// Attempts started so far.
    pub attempt: i32,
    /// Inputs that arrived.
    pub n_arrived: i32,
    /// Inputs that were skipped.
    pub n_skipped: i32,
    /// Output ports that fired (JSON array text).
    pub ports: Option<String>,
    /// Input (JSON text): the output of the node that led here.
    pub input: Option<String>,
    /// Output (JSON text); while a step waits it may hold the runner's state.
    pub output: Option<String>,
    /// The last error (JSON text).
    pub error: Option<String>,
    /// When a ready step may be claimed.
    pub available_at: DateTime<Utc>,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When the lease ends.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
}

pub(crate) fn run_from_row(row: runs::Model) -> Result<Run, StoreError> {
    Ok(Run {
        id: RunId(row.id),
        workflow_id: WorkflowId(row.workflow_id),
        project_id: ProjectId(row.project_id),
        version: row.version,
        status: RunStatus::parse(&row.status)?,
        input: row.input,
        output: row.output,
        error: row.error,
        trigger: row.trigger,
        started_by: row.started_by.map(UserId),
        parent_run_id: row.parent_run_id.map(RunId),
        parent_step_id: row.parent_step_id.map(StepId),
        depth: row.depth,
        cancel_requested: row.cancel_requested,
        deadline_at: row.deadline_at,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        updated_at: row.updated_at,
    })
}

pub(crate) fn step_from_row(row: steps::Model) -> Result<Step, StoreError> {
    Ok(Step {
        id: StepId(row.id),
        run_id: RunId(row.run_id),
        node_id: row.node_id,
        scope: row.scope,
        status: StepStatus::parse(&row.status)?,
        attempt: row.attempt,
        n_arrived: row.n_arrived,
        n_skipped: row.n_skipped,
        ports: row.ports,
        input: row.input,
        output: row.output,
        error: row.error,
        available_at: row.available_at,
        lease_owner: row.lease_owner,
        lease_expires_at: row.lease_expires_at,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
    })
}

fn steps_from_rows(rows: Vec<steps::Model>) -> Result<Vec<Step>, StoreError> {
    rows.into_iter().map(step_from_row).collect()
}

/// A run to create, with the step of its entry node.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// Its project.
    pub project_id: ProjectId,
    /// The version to execute.
    pub version: i32,
    /// Input (JSON text).
    pub input: String,
    /// What starts it.
    pub trigger: String,
    /// Who starts it.
    pub started_by: Option<UserId>,
    /// Parent run and the step waiting for this one (sub-workflows).
    pub parent: Option<(RunId, StepId)>,
    /// Nesting depth.
    pub depth: i32,
    /// When the run times out.
    pub deadline_at: Option<DateTime<Utc>>,
    /// The id of the start node, whose step is queued at once.
    pub entry_node: String,
}

/// Filters of [`Store::list_runs`].
#[derive(Clone, Debug, Default)]
pub struct RunQuery {
    /// Only runs in these projects (the caller's).
    pub project_ids: Vec<ProjectId>,
    /// Only runs of this workflow.
    pub workflow_id: Option<WorkflowId>,
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs created at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Only runs created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Cursor: the last id of the previous page (newest first).
    pub before: Option<uuid::Uuid>,
    /// Page size.
    pub limit: u64,
}

/// A claim of ready steps.
#[derive(Clone, Debug)]
pub struct Claim<'a> {
    /// The claiming worker.
    pub owner: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
    /// When the lease ends unless renewed.
    pub lease_until: DateTime<Utc>,
    /// Most steps to claim.
    pub limit: u64,
}

/// How a step ends.
#[derive(Clone, Debug)]
pub struct StepEnd {
    /// `succeeded`, `failed` or `skipped`.
    pub status: StepStatus,
    /// Output (JSON text).
    pub output: Option<String>,
    /// Ports that fired (JSON array text).
    pub ports: Option<String>,
    /// Error (JSON text).
    pub error: Option<String>,
}

/// An output of an earlier step, as templates see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutput {
    /// The node.
    pub node_id: String,
    /// Its scope.
    pub scope: String,
    /// The output (JSON text).
    pub output: Option<String>,
}

impl Store {
    /// Creates a run and queues its entry step, in one transaction.
    pub async fn create_run(&self, new: NewRun, now: DateTime<Utc>) -> Result<Run, StoreError> {
        let mut txn = self.begin_steps().await?;
        let (run, _) = txn.create_run(new, now).await?;
        txn.commit().await?;
        Ok(run)
    }

    /// Unfinished runs whose time limit has passed.
    pub async fn overdue_runs(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<Run>, StoreError> {
        runs::Entity::find()
            .filter(runs::Column::Status.is_not_in(RunStatus::TERMINAL.map(RunStatus::as_str)))
            .filter(runs::Column::DeadlineAt.lte(now))
            .limit(limit)
            .all(&self.read)
            .await
            .context("failed to list overdue runs")?
            .into_iter()
            .map(run_from_row)
            .collect()
    }

    /// Runs started by sub-workflow nodes of `run` that have not finished.
    pub async fn live_children(&self, run: RunId) -> Result<Vec<RunId>, StoreError> {
        let ids: Vec<uuid::Uuid> = runs::Entity::find()
            .select_only()
            .column(runs::Column::Id)
            .filter(runs::Column::ParentRunId.eq(run.0))
            .filter(runs::Column::Status.is_not_in(RunStatus::TERMINAL.map(RunStatus::as_str)))
            .into_tuple()
            .all(&self.read)
            .await
            .context("failed to list child runs")?;
        Ok(ids.into_iter().map(RunId).collect())
    }

    /// Reopens a failed run from where it failed (`run.retry`): the step that failed the run
    /// is queued again with fresh attempts, steps cancelled by the failure get their status
    /// back, and everything that succeeded stays. `None` when the run does not exist; the run
    /// unchanged when it had not failed.
    pub async fn reopen_run(&self, id: RunId, now: DateTime<Utc>) -> Result<Option<Run>, StoreError> {
        let mut txn = self.begin_steps().await?;
        let Some(run) = txn.lock_run(id).await? else { return Ok(None) };
        if run.status != RunStatus::Failed {
            return Ok(Some(run));
        }
        runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(RunStatus::Running.as_str()))
            .col_expr(runs::Column::Error, Expr::value(Option::<String>::None))
            .col_expr(runs::Column::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(runs::Column::UpdatedAt, Expr::value(now))
            .filter(runs::Column::Id.eq(id.0))
            .exec(&txn.txn)
            .await
            .context("failed to reopen run")?;
        // The failing step: failed without firing any port.
        steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(StepStatus::Ready.as_str()))
            .col_expr(steps::Column::Attempt, Expr::value(0))
            .col_expr(steps::Column::AvailableAt, Expr::value(now))
            .col_expr(steps::Column::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now))
            .filter(steps::Column::RunId.eq(id.0))
            .filter(steps::Column::Status.eq(StepStatus::Failed.as_str()))
            .filter(steps::Column::Ports.is_null())
            .exec(&txn.txn)
            .await
            .context("failed to requeue failed step")?;
        for (prior, restored) in [
            (StepStatus::Ready, StepStatus::Ready),
            (StepStatus::Running, StepStatus::Ready),
            (StepStatus::Waiting, StepStatus::Waiting),
        ] {
            steps::Entity::update_many()
                .col_expr(steps::Column::Status, Expr::value(restored.as_str()))
                .col_expr(steps::Column::PriorStatus, Expr::value(Option::<String>::None))
                .col_expr(steps::Column::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(steps::Column::UpdatedAt, Expr::value(now))
                .filter(steps::Column::RunId.eq(id.0))
                .filter(steps::Column::Status.eq(StepStatus::Cancelled.as_str()))
                .filter(steps::Column::PriorStatus.eq(prior.as_str()))
                .exec(&txn.txn)
                .await
                .context("failed to restore cancelled step")?;
        }
        txn.commit().await?;
        self.get_run(id).await
    }

    /// One run.
    pub async fn get_run(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        runs::Entity::find_by_id(id.0)
            .one(&self.read)
            .await
            .context("failed to load run")?
            .map(run_from_row)
            .transpose()
    }

    /// Runs of `workflow` created since `created_since` that ended in
    /// `[ended_from, ended_before)` (at most `limit`, oldest first).
    pub async fn runs_ended_between(
        &self,
        workflow: WorkflowId,
        created_since: DateTime<Utc>,
        ended_from: DateTime<Utc>,
        ended_before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Run>, StoreError> {
        let ended = Condition::all()
            .add(runs::Column::CreatedAt.gte(created_since))
            .add(runs::Column::FinishedAt.gte(ended_from))
            .add(runs::Column::FinishedAt.lt(ended_before));
        self.runs_of_workflow_where(workflow, ended, limit).await
    }

    /// Runs of `workflow` started by hand (trigger `manual`) in `[from, before)` (at most
    /// `limit`, oldest first).
    pub async fn runs_started_by_hand_between(
        &self,
        workflow: WorkflowId,
        from: DateTime<Utc>,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Run>, StoreError> {
        let by_hand = Condition::all()
            .add(runs::Column::CreatedAt.gte(from))
            .add(runs::Column::CreatedAt.lt(before))
            .add(runs::Column::Trigger.eq("manual"));
        self.runs_of_workflow_where(workflow, by_hand, limit).await
    }

    /// Runs of `workflow` meeting `condition` (at most `limit`, oldest first).
    async fn runs_of_workflow_where(
        &self,
        workflow: WorkflowId,
        condition: Condition,
        limit: u64,
    ) -> Result<Vec<Run>, StoreError> {
        runs::Entity::find()
            .filter(runs::Column::WorkflowId.eq(workflow.0))
            .filter(condition)
            .order_by_asc(runs::Column::CreatedAt)
            .limit(limit)
            .all(&self.read)
            .await
            .context("failed to list a workflow's runs")?
            .into_iter()
            .map(run_from_row)
            .collect()
    }

    /// A run's steps in the order they were created.
    pub async fn list_steps(&self, run: RunId) -> Result<Vec<Step>, StoreError> {
        steps_from_rows(
            steps::Entity::find()
                .filter(steps::Column::RunId.eq(run.0))
                .order_by_asc(steps::Column::CreatedAt)
                .order_by_asc(steps::Column::Id)
                .all(&self.read)
                .await
                .context("failed to list steps")?,
        )
    }

    /// Runs, newest first.
    pub async fn list_runs(&self, query: RunQuery) -> Result<Page<Run>, StoreError> {
        let ids: Vec<uuid::Uuid> = query.project_ids.iter().map(|p| p.0).collect();
        let mut find = runs::Entity::find().filter(runs::Column::ProjectId.is_in(ids));
        if let Some(workflow) = query.workflow_id {
            find = find.filter(runs::Column::WorkflowId.eq(workflow.0));
        }
        if let Some(status) = query.status {
            find = find.filter(runs::Column::Status.eq(status.as_str()));
        }
        if let Some(after) = query.created_after {
            find = find.filter(runs::Column::CreatedAt.gte(after));
        }
        if let Some(before) = query.created_before {
            find = find.filter(runs::Column::CreatedAt.lt(before));
        }
        if let Some(cursor) = query.before {
            find = find.filter(runs::Column::Id.lt(cursor));
        }
        let limit = Ord::max(query.limit, 1);
        let rows = find
            .order_by_desc(runs::Column::Id)
            .limit(limit + 1)
            .all(&self.read)
            .await
            .context("failed to list runs")?;
        let (rows, next) = split_page(rows, limit, |row| row.id);
        Ok(Page { items: rows.into_iter().map(run_from_row).collect::<Result<_, _>>()?, next_cursor: next })
    }

    /// Claims up to `limit` steps: ready ones whose time has come, waiting ones whose wake-up
    /// time has come (a decision arrived, a child run ended, an approval timed out), and
    /// running ones whose lease expired (their worker died; the attempt counter tells the
    /// engine). Each claim
    /// starts a new attempt under a lease held by `owner`.
    pub async fn claim_steps(&self, claim: Claim<'_>) -> Result<Vec<Step>, StoreError> {
        let mut due = Query::select();
        due.column(steps::Column::Id)
            .from(steps::Entity)
            .cond_where(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(Expr::col(steps::Column::Status).eq(StepStatus::Ready.as_str()))
                            .add(Expr::col(steps::Column::AvailableAt).lte(claim.now)),
                    )
                    .add(
                        Condition::all()
                            .add(Expr::col(steps::Column::Status).eq(StepStatus::Waiting.as_str()))
                            .add(Expr::col(steps::Column::AvailableAt).lte(claim.now)),
                    )
                    .add(
                        Condition::all()
                            .add(Expr::col(steps::Column::Status).eq(StepStatus::Running.as_str()))
                            .add(Expr::col(steps::Column::LeaseExpiresAt).lt(claim.now)),
                    ),
            )
            .order_by(steps::Column::AvailableAt, sea_orm::Order::Asc)
            .limit(Ord::max(claim.limit, 1));
        if self.backend() == Backend::Postgres {
            due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(StepStatus::Running.as_str()))
            .col_expr(steps::Column::LeaseOwner, Expr::value(claim.owner))
            .col_expr(steps::Column::LeaseExpiresAt, Expr::value(claim.lease_until))
            .col_expr(steps::Column::Attempt, Expr::col(steps::Column::Attempt).add(1))
            .col_expr(steps::Column::StartedAt, Expr::value(claim.now))
            .col_expr(steps::Column::UpdatedAt, Expr::value(claim.now))
            .filter(steps::Column::Id.in_subquery(due))
            .exec_with_returning(&self.write)
            .await
            .context("failed to claim steps")?;
        steps_from_rows(rows)
    }

    /// Extends a lease the worker still holds; `false` when it was lost.
    pub async fn renew_lease(
        &self,
        step: StepId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = steps::Entity::update_many()
            .col_expr(steps::Column::LeaseExpiresAt, Expr::value(until))
            .filter(held_by(step, owner))
            .exec(&self.write)
            .await
            .context("failed to renew lease")?;
        Ok(result.rows_affected == 1)
    }

    /// Outputs of finished steps of `run` (succeeded, or failed and continued) in `scopes`,
    /// of the nodes `node_ids` (all nodes when `None`).
    pub async fn step_outputs(
        &self,
        run: RunId,
        node_ids: Option<&[String]>,
        scopes: &[String],
    ) -> Result<Vec<StepOutput>, StoreError> {
        step_outputs_on(&self.read, run, node_ids, scopes).await
    }

    /// The step of `node` in `scope`, if it exists.
    pub async fn find_step(&self, run: RunId, node: &str, scope: &str) -> Result<Option<Step>, StoreError> {
        find_step_on(&self.read, run, node, scope).await
    }

    /// Asks a run to stop: it becomes `cancelled` at once and its open steps are cancelled;
    /// workers running its steps see it when they renew their lease. `None` when the run
    /// does not exist; the run unchanged when it had finished already.
    pub async fn cancel_run(&self, id: RunId, now: DateTime<Utc>) -> Result<Option<Run>, StoreError> {
        let mut txn = self.begin_steps().await?;
        let Some(run) = txn.lock_run(id).await? else { return Ok(None) };
        if !run.status.is_terminal() {
            runs::Entity::update_many()
                .col_expr(runs::Column::CancelRequested, Expr::value(true))
                .filter(runs::Column::Id.eq(id.0))
                .exec(&txn.txn)
                .await
                .context("failed to cancel run")?;
            txn.finish_run(id, RunStatus::Cancelled, None, now).await?;
            if let Some(parent) = run.parent_step_id {
                txn.wake_step(parent, now).await?;
            }
        }
        txn.commit().await?;
        self.get_run(id).await
    }

    /// Opens a transaction for recording step outcomes.
    pub async fn begin_steps(&self) -> Result<StepTxn, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        Ok(StepTxn::new(txn, self.backend()))
    }
}
