//! Pure nodes run where they become ready.
//!
//! start, end, transform, decision, switch, parallel and join compute from the run context
//! and touch nothing outside the run ([`runner::is_pure`]). When a transaction makes such a
//! step ready, the engine runs it at once, in that transaction, instead of committing,
//! queueing it and claiming it again: its outcome and everything that outcome sets in motion
//! commit together with the outcome that made it ready. A crash before the commit loses both
//! (and nothing outside saw either); after it both are done and never run again, so the
//! guarantees of queued steps hold. Steps of the other nodes (HTTP, AI, delays, approvals,
//! loops, sub-workflows) stay queued for a worker, and so do a pure step whose attempt
//! failed (its retry policy and error handling apply when a worker runs it) and everything
//! beyond the transaction's budget (`EngineConfig::inline_steps`).

use std::collections::VecDeque;

use chrono::Utc;
use weft_core::workflow::NodeSpec;
use weft_events::WeftEvent;
use weft_store::{Run, StepTxn};

use crate::context::{self, Source};
use crate::plan::Plan;
use crate::runner::{self, Outcome};
use crate::schedule::{self, Follow, Ready};
use crate::worker::{success, to_text};
use crate::{EngineError, Inner};

/// What running ready steps inline did.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    /// Events to publish after the commit, in order.
    pub events: Vec<WeftEvent>,
    /// Some ready step was left for a worker.
    pub left_ready: bool,
    /// The run failed (a loop could not go on).
    pub failed: bool,
    /// Open steps were cancelled (see [`schedule::Fired::cancelled`]).
    pub cancelled: bool,
}

/// Runs the pure steps among `ready`, and those they make ready in turn, in `txn`: at most
/// `budget` of them (decremented). With `queued`, the run has not started yet and the first
/// step run starts it.
pub(crate) async fn run_ready(
    inner: &Inner,
    txn: &mut StepTxn,
    plan: &Plan,
    run: &Run,
    ready: Vec<Ready>,
    budget: &mut usize,
    mut queued: bool,
) -> Result<Carried, EngineError> {
    let mut carried = Carried::default();
    let mut queue = VecDeque::from(ready);
    while let Some(Ready { node: index, step }) = queue.pop_front() {
        let node = &plan.nodes[index];
        if *budget == 0 || !runner::is_pure(&node.spec) {
            carried.left_ready = true;
            continue;
        }
        let now = Utc::now();
        let ctx = context::build(Source::Txn(txn), run, plan, index, &step, now).await?;
        let outcome = inner.templates.inline(|t| runner::run_pure(t, &ctx));
        let Some(Outcome::Done { output, ports }) = outcome else {
            // A failed attempt (also one past the inline budget of templates) is handled by
            // a worker, under the node's retry policy and with the full budget.
            carried.left_ready = true;
            continue;
        };
        drop(ctx);
        let output_text = to_text(&output);
        let end = success(output_text.clone(), &ports);
        if !txn.complete_step(step.id, end, now).await? {
            continue;
        }
        *budget -= 1;
        if queued {
            txn.start_run(run.id, now).await?;
            carried.events.push(WeftEvent::RunStarted {
                run_id: run.id,
                workflow_id: run.workflow_id,
                version: run.version,
            });
            queued = false;
        }
        if matches!(node.spec, NodeSpec::End(_))
            && let Some(text) = &output_text
        {
            txn.set_run_output(run.id, text.clone()).await?;
        }
        carried.events.push(WeftEvent::NodeStarted {
            run_id: run.id,
            node_id: step.node_id.clone(),
            scope: step.scope.clone(),
            attempt: step.attempt + 1,
        });
        carried.events.push(WeftEvent::NodeSucceeded {
            run_id: run.id,
            node_id: step.node_id.clone(),
            scope: step.scope.clone(),
            ports: ports.clone(),
        });
        let follow = Follow { node: index, scope: step.scope, ports, output: output_text };
        let fired = schedule::fire(inner, txn, plan, run, follow, now).await?;
        carried.events.extend(fired.events);
        carried.cancelled |= fired.cancelled;
        if fired.failed.is_some() {
            carried.failed = true;
            return Ok(carried);
        }
        queue.extend(fired.ready);
    }
    Ok(carried)
}
