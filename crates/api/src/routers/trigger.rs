//! The `trigger` router: event triggers, which start a workflow when a run of another
//! workflow of the same project succeeds, fails or ends, or when it is started by hand
//! (create, list, delete). The engine fires them, once per trigger and triggering run.

use std::collections::HashSet;

use chrono::Utc;
use weft_core::{EventTriggerId, ProjectRole, Role, WorkflowId};

use crate::error::ApiError;
use crate::routers::schedule::types::Deleted;
use crate::routers::webhook::types::*;
use crate::routers::workflow::require_workflow;
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry.add::<Create>().add::<List>().add::<Delete>()
}

const MEMBER: Access = Access::Role(Role::Guest);

/// Whether runs of `from` reach `to` through existing event triggers (a new trigger from
/// `to` to `from` would close a loop).
async fn reaches(ctx: &CallContext, from: WorkflowId, to: WorkflowId) -> Result<bool, ApiError> {
    let mut seen = HashSet::from([from]);
    let mut next = vec![from];
    while let Some(source) = next.pop() {
        for trigger in ctx.state.store().event_triggers_of_source(source).await? {
            if trigger.workflow_id == to {
                return Ok(true);
            }
            if seen.insert(trigger.workflow_id) {
                next.push(trigger.workflow_id);
            }
        }
    }
    Ok(false)
}

/// `trigger.create`.
pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "trigger.create";
    const DOC: &'static str = "Creates an event trigger (EDITOR on both workflows, which share a project): the workflow's published version runs when a run of the source workflow succeeds, fails or finishes, or when the source is started by hand. A trigger that would start a loop of workflows is refused.";
    const ACCESS: Access = MEMBER;
    type Params = CreateTriggerParams;
    type Output = TriggerView;

    async fn call(ctx: CallContext, params: CreateTriggerParams) -> Result<TriggerView, ApiError> {
        let caller = ctx.caller()?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let source = require_workflow(&ctx, params.source_workflow_id, ProjectRole::Viewer).await?;
        if source.project_id != workflow.project_id {
            return Err(ApiError::NotFound { resource: "workflow" });
        }
        if source.id == workflow.id || reaches(&ctx, workflow.id, source.id).await? {
            return Err(ApiError::field(
                "sourceWorkflowId",
                "cycle",
                "the workflow's runs would trigger the source again",
            ));
        }
        let trigger = weft_store::EventTrigger {
            id: EventTriggerId::new(),
            project_id: workflow.project_id,
            workflow_id: workflow.id,
            source_workflow_id: source.id,
            on: params.on.as_str().to_owned(),
            input: params.input.unwrap_or_else(|| serde_json::json!({})).to_string(),
            created_by: Some(caller.user_id),
            created_at: Utc::now(),
        };
        Ok(ctx.state.store().create_event_trigger(&trigger).await?.into())
    }
}

/// `trigger.list`.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "trigger.list";
    const DOC: &'static str = "The event triggers that start a workflow.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = WorkflowTriggersRef;
    type Output = TriggerList;

    async fn call(ctx: CallContext, params: WorkflowTriggersRef) -> Result<TriggerList, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let triggers = ctx.state.store().list_event_triggers(workflow.id).await?;
        Ok(TriggerList { items: triggers.into_iter().map(Into::into).collect() })
    }
}

/// `trigger.delete`.
pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "trigger.delete";
    const DOC: &'static str = "Deletes an event trigger and its fire history (EDITOR).";
    const ACCESS: Access = MEMBER;
    type Params = TriggerRef;
    type Output = Deleted;

    async fn call(ctx: CallContext, params: TriggerRef) -> Result<Deleted, ApiError> {
        let caller = ctx.caller()?;
        let store = ctx.state.store();
        let not_found = || ApiError::NotFound { resource: "trigger" };
        let trigger = store.get_event_trigger(params.trigger_id).await?.ok_or_else(not_found)?;
        let role = store.project_role(trigger.project_id, caller.user_id).await?.ok_or_else(not_found)?;
        if !role.satisfies(ProjectRole::Editor) {
            return Err(ApiError::ForbiddenInProject { required: ProjectRole::Editor });
        }
        if !store.delete_event_trigger(trigger.id).await? {
            return Err(not_found());
        }
        Ok(Deleted { deleted: true })
    }
}
