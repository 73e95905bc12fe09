//! The transaction in which the engine records a step's outcome and everything it sets in
//! motion: arrivals at the next nodes, nodes becoming ready or skipped, the run ending.
//!
//! Runs created in the transaction live in memory until the commit ([`super::fresh`]);
//! every other change is SQL on the stored rows.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect,
};
use weft_core::{RunId, StepId};

use super::fresh::Fresh;
use super::runs::{
    NewRun, Run, RunStatus, Step, StepEnd, StepOutput, StepStatus, run_from_row, step_from_row,
};
use crate::Backend;
use crate::entities::{runs, steps};
use crate::error::{Context, StoreError};

pub(crate) async fn step_outputs_on<C: sea_orm::ConnectionTrait>(
    conn: &C,
    run: RunId,
    node_ids: Option<&[String]>,
    scopes: &[String],
) -> Result<Vec<StepOutput>, StoreError> {
    let mut find = steps::Entity::find()
        .select_only()
        .columns([steps::Column::NodeId, steps::Column::Scope, steps::Column::Output])
        .filter(steps::Column::RunId.eq(run.0))
        .filter(steps::Column::Status.is_in([StepStatus::Succeeded.as_str(), StepStatus::Failed.as_str()]))
        .filter(steps::Column::Output.is_not_null())
        .filter(steps::Column::Scope.is_in(scopes.iter().map(String::as_str)));
    if let Some(ids) = node_ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        find = find.filter(steps::Column::NodeId.is_in(ids.iter().map(String::as_str)));
    }
    let rows: Vec<(String, String, Option<String>)> =
        find.into_tuple().all(conn).await.context("failed to load step outputs")?;
    Ok(rows.into_iter().map(|(node_id, scope, output)| StepOutput { node_id, scope, output }).collect())
}

pub(crate) async fn find_step_on<C: sea_orm::ConnectionTrait>(
    conn: &C,
    run: RunId,
    node: &str,
    scope: &str,
) -> Result<Option<Step>, StoreError> {
    steps::Entity::find()
        .filter(steps::Column::RunId.eq(run.0))
        .filter(steps::Column::NodeId.eq(node))
        .filter(steps::Column::Scope.eq(scope))
        .one(conn)
        .await
        .context("failed to load step")?
        .map(step_from_row)
        .transpose()
}

/// The step, if `owner` still holds its lease (it is running and was not taken over).
pub(crate) fn held_by(step: StepId, owner: &str) -> Condition {
    Condition::all()
        .add(steps::Column::Id.eq(step.0))
        .add(steps::Column::LeaseOwner.eq(owner))
        .add(steps::Column::Status.eq(StepStatus::Running.as_str()))
}

/// The wake-up time of a step that waits for an outside event only.
pub(crate) fn never() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// An input arriving at a node in a scope.
#[derive(Clone, Debug)]
pub struct Arrival<'a> {
    /// The run.
    pub run_id: RunId,
    /// The node the edge enters.
    pub node_id: &'a str,
    /// The scope.
    pub scope: &'a str,
    /// Whether the edge fired (else it was skipped).
    pub active: bool,
    /// The arriving output (JSON text), for an active edge.
    pub input: Option<String>,
    /// This is the node's only input: its step is created `ready` (or `skipped`, for a
    /// skipped edge) at once instead of `pending`.
    pub only_input: bool,
}

/// One transaction in which the engine records a step's outcome and what it makes ready.
pub struct StepTxn {
    pub(crate) txn: DatabaseTransaction,
    backend: Backend,
    /// Runs created in this transaction, written at commit.
    fresh: Fresh,
}

impl StepTxn {
    pub(crate) fn new(txn: DatabaseTransaction, backend: Backend) -> Self {
        Self { txn, backend, fresh: Fresh::default() }
    }

    /// Creates a run and queues the step of its entry node; answers both. The run is kept
    /// in memory and written when the transaction commits.
    pub async fn create_run(&mut self, new: NewRun, now: DateTime<Utc>) -> Result<(Run, Step), StoreError> {
        self.create_run_as(RunId::new(), new, now).await
    }

    /// [`Self::create_run`] with an id chosen beforehand (a trigger's fire names its run
    /// when it is claimed, before the run is created).
    pub async fn create_run_as(
        &mut self,
        id: RunId,
        new: NewRun,
        now: DateTime<Utc>,
    ) -> Result<(Run, Step), StoreError> {
        let row = runs::Model {
            id: id.0,
            workflow_id: new.workflow_id.0,
            project_id: new.project_id.0,
            version: new.version,
            status: RunStatus::Queued.as_str().to_owned(),
            input: new.input.clone(),
            output: None,
            error: None,
            trigger: new.trigger,
            started_by: new.started_by.map(|u| u.0),
            parent_run_id: new.parent.map(|(run, _)| run.0),
            parent_step_id: new.parent.map(|(_, step)| step.0),
            depth: new.depth,
            cancel_requested: false,
            deadline_at: new.deadline_at,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        };
        self.fresh.add_run(row.clone());
        let entry = Arrival {
            run_id: id,
            node_id: &new.entry_node,
            scope: "",
            active: true,
            input: Some(new.input),
            only_input: true,
        };
        let step = self.arrive(entry, now).await?;
        Ok((run_from_row(row)?, step))
    }

    /// The transaction, for the other repositories' steps (which never touch runs created
    /// in it: those are not written yet).
    pub(crate) fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The run, locked against concurrent finishing on PostgreSQL.
    pub async fn lock_run(&mut self, id: RunId) -> Result<Option<Run>, StoreError> {
        if let Some(row) = self.fresh.run(id.0) {
            return run_from_row(row.clone()).map(Some);
        }
        let mut find = runs::Entity::find_by_id(id.0);
        if self.backend == Backend::Postgres {
            find = find.lock(LockType::Update);
        }
        find.one(&self.txn).await.context("failed to load run")?.map(run_from_row).transpose()
    }

    /// Ends a step the worker `owner` holds; `false` (nothing written) when the lease was
    /// lost to another worker.
    pub async fn finish_step(
        &mut self,
        step: StepId,
        owner: &str,
        end: StepEnd,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(end.status.as_str()))
            .col_expr(steps::Column::Output, Expr::value(end.output))
            .col_expr(steps::Column::Ports, Expr::value(end.ports))
            .col_expr(steps::Column::Error, Expr::value(end.error))
            .col_expr(steps::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(steps::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(steps::Column::FinishedAt, Expr::value(now))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now))
            .filter(held_by(step, owner))
            .exec(&self.txn)
            .await
            .context("failed to finish step")?;
        Ok(result.rows_affected == 1)
    }

    /// Records the outcome of a `ready` step that ran inline, without a claim (a pure node
    /// run where it became ready): one attempt, started and finished `now`. `false` when the
    /// step was not ready any more.
    pub async fn complete_step(
        &mut self,
        step: StepId,
        end: StepEnd,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if let Some(row) = self.fresh.step_mut(step.0) {
            if row.status != StepStatus::Ready.as_str() {
                return Ok(false);
            }
            row.status = end.status.as_str().to_owned();
            row.output = end.output;
            row.ports = end.ports;
            row.error = end.error;
            row.attempt += 1;
            row.started_at = Some(now);
            row.finished_at = Some(now);
            row.updated_at = now;
            return Ok(true);
        }
        let result = steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(end.status.as_str()))
            .col_expr(steps::Column::Output, Expr::value(end.output))
            .col_expr(steps::Column::Ports, Expr::value(end.ports))
            .col_expr(steps::Column::Error, Expr::value(end.error))
            .col_expr(steps::Column::Attempt, Expr::col(steps::Column::Attempt).add(1))
            .col_expr(steps::Column::StartedAt, Expr::value(now))
            .col_expr(steps::Column::FinishedAt, Expr::value(now))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now))
            .filter(steps::Column::Id.eq(step.0))
            .filter(steps::Column::Status.eq(StepStatus::Ready.as_str()))
            .exec(&self.txn)
            .await
            .context("failed to complete step")?;
        Ok(result.rows_affected == 1)
    }

    /// Puts a step the worker holds back in the queue until `at` (a retry after backoff, or
    /// a timer), keeping `state` in its output and `error` as the last error. With
    /// `same_attempt` the attempt counter is not advanced by the next claim (timers).
    pub async fn requeue_step(
        &mut self,
        step: StepId,
        owner: &str,
        at: DateTime<Utc>,
        requeue: Requeue,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut update = steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(StepStatus::Ready.as_str()))
            .col_expr(steps::Column::AvailableAt, Expr::value(at))
            .col_expr(steps::Column::Output, Expr::value(requeue.state))
            .col_expr(steps::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(steps::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now));
        if let Some(error) = requeue.error {
            update = update.col_expr(steps::Column::Error, Expr::value(error));
        }
        if requeue.same_attempt {
            update = update.col_expr(steps::Column::Attempt, Expr::col(steps::Column::Attempt).sub(1));
        }
        let result =
            update.filter(held_by(step, owner)).exec(&self.txn).await.context("failed to requeue step")?;
        Ok(result.rows_affected == 1)
    }

    /// Records an input arriving at (or skipped for) a node: creates its step on the first
    /// arrival (`pending`) or counts it on an existing one, and answers the step as it is now.
    pub async fn arrive(&mut self, arrival: Arrival<'_>, now: DateTime<Utc>) -> Result<Step, StoreError> {
        let (arrived, skipped) = if arrival.active { (1, 0) } else { (0, 1) };
        let input = if arrival.active { arrival.input } else { None };
        let status = match (arrival.only_input, arrival.active) {
            (false, _) => StepStatus::Pending,
            (true, true) => StepStatus::Ready,
            (true, false) => StepStatus::Skipped,
        };
        let new_row = steps::Model {
            id: StepId::new().0,
            run_id: arrival.run_id.0,
            node_id: arrival.node_id.to_owned(),
            scope: arrival.scope.to_owned(),
            status: status.as_str().to_owned(),
            attempt: 0,
            n_arrived: arrived,
            n_skipped: skipped,
            ports: None,
            input: input.clone(),
            output: None,
            error: None,
            prior_status: None,
            available_at: now,
            lease_owner: None,
            lease_expires_at: None,
            created_at: now,
            started_at: None,
            finished_at: status.is_terminal().then_some(now),
            updated_at: now,
        };
        if self.fresh.has_run(arrival.run_id.0) {
            let row = match self.fresh.step_by_key_mut(arrival.run_id.0, arrival.node_id, arrival.scope) {
                Some(row) => {
                    row.n_arrived += arrived;
                    row.n_skipped += skipped;
                    row.updated_at = now;
                    // The first active arrival brings the step's input.
                    if row.input.is_none() {
                        row.input = input;
                    }
                    row.clone()
                }
                None => {
                    self.fresh.add_step(new_row.clone());
                    new_row
                }
            };
            return step_from_row(row);
        }
        let excluded = Alias::new("excluded");
        let mut conflict =
            OnConflict::columns([steps::Column::RunId, steps::Column::NodeId, steps::Column::Scope]);
        conflict
            .value(
                steps::Column::NArrived,
                Expr::col((steps::Entity, steps::Column::NArrived))
                    .add(Expr::col((excluded.clone(), steps::Column::NArrived))),
            )
            .value(
                steps::Column::NSkipped,
                Expr::col((steps::Entity, steps::Column::NSkipped))
                    .add(Expr::col((excluded.clone(), steps::Column::NSkipped))),
            )
            .value(steps::Column::UpdatedAt, Expr::col((excluded, steps::Column::UpdatedAt)));
        let row = steps::Entity::insert(new_row.into_active_model().reset_all())
            .on_conflict(conflict.to_owned())
            .exec_with_returning(&self.txn)
            .await
            .context("failed to record arrival")?;
        let mut step = step_from_row(row)?;
        // The first active arrival brings the step's input (an earlier skipped one did not).
        if step.input.is_none()
            && let Some(input) = input
        {
            steps::Entity::update_many()
                .col_expr(steps::Column::Input, Expr::value(input.clone()))
                .filter(steps::Column::Id.eq(step.id.0))
                .exec(&self.txn)
                .await
                .context("failed to record step input")?;
            step.input = Some(input);
        }
        Ok(step)
    }

    /// Moves a pending step to `ready` (claimable at `at`) or to `skipped`.
    pub async fn settle_step(
        &mut self,
        step: StepId,
        status: StepStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(row) = self.fresh.step_mut(step.0) {
            if row.status == StepStatus::Pending.as_str() {
                row.status = status.as_str().to_owned();
                row.available_at = at;
                row.updated_at = at;
                if status.is_terminal() {
                    row.finished_at = Some(at);
                }
            }
            return Ok(());
        }
        let mut update = steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(status.as_str()))
            .col_expr(steps::Column::AvailableAt, Expr::value(at))
            .col_expr(steps::Column::UpdatedAt, Expr::value(at));
        if status.is_terminal() {
            update = update.col_expr(steps::Column::FinishedAt, Expr::value(at));
        }
        update
            .filter(steps::Column::Id.eq(step.0))
            .filter(steps::Column::Status.eq(StepStatus::Pending.as_str()))
            .exec(&self.txn)
            .await
            .context("failed to settle step")?;
        Ok(())
    }

    /// The step of `node` in `scope`, if it exists (seeing this transaction's writes).
    pub async fn find_step(
        &mut self,
        run: RunId,
        node: &str,
        scope: &str,
    ) -> Result<Option<Step>, StoreError> {
        if self.fresh.has_run(run.0) {
            return self.fresh.step(run.0, node, scope).cloned().map(step_from_row).transpose();
        }
        find_step_on(&self.txn, run, node, scope).await
    }

    /// Outputs of finished steps, seeing this transaction's writes.
    pub async fn step_outputs(
        &mut self,
        run: RunId,
        node_ids: Option<&[String]>,
        scopes: &[String],
    ) -> Result<Vec<StepOutput>, StoreError> {
        if self.fresh.has_run(run.0) {
            return Ok(self.fresh.outputs(run.0, node_ids, scopes));
        }
        step_outputs_on(&self.txn, run, node_ids, scopes).await
    }

    /// Parks a step the worker holds as `waiting` with `state` (a loop running its
    /// iterations, an approval, a child run) until [`StepTxn::wake_step`] or `wake_at`;
    /// waking continues the same attempt. `false` when the lease was lost.
    pub async fn park_step(
        &mut self,
        step: StepId,
        owner: &str,
        state: String,
        wake_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(StepStatus::Waiting.as_str()))
            .col_expr(steps::Column::AvailableAt, Expr::value(wake_at.unwrap_or_else(never)))
            .col_expr(steps::Column::Attempt, Expr::col(steps::Column::Attempt).sub(1))
            .col_expr(steps::Column::Output, Expr::value(state))
            .col_expr(steps::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(steps::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now))
            .filter(held_by(step, owner))
            .exec(&self.txn)
            .await
            .context("failed to park step")?;
        Ok(result.rows_affected == 1)
    }

    /// Makes a waiting step claimable now (its decision or child run arrived).
    pub async fn wake_step(&mut self, step: StepId, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if let Some(row) = self.fresh.step_mut(step.0) {
            if row.status != StepStatus::Waiting.as_str() {
                return Ok(false);
            }
            row.available_at = now;
            row.updated_at = now;
            return Ok(true);
        }
        let result = steps::Entity::update_many()
            .col_expr(steps::Column::AvailableAt, Expr::value(now))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now))
            .filter(steps::Column::Id.eq(step.0))
            .filter(steps::Column::Status.eq(StepStatus::Waiting.as_str()))
            .exec(&self.txn)
            .await
            .context("failed to wake step")?;
        Ok(result.rows_affected == 1)
    }

    /// Sets the run's status while it goes on (`running` or `waiting`).
    pub async fn set_run_status(
        &mut self,
        id: RunId,
        status: RunStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(row) = self.fresh.run_mut(id.0) {
            if !RunStatus::TERMINAL.iter().any(|t| t.as_str() == row.status) {
                row.status = status.as_str().to_owned();
                row.updated_at = now;
            }
            return Ok(());
        }
        runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(status.as_str()))
            .col_expr(runs::Column::UpdatedAt, Expr::value(now))
            .filter(runs::Column::Id.eq(id.0))
            .filter(runs::Column::Status.is_not_in(RunStatus::TERMINAL.map(RunStatus::as_str)))
            .exec(&self.txn)
            .await
            .context("failed to set run status")?;
        Ok(())
    }

    /// Updates a step that no worker holds (a waiting loop, an iteration's end): its status,
    /// output (or state) and fired ports.
    pub async fn update_step(
        &mut self,
        step: StepId,
        status: StepStatus,
        output: Option<String>,
        ports: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(row) = self.fresh.step_mut(step.0) {
            row.status = status.as_str().to_owned();
            row.output = output;
            row.ports = ports;
            row.updated_at = now;
            if status.is_terminal() {
                row.finished_at = Some(now);
            }
            return Ok(());
        }
        let mut update = steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(status.as_str()))
            .col_expr(steps::Column::Output, Expr::value(output))
            .col_expr(steps::Column::Ports, Expr::value(ports))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now));
        if status.is_terminal() {
            update = update.col_expr(steps::Column::FinishedAt, Expr::value(now));
        }
        update.filter(steps::Column::Id.eq(step.0)).exec(&self.txn).await.context("failed to update step")?;
        Ok(())
    }

    /// Cancels the open steps of these nodes in `scope` (branches a join no longer waits
    /// for); a worker running one of them loses it.
    pub async fn cancel_open_steps(
        &mut self,
        run: RunId,
        node_ids: &[String],
        scope: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.fresh.has_run(run.0) {
            self.fresh.cancel_open(run.0, node_ids, scope, now);
            return Ok(());
        }
        steps::Entity::update_many()
            .col_expr(steps::Column::Status, Expr::value(StepStatus::Cancelled.as_str()))
            .col_expr(steps::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(steps::Column::FinishedAt, Expr::value(now))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now))
            .filter(steps::Column::RunId.eq(run.0))
            .filter(steps::Column::Scope.eq(scope))
            .filter(steps::Column::NodeId.is_in(node_ids.iter().map(String::as_str)))
            .filter(steps::Column::Status.is_in(StepStatus::OPEN.map(StepStatus::as_str)))
            .exec(&self.txn)
            .await
            .context("failed to cancel branches")?;
        Ok(())
    }

    /// Marks a queued run as running.
    pub async fn start_run(&mut self, id: RunId, now: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(row) = self.fresh.run_mut(id.0) {
            if row.status == RunStatus::Queued.as_str() {
                row.status = RunStatus::Running.as_str().to_owned();
                row.started_at = Some(now);
                row.updated_at = now;
            }
            return Ok(());
        }
        runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(RunStatus::Running.as_str()))
            .col_expr(runs::Column::StartedAt, Expr::value(now))
            .col_expr(runs::Column::UpdatedAt, Expr::value(now))
            .filter(runs::Column::Id.eq(id.0))
            .filter(runs::Column::Status.eq(RunStatus::Queued.as_str()))
            .exec(&self.txn)
            .await
            .context("failed to start run")?;
        Ok(())
    }

    /// Records the run's result so far (the output of an `end` node).
    pub async fn set_run_output(&mut self, id: RunId, output: String) -> Result<(), StoreError> {
        if let Some(row) = self.fresh.run_mut(id.0) {
            row.output = Some(output);
            return Ok(());
        }
        runs::Entity::update_many()
            .col_expr(runs::Column::Output, Expr::value(output))
            .filter(runs::Column::Id.eq(id.0))
            .exec(&self.txn)
            .await
            .context("failed to record run output")?;
        Ok(())
    }

    /// How many of the run's steps can still make progress (ready, running or waiting).
    pub async fn open_steps(&mut self, id: RunId) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        if self.fresh.has_run(id.0) {
            return Ok(self.fresh.live_steps(id.0));
        }
        steps::Entity::find()
            .filter(steps::Column::RunId.eq(id.0))
            .filter(steps::Column::Status.is_in(StepStatus::LIVE.map(StepStatus::as_str)))
            .count(&self.txn)
            .await
            .context("failed to count open steps")
    }

    /// Ends the run (unless it has ended already) and cancels its live steps.
    pub async fn finish_run(
        &mut self,
        id: RunId,
        status: RunStatus,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.fresh.has_run(id.0) {
            return Ok(self.fresh.finish(id.0, status, error, now));
        }
        let result = runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(status.as_str()))
            .col_expr(runs::Column::Error, Expr::value(error))
            .col_expr(runs::Column::FinishedAt, Expr::value(now))
            .col_expr(runs::Column::UpdatedAt, Expr::value(now))
            .filter(runs::Column::Id.eq(id.0))
            .filter(runs::Column::Status.is_not_in(RunStatus::TERMINAL.map(RunStatus::as_str)))
            .exec(&self.txn)
            .await
            .context("failed to finish run")?;
        // Steps that were queued, running or waiting are cancelled, remembering their status
        // for `run.retry`; pending ones (inputs still missing) simply never become ready.
        steps::Entity::update_many()
            .col_expr(steps::Column::PriorStatus, Expr::col(steps::Column::Status))
            .col_expr(steps::Column::Status, Expr::value(StepStatus::Cancelled.as_str()))
            .col_expr(steps::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(steps::Column::FinishedAt, Expr::value(now))
            .col_expr(steps::Column::UpdatedAt, Expr::value(now))
            .filter(steps::Column::RunId.eq(id.0))
            .filter(steps::Column::Status.is_in(StepStatus::LIVE.map(StepStatus::as_str)))
            .exec(&self.txn)
            .await
            .context("failed to cancel open steps")?;
        Ok(result.rows_affected == 1)
    }

    /// Writes the runs created in this transaction, then commits everything recorded.
    pub async fn commit(self) -> Result<(), StoreError> {
        let Self { txn, fresh, backend } = self;
        if !fresh.is_empty() {
            fresh.flush(&txn, backend).await?;
        }
        txn.commit().await.context("failed to commit step outcome")
    }
}

/// What [`StepTxn::requeue_step`] keeps.
#[derive(Clone, Debug, Default)]
pub struct Requeue {
    /// Runner state kept in the step's output (a timer's due time).
    pub state: Option<String>,
    /// The error of the failed attempt (JSON text).
    pub error: Option<String>,
    /// The next claim continues this attempt instead of starting a new one.
    pub same_attempt: bool,
}
