//! Event triggers: what a run's end (or a start by hand) sets off on this process. A run
//! that ends wakes the next queued fire of the schedule that started it, and starts the
//! workflows whose event triggers watch its workflow; each of those fires is claimed per
//! trigger and triggering run (`trigger_fires`) in the new run's transaction, so it happens
//! once.
//!
//! The reaction runs after the run's end (or start) was committed, so a process that dies in
//! between would lose it: every instance therefore sweeps, every [`RECOVERY_EVERY`], the runs
//! that ended — and those started by hand — in the last [`RECOVERY_WINDOW`] (but not the last
//! [`RECOVERY_GRACE`], which the live path handles) for a watching trigger without its fire,
//! and reacts again (safe: fires are claimed once).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use weft_core::{RunId, WorkflowId};
use weft_store::{EventTrigger, FireClaim, Run, RunStatus};

use crate::{EngineError, Inner, StartRun};

/// How often the recovery sweep runs.
const RECOVERY_EVERY: Duration = Duration::from_secs(30);
/// How far back the sweep looks at run ends.
const RECOVERY_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Run ends younger than this are left to the live path.
const RECOVERY_GRACE: Duration = Duration::from_secs(10);
/// Runs older than this at their end are not swept (bounds the scan of `idx_runs_workflow`).
const RECOVERY_MAX_RUN: chrono::Duration = chrono::Duration::days(2);
/// Most run ends looked at per source workflow and sweep.
const RECOVERY_BATCH: u64 = 1000;

/// Something about a run that triggers may react to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunSignal {
    /// The run ended (succeeded, failed or was cancelled).
    Ended(RunId),
    /// The run was started by hand (`workflow.execute`).
    StartedByHand(RunId),
}

/// What the recovery sweep looks at.
#[derive(Clone, Copy, Debug)]
enum Watched {
    /// Runs' ends.
    Ends,
    /// Starts by hand.
    StartsByHand,
}

impl Watched {
    /// What a trigger watching for `on` reacts to.
    fn of(on: &str) -> Watched {
        if on == "manual" { Watched::StartsByHand } else { Watched::Ends }
    }

    /// The triggers watching this.
    async fn triggers(self, store: &weft_store::Store) -> Result<Vec<EventTrigger>, EngineError> {
        Ok(match self {
            Watched::Ends => store.event_triggers_on_run_ends().await?,
            Watched::StartsByHand => store.event_triggers_on_manual_starts().await?,
        })
    }

    /// The runs of `source` this happened to in the recovery window before `now`.
    async fn recent_runs(
        self,
        store: &weft_store::Store,
        source: WorkflowId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Run>, EngineError> {
        let window = chrono::Duration::from_std(RECOVERY_WINDOW).unwrap_or_default();
        let grace = chrono::Duration::from_std(RECOVERY_GRACE).unwrap_or_default();
        let (from, before) = (now - window, now - grace);
        Ok(match self {
            Watched::Ends => {
                store.runs_ended_between(source, now - RECOVERY_MAX_RUN, from, before, RECOVERY_BATCH).await?
            }
            Watched::StartsByHand => {
                store.runs_started_by_hand_between(source, from, before, RECOVERY_BATCH).await?
            }
        })
    }

    /// When it happened to `run`.
    fn at(self, run: &Run, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Watched::Ends => run.finished_at.unwrap_or(now),
            Watched::StartsByHand => run.created_at,
        }
    }

    fn signal(self, run: RunId) -> RunSignal {
        match self {
            Watched::Ends => RunSignal::Ended(run),
            Watched::StartsByHand => RunSignal::StartedByHand(run),
        }
    }
}

/// Whether a trigger watching for `on` fires for `run`.
fn matches(on: &str, run: &Run, signal: RunSignal) -> bool {
    match (on, signal) {
        ("manual", RunSignal::StartedByHand(_)) => true,
        ("succeeded", RunSignal::Ended(_)) => run.status == RunStatus::Succeeded,
        ("failed", RunSignal::Ended(_)) => run.status == RunStatus::Failed,
        ("finished", RunSignal::Ended(_)) => run.status.is_terminal(),
        _ => false,
    }
}

impl Inner {
    /// Reacts to run signals until `shutdown`.
    pub(crate) async fn dispatch_signals(
        self: Arc<Self>,
        mut signals: UnboundedReceiver<RunSignal>,
        shutdown: CancellationToken,
    ) {
        let mut sweep =
            tokio::time::interval_at(tokio::time::Instant::now() + RECOVERY_GRACE, RECOVERY_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let signal = tokio::select! {
                _ = shutdown.cancelled() => break,
                signal = signals.recv() => signal,
                _ = sweep.tick() => {
                    if let Err(err) = self.recover_triggers(Utc::now()).await {
                        tracing::warn!(error = %err, "failed to sweep for missed event triggers");
                    }
                    continue;
                }
            };
            let Some(signal) = signal else { break };
            if let Err(err) = self.react(signal).await {
                tracing::warn!(?signal, error = %err, "failed to fire the triggers of a run");
            }
        }
    }

    /// Reacts again to runs that ended (or were started by hand) in the recovery window with
    /// a watching trigger that has not fired for them (their process died before reacting);
    /// answers how many.
    pub(crate) async fn recover_triggers(self: &Arc<Self>, now: DateTime<Utc>) -> Result<usize, EngineError> {
        let mut recovered = 0;
        for watched in [Watched::Ends, Watched::StartsByHand] {
            let triggers = watched.triggers(&self.store).await?;
            let mut sources: Vec<_> = triggers.iter().map(|t| t.source_workflow_id).collect();
            sources.sort_unstable_by_key(|w| w.0);
            sources.dedup();
            for source in sources {
                let runs = watched.recent_runs(&self.store, source, now).await?;
                if runs.is_empty() {
                    continue;
                }
                let keys: Vec<String> = runs.iter().map(|run| run.id.to_string()).collect();
                let mut missed = std::collections::HashSet::new();
                for trigger in triggers.iter().filter(|t| t.source_workflow_id == source) {
                    let fired = self.store.fired_keys(trigger.id, &keys).await?;
                    for (run, key) in runs.iter().zip(&keys) {
                        let watching = trigger.project_id == run.project_id
                            && trigger.created_at <= watched.at(run, now)
                            && matches(&trigger.on, run, watched.signal(run.id));
                        if watching && !fired.contains(key) {
                            missed.insert(run.id);
                        }
                    }
                }
                for run in runs.iter().filter(|run| missed.contains(&run.id)) {
                    tracing::info!(run = %run.id, ?watched, "reacting to a run that was not reacted to");
                    self.react(watched.signal(run.id)).await?;
                    recovered += 1;
                }
            }
        }
        Ok(recovered)
    }

    async fn react(self: &Arc<Self>, signal: RunSignal) -> Result<(), EngineError> {
        let (RunSignal::Ended(id) | RunSignal::StartedByHand(id)) = signal;
        let Some(run) = self.store.get_run(id).await? else { return Ok(()) };
        if matches!(signal, RunSignal::Ended(_))
            && run.trigger == "schedule"
            && let Some(fire) = self.store.fire_of_run(run.id).await?
            && let Some(schedule) = self.store.get_schedule(weft_core::ScheduleId(fire.trigger_id)).await?
        {
            self.dequeue_schedule(&schedule).await?;
        }
        for trigger in self.store.event_triggers_of_source(run.workflow_id).await? {
            if trigger.project_id == run.project_id && matches(&trigger.on, &run, signal) {
                self.fire_event_trigger(&trigger, &run).await?;
            }
        }
        Ok(())
    }

    async fn fire_event_trigger(
        self: &Arc<Self>,
        trigger: &EventTrigger,
        source: &Run,
    ) -> Result<(), EngineError> {
        let Some(version) =
            self.store.find_workflow(trigger.workflow_id).await?.and_then(|w| w.published_version)
        else {
            tracing::warn!(trigger = %trigger.id, "the triggered workflow has no published version");
            return Ok(());
        };
        let parse = |text: Option<&str>| {
            text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .unwrap_or(serde_json::Value::Null)
        };
        let input = serde_json::json!({
            "trigger": "event",
            "triggerId": trigger.id,
            "sourceRun": {
                "id": source.id,
                "workflowId": source.workflow_id,
                "status": source.status.as_str(),
                "input": parse(Some(&source.input)),
                "output": parse(source.output.as_deref()),
                "error": parse(source.error.as_deref()),
            },
            "input": parse(Some(&trigger.input)),
        });
        let start = StartRun {
            workflow_id: trigger.workflow_id,
            project_id: trigger.project_id,
            version,
            input,
            trigger: "event".to_owned(),
            started_by: trigger.created_by,
            timeout: None,
        };
        let fire_at = Watched::of(&trigger.on).at(source, Utc::now());
        let claim = FireClaim::New { trigger_id: trigger.id.0, key: source.id.to_string(), fire_at };
        self.start_claimed(start, Some(claim)).await?;
        Ok(())
    }
}
