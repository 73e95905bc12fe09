//! Params and results of the `run` router and `workflow.execute`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use weft_core::{ProjectId, RunId, StepId, UserId, WorkflowId};

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    /// Created; no step has started yet.
    Queued,
    /// Steps are running or ready.
    Running,
    /// Waiting for something outside (a timer, an approval, a child run).
    Waiting,
    /// Finished; `output` is the result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped by `run.cancel`.
    Cancelled,
}

impl From<weft_store::RunStatus> for RunStatus {
    fn from(status: weft_store::RunStatus) -> Self {
        match status {
            weft_store::RunStatus::Queued => Self::Queued,
            weft_store::RunStatus::Running => Self::Running,
            weft_store::RunStatus::Waiting => Self::Waiting,
            weft_store::RunStatus::Succeeded => Self::Succeeded,
            weft_store::RunStatus::Failed => Self::Failed,
            weft_store::RunStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<RunStatus> for weft_store::RunStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Queued => Self::Queued,
            RunStatus::Running => Self::Running,
            RunStatus::Waiting => Self::Waiting,
            RunStatus::Succeeded => Self::Succeeded,
            RunStatus::Failed => Self::Failed,
            RunStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// Where a node execution is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StepStatus {
    /// Some inputs arrived; waiting for the others.
    Pending,
    /// Queued.
    Ready,
    /// Running on a worker.
    Running,
    /// Waiting for something outside.
    Waiting,
    /// Done.
    Succeeded,
    /// Gave up.
    Failed,
    /// Not taken.
    Skipped,
    /// Stopped because the run ended.
    Cancelled,
}

impl From<weft_store::StepStatus> for StepStatus {
    fn from(status: weft_store::StepStatus) -> Self {
        match status {
            weft_store::StepStatus::Pending => Self::Pending,
            weft_store::StepStatus::Ready => Self::Ready,
            weft_store::StepStatus::Running => Self::Running,
            weft_store::StepStatus::Waiting => Self::Waiting,
            weft_store::StepStatus::Succeeded => Self::Succeeded,
            weft_store::StepStatus::Failed => Self::Failed,
            weft_store::StepStatus::Skipped => Self::Skipped,
            weft_store::StepStatus::Cancelled => Self::Cancelled,
        }
    }
}

fn json(text: Option<&str>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// What started a run (`Run.trigger`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunTrigger {
    /// `workflow.execute`.
    Manual,
    /// A cron schedule.
    Schedule,
    /// A webhook call.
    Webhook,
    /// An event trigger (another workflow's run).
    Event,
    /// A sub-workflow node of a parent run.
    SubWorkflow,
    /// The workflow is another's error workflow.
    ErrorHandler,
    /// `run.retry` of an earlier run.
    Retry,
}

/// A run.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// Identifier.
    pub id: RunId,
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// Its project.
    pub project_id: ProjectId,
    /// The executed version.
    pub version: i32,
    /// Status.
    pub status: RunStatus,
    /// The input.
    pub input: Value,
    /// The result (the output of the `end` node reached), once succeeded.
    pub output: Option<Value>,
    /// Why it failed.
    #[ts(as = "Option<weft_core::workflow::StepError>")]
    #[schemars(with = "Option<weft_core::workflow::StepError>")]
    pub error: Option<Value>,
    /// What started it.
    #[ts(as = "RunTrigger")]
    #[schemars(with = "RunTrigger")]
    pub trigger: String,
    /// Who started it.
    pub started_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// First step finished.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<weft_store::Run> for Run {
    fn from(run: weft_store::Run) -> Self {
        Self {
            id: run.id,
            workflow_id: run.workflow_id,
            project_id: run.project_id,
            version: run.version,
            status: run.status.into(),
            input: json(Some(&run.input)).unwrap_or(Value::Null),
            output: json(run.output.as_deref()),
            error: json(run.error.as_deref()),
            trigger: run.trigger,
            started_by: run.started_by,
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// One execution of one node.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeExecution {
    /// Identifier; also the idempotency key sent to HTTP targets.
    pub id: StepId,
    /// The node.
    pub node_id: String,
    /// `""` at the top level; a loop iteration otherwise.
    pub scope: String,
    /// Status.
    pub status: StepStatus,
    /// Attempts started.
    pub attempt: i32,
    /// Input: the output of the node that led here.
    pub input: Option<Value>,
    /// Output.
    pub output: Option<Value>,
    /// The last error.
    #[ts(as = "Option<weft_core::workflow::StepError>")]
    #[schemars(with = "Option<weft_core::workflow::StepError>")]
    pub error: Option<Value>,
    /// Output ports that fired.
    pub ports: Option<Vec<String>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<weft_store::Step> for NodeExecution {
    fn from(step: weft_store::Step) -> Self {
        let waiting_state = !step.status.is_terminal();
        Self {
            id: step.id,
            node_id: step.node_id,
            scope: step.scope,
            status: step.status.into(),
            attempt: step.attempt,
            input: json(step.input.as_deref()),
            // While a step waits, its output column holds runner state, not an output.
            output: if waiting_state { None } else { json(step.output.as_deref()) },
            error: json(step.error.as_deref()),
            ports: step.ports.as_deref().and_then(|p| serde_json::from_str(p).ok()),
            created_at: step.created_at,
            started_at: step.started_at,
            finished_at: step.finished_at,
        }
    }
}

/// A run with its node executions.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    /// The run.
    pub run: Run,
    /// Node executions in the order they were created.
    pub nodes: Vec<NodeExecution>,
}

/// Params of `workflow.execute`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecuteParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The run input (`{}` when absent).
    #[serde(default)]
    #[ts(optional)]
    pub input: Option<Value>,
    /// The version to run; the published version when absent.
    #[serde(default)]
    #[ts(optional)]
    pub version: Option<i32>,
    /// Wait for the run to finish, up to `waitTimeoutMs`.
    #[serde(default)]
    #[ts(optional)]
    pub wait: Option<bool>,
    /// How long to wait (default 30,000 ms; at most the server's limit).
    #[serde(default)]
    #[ts(optional)]
    pub wait_timeout_ms: Option<u64>,
    /// Time limit of the whole run, in milliseconds.
    #[serde(default)]
    #[ts(optional)]
    pub timeout_ms: Option<u64>,
}

/// Result of `workflow.execute`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteResult {
    /// The run as it is when the call returns: just queued, or finished when waited for
    /// (still running if the wait timed out).
    pub run: Run,
}

/// Params naming a run.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunRef {
    /// The run.
    pub run_id: RunId,
}

/// Params of `run.list`: runs of one project or one workflow, newest first.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListRunsParams {
    /// Runs of this project.
    #[serde(default)]
    #[ts(optional)]
    pub project_id: Option<ProjectId>,
    /// Runs of this workflow.
    #[serde(default)]
    #[ts(optional)]
    pub workflow_id: Option<WorkflowId>,
    /// Only runs with this status.
    #[serde(default)]
    #[ts(optional)]
    pub status: Option<RunStatus>,
    /// Only runs created at or after this time.
    #[serde(default)]
    #[ts(optional)]
    pub created_after: Option<DateTime<Utc>>,
    /// Only runs created before this time.
    #[serde(default)]
    #[ts(optional)]
    pub created_before: Option<DateTime<Utc>>,
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// A page of runs.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    /// Newest first.
    pub items: Vec<Run>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Params of `run.retry`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryParams {
    /// The run.
    pub run_id: RunId,
    /// Start over with the same input (a new run) instead of going on from the failed node.
    #[serde(default)]
    #[ts(optional)]
    pub from_start: Option<bool>,
}

/// Where an approval task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TaskStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
}

/// An approval task: a decision a run waits for.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalTask {
    /// The task.
    pub id: weft_core::TaskId,
    /// The waiting run.
    pub run_id: RunId,
    /// Its workflow.
    pub workflow_id: WorkflowId,
    /// Its project.
    pub project_id: ProjectId,
    /// The approval node.
    pub node_id: String,
    /// Its loop scope (`""` at the top level).
    pub scope: String,
    /// Rendered instructions.
    pub instructions: String,
    /// Users who may decide.
    pub assignees: Vec<UserId>,
    /// Members with this role or higher may decide too.
    pub role: Option<weft_core::ProjectRole>,
    /// `optional`, `required` or `requiredOnReject`.
    pub comment_policy: String,
    /// Status.
    pub status: TaskStatus,
    /// Who decided (none when a timeout did).
    pub decided_by: Option<UserId>,
    /// The comment.
    pub comment: Option<String>,
    /// When it was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// When it times out.
    pub due_at: Option<DateTime<Utc>>,
    /// Reassigned after a timeout.
    pub escalated: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<weft_store::ApprovalTask> for ApprovalTask {
    fn from(t: weft_store::ApprovalTask) -> Self {
        Self {
            id: t.id,
            run_id: t.run_id,
            workflow_id: t.workflow_id,
            project_id: t.project_id,
            node_id: t.node_id,
            scope: t.scope,
            instructions: t.instructions,
            assignees: t.assignees,
            role: t.role,
            comment_policy: t.comment_policy,
            status: match t.status {
                weft_store::TaskStatus::Pending => TaskStatus::Pending,
                weft_store::TaskStatus::Approved => TaskStatus::Approved,
                weft_store::TaskStatus::Rejected => TaskStatus::Rejected,
            },
            decided_by: t.decided_by,
            comment: t.comment,
            decided_at: t.decided_at,
            due_at: t.due_at,
            escalated: t.escalated,
            created_at: t.created_at,
        }
    }
}

/// Params of `run.approve` and `run.reject`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DecideParams {
    /// The task.
    pub task_id: weft_core::TaskId,
    /// A comment (required when the node's comment policy says so; at most 2,000 characters).
    #[serde(default)]
    #[ts(optional)]
    pub comment: Option<String>,
}

/// Params of `run.tasks`.
#[derive(Debug, Default, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TasksParams {
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Most tasks to return, 1 to 200 (default 50).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// A page of pending approval tasks the caller may decide, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskPage {
    /// The tasks.
    pub items: Vec<ApprovalTask>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
