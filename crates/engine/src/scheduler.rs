//! The scheduler: starts the runs of cron schedules, each fire time exactly once.
//!
//! Every process that runs workers runs one scheduler loop. It sleeps until the earliest
//! `next_fire_at` of all schedules (one indexed `MIN`), or until a schedule changes on this
//! process ([`crate::Engine::schedules_changed`]), or at most `max_sleep` (changes made on
//! other instances); it never scans every schedule. A tick loads the due schedules (one
//! indexed query), plans each one's due fire times with its catch-up policy
//! (`weft_core::schedule::plan_due`), fires them, and moves the schedule on with a
//! conditional `UPDATE`.
//!
//! Exactly once: a fire is claimed in `trigger_fires` (unique per schedule and fire time)
//! in the transaction that creates its run. Two instances planning the same fire, or an
//! instance repeating a tick after a crash between the claim and the move, find the claim
//! taken and start nothing.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use weft_core::RunId;
use weft_core::cron_expr::CronSchedule;
use weft_core::schedule::{DuePolicy, Overlap, plan_due};
use weft_store::{Advance, FireClaim, FireStatus, Schedule, time_key};

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

/// Schedules fired at the same time in one tick.
const FIRE_CONCURRENCY: usize = 64;

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

    /// Fires every schedule due at `now` and moves each on. Schedules are fired
    /// concurrently, so that their runs start together (one group commit).
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
            let mut published = HashMap::new();
            for schedule in &due {
                if let Entry::Vacant(entry) = published.entry(schedule.workflow_id) {
                    let workflow = self.store.find_workflow(schedule.workflow_id).await?;
                    entry.insert(workflow.and_then(|w| w.published_version));
                }
            }
            let published = &published;
            let outcomes: Vec<_> = futures::stream::iter(due)
                .map(|schedule| {
                    let inner = self.clone();
                    let version = published.get(&schedule.workflow_id).copied().flatten();
                    async move {
                        let outcome = inner.process_schedule(&schedule, version, now).await;
                        (schedule.id, outcome)
                    }
                })
                .buffer_unordered(FIRE_CONCURRENCY)
                .collect()
                .await;
            let mut advances = Vec::new();
            for (schedule, outcome) in outcomes {
                match outcome {
                    Ok((advance, done)) => {
                        advances.extend(advance);
                        report.started.extend(done.started);
                        report.recorded += done.recorded;
                        report.already_claimed += done.already_claimed;
                    }
                    Err(err) => {
                        tracing::warn!(schedule = %schedule, error = %err, "failed to fire schedule")
                    }
                }
            }
            let moved = self.store.advance_schedules(&advances).await?;
            if (n_due as u64) < config.batch || moved == 0 {
                return Ok(report);
            }
        }
    }

    /// Fires a due schedule's fire times; answers how to move it on (applied for the whole
    /// tick in one transaction) and what the fires did.
    async fn process_schedule(
        self: &Arc<Self>,
        schedule: &Schedule,
        version: Option<i32>,
        now: DateTime<Utc>,
    ) -> Result<(Option<Advance>, TickReport), EngineError> {
        let mut report = TickReport::default();
        let Some(next_fire_at) = schedule.next_fire_at else { return Ok((None, report)) };
        let cron = match CronSchedule::parse(&schedule.cron, &schedule.time_zone) {
            Ok(cron) => cron,
            Err(err) => {
                tracing::warn!(schedule = %schedule.id, error = %err, "unreadable schedule stops firing");
                return Ok((Some(Advance { id: schedule.id, expected: next_fire_at, next: None }), report));
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
        for at in plan.fires {
            match self.fire_at(schedule, at, version).await? {
                FireOutcome::Started(run) => report.started.push(run),
                FireOutcome::Recorded(_) => report.recorded += 1,
                FireOutcome::AlreadyClaimed => report.already_claimed += 1,
            }
        }
        Ok((Some(Advance { id: schedule.id, expected: next_fire_at, next: plan.next }), report))
    }

    /// Fires `schedule` at `at`, once: the run starts (claimed with it), or the fire is
    /// recorded as skipped or queued by the overlap policy.
    pub(crate) async fn fire_schedule(
        self: &Arc<Self>,
        schedule: &Schedule,
        at: DateTime<Utc>,
    ) -> Result<FireOutcome, EngineError> {
        let version = self.store.find_workflow(schedule.workflow_id).await?.and_then(|w| w.published_version);
        self.fire_at(schedule, at, version).await
    }

    /// [`Self::fire_schedule`] with the workflow's published version (`None`: unpublished).
    async fn fire_at(
        self: &Arc<Self>,
        schedule: &Schedule,
        at: DateTime<Utc>,
        published: Option<i32>,
    ) -> Result<FireOutcome, EngineError> {
        let trigger_id = schedule.id.0;
        let key = time_key(at);
        let busy = match schedule.overlap {
            Overlap::AllowConcurrent => None,
            Overlap::Skip => {
                self.store.trigger_has_live_run(trigger_id).await?.then_some(FireStatus::Skipped)
            }
            Overlap::Queue => (self.store.trigger_has_live_run(trigger_id).await?
                || self.store.oldest_queued_fire(trigger_id).await?.is_some())
            .then_some(FireStatus::Queued),
        };
        let version = match busy {
            Some(_) => None,
            None => published,
        };
        let Some(version) = version else {
            let status = busy.unwrap_or_else(|| {
                tracing::warn!(schedule = %schedule.id, "the scheduled workflow has no published version: fire skipped");
                FireStatus::Skipped
            });
            let recorded = self.store.record_fire(trigger_id, &key, at, status, Utc::now()).await?;
            return Ok(if recorded { FireOutcome::Recorded(status) } else { FireOutcome::AlreadyClaimed });
        };
        let start = StartRun {
            workflow_id: schedule.workflow_id,
            project_id: schedule.project_id,
            version,
            input: fire_input(schedule, at),
            trigger: "schedule".to_owned(),
            started_by: schedule.created_by,
            timeout: None,
        };
        let claim = FireClaim::New { trigger_id, key, fire_at: at };
        Ok(match self.start_claimed(start, Some(claim)).await? {
            Some(run) => FireOutcome::Started(run.id),
            None => FireOutcome::AlreadyClaimed,
        })
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
