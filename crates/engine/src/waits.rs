//! Steps that wait for something outside the engine: approvals (a person's decision, or a
//! timeout's escalation) and sub-workflows (a child run's end). Such a step is parked as
//! `waiting`; the event it waits for wakes it (or its timeout does), and the next claim of
//! it reads what happened and ends it like any step.

use chrono::Utc;
use serde_json::{Value, json};
use weft_core::workflow::nodes::{ApprovalConfig, CommentPolicy, EscalationAction, SubWorkflowConfig};
use weft_events::{Audience, WeftEvent};
use weft_store::{ApprovalTask, NewRun, NewTask, Run, RunStatus, Step, TaskStatus};

use crate::plan::Plan;
use crate::runner::{NodeError, StepContext};
use crate::worker::{begin, chrono_duration, give_up, succeed, to_text};
use crate::{EngineError, Inner};

fn comment_policy(policy: CommentPolicy) -> &'static str {
    match policy {
        CommentPolicy::Optional => "optional",
        CommentPolicy::Required => "required",
        CommentPolicy::RequiredOnReject => "requiredOnReject",
    }
}

/// The approval node's output for a decided task.
pub fn decision_output(task: &ApprovalTask) -> (Value, String) {
    let decision = if task.status == TaskStatus::Approved { "approved" } else { "rejected" };
    let output = json!({
        "decision": decision,
        "decidedBy": task.decided_by,
        "comment": task.comment,
        "decidedAt": task.decided_at,
    });
    (output, decision.to_owned())
}

fn requested(task: &ApprovalTask, run: &Run) -> Vec<(Audience, WeftEvent)> {
    let event = WeftEvent::ApprovalRequested {
        task_id: task.id,
        run_id: task.run_id,
        node_id: task.node_id.clone(),
        escalated: task.escalated,
    };
    let mut audiences: Vec<Audience> = task.assignees.iter().map(|u| Audience::User { user: *u }).collect();
    if task.role.is_some() {
        audiences.push(crate::run_audience(run));
    }
    audiences.into_iter().map(|a| (a, event.clone())).collect()
}

/// Runs an approval step: creates its task the first time, and later ends it with the
/// decision or applies the timeout's escalation.
pub async fn approval(
    inner: &Inner,
    run: &Run,
    plan: &Plan,
    index: usize,
    step: &Step,
    ctx: &StepContext<'_>,
    config: &ApprovalConfig,
) -> Result<(), EngineError> {
    let now = Utc::now();
    let instructions = match &config.instructions {
        Some(template) => match inner.templates.evaluate(|t| t.render_str(template, &ctx.data)).await {
            Ok(text) => text,
            Err(err) => return give_up(inner, run, plan, index, step, err.into()).await,
        },
        None => String::new(),
    };
    let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
    let owner = &inner.config.worker_id;
    let Some(task) = txn.task_for_step(step.id).await? else {
        let due_at = config.timeout_ms.map(|ms| now + chrono::Duration::milliseconds(ms as i64));
        let new = NewTask {
            run_id: run.id,
            step_id: step.id,
            project_id: run.project_id,
            workflow_id: run.workflow_id,
            node_id: step.node_id.clone(),
            scope: step.scope.clone(),
            assignees: config.assignees.clone(),
            role: config.role,
            instructions,
            comment_policy: comment_policy(config.comment).to_owned(),
            due_at,
        };
        let task = txn.create_task(new, now).await?;
        let state = to_text(&json!({ "taskId": task.id })).unwrap_or_default();
        if !txn.park_step(step.id, owner, state, due_at, now).await? {
            return Ok(());
        }
        txn.set_run_status(run.id, RunStatus::Waiting, now).await?;
        txn.commit().await?;
        for (audience, event) in requested(&task, run) {
            inner.bus.publish(audience, event);
        }
        inner.notify_approval(&task).await;
        inner.publish(run, WeftEvent::RunWaiting { run_id: run.id, node_id: step.node_id.clone() });
        return Ok(());
    };
    if task.status != TaskStatus::Pending {
        drop(txn);
        let (output, port) = decision_output(&task);
        return succeed(inner, run, plan, index, step, output, vec![port]).await;
    }
    let state = to_text(&json!({ "taskId": task.id })).unwrap_or_default();
    if task.due_at.is_none_or(|due| due > now) {
        // Woken before anything happened: wait on.
        txn.park_step(step.id, owner, state, task.due_at, now).await?;
        txn.commit().await?;
        return Ok(());
    }
    // Timed out: escalate once, then reject.
    let rule = config.on_timeout.as_ref();
    let action = match rule.map(|r| r.action) {
        Some(EscalationAction::Reassign) if !task.escalated => EscalationAction::Reassign,
        Some(EscalationAction::AutoApprove) => EscalationAction::AutoApprove,
        _ => EscalationAction::AutoReject,
    };
    if let (EscalationAction::Reassign, Some(rule)) = (action, rule) {
        let due_at = rule.timeout_ms.map(|ms| now + chrono::Duration::milliseconds(ms as i64));
        txn.reassign_task(task.id, &rule.assignees, rule.role, due_at).await?;
        txn.park_step(step.id, owner, state, due_at, now).await?;
        txn.commit().await?;
        let escalated = ApprovalTask {
            assignees: rule.assignees.clone(),
            role: rule.role,
            escalated: true,
            due_at,
            ..task
        };
        for (audience, event) in requested(&escalated, run) {
            inner.bus.publish(audience, event);
        }
        inner.notify_approval(&escalated).await;
        return Ok(());
    }
    let status =
        if action == EscalationAction::AutoApprove { TaskStatus::Approved } else { TaskStatus::Rejected };
    txn.decide_task(task.id, status, None, Some("timed out".to_owned()), now).await?;
    txn.commit().await?;
    let decided =
        ApprovalTask { status, comment: Some("timed out".to_owned()), decided_at: Some(now), ..task };
    let (output, port) = decision_output(&decided);
    succeed(inner, run, plan, index, step, output, vec![port]).await
}

/// Runs a sub-workflow step: starts the child run the first time, and later ends with the
/// child's result.
pub async fn sub_workflow(
    inner: &Inner,
    run: &Run,
    plan: &Plan,
    index: usize,
    step: &Step,
    ctx: &StepContext<'_>,
    config: &SubWorkflowConfig,
) -> Result<(), EngineError> {
    let child_id = ctx
        .state
        .as_ref()
        .and_then(|s| s.get("childRunId"))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<weft_core::RunId>().ok());
    if let Some(child_id) = child_id {
        let child = inner.store.get_run(child_id).await?;
        return match child {
            Some(child) if child.status == RunStatus::Succeeded => {
                let output =
                    child.output.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null);
                succeed(inner, run, plan, index, step, output, vec!["out".to_owned()]).await
            }
            Some(child) if child.status.is_terminal() => {
                let reason = child
                    .error
                    .as_deref()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                    .and_then(|e| e.get("message").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| child.status.as_str().to_owned());
                let error = NodeError::other(format!(
                    "the sub-workflow run {} ended {}: {reason}",
                    child.id,
                    child.status.as_str()
                ));
                give_up(inner, run, plan, index, step, error).await
            }
            Some(_) => {
                // Woken early: wait on.
                let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
                let state = to_text(&json!({ "childRunId": child_id })).unwrap_or_default();
                txn.park_step(step.id, &inner.config.worker_id, state, None, Utc::now()).await?;
                txn.commit().await?;
                Ok(())
            }
            None => {
                give_up(inner, run, plan, index, step, NodeError::other("the sub-workflow run is gone")).await
            }
        };
    }
    let fail = |message: String| NodeError::other(message);
    let Some(workflow_id) = config.workflow_id else {
        return give_up(inner, run, plan, index, step, fail("no workflow to run is set".into())).await;
    };
    let target = inner.store.find_workflow(workflow_id).await?;
    let Some(target) = target.filter(|w| w.project_id == run.project_id) else {
        let message = format!("workflow {workflow_id} does not exist in this project");
        return give_up(inner, run, plan, index, step, fail(message)).await;
    };
    let Some(version) = config.version.map(|v| v as i32).or(target.published_version) else {
        let message = format!("workflow {workflow_id} has no published version");
        return give_up(inner, run, plan, index, step, fail(message)).await;
    };
    if run.depth + 1 > inner.config.max_depth {
        let message = format!("sub-workflows are nested deeper than {} levels", inner.config.max_depth);
        return give_up(inner, run, plan, index, step, fail(message)).await;
    }
    let input = match &config.input {
        Some(template) => match inner.templates.evaluate(|t| t.render_value(template, &ctx.data)).await {
            Ok(value) => value,
            Err(err) => return give_up(inner, run, plan, index, step, err.into()).await,
        },
        None => ctx.input.clone(),
    };
    let child_plan = match inner.plan(target.id, version).await {
        Ok(plan) => plan,
        Err(err) => return give_up(inner, run, plan, index, step, fail(err.to_string())).await,
    };
    let Some(entry) = child_plan.entry() else {
        return give_up(inner, run, plan, index, step, fail("the sub-workflow has no start node".into()))
            .await;
    };
    let now = Utc::now();
    let node = &plan.nodes[index];
    let Some((mut txn, _)) = begin(inner, run).await? else { return Ok(()) };
    let new = NewRun {
        workflow_id: target.id,
        project_id: target.project_id,
        version,
        input: to_text(&input).unwrap_or_else(|| "null".to_owned()),
        trigger: "subWorkflow".to_owned(),
        started_by: run.started_by,
        parent: Some((run.id, step.id)),
        depth: run.depth + 1,
        deadline_at: node
            .settings
            .timeout_ms
            .map(|ms| now + chrono_duration(std::time::Duration::from_millis(ms))),
        entry_node: child_plan.nodes[entry].id.as_str().to_owned(),
    };
    let (child, _) = txn.create_run(new, now).await?;
    let state = to_text(&json!({ "childRunId": child.id })).unwrap_or_default();
    if !txn.park_step(step.id, &inner.config.worker_id, state, None, now).await? {
        return Ok(());
    }
    txn.set_run_status(run.id, RunStatus::Waiting, now).await?;
    txn.commit().await?;
    inner.publish(run, WeftEvent::RunWaiting { run_id: run.id, node_id: step.node_id.clone() });
    inner.wake.notify_waiters();
    Ok(())
}
