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
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel,
    Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::runs::{RunStatus, StepOutput, StepStatus};
use crate::Backend;
use crate::entities::{runs, steps};
use crate::error::{Context, StoreError};

/// Row counts of the multi-row `INSERT`s on SQLite, largest first. Rows are split greedily
/// into chunks of these sizes, so only a few distinct statements are ever prepared (each
/// connection caches its prepared statements, and a statement for hundreds of rows is large);
/// 256 rows of 20 columns stay far below SQLite's 32,766 bound values.
const CHUNK_ROWS: [usize; 4] = [256, 64, 8, 1];

/// `rows` split into chunks of the sizes in [`CHUNK_ROWS`].
fn chunks<T>(rows: &[T]) -> Vec<&[T]> {
    super::chunks_of(rows, &CHUNK_ROWS)
}

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

    /// Writes every run, then every step: on PostgreSQL with statements that take the rows
    /// as one JSON parameter (`jsonb_populate_recordset`: the statement text never changes,
    /// so it is prepared once per connection), each under [`PG_STATEMENT_BYTES`]; on SQLite
    /// with multi-row `INSERT`s.
    pub(crate) async fn flush(self, txn: &DatabaseTransaction, backend: Backend) -> Result<(), StoreError> {
        if backend == Backend::Postgres {
            let runs = self.runs.iter().map(run_json);
            insert_json(txn, "runs", runs, "failed to insert runs").await?;
            let steps = self.steps.iter().map(step_json);
            return insert_json(txn, "steps", steps, "failed to insert steps").await;
        }
        for chunk in chunks(&self.runs) {
            runs::Entity::insert_many(chunk.iter().map(|r| r.clone().into_active_model().reset_all()))
                .exec_without_returning(txn)
                .await
                .context("failed to insert runs")?;
        }
        for chunk in chunks(&self.steps) {
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

/// Largest JSON parameter of one PostgreSQL insert. sqlx 0.9.0 leaves Nagle's algorithm on
/// (it does not set `TCP_NODELAY`), so a message larger than the socket's send buffer
/// (16 KiB by default on Linux) waits for a delayed ACK, about 40 ms; smaller statements
/// avoid the stall.
const PG_STATEMENT_BYTES: usize = 12 * 1024;

/// Inserts `rows` into `table` with as few statements as [`PG_STATEMENT_BYTES`] allows.
async fn insert_json(
    txn: &DatabaseTransaction,
    table: &str,
    rows: impl Iterator<Item = Value>,
    context: &'static str,
) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO {table} SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb)");
    let rows: Vec<String> = rows.map(|row| row.to_string()).collect();
    let mut start = 0;
    while start < rows.len() {
        let mut end = start + 1;
        let mut bytes = rows[start].len() + 2;
        while end < rows.len() && bytes + rows[end].len() < PG_STATEMENT_BYTES {
            bytes += rows[end].len() + 1;
            end += 1;
        }
        let batch = format!("[{}]", rows[start..end].join(","));
        let statement = Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql.clone(),
            [sea_orm::Value::String(Some(batch))],
        );
        txn.execute_raw(statement).await.context(context)?;
        start = end;
    }
    Ok(())
}

/// A `runs` row as `jsonb_populate_recordset` reads it (members named as the columns).
fn run_json(run: &runs::Model) -> Value {
    json!({
        "id": run.id,
        "workflow_id": run.workflow_id,
        "project_id": run.project_id,
        "version": run.version,
        "status": run.status,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "trigger": run.trigger,
        "started_by": run.started_by,
        "parent_run_id": run.parent_run_id,
        "parent_step_id": run.parent_step_id,
        "depth": run.depth,
        "cancel_requested": run.cancel_requested,
        "deadline_at": run.deadline_at,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "updated_at": run.updated_at,
    })
}

/// A `steps` row as `jsonb_populate_recordset` reads it.
fn step_json(step: &steps::Model) -> Value {
    json!({
        "id": step.id,
        "run_id": step.run_id,
        "node_id": step.node_id,
        "scope": step.scope,
        "status": step.status,
        "attempt": step.attempt,
        "n_arrived": step.n_arrived,
        "n_skipped": step.n_skipped,
        "ports": step.ports,
        "input": step.input,
        "output": step.output,
        "error": step.error,
        "prior_status": step.prior_status,
        "available_at": step.available_at,
        "lease_owner": step.lease_owner,
        "lease_expires_at": step.lease_expires_at,
        "created_at": step.created_at,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "updated_at": step.updated_at,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_use_few_sizes_and_keep_every_row_in_order() {
        let rows: Vec<usize> = (0..1_000).collect();
        let chunks = super::chunks(&rows);
        assert!(chunks.iter().all(|c| super::CHUNK_ROWS.contains(&c.len())));
        assert_eq!(chunks.concat(), rows);
        assert_eq!(chunks.len(), 3 + 3 + 5, "3 × 256, 3 × 64, 5 × 8");
        assert!(super::chunks::<usize>(&[]).is_empty());
    }
}
