//! The scheduler: starts the runs of cron schedules, each fire time exactly once.
//!
//! Every process that runs workers runs one scheduler loop. It sleeps until the earliest
//! `next_fire_at` of all schedules (one indexed `MIN`), or until a schedule changes on this
//! process ([`crate::Engine::schedules_changed`]), or at most `max_sleep` (changes made on
//! other instances); it never scans every schedule. A tick loads the due schedules (one
//! indexed query), plans each one's due fire times with its catch-up policy
//! (`weft_core::schedule::plan_due`), and fires them all in one transaction (a few when
//! their runs' inline steps exceed the budget): per schedule a conditional `UPDATE` that
//! moves it on, then its fires, each claimed with its run; the overlap policies' question
//! (is a run of the schedule still going, is a fire queued) is one query per transaction.
//! SQLite has one writer, so a burst of simultaneous fires costs one commit, not one per
//! fire and one per schedule.
//!
//! Exactly once: a fire is claimed in `trigger_fires` (unique per schedule and fire time)
//! in the transaction that creates its run and moves its schedule on. Two instances
//! planning the same fire find the schedule moved (the second waits for the first's row
//! lock on PostgreSQL) or the claim taken, and start nothing; an instance that died in the
//! middle of a tick committed all of a schedule's part of it or none.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use weft_core::cron_expr::CronSchedule;
use weft_core::schedule::{DuePolicy, Overlap, plan_due};
use weft_core::{RunId, WorkflowId};
use weft_store::{Advance, FireClaim, FireStatus, Schedule, StepTxn, time_key};

use crate::plan::Plan;
use crate::starts::{Started, published, start_in};
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

/// What one transaction of a tick did.
#[derive(Default)]
struct Committed {
    /// Schedules of the batch it took, from the first.
    n_schedules: usize,
    /// Of those, schedules it moved on.
    moved: u64,
    outcomes: Vec<FireOutcome>,
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
        loop {
            if let Err(err) = self.schedule_tick(Utc::now()).await {
                tracing::warn!(error = %err, "scheduler tick failed");
            }
            let sleep = match self.store.earliest_fire().await {
                Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(config.max_sleep),
                Ok(None) => config.max_sleep,
                Err(err) => {
                    tracing::warn!(error = %err, "scheduler could not read the next fire time");
                    config.max_sleep
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(sleep) => {}
                _ = self.schedules_changed.notified() => {}
            }
        }
    }

    /// Fires every schedule due at `now` and moves each on, all in as few transactions as
    /// the inline budget allows.
    pub(crate) async fn schedule_tick(
        self: &Arc<Self>,
        now: DateTime<Utc>,
    ) -> Result<TickReport, EngineError> {
        let config = &self.config.schedules;
        let mut report = TickReport::default();
        loop {
            let due = self.store.due_schedules(now, config.batch).await?;
            let n_due = due.len();
            // The published version of each workflow, read once per tick.
            let mut published: HashMap<WorkflowId, Option<Published>> = HashMap::new();
            let mut batch = Vec::with_capacity(n_due);
            for schedule in due {
                let Some(next_fire_at) = schedule.next_fire_at else { continue };
                let version = match published.entry(schedule.workflow_id) {
                    Entry::Occupied(entry) => entry.get().clone(),
                    Entry::Vacant(entry) => {
                        let version = match self.published_plan(schedule.workflow_id).await {
                            Ok(version) => Some(version),
                            Err(err) => {
                                tracing::warn!(workflow = %schedule.workflow_id, error = %err, "failed to load the published version of a scheduled workflow");
                                None
                            }
                        };
                        entry.insert(version).clone()
                    }
                };
                // Left due when its version could not be read: tried again next tick.
                let Some(published) = version else { continue };
                let (fires, next) = self.due_fires(&schedule, next_fire_at, now);
                let advance = Some(Advance { id: schedule.id, expected: next_fire_at, next });
                batch.push(DueFires { schedule, fires, advance, published });
            }
            let moved = self.fire_batch(&batch, &mut report).await?;
            if (n_due as u64) < config.batch || moved == 0 {
                return Ok(report);
            }
        }
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
    /// several schedules fails, each of the rest is tried again alone, so one bad schedule
    /// fails only itself (it stays due).
    async fn fire_batch(
        self: &Arc<Self>,
        batch: &[DueFires],
        report: &mut TickReport,
    ) -> Result<u64, EngineError> {
        // One lock order for every instance: two ticks firing the same schedules wait for
        // each other instead of deadlocking.
        let mut batch: Vec<&DueFires> = batch.iter().collect();
        batch.sort_by_key(|due| due.schedule.id);
        let mut moved = 0;
        let mut from = 0;
        while from < batch.len() {
            match self.fire_in_one_transaction(&batch[from..]).await {
                Ok(committed) => {
                    from += committed.n_schedules;
                    moved += committed.moved;
                    committed.outcomes.into_iter().for_each(|outcome| report.count(outcome));
                }
                Err(err) => {
                    tracing::warn!(error = %err, schedules = batch.len() - from, "failed to fire schedules together: firing them one by one");
                    for due in &batch[from..] {
                        match self.fire_in_one_transaction(std::slice::from_ref(due)).await {
                            Ok(committed) => {
                                moved += committed.moved;
                                committed.outcomes.into_iter().for_each(|outcome| report.count(outcome));
                            }
                            Err(err) => {
                                tracing::warn!(schedule = %due.schedule.id, error = %err, "failed to fire schedule")
                            }
                        }
                    }
                    break;
                }
            }
        }
        Ok(moved)
    }

    /// Fires schedules of `batch` from the first in one transaction: each is moved on, then its fires are claimed (with their runs, created
    /// and carried on inline), or recorded as skipped or queued. Stops taking schedules
    /// once the inline budget is spent (each run may use all of it, as in a group of
    /// starts).
    async fn fire_in_one_transaction(
        self: &Arc<Self>,
        batch: &[&DueFires],
    ) -> Result<Committed, EngineError> {
        let mut txn = self.store.begin_steps().await?;
        let ids = |keep: fn(Overlap) -> bool| -> Vec<uuid::Uuid> {
            let due = batch.iter().filter(|due| !due.fires.is_empty());
            due.filter(|due| keep(due.schedule.overlap)).map(|due| due.schedule.id.0).collect()
        };
        let live_of = ids(|overlap| overlap != Overlap::AllowConcurrent);
        let queued_of = ids(|overlap| overlap == Overlap::Queue);
        let mut busy = txn.busy_triggers(&live_of, &queued_of).await?;
        let limit = self.config.inline_steps;
        let mut spent = 0;
        let mut committed = Committed::default();
        let mut started = Vec::new();
        for due in batch {
            if committed.n_schedules > 0 && limit > 0 && spent >= limit {
                break;
            }
            committed.n_schedules += 1;
            if let Some(advance) = &due.advance {
                if !txn.advance_schedule(advance).await? {
                    continue;
                }
                committed.moved += 1;
            }
            for &at in &due.fires {
                let mut budget = limit;
                let (outcome, run) = self.fire_in(&mut txn, due, at, &mut busy, &mut budget).await?;
                spent += limit - budget;
                committed.outcomes.push(outcome);
                started.extend(run);
            }
        }
        txn.commit().await?;
        for run in started {
            published(self, Some(run));
        }
        Ok(committed)
    }

    /// Fires `due`'s schedule at `at` in `txn`, once: its run starts (claimed with it), or
    /// the fire is recorded as skipped or queued by the overlap policy. `busy` holds the
    /// schedules whose overlap policy holds back a new run, and gains this one when its
    /// run goes on after the transaction.
    async fn fire_in(
        &self,
        txn: &mut StepTxn,
        due: &DueFires,
        at: DateTime<Utc>,
        busy: &mut HashSet<uuid::Uuid>,
        budget: &mut usize,
    ) -> Result<(FireOutcome, Option<Started>), EngineError> {
        let schedule = &due.schedule;
        let trigger_id = schedule.id.0;
        let key = time_key(at);
        let held_back = match schedule.overlap {
            Overlap::AllowConcurrent => None,
            Overlap::Skip => busy.contains(&trigger_id).then_some(FireStatus::Skipped),
            Overlap::Queue => busy.contains(&trigger_id).then_some(FireStatus::Queued),
        };
        let published = if held_back.is_some() { None } else { due.published.as_ref() };
        let Some((version, plan)) = published else {
            let status = held_back.unwrap_or_else(|| {
                tracing::warn!(schedule = %schedule.id, "the scheduled workflow has no published version: fire skipped");
                FireStatus::Skipped
            });
            if status == FireStatus::Queued {
                busy.insert(trigger_id);
            }
            let recorded = txn.record_fire(trigger_id, &key, at, status, Utc::now()).await?;
            let outcome = if recorded { FireOutcome::Recorded(status) } else { FireOutcome::AlreadyClaimed };
            return Ok((outcome, None));
        };
        let start = StartRun {
            workflow_id: schedule.workflow_id,
            project_id: schedule.project_id,
            version: *version,
            input: fire_input(schedule, at),
            trigger: "schedule".to_owned(),
            started_by: schedule.created_by,
            timeout: None,
        };
        let claim = FireClaim::New { trigger_id, key, fire_at: at };
        let Some(started) = start_in(self, txn, &start, plan, Some(&claim), budget).await? else {
            return Ok((FireOutcome::AlreadyClaimed, None));
        };
        if schedule.overlap != Overlap::AllowConcurrent && !started.run.status.is_terminal() {
            busy.insert(trigger_id);
        }
        Ok((FireOutcome::Started(started.run.id), Some(started)))
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
        let committed = self.fire_in_one_transaction(&[&due]).await?;
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
        let start = StartRun {
            workflow_id: schedule.workflow_id,
            project_id: schedule.project_id,
            version,
            input: fire_input(schedule, fire.fire_at),
            trigger: "schedule".to_owned(),
            started_by: schedule.created_by,
            timeout: None,
        };
        self.start_claimed(start, Some(FireClaim::Queued { fire_id: fire.id })).await?;
        Ok(())
    }
}
