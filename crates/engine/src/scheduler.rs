//! The scheduler: starts the runs of cron schedules, each fire time exactly once.
//!
//! Every process that runs workers runs one scheduler loop. It sleeps until the earliest
//! `next_fire_at` of all schedules (one indexed `MIN`), or until a schedule changes on this
//! process ([`crate::Engine::schedules_changed`]), or at most `max_sleep` (changes made on
//! other instances); it never scans every schedule. A fire time within reach is prepared
//! `PREPARE_AHEAD` before it: the due schedules are loaded (one indexed query), each one's
//! fire times planned with its catch-up policy (`weft_core::schedule::plan_due`) and its
//! workflow's plan found, so that at the fire time only the transaction is left. A tick
//! fires its schedules together in one transaction (whole schedules, up to
//! `MAX_TXN_FIRES` fires): the schedules are moved on (a multi-row conditional
//! `UPDATE`), the overlap policies' question (is a run of the schedule still going, is a
//! fire queued) is one query, and the fires are recorded with multi-row `INSERT`s, each
//! claim naming the run created after it in the same transaction. SQLite has one writer,
//! so a burst of simultaneous fires costs a handful of statements and one commit.
//!
//! Exactly once: a fire is claimed in `trigger_fires` (unique per schedule and fire time)
//! in the transaction that creates its run and moves its schedule on. Two instances
//! planning the same fire find the schedule moved (the second waits for the first's row
//! lock on PostgreSQL) or the claim taken, and start nothing; an instance that died in the
//! middle of a tick committed all of a schedule's part of it or none. A schedule changed
//! between its loading and its transaction is not at its expected fire time any more, so
//! it is not fired from what was loaded.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use weft_core::cron_expr::CronSchedule;
use weft_core::schedule::{DuePolicy, Overlap, plan_due};
use weft_core::{RunId, WorkflowId};
use weft_store::{Advance, FireClaim, FireStatus, NewFire, Schedule, time_key};

use crate::plan::Plan;
use crate::starts::{create_in, published};
use crate::{EngineError, Inner, StartRun};

/// Scheduler settings.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Whether this process runs the scheduler at all.
    pub enabled: bool,
    /// A fire time at most this late when seen is on time (it runs whatever the catch-up
    /// policy); older ones were missed.
    pub grace: Duration,
    /// Longest sleep between looks at the schedules (changes made on other instances are
    /// seen within it).
    pub max_sleep: Duration,
    /// Due schedules loaded per query.
    pub batch: u64,
    /// Most fire times one schedule runs in one tick (catch-up of `all`); the rest follow.
    pub max_fires_per_tick: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            grace: Duration::from_secs(60),
            max_sleep: Duration::from_secs(10),
            batch: 256,
            max_fires_per_tick: 1000,
        }
    }
}

/// What one fire did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FireOutcome {
    /// Its run started.
    Started(RunId),
    /// Recorded as skipped or queued (overlap), or skipped for want of a published version.
    Recorded(FireStatus),
    /// Another instance (or this one before a crash) had claimed it.
    AlreadyClaimed,
}

/// What a tick did, for tests and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Runs started.
    pub started: Vec<RunId>,
    /// Fires recorded without a run.
    pub recorded: usize,
    /// Fires found claimed already.
    pub already_claimed: usize,
    /// Due schedules left due because their workflow could not be read (the store failed):
    /// tried again after a pause that doubles while it lasts.
    pub unreadable: usize,
}

impl TickReport {
    fn count(&mut self, outcome: FireOutcome) {
        match outcome {
            FireOutcome::Started(run) => self.started.push(run),
            FireOutcome::Recorded(_) => self.recorded += 1,
            FireOutcome::AlreadyClaimed => self.already_claimed += 1,
        }
    }
}

/// The published version of a workflow and its plan; `None`: nothing is published.
type Published = Option<(i32, Arc<Plan>)>;

/// One due schedule's part of a tick.
struct DueFires {
    schedule: Schedule,
    /// Its fire times, oldest first.
    fires: Vec<DateTime<Utc>>,
    /// How it moves on, in the transaction of its fires (`None`: it stays, for a fire
    /// fired by hand).
    advance: Option<Advance>,
    published: Published,
}

/// How many due schedules a batch loaded, and how many of them were left due.
struct DueCounts {
    loaded: usize,
    unreadable: usize,
}

/// What one transaction of a tick did.
struct Committed {
    /// Schedules it moved on.
    moved: u64,
    outcomes: Vec<FireOutcome>,
}

/// How long before a fire time the scheduler loads what it will fire.
const PREPARE_AHEAD: Duration = Duration::from_millis(100);

/// The first pause before due schedules whose workflow could not be read are tried again.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// The pause before trying again schedules left due after `previous` (zero: the first
/// failure): doubling, at most `longest`.
fn retry_pause(previous: Duration, longest: Duration) -> Duration {
    (previous * 2).clamp(FIRST_RETRY, longest.max(FIRST_RETRY))
}

/// Fires of one transaction of a tick (whole schedules; one schedule's catch-up may
/// exceed it): bounds the memory and the write lock a burst holds.
const MAX_TXN_FIRES: usize = 1024;

/// The fire of `due`'s schedule at `at`: its run's id when it starts one, else held back
/// by the overlap policy (`busy`: the schedules whose policy holds a new run back), or
/// skipped for want of a published version.
fn new_fire(due: &DueFires, at: DateTime<Utc>, busy: &HashSet<uuid::Uuid>) -> NewFire {
    let schedule = &due.schedule;
    let trigger_id = schedule.id.0;
    let held_back = match schedule.overlap {
        Overlap::AllowConcurrent => None,
        Overlap::Skip => busy.contains(&trigger_id).then_some(FireStatus::Skipped),
        Overlap::Queue => busy.contains(&trigger_id).then_some(FireStatus::Queued),
    };
    let (status, run_id) = match (held_back, &due.published) {
        (Some(status), _) => (status, None),
        (None, Some(_)) => (FireStatus::Started, Some(RunId::new())),
        (None, None) => {
            tracing::warn!(schedule = %schedule.id, "the scheduled workflow has no usable published version: fire skipped");
            (FireStatus::Skipped, None)
        }
    };
    NewFire { trigger_id, key: time_key(at), fire_at: at, status, run_id }
}

/// The run of a schedule's fire at `at`.
fn fire_start(schedule: &Schedule, at: DateTime<Utc>, version: i32) -> StartRun {
    StartRun {
        workflow_id: schedule.workflow_id,
        project_id: schedule.project_id,
        version,
        input: fire_input(schedule, at),
        trigger: "schedule".to_owned(),
        started_by: schedule.created_by,
        timeout: None,
    }
}

/// The run input of a schedule's fire.
fn fire_input(schedule: &Schedule, at: DateTime<Utc>) -> serde_json::Value {
    let input: serde_json::Value = serde_json::from_str(&schedule.input).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "trigger": "schedule",
        "scheduleId": schedule.id,
        "fireAt": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "input": input,
    })
}

impl Inner {
    /// Runs the scheduler until `shutdown`.
    pub(crate) async fn run_scheduler(self: Arc<Self>, shutdown: CancellationToken) {
        let config = self.config.schedules.clone();
        let mut retry = Duration::ZERO;
        loop {
            let unreadable = match self.schedule_tick(Utc::now()).await {
                Ok(report) => report.unreadable,
                Err(err) => {
                    tracing::warn!(error = %err, "scheduler tick failed");
                    0
                }
            };
            let next = match self.store.earliest_fire().await {
                Ok(next) => next,
                Err(err) => {
                    tracing::warn!(error = %err, "scheduler could not read the next fire time");
                    None
                }
            };
            let until_next = next.map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            // A fire time within the sleep is prepared a little ahead and fired on time.
            let (mut sleep, mut prepare) = match (next, until_next) {
                (Some(at), Some(until)) if until <= config.max_sleep => {
                    (until.saturating_sub(PREPARE_AHEAD), Some(at))
                }
                _ => (config.max_sleep, None),
            };
            // Schedules left due keep the earliest fire time in the past: without a pause the
            // loop would try them again at once, and again.
            retry = if unreadable > 0 { retry_pause(retry, config.max_sleep) } else { Duration::ZERO };
            if retry > sleep {
                (sleep, prepare) = (retry, None);
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(sleep) => {
                    if let Some(at) = prepare
                        && let Err(err) = self.prepared_tick(at).await
                    {
                        tracing::warn!(error = %err, "scheduler tick failed");
                    }
                }
                _ = self.schedules_changed.notified() => {}
            }
        }
    }

    /// The tick of fire time `at`, prepared before it: the due schedules, their fire times
    /// and their workflows' plans are loaded ahead, so that at `at` only the transaction is
    /// left. A schedule changed meanwhile is not fired (the transaction moves each on only
    /// from the fire time it was loaded at); the next tick sees it as it is now.
    async fn prepared_tick(self: &Arc<Self>, at: DateTime<Utc>) -> Result<(), EngineError> {
        let (batch, _) = self.due_batch(at).await?;
        if let Ok(until) = (at - Utc::now()).to_std() {
            tokio::time::sleep(until).await;
        }
        self.fire_batch(&batch, &mut TickReport::default()).await?;
        Ok(())
    }

    /// Fires every schedule due at `now` and moves each on, all in as few transactions as
    /// the inline budget allows.
    pub(crate) async fn schedule_tick(
        self: &Arc<Self>,
        now: DateTime<Utc>,
    ) -> Result<TickReport, EngineError> {
        let mut report = TickReport::default();
        loop {
            let (batch, counts) = self.due_batch(now).await?;
            report.unreadable += counts.unreadable;
            let moved = self.fire_batch(&batch, &mut report).await?;
            if (counts.loaded as u64) < self.config.schedules.batch || moved == 0 {
                return Ok(report);
            }
        }
    }

    /// The schedules due at `now` (at most a batch; answers how many were loaded) with
    /// their fire times and plans.
    async fn due_batch(&self, now: DateTime<Utc>) -> Result<(Vec<DueFires>, DueCounts), EngineError> {
        let due = self.store.due_schedules(now, self.config.schedules.batch).await?;
        let mut counts = DueCounts { loaded: due.len(), unreadable: 0 };
        // The published version of each workflow, read once per tick.
        let mut published: HashMap<WorkflowId, Option<Published>> = HashMap::new();
        let mut batch = Vec::with_capacity(counts.loaded);
        for schedule in due {
            let Some(next_fire_at) = schedule.next_fire_at else { continue };
            let version = match published.entry(schedule.workflow_id) {
                Entry::Occupied(entry) => entry.get().clone(),
                Entry::Vacant(entry) => {
                    let version = match self.published_plan(schedule.workflow_id).await {
                        Ok(version) => Some(version),
                        // The version itself is unusable (trying again will not help): its
                        // fires are recorded as skipped and the schedule moves on.
                        Err(
                            err @ (EngineError::Version { .. }
                            | EngineError::NoEntry
                            | EngineError::Corrupt(_)),
                        ) => {
                            tracing::warn!(workflow = %schedule.workflow_id, error = %err, "the published version of a scheduled workflow is unusable: its fires are skipped");
                            Some(None)
                        }
                        Err(err) => {
                            tracing::warn!(workflow = %schedule.workflow_id, error = %err, "failed to load the published version of a scheduled workflow");
                            None
                        }
                    };
                    entry.insert(version).clone()
                }
            };
            // Left due when its version could not be read: tried again after a pause.
            let Some(published) = version else {
                counts.unreadable += 1;
                continue;
            };
            let (fires, next) = self.due_fires(&schedule, next_fire_at, now);
            let advance = Some(Advance { id: schedule.id, expected: next_fire_at, next });
            batch.push(DueFires { schedule, fires, advance, published });
        }
        Ok((batch, counts))
    }

    /// The workflow's published version and its plan.
    async fn published_plan(&self, workflow: WorkflowId) -> Result<Published, EngineError> {
        let found = self.store.find_workflow(workflow).await?;
        let Some(version) = found.and_then(|w| w.published_version) else { return Ok(None) };
        let plan = self.plan(workflow, version).await?;
        plan.entry().ok_or(EngineError::NoEntry)?;
        Ok(Some((version, plan)))
    }

    /// A due schedule's fire times at `now` and its next fire time after them (`None`: it
    /// is over).
    fn due_fires(
        &self,
        schedule: &Schedule,
        next_fire_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Vec<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let cron = match CronSchedule::parse(&schedule.cron, &schedule.time_zone) {
            Ok(cron) => cron,
            Err(err) => {
                tracing::warn!(schedule = %schedule.id, error = %err, "unreadable schedule stops firing");
                return (Vec::new(), None);
            }
        };
        let config = &self.config.schedules;
        let policy = DuePolicy {
            catch_up: schedule.catch_up,
            window: chrono::Duration::seconds(schedule.catch_up_window_secs),
            grace: chrono::Duration::from_std(config.grace).unwrap_or(chrono::Duration::seconds(60)),
            end_at: schedule.end_at,
            limit: config.max_fires_per_tick.max(1),
        };
        let plan = plan_due(&cron, next_fire_at, now, policy);
        (plan.fires, plan.next)
    }

    /// Fires a tick's batch; answers how many schedules moved on. When a transaction of
    /// several schedules fails, each of its schedules is tried again alone, so one bad
    /// schedule fails only itself (it stays due).
    async fn fire_batch(
        self: &Arc<Self>,
        batch: &[DueFires],
        report: &mut TickReport,
    ) -> Result<u64, EngineError> {
        let mut batch: Vec<&DueFires> = batch.iter().collect();
        batch.sort_by_key(|due| due.schedule.id);
        let mut moved = 0;
        let mut from = 0;
        while from < batch.len() {
            // Whole schedules, up to MAX_TXN_FIRES fires (at least one schedule).
            let mut to = from + 1;
            let mut n_fires = batch[from].fires.len();
            while to < batch.len() && n_fires + batch[to].fires.len() <= MAX_TXN_FIRES {
                n_fires += batch[to].fires.len();
                to += 1;
            }
            let part = &batch[from..to];
            match self.fire_together(part).await {
                Ok(committed) => {
                    moved += committed.moved;
                    committed.outcomes.into_iter().for_each(|outcome| report.count(outcome));
                }
                Err(err) if part.len() > 1 => {
                    tracing::warn!(error = %err, schedules = part.len(), "failed to fire schedules together: firing them one by one");
                    for due in part {
                        match self.fire_together(std::slice::from_ref(due)).await {
                            Ok(committed) => {
                                moved += committed.moved;
                                committed.outcomes.into_iter().for_each(|outcome| report.count(outcome));
                            }
                            Err(err) => {
                                tracing::warn!(schedule = %due.schedule.id, error = %err, "failed to fire schedule")
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(schedule = %part[0].schedule.id, error = %err, "failed to fire schedule")
                }
            }
            from = to;
        }
        Ok(moved)
    }

    /// Fires `batch` (ordered by schedule) in one transaction: moves the schedules on
    /// (those another instance moved, or changed meanwhile, are not fired), then records
    /// their fires in rounds, each a few multi-row `INSERT`s: every fire of a schedule that
    /// allows overlap, and the next fire of the others (whether it runs depends on what
    /// the one before did). A claimed fire's run is created (its id was in the claim) and
    /// carried on inline, as far as the transaction's inline budget goes.
    async fn fire_together(self: &Arc<Self>, batch: &[&DueFires]) -> Result<Committed, EngineError> {
        let mut txn = self.store.begin_steps().await?;
        let advances: Vec<Advance> = batch.iter().filter_map(|due| due.advance).collect();
        let moved = txn.advance_schedules(&advances).await?;
        let batch: Vec<&DueFires> = batch
            .iter()
            .copied()
            .filter(|due| due.advance.is_none() || moved.contains(&due.schedule.id))
            .collect();
        let ids = |keep: fn(Overlap) -> bool| -> Vec<uuid::Uuid> {
            let due = batch.iter().filter(|due| !due.fires.is_empty() && keep(due.schedule.overlap));
            due.map(|due| due.schedule.id.0).collect()
        };
        let live_of = ids(|overlap| overlap != Overlap::AllowConcurrent);
        let queued_of = ids(|overlap| overlap == Overlap::Queue);
        let mut busy = txn.busy_triggers(&live_of, &queued_of).await?;
        let mut budget = self.config.inline_steps;
        let mut committed = Committed { moved: moved.len() as u64, outcomes: Vec::new() };
        let mut started = Vec::new();
        let mut n_taken = vec![0; batch.len()];
        loop {
            let mut round = Vec::new();
            let mut owners = Vec::new();
            for (i, due) in batch.iter().enumerate() {
                let rest = &due.fires[n_taken[i]..];
                let n = if due.schedule.overlap == Overlap::AllowConcurrent {
                    rest.len()
                } else {
                    rest.len().min(1)
                };
                for &at in &rest[..n] {
                    round.push(new_fire(due, at, &busy));
                    owners.push(*due);
                }
                n_taken[i] += n;
            }
            if round.is_empty() {
                break;
            }
            let inserted = txn.insert_fires(&round, Utc::now()).await?;
            for ((fire, due), inserted) in round.into_iter().zip(owners).zip(inserted) {
                let outcome = if !inserted {
                    FireOutcome::AlreadyClaimed
                } else if let (Some(run_id), Some((version, plan))) = (fire.run_id, &due.published) {
                    let start = fire_start(&due.schedule, fire.fire_at, *version);
                    let run = create_in(self, &mut txn, run_id, &start, plan, &mut budget).await?;
                    if due.schedule.overlap != Overlap::AllowConcurrent && !run.run.status.is_terminal() {
                        busy.insert(fire.trigger_id);
                    }
                    started.push(run);
                    FireOutcome::Started(run_id)
                } else {
                    if fire.status == FireStatus::Queued {
                        busy.insert(fire.trigger_id);
                    }
                    FireOutcome::Recorded(fire.status)
                };
                committed.outcomes.push(outcome);
            }
        }
        txn.commit().await?;
        for run in started {
            published(self, Some(run));
        }
        Ok(committed)
    }

    /// Fires `schedule` at `at`, once, without moving it on (what a tick cut short by a
    /// crash leaves behind; for tests).
    pub(crate) async fn fire_schedule(
        self: &Arc<Self>,
        schedule: &Schedule,
        at: DateTime<Utc>,
    ) -> Result<FireOutcome, EngineError> {
        let published = self.published_plan(schedule.workflow_id).await?;
        let due = DueFires { schedule: schedule.clone(), fires: vec![at], advance: None, published };
        let committed = self.fire_together(&[&due]).await?;
        committed
            .outcomes
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Corrupt("a fire left no outcome".to_owned()))
    }

    /// Starts the oldest queued fire of a schedule whose run ended, if none is live.
    pub(crate) async fn dequeue_schedule(self: &Arc<Self>, schedule: &Schedule) -> Result<(), EngineError> {
        if schedule.overlap != Overlap::Queue || self.store.trigger_has_live_run(schedule.id.0).await? {
            return Ok(());
        }
        let Some(fire) = self.store.oldest_queued_fire(schedule.id.0).await? else { return Ok(()) };
        let Some(version) =
            self.store.find_workflow(schedule.workflow_id).await?.and_then(|w| w.published_version)
        else {
            return Ok(());
        };
        let start = fire_start(schedule, fire.fire_at, version);
        self.start_claimed(start, Some(FireClaim::Queued { fire_id: fire.id })).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_left_due_are_retried_after_a_doubling_pause() {
        let longest = Duration::from_secs(10);
        let mut pause = Duration::ZERO;
        let mut pauses = Vec::new();
        for _ in 0..7 {
            pause = retry_pause(pause, longest);
            pauses.push(pause.as_millis());
        }
        assert_eq!(pauses, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        // A longest sleep shorter than the first pause still pauses.
        assert_eq!(retry_pause(Duration::ZERO, Duration::from_millis(100)), FIRST_RETRY);
    }
}
