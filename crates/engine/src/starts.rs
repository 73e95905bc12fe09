//! Starting runs in groups (group commit).
//!
//! `start_run` hands its request to one task per engine, which creates every run waiting at
//! that moment in one transaction: each run with its entry step, and the pure steps that
//! follow it run inline ([`crate::inline`]), so a run made only of pure nodes is created
//! finished. A lone request is not delayed: the task starts on it at once, and requests
//! arriving meanwhile form the next group. The runs of a group are written with a few
//! multi-row statements and one commit, however many they are. When a group's transaction
//! fails, each of its requests is tried again alone, so one bad request fails only itself.

use std::sync::{Arc, Weak};

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use weft_core::RunId;
use weft_events::WeftEvent;
use weft_store::{FireClaim, NewRun, Run, StepTxn};

use crate::plan::Plan;
use crate::schedule::{Fired, Ready};
use crate::worker::carry_on;
use crate::{EngineError, Inner, StartRun};

/// Most requests taken into one group.
const MAX_GROUP: usize = 256;

/// A run to start, with the plan of its version.
pub(crate) struct StartRequest {
    pub(crate) start: StartRun,
    pub(crate) plan: Arc<Plan>,
    /// A trigger's fire claimed in the run's transaction: no run when it was claimed already.
    pub(crate) claim: Option<FireClaim>,
    pub(crate) reply: oneshot::Sender<Result<Option<Run>, EngineError>>,
}

/// What starting one run recorded, published once the transaction commits.
pub(crate) struct Started {
    pub(crate) run: Run,
    events: Vec<WeftEvent>,
    left_ready: bool,
}

/// Creates runs as requests arrive, until the engine is dropped.
pub(crate) async fn serve(inner: Weak<Inner>, mut requests: mpsc::UnboundedReceiver<StartRequest>) {
    while let Some(first) = requests.recv().await {
        let Some(inner) = inner.upgrade() else { break };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        // A panic while starting a group fails only that group (its callers' replies are
        // dropped and they see an error); the task goes on serving later requests.
        if let Err(err) = tokio::spawn(start_group(inner, group)).await {
            tracing::error!(error = %err, "starting a group of runs panicked");
        }
    }
}

/// Starts `group` in as few transactions as the inline budget allows.
async fn start_group(inner: Arc<Inner>, group: Vec<StartRequest>) {
    let inner = &inner;
    let mut pending = group.into_iter().peekable();
    while pending.peek().is_some() {
        let mut taken = Vec::new();
        let outcome = async {
            let mut txn = inner.store.begin_steps().await?;
            let limit = inner.config.inline_steps;
            let mut spent = 0;
            let mut started = Vec::new();
            // Each run may use the whole budget; the group takes no more runs once it is spent.
            while taken.len() < MAX_GROUP && (spent < limit || taken.is_empty() || limit == 0) {
                let Some(request) = pending.next() else { break };
                let mut budget = limit;
                let result = start(inner, &mut txn, &request, &mut budget).await;
                spent += limit - budget;
                taken.push(request);
                started.push(result?);
            }
            txn.commit().await?;
            Ok::<_, EngineError>(started)
        }
        .await;
        match outcome {
            Ok(started) => {
                for (request, started) in taken.into_iter().zip(started) {
                    let _ = request.reply.send(Ok(published(inner, started)));
                }
            }
            Err(err) if taken.len() > 1 => {
                tracing::warn!(error = %err, runs = taken.len(), "failed to start a group of runs: starting them one by one");
                for request in taken {
                    start_alone(inner, request).await;
                }
            }
            Err(err) if taken.is_empty() => {
                // No transaction could be opened (the database is unreachable or closing):
                // every request of the group fails now rather than waiting for it.
                tracing::warn!(error = %err, "failed to start a group of runs");
                let reason = err.to_string();
                for request in pending.by_ref() {
                    let _ = request.reply.send(Err(EngineError::Unavailable(reason.clone())));
                }
            }
            Err(err) => {
                if let Some(request) = taken.pop() {
                    let _ = request.reply.send(Err(err));
                }
            }
        }
    }
}

/// Starts one run in a transaction of its own.
async fn start_alone(inner: &Arc<Inner>, request: StartRequest) {
    let outcome = async {
        let mut txn = inner.store.begin_steps().await?;
        let mut budget = inner.config.inline_steps;
        let started = start(inner, &mut txn, &request, &mut budget).await?;
        txn.commit().await?;
        Ok::<_, EngineError>(started)
    }
    .await;
    match outcome {
        Ok(started) => {
            let _ = request.reply.send(Ok(published(inner, started)));
        }
        Err(err) => {
            let _ = request.reply.send(Err(err));
        }
    }
}

/// Publishes what a committed start recorded; answers its run.
pub(crate) fn published(inner: &Inner, started: Option<Started>) -> Option<Run> {
    let started = started?;
    inner.after_commit(&started.run, started.events, started.left_ready);
    Some(started.run)
}

/// Claims a request's fire, if it has one, and creates its run in `txn`; nothing when the
/// fire was claimed already.
async fn start(
    inner: &Inner,
    txn: &mut StepTxn,
    request: &StartRequest,
    budget: &mut usize,
) -> Result<Option<Started>, EngineError> {
    let run_id = RunId::new();
    if let Some(claim) = &request.claim
        && txn.claim_fire(claim, run_id, Utc::now()).await?.is_none()
    {
        return Ok(None);
    }
    create_in(inner, txn, run_id, &request.start, &request.plan, budget).await.map(Some)
}

/// Creates the run `run_id` in `txn` and runs its pure steps inline, as far as `budget`
/// goes; answers the run as it is then. Its fire, if it has one, is claimed already (the
/// scheduler claims a tick's fires together).
pub(crate) async fn create_in(
    inner: &Inner,
    txn: &mut StepTxn,
    run_id: RunId,
    start: &StartRun,
    plan: &Plan,
    budget: &mut usize,
) -> Result<Started, EngineError> {
    let entry = plan.entry().ok_or(EngineError::NoEntry)?;
    let now = Utc::now();
    let new = NewRun {
        workflow_id: start.workflow_id,
        project_id: start.project_id,
        version: start.version,
        input: serde_json::to_string(&start.input).unwrap_or_else(|_| "null".to_owned()),
        trigger: start.trigger.clone(),
        started_by: start.started_by,
        parent: None,
        depth: 0,
        deadline_at: start.timeout.and_then(|t| chrono::Duration::from_std(t).ok()).map(|t| now + t),
        entry_node: plan.nodes[entry].id.as_str().to_owned(),
    };
    let (run, entry_step) = txn.create_run_as(run_id, new, now).await?;
    let fired = Fired { ready: vec![Ready { node: entry, step: entry_step }], ..Fired::default() };
    let mut events = Vec::new();
    let left_ready = carry_on(inner, txn, plan, &run, fired, &mut events, true, budget).await?;
    let run = txn.lock_run(run.id).await?.unwrap_or(run);
    Ok(Started { run, events, left_ready })
}
