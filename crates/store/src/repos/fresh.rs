//! Runs created in the current step transaction, kept in memory until it commits.
//!
//! A run created by [`StepTxn::create_run`](super::step_txn::StepTxn::create_run) exists
//! nowhere else until its transaction commits, so nothing else can read or change it: the
//! transaction may keep the run and its steps in memory, apply every change there, and write
//! the final rows with a few multi-row `INSERT`s at commit. A run that starts, runs its pure
//! nodes inline and ends costs two statements instead of two per step. Every operation of
//! the step transaction has the same meaning on these rows as its SQL has on stored ones;
//! the engine cannot tell the two apart.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel};
use uuid::Uuid;

use super::runs::{RunStatus, StepOutput, StepStatus};
use crate::entities::{runs, steps};
use crate::error::{Context, StoreError};

/// Most rows in one `INSERT` (SQLite allows 32,766 bound values; a step row has 20).
const ROWS_PER_INSERT: usize = 500;

/// The runs created in one transaction and their steps.
#[derive(Default)]
pub(crate) struct Fresh {
    runs: Vec<runs::Model>,
    run_index: HashMap<Uuid, usize>,
    steps: Vec<steps::Model>,
    /// `(run, node, scope)` → position in `steps`: the table's unique key.
    by_key: HashMap<(Uuid, String, String), usize>,
    by_id: HashMap<Uuid, usize>,
    /// Positions of each run's steps.
    per_run: HashMap<Uuid, Vec<usize>>,
}

impl Fresh {
    pub(crate) fn has_run(&self, id: Uuid) -> bool {
        self.run_index.contains_key(&id)
    }

    pub(crate) fn add_run(&mut self, run: runs::Model) {
        self.run_index.insert(run.id, self.runs.len());
        self.per_run.entry(run.id).or_default();
        self.runs.push(run);
    }

    pub(crate) fn run(&self, id: Uuid) -> Option<&runs::Model> {
        self.run_index.get(&id).map(|&i| &self.runs[i])
    }

    pub(crate) fn run_mut(&mut self, id: Uuid) -> Option<&mut runs::Model> {
        self.run_index.get(&id).map(|&i| &mut self.runs[i])
    }

    pub(crate) fn step(&self, run: Uuid, node: &str, scope: &str) -> Option<&steps::Model> {
        self.by_key.get(&(run, node.to_owned(), scope.to_owned())).map(|&i| &self.steps[i])
    }

    pub(crate) fn step_by_key_mut(
        &mut self,
        run: Uuid,
        node: &str,
        scope: &str,
    ) -> Option<&mut steps::Model> {
        self.by_key.get(&(run, node.to_owned(), scope.to_owned())).map(|&i| &mut self.steps[i])
    }

    pub(crate) fn step_mut(&mut self, id: Uuid) -> Option<&mut steps::Model> {
        self.by_id.get(&id).map(|&i| &mut self.steps[i])
    }

    pub(crate) fn add_step(&mut self, step: steps::Model) {
        let at = self.steps.len();
        self.by_key.insert((step.run_id, step.node_id.clone(), step.scope.clone()), at);
        self.by_id.insert(step.id, at);
        self.per_run.entry(step.run_id).or_default().push(at);
        self.steps.push(step);
    }

    /// Calls `f` on each step of `run`.
    fn each_step_mut(&mut self, run: Uuid, mut f: impl FnMut(&mut steps::Model)) {
        if let Some(positions) = self.per_run.get(&run) {
            for &i in positions {
                f(&mut self.steps[i]);
            }
        }
    }

    fn steps_of(&self, run: Uuid) -> impl Iterator<Item = &steps::Model> {
        self.per_run.get(&run).into_iter().flatten().map(|&i| &self.steps[i])
    }

    /// Outputs of finished steps, as `step_outputs` selects them.
    pub(crate) fn outputs(
        &self,
        run: Uuid,
        node_ids: Option<&[String]>,
        scopes: &[String],
    ) -> Vec<StepOutput> {
        let wanted: Option<std::collections::HashSet<&str>> =
            node_ids.map(|ids| ids.iter().map(String::as_str).collect());
        self.steps_of(run)
            .filter(|s| s.status == StepStatus::Succeeded.as_str() || s.status == StepStatus::Failed.as_str())
            .filter(|s| s.output.is_some())
            .filter(|s| scopes.contains(&s.scope))
            .filter(|s| wanted.as_ref().is_none_or(|ids| ids.contains(s.node_id.as_str())))
            .map(|s| StepOutput {
                node_id: s.node_id.clone(),
                scope: s.scope.clone(),
                output: s.output.clone(),
            })
            .collect()
    }

    /// Steps of the run that can still make progress.
    pub(crate) fn live_steps(&self, run: Uuid) -> u64 {
        self.steps_of(run).filter(|s| StepStatus::LIVE.iter().any(|l| l.as_str() == s.status)).count() as u64
    }

    /// Cancels open steps of `node_ids` in `scope` (see `cancel_open_steps`).
    pub(crate) fn cancel_open(&mut self, run: Uuid, node_ids: &[String], scope: &str, now: DateTime<Utc>) {
        self.each_step_mut(run, |step| {
            if step.scope == scope
                && node_ids.contains(&step.node_id)
                && StepStatus::OPEN.iter().any(|o| o.as_str() == step.status)
            {
                step.status = StepStatus::Cancelled.as_str().to_owned();
                step.lease_owner = None;
                step.finished_at = Some(now);
                step.updated_at = now;
            }
        });
    }

    /// Ends the run (see `finish_run`); `false` when it had ended already.
    pub(crate) fn finish(
        &mut self,
        run: Uuid,
        status: RunStatus,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(row) = self.run_mut(run) else { return false };
        let ended = RunStatus::TERMINAL.iter().any(|t| t.as_str() == row.status);
        if !ended {
            row.status = status.as_str().to_owned();
            row.error = error;
            row.finished_at = Some(now);
            row.updated_at = now;
        }
        self.each_step_mut(run, |step| {
            if StepStatus::LIVE.iter().any(|l| l.as_str() == step.status) {
                step.prior_status = Some(step.status.clone());
                step.status = StepStatus::Cancelled.as_str().to_owned();
                step.lease_owner = None;
                step.finished_at = Some(now);
                step.updated_at = now;
            }
        });
        !ended
    }

    /// Writes every run, then every step, with multi-row `INSERT`s.
    pub(crate) async fn flush(self, txn: &DatabaseTransaction) -> Result<(), StoreError> {
        for chunk in self.runs.chunks(ROWS_PER_INSERT) {
            runs::Entity::insert_many(chunk.iter().map(|r| r.clone().into_active_model().reset_all()))
                .exec_without_returning(txn)
                .await
                .context("failed to insert runs")?;
        }
        for chunk in self.steps.chunks(ROWS_PER_INSERT) {
            steps::Entity::insert_many(chunk.iter().map(|s| s.clone().into_active_model().reset_all()))
                .exec_without_returning(txn)
                .await
                .context("failed to insert steps")?;
        }
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}
