//! Event triggers: what a run's end (or a start by hand) sets off on this process. A run
//! that ends wakes the next queued fire of the schedule that started it, and starts the
//! workflows whose event triggers watch its workflow; each of those fires is claimed per
//! trigger and triggering run (`trigger_fires`) in the new run's transaction, so it happens
//! once.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use weft_core::RunId;
use weft_store::{EventTrigger, FireClaim, Run, RunStatus};

use crate::{EngineError, Inner, StartRun};

/// Something about a run that triggers may react to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunSignal {
    /// The run ended (succeeded, failed or was cancelled).
    Ended(RunId),
    /// The run was started by hand (`workflow.execute`).
    StartedByHand(RunId),
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
        loop {
            let signal = tokio::select! {
                _ = shutdown.cancelled() => break,
                signal = signals.recv() => signal,
            };
            let Some(signal) = signal else { break };
            if let Err(err) = self.react(signal).await {
                tracing::warn!(?signal, error = %err, "failed to fire the triggers of a run");
            }
        }
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
        let claim = FireClaim::New {
            trigger_id: trigger.id.0,
            key: source.id.to_string(),
            fire_at: source.finished_at.unwrap_or_else(Utc::now),
        };
        self.start_claimed(start, Some(claim)).await?;
        Ok(())
    }
}
