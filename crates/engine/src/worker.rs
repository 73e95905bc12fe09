//! Workers: claim ready steps under a lease, run them, and record each outcome together
//! with the steps it makes ready, in one transaction.
//!
//! The rules a step follows when it ends:
//! - done: the ports it fired send its output along their edges; edges of the other ports
//!   are skipped. A node whose inputs have all arrived or been skipped becomes ready (or,
//!   when none arrived, skipped in turn); a join continues as its policy says.
//! - failed: retried while its policy allows (exponential backoff with jitter, at least a
//!   server's Retry-After); then its `error` port fires if edges leave it, else with
//!   `continueOnFail` its regular ports fire with `{ "error": … }`, else the run fails.
//! - a worker that dies loses its lease; the step is claimed again and its attempt counts
//!   against the retry policy, with at least [`LOST_ATTEMPTS`] attempts in all.
//! - the run succeeds when no step is open any more.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use weft_core::StepId;
use weft_core::workflow::{NodeSpec, RetryPolicy, output_ports};
use weft_events::WeftEvent;
use weft_store::{Claim, Requeue, Run, RunStatus, Step, StepEnd, StepStatus, StepTxn};

use crate::context::{self, Source};
use crate::loops::{self, LoopStart};
use crate::plan::Plan;
use crate::runner::{self, NodeError, Outcome};
use crate::schedule::{self, Follow};
use crate::waits;
use crate::{EngineError, Inner};

/// Attempts a step gets when workers die under it, whatever its retry policy.
pub const LOST_ATTEMPTS: i32 = 3;

/// Claims and runs steps until `shutdown`.
pub(crate) async fn work(inner: Arc<Inner>, shutdown: CancellationToken) {
    let permits = Arc::new(tokio::sync::Semaphore::new(inner.config.concurrency.max(1)));
    // Overdue runs are looked for now and then, not on every idle turn.
    let sweep_every = inner.config.poll_interval.max(Duration::from_secs(1));
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let free = permits.available_permits();
        if free == 0 {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => drop(permit),
            }
            continue;
        }
        let now = Utc::now();
        let claim = Claim {
            owner: &inner.config.worker_id,
            now,
            lease_until: now + chrono_duration(inner.config.lease),
            limit: free.min(inner.config.claim_batch.max(1)) as u64,
        };
        let limit = claim.limit;
        // Registered before the claim: a step made ready meanwhile wakes the wait below.
        let notified = inner.wake.notified();
        let claimed = match inner.store.claim_steps(claim).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "failed to claim steps");
                Vec::new()
            }
        };
        let full = claimed.len() as u64 >= limit;
        for step in claimed {
            let Ok(permit) = permits.clone().try_acquire_owned() else { break };
            let inner = inner.clone();
            tokio::spawn(async move {
                let id = step.id;
                if let Err(err) = execute(&inner, step).await {
                    tracing::error!(step = %id, error = %err, "failed to execute step");
                }
                drop(permit);
            });
        }
        if full {
            // There may be more: claim again at once.
            continue;
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= sweep_every) {
            last_sweep = Some(std::time::Instant::now());
            if let Err(err) = fail_overdue(&inner).await {
                tracing::warn!(error = %err, "failed to end overdue runs");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = notified => {}
            _ = tokio::time::sleep(inner.config.poll_interval) => {}
        }
    }
    // Let running steps finish or lose their lease: wait for every permit back.
    let _ = permits.acquire_many(inner.config.concurrency.max(1) as u32).await;
}

pub(crate) fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

pub(crate) fn parse_json(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

/// Runs one claimed step to an outcome and records it.
async fn execute(inner: &Arc<Inner>, step: Step) -> Result<(), EngineError> {
    let Some(run) = inner.store.get_run(step.run_id).await? else { return Ok(()) };
    if run.status.is_terminal() {
        return Ok(());
    }
    let now = Utc::now();
    if run.deadline_at.is_some_and(|deadline| deadline <= now) {
        let error =
            NodeError::of(weft_core::workflow::ErrorClass::Timeout, "the run exceeded its time limit");
        return fail_run(inner, &run, &step, error).await;
    }
    let plan = inner.plan(run.workflow_id, run.version).await?;
    let Some(index) = plan.position(&step.node_id) else {
        return fail_run(inner, &run, &step, NodeError::other("the step's node is not in the workflow"))
            .await;
    };
    let node = &plan.nodes[index];
    let max_attempts = node.settings.retry.as_ref().map_or(1, |r| r.max_attempts as i32);
    if step.attempt > max_attempts.max(LOST_ATTEMPTS) {
        let error =
            NodeError::other(format!("gave up after {} attempts lost with their workers", step.attempt - 1));
        return give_up(inner, &run, &plan, index, &step, error).await;
    }
    if run.status == RunStatus::Queued {
        let started =
            WeftEvent::RunStarted { run_id: run.id, workflow_id: run.workflow_id, version: run.version };
        inner.publish(&run, started);
    }
    // A step whose output holds saved state is resuming its attempt (a delay that slept, a
    // loop between iterations, a sub-workflow whose child ended): its start was announced.
    if step.output.is_none() {
        inner.publish(
            &run,
            WeftEvent::NodeStarted {
                run_id: run.id,
                node_id: step.node_id.clone(),
                scope: step.scope.clone(),
                attempt: step.attempt,
            },
        );
    }
    let ctx = context::build(Source::Store(&inner.store), &run, &plan, index, &step, now).await?;
    match &node.spec {
        NodeSpec::Approval(config) => {
            return waits::approval(inner, &run, &plan, index, &step, &ctx, config).await;
        }
        NodeSpec::SubWorkflow(config) => {
            return waits::sub_workflow(inner, &run, &plan, index, &step, &ctx, config).await;
        }
        _ => {}
    }
    if let NodeSpec::Loop(config) = &node.spec {
        return match inner.templates.evaluate(|t| loops::begin(t, config, &ctx.data)).await {
            Ok(LoopStart::Empty) => {
                succeed(inner, &run, &plan, index, &step, json!([]), vec!["done".into()]).await
            }
            Ok(LoopStart::Iterate(state)) => start_loop(inner, &run, &plan, index, &step, state).await,
            Err(error) => give_up(inner, &run, &plan, index, &step, error).await,
        };
    }
    let timeout = node.settings.timeout_ms.map_or(inner.config.node_timeout, Duration::from_millis);
    let cancelled = inner.cancellation(run.id);
    let outcome = tokio::select! {
        outcome = async {
            let _slot = inner.run_slot(run.id).await;
            tokio::time::timeout(timeout, runner::run(inner, ctx)).await
        } => match outcome {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Failed(NodeError::of(weft_core::workflow::ErrorClass::Timeout, format!("the node did not finish within {} ms", timeout.as_millis()))),
        },
        stop = keep_lease(inner, &run, step.id) => {
            tracing::info!(step = %step.id, reason = stop, "step stopped");
            return Ok(());
        }
        _ = cancelled.cancelled() => {
            tracing::info!(step = %step.id, "step stopped: run cancelled");
            return Ok(());
        }
    };
    match outcome {
        Outcome::Done { output, ports } => succeed(inner, &run, &plan, index, &step, output, ports).await,
        Outcome::Sleep { until, state } => sleep(inner, &run, &step, until, state).await,
        Outcome::Failed(error) => {
            let retry = node.settings.retry.as_ref();
            match retry.and_then(|policy| retry_delay(policy, step.attempt, &error)) {
                Some(delay) => retry_later(inner, &run, &step, delay, error).await,
                None => give_up(inner, &run, &plan, index, &step, error).await,
            }
        }
    }
}

/// Fails runs whose time limit has passed, wherever they are (running steps stop at their
/// next lease renewal; waiting ones never wake).
async fn fail_overdue(inner: &Inner) -> Result<(), EngineError> {
    let now = Utc::now();
    for run in inner.store.overdue_runs(now, 100).await? {
        let Some((mut txn, _)) = begin(inner, &run).await? else { continue };
        let error = json!({ "class": "timeout", "message": "the run exceeded its time limit" });
        let (_, events) = end_failed_run(&mut txn, &run, None, error, now).await?;
        txn.commit().await?;
        inner.after_commit(&run, events, false);
    }
    Ok(())
}

/// Renews the lease while the step runs; returns why the step must stop (lease lost, run
/// ended elsewhere).
async fn keep_lease(inner: &Inner, run: &Run, step: StepId) -> &'static str {
    let every = inner.config.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let until = Utc::now() + chrono_duration(inner.config.lease);
        match inner.store.renew_lease(step, &inner.config.worker_id, until).await {
            Ok(true) => {}
            Ok(false) => return "lease lost",
            Err(err) => tracing::warn!(error = %err, "failed to renew lease"),
        }
        if let Ok(Some(current)) = inner.store.get_run(run.id).await
            && current.status.is_terminal()
        {
            return "run ended";
        }
    }
}

/// The delay before the next attempt, or `None` when the policy does not retry this.
pub fn retry_delay(policy: &RetryPolicy, attempt: i32, error: &NodeError) -> Option<Duration> {
    if attempt >= policy.max_attempts as i32 || !policy.retry_on.contains(&error.class) {
        return None;
    }
    let exponent = attempt.saturating_sub(1).clamp(0, 64);
    let factor = policy.multiplier.unwrap_or(2.0).powi(exponent);
    let ceiling = (policy.initial_delay_ms as f64 * factor).min(policy.max_delay_ms as f64).max(0.0);
    let millis = if policy.jitter.unwrap_or(true) && ceiling > 0.0 {
        rand::rng().random_range(0.0..=ceiling)
    } else {
        ceiling
    };
    let delay = Duration::from_millis(millis as u64);
    Some(error.retry_after.map_or(delay, |after| delay.max(after)))
}

/// Ends the run when nothing is open any more.
async fn maybe_finish(
    txn: &mut StepTxn,
    run: &Run,
    now: DateTime<Utc>,
) -> Result<Option<WeftEvent>, EngineError> {
    if txn.open_steps(run.id).await? > 0 {
        return Ok(None);
    }
    txn.finish_run(run.id, RunStatus::Succeeded, None, now).await?;
    wake_parent(txn, run, now).await?;
    Ok(Some(WeftEvent::RunSucceeded { run_id: run.id }))
}

/// A finished child run wakes the sub-workflow step of its parent, which reads its result.
pub(crate) async fn wake_parent(txn: &mut StepTxn, run: &Run, now: DateTime<Utc>) -> Result<(), EngineError> {
    if let Some(parent) = run.parent_step_id {
        txn.wake_step(parent, now).await?;
    }
    Ok(())
}

/// Opens the transaction that records a step's outcome, with the run locked, and answers
/// the run as it is now; `None` when the run has ended meanwhile.
pub(crate) async fn begin(inner: &Inner, run: &Run) -> Result<Option<(StepTxn, Run)>, EngineError> {
    let mut txn = inner.store.begin_steps().await?;
    match txn.lock_run(run.id).await? {
        Some(current) if !current.status.is_terminal() => Ok(Some((txn, current))),
        _ => Ok(None),
    }
}

/// How a step that succeeded with `output` (JSON text), firing `ports`, ends.
pub(crate) fn success(output: Option<String>, ports: &[String]) -> StepEnd {
    StepEnd { status: StepStatus::Succeeded, output, ports: to_text(&json!(ports)), error: None }
}

pub(crate) fn to_text(value: &Value) -> Option<String> {
    serde_json::to_string(value).ok()
}

pub(crate) async fn succeed(
    inner: &Inner,
    run: &Run,
    plan: &Plan,
    index: usize,
    step: &Step,
    output: Value,
    ports: Vec<String>,
) -> Result<(), EngineError> {
    let inline = inner.config.inline_steps;
    match record_success(inner, run, plan, index, step, output.clone(), ports.clone(), inline).await {
        // The outcome must not be lost to a failure in the work it set in motion (the step's
        // effect has happened): record it again with nothing inline; what it made ready
        // stays queued for the workers.
        Err(err) if inline > 0 => {
            tracing::warn!(step = %step.id, error = %err, "running ready steps inline failed; recording the outcome alone");
            record_success(inner, run, plan, index, step, output, ports, 0).await
        }
        other => other,
    }
}

/// Records a successful outcome and runs up to `inline` pure steps it makes ready.
#[allow(clippy::too_many_arguments)]
async fn record_success(
    inner: &Inner,
    run: &Run,
    plan: &Plan,
    index: usize,
    step: &Step,
    output: Value,
    ports: Vec<String>,
    inline: usize,
) -> Result<(), EngineError> {
    let now = Utc::now();
    let Some((mut txn, current)) = begin(inner, run).await? else { return Ok(()) };
    let output_text = to_text(&output);
    let end = success(output_text.clone(), &ports);
    if !txn.finish_step(step.id, &inner.config.worker_id, end, now).await? {
        return Ok(());
    }
    let mut events = Vec::new();
    // The status as locked now, not as read when the step started.
    match current.status {
        RunStatus::Waiting => txn.set_run_status(run.id, RunStatus::Running, now).await?,
        RunStatus::Queued => txn.start_run(run.id, now).await?,
        _ => {}
    }
    if matches!(plan.nodes[index].spec, NodeSpec::End(_))
        && let Some(text) = &output_text
    {
        txn.set_run_output(run.id, text.clone()).await?;
    }
    events.push(WeftEvent::NodeSucceeded {
        run_id: run.id,
        node_id: step.node_id.clone(),
        scope: step.scope.clone(),
        ports: ports.clone(),
    });
    let follow = Follow { node: index, scope: step.scope.clone(), ports, output: output_text };
    let fired = schedule::fire(inner, &mut txn, plan, run, follow, now).await?;
    let made_ready =
        carry_on(inner, &mut txn, plan, run, fired, &mut events, false, &mut inline.clone()).await?;
    txn.commit().await?;
    inner.after_commit(run, events, made_ready);
    Ok(())
}

/// Goes on from what an outcome set in motion, in its transaction: runs the pure steps it
/// made ready inline (at most `budget` of them), then ends the run when nothing is left open.
/// With `queued` the run has not started yet. Answers whether steps were left ready for the
/// workers.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn carry_on(
    inner: &Inner,
    txn: &mut StepTxn,
    plan: &Plan,
    run: &Run,
    fired: schedule::Fired,
    events: &mut Vec<WeftEvent>,
    queued: bool,
    budget: &mut usize,
) -> Result<bool, EngineError> {
    events.extend(fired.events);
    if fired.failed.is_some() {
        return Ok(false);
    }
    // Past the run's time limit nothing more runs inline: the steps stay ready, and the
    // worker that claims one fails the run.
    if run.deadline_at.is_some_and(|deadline| deadline <= Utc::now()) {
        *budget = 0;
    }
    let carried = crate::inline::run_ready(inner, txn, plan, run, fired.ready, budget, queued).await?;
    events.extend(carried.events);
    if carried.failed {
        return Ok(false);
    }
    // A step left ready keeps the run going (no need to count open steps), unless a join
    // that continued early has cancelled it since.
    if !carried.left_ready || fired.cancelled || carried.cancelled {
        events.extend(maybe_finish(txn, run, Utc::now()).await?);
    }
    Ok(carried.left_ready)
}

/// Parks the loop's step and starts its first iterations.
async fn start_loop(
    inner: &Inner,
    run: &Run,
    plan: &Plan,
    index: usize,
    step: &Step,
    state: loops::LoopState,
) -> Result<(), EngineError> {
    let now = Utc::now();
    let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
    let text = serde_json::to_string(&state).map_err(|e| EngineError::Corrupt(e.to_string()))?;
    if !txn.park_step(step.id, &inner.config.worker_id, text, None, now).await? {
        return Ok(());
    }
    let mut queue = VecDeque::new();
    let mut started = schedule::Fired::default();
    for i in 0..state.started {
        let input = match &state.items {
            Some(items) => items.get(i).and_then(|item| serde_json::to_string(item).ok()),
            None => step.input.clone(),
        };
        schedule::start_iteration(
            &mut txn,
            plan,
            run,
            index,
            &step.scope,
            i,
            input,
            now,
            &mut queue,
            &mut started,
        )
        .await?;
    }
    // Body entries skipped at once (nothing arrived) are followed like any skip.
    while let Some(follow) = queue.pop_front() {
        let fired = schedule::fire(inner, &mut txn, plan, run, follow, now).await?;
        started.ready.extend(fired.ready);
        started.events.extend(fired.events);
        started.cancelled |= fired.cancelled;
        if fired.failed.is_some() {
            started.failed = fired.failed;
            break;
        }
    }
    let mut events = Vec::new();
    let made_ready = carry_on(
        inner,
        &mut txn,
        plan,
        run,
        started,
        &mut events,
        false,
        &mut inner.config.inline_steps.clone(),
    )
    .await?;
    txn.commit().await?;
    inner.after_commit(run, events, made_ready);
    Ok(())
}

async fn sleep(
    inner: &Inner,
    run: &Run,
    step: &Step,
    until: DateTime<Utc>,
    state: Value,
) -> Result<(), EngineError> {
    let now = Utc::now();
    let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
    let requeue = Requeue { state: to_text(&state), error: None, same_attempt: true };
    if !txn.requeue_step(step.id, &inner.config.worker_id, until, requeue, now).await? {
        return Ok(());
    }
    txn.commit().await?;
    let event = WeftEvent::RunWaiting { run_id: run.id, node_id: step.node_id.clone() };
    inner.after_commit(run, vec![event], false);
    Ok(())
}

async fn retry_later(
    inner: &Inner,
    run: &Run,
    step: &Step,
    delay: Duration,
    error: NodeError,
) -> Result<(), EngineError> {
    let now = Utc::now();
    let at = now + chrono_duration(delay);
    let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
    let requeue = Requeue { state: None, error: to_text(&error.to_json()), same_attempt: false };
    if !txn.requeue_step(step.id, &inner.config.worker_id, at, requeue, now).await? {
        return Ok(());
    }
    txn.commit().await?;
    let event = WeftEvent::NodeRetrying {
        run_id: run.id,
        node_id: step.node_id.clone(),
        scope: step.scope.clone(),
        attempt: step.attempt,
        retry_at: at,
        error: error.to_json(),
    };
    inner.after_commit(run, vec![event], delay.is_zero());
    Ok(())
}

/// The node has given up: its error port, continue-on-fail, or the run fails.
pub(crate) async fn give_up(
    inner: &Inner,
    run: &Run,
    plan: &Plan,
    index: usize,
    step: &Step,
    error: NodeError,
) -> Result<(), EngineError> {
    let node = &plan.nodes[index];
    let has_error_edges = plan.outgoing(index).iter().any(|e| e.port == "error");
    let (output, ports) = if has_error_edges {
        (error.to_json(), vec!["error".to_owned()])
    } else if node.settings.continue_on_fail {
        let regular = output_ports(&node.spec).into_iter().filter(|p| p != "error").map(|p| p.into_owned());
        (json!({ "error": error.to_json() }), regular.collect())
    } else {
        return fail_run(inner, run, step, error).await;
    };
    let inline = inner.config.inline_steps;
    let handled = Handled { error: &error, output: output.clone(), ports: ports.clone() };
    match record_handled(inner, run, plan, index, step, handled, inline).await {
        // As for successes: the outcome is recorded alone when its inline follow-up fails.
        Err(err) if inline > 0 => {
            tracing::warn!(step = %step.id, error = %err, "running ready steps inline failed; recording the outcome alone");
            record_handled(inner, run, plan, index, step, Handled { error: &error, output, ports }, 0).await
        }
        other => other,
    }
}

/// A failure the node handles: through its `error` port or with continue-on-fail.
struct Handled<'a> {
    error: &'a NodeError,
    output: Value,
    ports: Vec<String>,
}

/// Records a handled failure and runs up to `inline` pure steps it makes ready.
async fn record_handled(
    inner: &Inner,
    run: &Run,
    plan: &Plan,
    index: usize,
    step: &Step,
    handled: Handled<'_>,
    inline: usize,
) -> Result<(), EngineError> {
    let Handled { error, output, ports } = handled;
    let now = Utc::now();
    let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
    let output_text = to_text(&output);
    let end = StepEnd {
        status: StepStatus::Failed,
        output: output_text.clone(),
        ports: to_text(&json!(ports)),
        error: to_text(&error.to_json()),
    };
    if !txn.finish_step(step.id, &inner.config.worker_id, end, now).await? {
        return Ok(());
    }
    let mut events = vec![WeftEvent::NodeFailed {
        run_id: run.id,
        node_id: step.node_id.clone(),
        scope: step.scope.clone(),
        error: error.to_json(),
    }];
    let follow = Follow { node: index, scope: step.scope.clone(), ports, output: output_text };
    let fired = schedule::fire(inner, &mut txn, plan, run, follow, now).await?;
    let made_ready =
        carry_on(inner, &mut txn, plan, run, fired, &mut events, false, &mut inline.clone()).await?;
    txn.commit().await?;
    inner.after_commit(run, events, made_ready);
    Ok(())
}

/// Fails the step and the run.
pub(crate) async fn fail_run(
    inner: &Inner,
    run: &Run,
    step: &Step,
    error: NodeError,
) -> Result<(), EngineError> {
    let now = Utc::now();
    let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
    let end =
        StepEnd { status: StepStatus::Failed, output: None, ports: None, error: to_text(&error.to_json()) };
    if !txn.finish_step(step.id, &inner.config.worker_id, end, now).await? {
        return Ok(());
    }
    let (_, events) =
        end_failed_run(&mut txn, run, Some((&step.node_id, &step.scope)), error.to_json(), now).await?;
    txn.commit().await?;
    inner.after_commit(run, events, false);
    Ok(())
}

/// Ends the run as failed because of `error` (at a node, when one is named): the run's error
/// carries the node id, the parent's sub-workflow step is woken. Answers the run's error and
/// the events to publish after the commit.
pub(crate) async fn end_failed_run(
    txn: &mut StepTxn,
    run: &Run,
    node: Option<(&str, &str)>,
    error: Value,
    now: DateTime<Utc>,
) -> Result<(Value, Vec<WeftEvent>), EngineError> {
    let mut run_error = error.clone();
    let mut events = Vec::new();
    if let Some((node_id, scope)) = node {
        if let Value::Object(map) = &mut run_error {
            map.insert("nodeId".to_owned(), json!(node_id));
        }
        events.push(WeftEvent::NodeFailed {
            run_id: run.id,
            node_id: node_id.to_owned(),
            scope: scope.to_owned(),
            error,
        });
    }
    if !txn.finish_run(run.id, RunStatus::Failed, to_text(&run_error), now).await? {
        return Ok((run_error, Vec::new()));
    }
    wake_parent(txn, run, now).await?;
    events.push(WeftEvent::RunFailed { run_id: run.id, error: run_error.clone() });
    Ok((run_error, events))
}

impl Inner {
    /// Publishes events to the run's project and wakes local workers when steps became ready.
    pub(crate) fn after_commit(&self, run: &Run, events: Vec<WeftEvent>, made_ready: bool) {
        for event in events {
            if matches!(event, WeftEvent::RunSucceeded { .. } | WeftEvent::RunFailed { .. }) {
                self.stop_run(run.id);
                let _ = self.signals.send(crate::triggers::RunSignal::Ended(run.id));
            }
            if let WeftEvent::RunFailed { error, .. } = &event {
                let _ = self.failures.send((run.clone(), error.clone()));
            }
            self.publish(run, event);
        }
        if made_ready {
            self.wake.notify_waiters();
        }
    }

    pub(crate) fn publish(&self, run: &Run, event: WeftEvent) {
        self.bus.publish(crate::run_audience(run), event);
    }
}
