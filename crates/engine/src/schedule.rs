//! What a finished step sets in motion, recorded in the transaction of its outcome: inputs
//! arriving at the next nodes, nodes becoming ready or skipped, loop iterations ending and
//! starting, loops finishing.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weft_core::workflow::NodeSpec;
use weft_events::WeftEvent;
use weft_store::{Arrival, Run, Step, StepStatus, StepTxn};

use crate::loops::{self, LoopState};
use crate::plan::Plan;
use crate::runner::{self, NodeError};
use crate::worker::to_text;
use crate::{EngineError, Inner};

/// Output ports of a node that fired (or, with no ports, a node that was skipped), to be
/// followed along its edges.
#[derive(Clone, Debug)]
pub struct Follow {
    /// The node.
    pub node: usize,
    /// Its scope.
    pub scope: String,
    /// Ports that fired.
    pub ports: Vec<String>,
    /// Its output (JSON text).
    pub output: Option<String>,
}

/// A step that became ready, with its node.
#[derive(Clone, Debug)]
pub struct Ready {
    /// The node's position in the plan.
    pub node: usize,
    /// The step.
    pub step: Step,
}

/// What following a step's ports did.
#[derive(Debug, Default)]
pub struct Fired {
    /// Steps that became ready.
    pub ready: Vec<Ready>,
    /// Open steps were cancelled (a join continued early): steps counted as ready may not
    /// be any more.
    pub cancelled: bool,
    /// Events to publish after the commit.
    pub events: Vec<WeftEvent>,
    /// The run failed (a loop could not go on); the error.
    pub failed: Option<Value>,
}

/// Follows `start` and everything it sets in motion.
pub async fn fire(
    inner: &Inner,
    txn: &mut StepTxn,
    plan: &Plan,
    run: &Run,
    start: Follow,
    now: DateTime<Utc>,
) -> Result<Fired, EngineError> {
    let mut fired = Fired::default();
    let mut queue = VecDeque::from([start]);
    while let Some(follow) = queue.pop_front() {
        let is_loop = matches!(plan.nodes[follow.node].spec, NodeSpec::Loop(_));
        for edge in plan.outgoing(follow.node) {
            // Body edges run per iteration (see `start_iteration`), never from here.
            if is_loop && edge.port == "body" {
                continue;
            }
            let active = follow.ports.contains(&edge.port);
            let input = if active { follow.output.clone() } else { None };
            if edge.target_port == "continue" {
                end_of_body(
                    inner,
                    txn,
                    plan,
                    run,
                    edge.target,
                    &follow.scope,
                    active,
                    input,
                    now,
                    &mut queue,
                    &mut fired,
                )
                .await?;
                if fired.failed.is_some() {
                    return Ok(fired);
                }
                continue;
            }
            deliver(txn, plan, run, edge.target, &follow.scope, active, input, now, &mut queue, &mut fired)
                .await?;
        }
    }
    Ok(fired)
}

/// An input arrives at (or is skipped for) `target` in `scope`; the node becomes ready when
/// its inputs allow (added to `fired`), or skipped when none of them arrived.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    txn: &mut StepTxn,
    plan: &Plan,
    run: &Run,
    target: usize,
    scope: &str,
    active: bool,
    input: Option<String>,
    now: DateTime<Utc>,
    queue: &mut VecDeque<Follow>,
    fired: &mut Fired,
) -> Result<(), EngineError> {
    let node = &plan.nodes[target];
    let indegree = plan.indegree(target);
    let only_input = indegree == 1;
    let arrival = Arrival { run_id: run.id, node_id: node.id.as_str(), scope, active, input, only_input };
    let step = txn.arrive(arrival, now).await?;
    if only_input {
        // Created ready or skipped at once (unless it existed: a repeated arrival).
        if step.n_arrived + step.n_skipped != 1 {
            return Ok(());
        }
        match step.status {
            StepStatus::Ready => fired.ready.push(Ready { node: target, step }),
            StepStatus::Skipped => queue.push_back(Follow {
                node: target,
                scope: scope.to_owned(),
                ports: Vec::new(),
                output: None,
            }),
            _ => {}
        }
        return Ok(());
    }
    if step.status != StepStatus::Pending {
        return Ok(());
    }
    let threshold = match &node.spec {
        NodeSpec::Join(join) => runner::join_threshold(join.policy, join.n, indegree),
        _ => indegree,
    };
    let (arrived, resolved) = (step.n_arrived as usize, (step.n_arrived + step.n_skipped) as usize);
    if arrived >= threshold || (resolved >= indegree && arrived > 0) {
        txn.settle_step(step.id, StepStatus::Ready, now).await?;
        // A join that continues early cancels the branches still on their way to it.
        let feeders = plan.feeders(target);
        if !feeders.is_empty() {
            txn.cancel_open_steps(run.id, feeders, scope, now).await?;
            fired.cancelled = true;
        }
        fired.ready.push(Ready { node: target, step: Step { status: StepStatus::Ready, ..step } });
        return Ok(());
    }
    if resolved >= indegree {
        txn.settle_step(step.id, StepStatus::Skipped, now).await?;
        queue.push_back(Follow { node: target, scope: scope.to_owned(), ports: Vec::new(), output: None });
    }
    Ok(())
}

/// Starts iteration `index` of the loop `loop_node` (whose step is in `parent`): its body
/// entries receive `input`.
#[allow(clippy::too_many_arguments)]
pub async fn start_iteration(
    txn: &mut StepTxn,
    plan: &Plan,
    run: &Run,
    loop_node: usize,
    parent: &str,
    index: usize,
    input: Option<String>,
    now: DateTime<Utc>,
    queue: &mut VecDeque<Follow>,
    fired: &mut Fired,
) -> Result<(), EngineError> {
    let scope = loops::iteration_scope(parent, plan.nodes[loop_node].id.as_str(), index);
    for edge in plan.outgoing(loop_node) {
        if edge.port == "body" {
            deliver(txn, plan, run, edge.target, &scope, true, input.clone(), now, queue, fired).await?;
        }
    }
    Ok(())
}

/// A path of a loop body reached the loop's `continue` input in iteration `scope`; when all
/// of them have, the iteration has ended and the loop goes on.
#[allow(clippy::too_many_arguments)]
async fn end_of_body(
    inner: &Inner,
    txn: &mut StepTxn,
    plan: &Plan,
    run: &Run,
    loop_node: usize,
    scope: &str,
    active: bool,
    input: Option<String>,
    now: DateTime<Utc>,
    queue: &mut VecDeque<Follow>,
    fired: &mut Fired,
) -> Result<(), EngineError> {
    let loop_id = plan.nodes[loop_node].id.as_str();
    let arrival = Arrival { run_id: run.id, node_id: loop_id, scope, active, input, only_input: false };
    let collector = txn.arrive(arrival, now).await?;
    if collector.status != StepStatus::Pending
        || ((collector.n_arrived + collector.n_skipped) as usize) < plan.continue_degree(loop_node)
    {
        return Ok(());
    }
    txn.update_step(collector.id, StepStatus::Succeeded, collector.input.clone(), None, now).await?;
    let Some((parent, owner, _)) = loops::innermost(scope) else { return Ok(()) };
    if owner != loop_id {
        return Ok(());
    }
    advance(inner, txn, plan, run, loop_node, parent, now, queue, fired).await
}

/// One more iteration of the loop has ended: start the next, or finish the loop.
#[allow(clippy::too_many_arguments)]
async fn advance(
    inner: &Inner,
    txn: &mut StepTxn,
    plan: &Plan,
    run: &Run,
    loop_node: usize,
    parent: &str,
    now: DateTime<Utc>,
    queue: &mut VecDeque<Follow>,
    fired: &mut Fired,
) -> Result<(), EngineError> {
    let node = &plan.nodes[loop_node];
    let NodeSpec::Loop(config) = &node.spec else { return Ok(()) };
    let Some(step) = txn.find_step(run.id, node.id.as_str(), parent).await? else { return Ok(()) };
    if step.status != StepStatus::Waiting {
        return Ok(());
    }
    let mut state: LoopState = step
        .output
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| EngineError::Corrupt(format!("loop {} has no readable state", node.id)))?;
    state.finished += 1;
    match &state.items {
        Some(items) if state.started < items.len() => {
            let item = to_text(&items[state.started]);
            start_iteration(txn, plan, run, loop_node, parent, state.started, item, now, queue, fired)
                .await?;
            state.started += 1;
        }
        Some(_) => {}
        None if state.finished == state.started => {
            let data = condition_data(txn, run, parent, node.id.as_str(), state.started).await?;
            // Inside the recording transaction: the inline budget, failing the loop past it.
            match inner.templates.inline(|t| loops::while_condition(t, config, &data, state.started)) {
                Ok(false) => {}
                Ok(true) if state.started >= config.max_iterations.unwrap_or(0) as usize => {
                    let error = NodeError::other(format!(
                        "the while loop's condition still held after maxIterations ({}) iterations",
                        state.started
                    ));
                    return fail(txn, run, &step, node.id.as_str(), error, now, fired).await;
                }
                Ok(true) => {
                    start_iteration(
                        txn,
                        plan,
                        run,
                        loop_node,
                        parent,
                        state.started,
                        step.input.clone(),
                        now,
                        queue,
                        fired,
                    )
                    .await?;
                    state.started += 1;
                }
                Err(error) => return fail(txn, run, &step, node.id.as_str(), error, now, fired).await,
            }
        }
        None => {}
    }
    if state.finished < state.started {
        let text = serde_json::to_string(&state).map_err(|e| EngineError::Corrupt(e.to_string()))?;
        txn.update_step(step.id, StepStatus::Waiting, Some(text), None, now).await?;
        return Ok(());
    }
    // Every iteration has ended: the loop's output is their outputs, in order.
    let scopes: Vec<String> =
        (0..state.finished).map(|i| loops::iteration_scope(parent, node.id.as_str(), i)).collect();
    let outputs = txn.step_outputs(run.id, Some(&[node.id.as_str().to_owned()]), &scopes).await?;
    let by_scope: HashMap<String, Value> = outputs
        .into_iter()
        .map(|o| (o.scope, o.output.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)))
        .collect();
    let results: Vec<Value> =
        scopes.iter().map(|s| by_scope.get(s).cloned().unwrap_or(Value::Null)).collect();
    let output = to_text(&json!(results));
    let ports = vec!["done".to_owned()];
    txn.update_step(step.id, StepStatus::Succeeded, output.clone(), to_text(&json!(ports)), now).await?;
    fired.events.push(WeftEvent::NodeSucceeded {
        run_id: run.id,
        node_id: step.node_id.clone(),
        scope: step.scope.clone(),
        ports: ports.clone(),
    });
    queue.push_back(Follow { node: loop_node, scope: parent.to_owned(), ports, output });
    Ok(())
}

/// What a while loop's condition sees before iteration `index`: the run input, the outputs
/// around the loop, and the previous iteration's body outputs.
async fn condition_data(
    txn: &mut StepTxn,
    run: &Run,
    parent: &str,
    loop_id: &str,
    index: usize,
) -> Result<minijinja::Value, EngineError> {
    let mut scopes = loops::scope_chain(parent);
    if index > 0 {
        scopes.insert(0, loops::iteration_scope(parent, loop_id, index - 1));
    }
    let outputs = txn.step_outputs(run.id, None, &scopes).await?;
    Ok(template_data(run, &scopes, outputs, None))
}

/// The template context of a step in the innermost of `scopes` (innermost first): outputs of
/// inner scopes hide those of outer ones.
pub fn template_data(
    run: &Run,
    scopes: &[String],
    outputs: Vec<weft_store::StepOutput>,
    iteration: Option<(Value, usize)>,
) -> minijinja::Value {
    let mut ranked: Vec<(usize, weft_store::StepOutput)> = outputs
        .into_iter()
        .map(|o| (scopes.iter().position(|s| *s == o.scope).unwrap_or(usize::MAX), o))
        .collect();
    ranked.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    let mut nodes = serde_json::Map::new();
    for (_, output) in ranked {
        let value = output.output.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
        nodes.insert(output.node_id, json!({ "output": value }));
    }
    let input: Value = serde_json::from_str(&run.input).unwrap_or(Value::Null);
    let mut data = json!({ "input": input, "nodes": nodes, "vars": {} });
    if let (Some((item, index)), Value::Object(map)) = (iteration, &mut data) {
        map.insert("item".to_owned(), item);
        map.insert("index".to_owned(), json!(index));
    }
    minijinja::Value::from(minijinja::value::Serde(data))
}

async fn fail(
    txn: &mut StepTxn,
    run: &Run,
    step: &weft_store::Step,
    node_id: &str,
    error: NodeError,
    now: DateTime<Utc>,
    fired: &mut Fired,
) -> Result<(), EngineError> {
    txn.update_step(step.id, StepStatus::Failed, None, None, now).await?;
    let node = Some((node_id, step.scope.as_str()));
    let (run_error, events) = crate::worker::end_failed_run(txn, run, node, error.to_json(), now).await?;
    fired.events.extend(events);
    fired.failed = Some(run_error);
    Ok(())
}
