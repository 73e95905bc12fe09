//! The `run` router and `workflow.execute`: starting runs, reading their traces, listing
//! and cancelling them. The engine (`weft_engine`) executes what is started here.

pub mod types;

use std::time::Duration;

use weft_core::{ProjectRole, Role, RunId, ValidationErrors};
use weft_engine::StartRun;
use weft_events::WeftEvent;
use weft_store::RunQuery;

use crate::error::{ApiError, InternalError};
use crate::routers::common::{self, require_project};
use crate::routers::workflow::{load_graph, require_valid, require_workflow};
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<Execute>()
        .add::<Get>()
        .add::<List>()
        .add::<Cancel>()
        .add::<Retry>()
        .add::<Approve>()
        .add::<Reject>()
        .add::<Tasks>()
}

const MEMBER: Access = Access::Role(Role::Guest);
/// How long `workflow.execute` waits when asked to and no `waitTimeoutMs` is given.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Longest run time limit: 30 days.
const MAX_RUN_TIMEOUT_MS: u64 = 30 * 24 * 3600 * 1000;

fn engine_error(err: weft_engine::EngineError) -> ApiError {
    match err {
        weft_engine::EngineError::Store(err) => err.into(),
        other => ApiError::Internal(InternalError::new("the engine failed", other)),
    }
}

/// Loads a run if the caller's role in its project is at least `required`; a run in a
/// project the caller is not a member of answers not-found.
async fn require_run(
    ctx: &CallContext,
    id: RunId,
    required: ProjectRole,
) -> Result<weft_store::Run, ApiError> {
    let caller = ctx.caller()?;
    let store = ctx.state.store();
    let run = store.get_run(id).await?.ok_or(ApiError::NotFound { resource: "run" })?;
    let role = store
        .project_role(run.project_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound { resource: "run" })?;
    if !role.satisfies(required) {
        return Err(ApiError::ForbiddenInProject { required });
    }
    Ok(run)
}

/// `workflow.execute`.
pub struct Execute;
impl Procedure for Execute {
    const NAME: &'static str = "workflow.execute";
    const DOC: &'static str = "Starts a run of the published version (or of `version`) with `input` (EDITOR). Returns the queued run at once, or with `wait` the finished run (still running if `waitTimeoutMs` passed first). A version with validation issues is refused with VALIDATION.";
    const ACCESS: Access = MEMBER;
    type Params = ExecuteParams;
    type Output = ExecuteResult;

    async fn call(ctx: CallContext, params: ExecuteParams) -> Result<ExecuteResult, ApiError> {
        let caller = ctx.caller()?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let version = params.version.or(workflow.published_version).ok_or_else(|| {
            ApiError::field(
                "version",
                "required",
                "the workflow has no published version: publish one or name a version",
            )
        })?;
        if version < 1 || version > workflow.current_version {
            return Err(ApiError::NotFound { resource: "version" });
        }
        if let Some(ms) = params.timeout_ms
            && !(1..=MAX_RUN_TIMEOUT_MS).contains(&ms)
        {
            return Err(ApiError::field(
                "timeoutMs",
                "outOfRange",
                &format!("must be between 1 and {MAX_RUN_TIMEOUT_MS}"),
            ));
        }
        let graph = load_graph(&ctx, workflow.id, version).await?;
        require_valid(&ctx, &graph)?;
        let wait = params.wait.unwrap_or(false).then(|| {
            params
                .wait_timeout_ms
                .map_or(DEFAULT_WAIT, Duration::from_millis)
                .min(ctx.state.config().max_execute_wait)
        });
        // Subscribe before starting so that a fast run's end is not missed.
        let events = ctx.state.bus().subscribe();
        let start = StartRun {
            workflow_id: workflow.id,
            project_id: workflow.project_id,
            version,
            input: params.input.unwrap_or_else(|| serde_json::json!({})),
            trigger: "manual".to_owned(),
            started_by: Some(caller.user_id),
            timeout: params.timeout_ms.map(Duration::from_millis),
        };
        let run = ctx.state.engine().start_run(start).await.map_err(engine_error)?;
        let Some(wait) = wait else { return Ok(ExecuteResult { run: run.into() }) };
        let run = wait_for_end(&ctx.state, run.id, events, tokio::time::Instant::now() + wait).await?;
        Ok(ExecuteResult { run: run.into() })
    }
}

/// Waits until the run ends or `deadline` passes, and answers it as it is then. `events`
/// must have been subscribed before the run started, so that a fast run's end is not missed.
pub(crate) async fn wait_for_end(
    state: &crate::AppState,
    run_id: RunId,
    mut events: tokio::sync::broadcast::Receiver<std::sync::Arc<weft_events::Envelope>>,
    deadline: tokio::time::Instant,
) -> Result<weft_store::Run, ApiError> {
    loop {
        let ended = async {
            loop {
                match events.recv().await {
                    Ok(envelope) => match &envelope.event {
                        WeftEvent::RunSucceeded { run_id: id }
                        | WeftEvent::RunFailed { run_id: id, .. }
                        | WeftEvent::RunCancelled { run_id: id }
                            if *id == run_id =>
                        {
                            return;
                        }
                        _ => {}
                    },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        std::future::pending::<()>().await;
                    }
                }
            }
        };
        // The run may finish on another instance: look at the database now and then.
        let _ = tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(250)),
            ended,
        )
        .await;
        let current = state.store().get_run(run_id).await?.ok_or(ApiError::NotFound { resource: "run" })?;
        if current.status.is_terminal() || tokio::time::Instant::now() >= deadline {
            return Ok(current);
        }
    }
}

/// `run.get`.
pub struct Get;
impl Procedure for Get {
    const NAME: &'static str = "run.get";
    const DOC: &'static str = "A run with every node execution (attempts, input, output, error, timings).";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = RunRef;
    type Output = RunDetail;

    async fn call(ctx: CallContext, params: RunRef) -> Result<RunDetail, ApiError> {
        let run = require_run(&ctx, params.run_id, ProjectRole::Viewer).await?;
        let steps = ctx.state.store().list_steps(run.id).await?;
        Ok(RunDetail { run: run.into(), nodes: steps.into_iter().map(NodeExecution::from).collect() })
    }
}

/// `run.list`.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "run.list";
    const DOC: &'static str =
        "Runs of a project or of a workflow, newest first, filtered by status and creation time.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListRunsParams;
    type Output = RunPage;

    async fn call(ctx: CallContext, params: ListRunsParams) -> Result<RunPage, ApiError> {
        let (before, limit) = common::page(params.cursor.as_deref(), params.limit)?;
        let mut errors = ValidationErrors::new();
        errors.check(common::timestamp("createdAfter", params.created_after));
        errors.check(common::timestamp("createdBefore", params.created_before));
        errors.into_result()?;
        let project_id = match (params.workflow_id, params.project_id) {
            (Some(workflow), project) => {
                let workflow = require_workflow(&ctx, workflow, ProjectRole::Viewer).await?;
                if project.is_some_and(|p| p != workflow.project_id) {
                    return Err(ApiError::NotFound { resource: "workflow" });
                }
                workflow.project_id
            }
            (None, Some(project)) => require_project(&ctx, project, ProjectRole::Viewer).await?.project.id,
            (None, None) => {
                return Err(ApiError::field("projectId", "required", "name a project or a workflow"));
            }
        };
        let query = RunQuery {
            project_ids: vec![project_id],
            workflow_id: params.workflow_id,
            status: params.status.map(Into::into),
            created_after: params.created_after,
            created_before: params.created_before,
            before,
            limit,
        };
        let page = ctx.state.store().list_runs(query).await?;
        Ok(RunPage {
            items: page.items.into_iter().map(Run::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }
}

/// `run.cancel`.
pub struct Cancel;
impl Procedure for Cancel {
    const NAME: &'static str = "run.cancel";
    const DOC: &'static str = "Cancels a run (EDITOR): it ends at once as cancelled, open node executions are cancelled and work in flight stops. A finished run is answered unchanged.";
    const ACCESS: Access = MEMBER;
    type Params = RunRef;
    type Output = Run;

    async fn call(ctx: CallContext, params: RunRef) -> Result<Run, ApiError> {
        let run = require_run(&ctx, params.run_id, ProjectRole::Editor).await?;
        let run = ctx.state.engine().cancel_run(run.id).await.map_err(engine_error)?;
        run.map(Run::from).ok_or(ApiError::NotFound { resource: "run" })
    }
}

/// `run.retry`.
pub struct Retry;
impl Procedure for Retry {
    const NAME: &'static str = "run.retry";
    const DOC: &'static str = "Retries a failed run (EDITOR): by default the same run goes on from the node that failed, keeping every earlier output; with `fromStart` a new run starts with the same input and version. Retrying from the failed node a run that has not failed is refused with CONFLICT.";
    const ACCESS: Access = MEMBER;
    type Params = RetryParams;
    type Output = Run;

    async fn call(ctx: CallContext, params: RetryParams) -> Result<Run, ApiError> {
        let caller = ctx.caller()?;
        let run = require_run(&ctx, params.run_id, ProjectRole::Editor).await?;
        let from_start = params.from_start.unwrap_or(false);
        if !from_start && run.status != weft_store::RunStatus::Failed {
            return Err(ApiError::Conflict {
                detail: format!(
                    "the run is {}; only a failed run goes on from where it failed",
                    run.status.as_str()
                ),
            });
        }
        let retried = ctx
            .state
            .engine()
            .retry_run(run.id, from_start, Some(caller.user_id))
            .await
            .map_err(engine_error)?;
        retried.map(Run::from).ok_or(ApiError::NotFound { resource: "run" })
    }
}

/// Longest decision comment, in characters.
const MAX_COMMENT_CHARS: usize = 2_000;

async fn decide(ctx: CallContext, params: DecideParams, approve: bool) -> Result<ApprovalTask, ApiError> {
    let caller = ctx.caller()?;
    let store = ctx.state.store();
    let not_found = ApiError::NotFound { resource: "task" };
    let task = store.get_task(params.task_id).await?.ok_or(ApiError::NotFound { resource: "task" })?;
    let role = store.project_role(task.project_id, caller.user_id).await?.ok_or(not_found)?;
    if !task.assigned_to(caller.user_id, Some(role)) {
        return Err(ApiError::NotAssignee);
    }
    let comment = params.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(ApiError::field(
            "comment",
            "tooLong",
            &format!("must be at most {MAX_COMMENT_CHARS} characters"),
        ));
    }
    let needs_comment = match task.comment_policy.as_str() {
        "required" => true,
        "requiredOnReject" => !approve,
        _ => false,
    };
    if needs_comment && comment.is_none() {
        return Err(ApiError::field("comment", "required", "this approval needs a comment"));
    }
    if task.status != weft_store::TaskStatus::Pending {
        return Err(ApiError::Conflict { detail: "the task was decided already".to_owned() });
    }
    let decided =
        ctx.state.engine().decide(&task, approve, caller.user_id, comment).await.map_err(engine_error)?;
    decided
        .map(ApprovalTask::from)
        .ok_or(ApiError::Conflict { detail: "the task was decided already".to_owned() })
}

/// `run.approve`.
pub struct Approve;
impl Procedure for Approve {
    const NAME: &'static str = "run.approve";
    const DOC: &'static str = "Approves a pending approval task assigned to the caller (directly or through their project role); the waiting run continues on the node's `approved` port. A task decided already answers CONFLICT.";
    const ACCESS: Access = MEMBER;
    type Params = DecideParams;
    type Output = ApprovalTask;

    async fn call(ctx: CallContext, params: DecideParams) -> Result<ApprovalTask, ApiError> {
        decide(ctx, params, true).await
    }
}

/// `run.reject`.
pub struct Reject;
impl Procedure for Reject {
    const NAME: &'static str = "run.reject";
    const DOC: &'static str = "Rejects a pending approval task assigned to the caller; the waiting run continues on the node's `rejected` port.";
    const ACCESS: Access = MEMBER;
    type Params = DecideParams;
    type Output = ApprovalTask;

    async fn call(ctx: CallContext, params: DecideParams) -> Result<ApprovalTask, ApiError> {
        decide(ctx, params, false).await
    }
}

/// `run.tasks`.
pub struct Tasks;
impl Procedure for Tasks {
    const NAME: &'static str = "run.tasks";
    const DOC: &'static str =
        "Pending approval tasks the caller may decide (assigned by name or by project role), oldest first.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = TasksParams;
    type Output = TaskPage;

    async fn call(ctx: CallContext, params: TasksParams) -> Result<TaskPage, ApiError> {
        let caller = ctx.caller()?;
        let (after, limit) = common::page(params.cursor.as_deref(), params.limit)?;
        let page = ctx.state.store().tasks_for_user(caller.user_id, after, limit).await?;
        Ok(TaskPage {
            items: page.items.into_iter().map(ApprovalTask::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }
}
