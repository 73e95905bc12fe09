//! What a step's templates see: outputs in its scope and the scopes around it, and inside a
//! loop body `item` and `index`; read from the store (a claimed step) or from the
//! transaction in which the step runs inline (seeing what the transaction wrote).

use chrono::{DateTime, Utc};
use serde_json::Value;
use weft_store::{Run, Step, StepOutput, StepTxn, Store, StoreError};

use crate::EngineError;
use crate::loops;
use crate::plan::Plan;
use crate::runner::{RunInfo, StepContext};
use crate::schedule;
use crate::worker::parse_json;

/// Where a step's context is read from.
pub(crate) enum Source<'a> {
    /// The store's read connections: the step was claimed from the queue.
    Store(&'a Store),
    /// The transaction that made the step ready.
    Txn(&'a mut StepTxn),
}

impl Source<'_> {
    async fn step_outputs(
        &mut self,
        run: &Run,
        node_ids: Option<&[String]>,
        scopes: &[String],
    ) -> Result<Vec<StepOutput>, StoreError> {
        match self {
            Source::Store(store) => store.step_outputs(run.id, node_ids, scopes).await,
            Source::Txn(txn) => txn.step_outputs(run.id, node_ids, scopes).await,
        }
    }

    async fn find_step(&mut self, run: &Run, node: &str, scope: &str) -> Result<Option<Step>, StoreError> {
        match self {
            Source::Store(store) => store.find_step(run.id, node, scope).await,
            Source::Txn(txn) => txn.find_step(run.id, node, scope).await,
        }
    }
}

/// Builds the context of `step`, a step of the node at `index`.
pub(crate) async fn build<'p>(
    mut source: Source<'_>,
    run: &Run,
    plan: &'p Plan,
    index: usize,
    step: &Step,
    now: DateTime<Utc>,
) -> Result<StepContext<'p>, EngineError> {
    let node = &plan.nodes[index];
    let needs = plan.needs(index);
    let scopes = loops::scope_chain(&step.scope);
    let outputs = source.step_outputs(run, needs.as_deref(), &scopes).await?;
    let predecessors: std::collections::HashSet<&str> =
        plan.predecessors(index).iter().map(|&p| plan.nodes[p].id.as_str()).collect();
    let mut arrived = serde_json::Map::new();
    for output in outputs.iter().filter(|o| o.scope == step.scope) {
        if predecessors.contains(&output.node_id.as_str()) {
            arrived.insert(output.node_id.clone(), parse_json(output.output.as_deref()));
        }
    }
    let iteration = match loops::innermost(&step.scope) {
        Some((parent, loop_id, i)) => {
            let state = source.find_step(run, loop_id, parent).await?.and_then(|s| s.output);
            let state: Option<loops::LoopState> = state.and_then(|s| serde_json::from_str(&s).ok());
            let item = state.and_then(|s| s.items).and_then(|items| items.get(i).cloned());
            Some((item.unwrap_or(Value::Null), i))
        }
        None => None,
    };
    let data = schedule::template_data(run, &scopes, outputs, iteration);
    let input = parse_json(step.input.as_deref());
    let state = step.output.as_deref().map(|s| parse_json(Some(s)));
    let run_info = RunInfo {
        id: run.id,
        workflow_id: run.workflow_id,
        project_id: run.project_id,
        started_by: run.started_by,
    };
    Ok(StepContext {
        run: run_info,
        node,
        scope: step.scope.clone(),
        input,
        data,
        arrived,
        state,
        idempotency_key: step.id.to_string(),
        now,
    })
}
