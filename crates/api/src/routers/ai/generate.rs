//! `ai.generateWorkflow` and `ai.suggestNext`: text to workflow and next-node suggestions,
//! constrained to the node catalogue and checked with the editor's parser and validator
//! (`weft_ai::AiClient::generate_workflow`). Both spend: they need EDITOR, pass the budget
//! guard before every attempt, and record every attempt in the ledger.

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_ai::{
    CredentialSummary, GenerateWorkflowRequest, ModelChoice, SuggestNextRequest, WorkflowContext,
    WorkflowSummary,
};
use weft_core::workflow::nodes::TaskClass;
use weft_core::workflow::{Edge, Graph, Node, NodeId, ValidationReport};
use weft_core::{CredentialId, ProjectId, ProjectRole, WorkflowId};
use weft_engine::ai::{AiSetupError, CallSite};
use weft_store::{NewWorkflow, WorkflowQuery};

use crate::error::{ApiError, InternalError};
use crate::routers::common::{self, require_project};
use crate::routers::workflow::{load_graph, require_workflow, save_whole};
use crate::rpc::{Access, CallContext, Procedure};

use super::MEMBER;

/// Repair turns for a generated graph.
const MAX_REPAIRS: u32 = 2;
/// Longest description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 4_000;

/// Which model a generation uses; absent members let the router pick (`generate` tasks).
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelSelection {
    /// A catalogue model (`provider/model` or its id).
    #[serde(default)]
    #[ts(optional)]
    pub model: Option<String>,
    /// Or a task class for the router.
    #[serde(default)]
    #[ts(optional)]
    pub task_class: Option<TaskClass>,
    /// A stored provider credential of the project instead of the instance's providers.
    #[serde(default)]
    #[ts(optional)]
    pub credential_id: Option<CredentialId>,
}

/// `ai.generateWorkflow` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GenerateWorkflowParams {
    /// The project (EDITOR).
    pub project_id: ProjectId,
    /// What the workflow should do (1 to 4,000 characters).
    pub description: String,
    /// Model selection.
    #[serde(default)]
    #[ts(optional)]
    pub using: Option<ModelSelection>,
    /// Save the graph as a new workflow with this name.
    #[serde(default)]
    #[ts(optional)]
    pub save_as: Option<String>,
    /// Or save it as the next version of an existing workflow of the project.
    #[serde(default)]
    #[ts(optional)]
    pub save_to: Option<SaveTo>,
}

/// Where `ai.generateWorkflow` saves a new version.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SaveTo {
    /// The workflow (EDITOR).
    pub workflow_id: WorkflowId,
    /// Its current version; a stale one answers CONFLICT and saves nothing.
    pub expected_version: i32,
}

/// `ai.generateWorkflow` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateWorkflowResult {
    /// The generated graph (valid for the editor's validator).
    pub graph: Graph,
    /// The model's explanation of it.
    pub explanation: String,
    /// The validator's report (valid).
    pub validation: ValidationReport,
    /// Repair turns it took.
    pub repairs: u32,
    /// The model that answered last.
    pub model: String,
    /// What the generation cost, USD (every attempt).
    pub cost_usd: f64,
    /// The saved workflow, with `saveAs` or `saveTo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub workflow_id: Option<WorkflowId>,
    /// The saved version, with `saveAs` (1) or `saveTo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub version: Option<i32>,
}

/// `ai.suggestNext` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SuggestNextParams {
    /// The workflow (EDITOR); its current version is the partial graph.
    pub workflow_id: WorkflowId,
    /// Continue from this node (default: wherever the graph can go on).
    #[serde(default)]
    #[ts(optional)]
    pub node_id: Option<String>,
    /// How many suggestions, 1 to 5 (default 3).
    #[serde(default)]
    #[ts(optional)]
    pub max_suggestions: Option<u32>,
    /// Model selection.
    #[serde(default)]
    #[ts(optional)]
    pub using: Option<ModelSelection>,
}

/// One proposed next node, with the edge that connects it.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSuggestionView {
    /// The new node (a fresh id).
    pub node: Node,
    /// From an existing node to it.
    pub edge: Edge,
    /// Why.
    pub reason: String,
}

/// `ai.suggestNext` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuggestNextResult {
    /// Valid suggestions (invalid ones are dropped).
    pub suggestions: Vec<NodeSuggestionView>,
    /// The model that answered last.
    pub model: String,
    /// What it cost, USD.
    pub cost_usd: f64,
}

/// An AI failure as an API error: budgets refuse, providers fail, answers stay invalid.
pub(crate) fn ai_error(err: &weft_ai::AiError) -> ApiError {
    if err.kind() == "budgetExceeded" {
        return ApiError::BudgetExceeded { reason: err.to_string() };
    }
    ApiError::Upstream { service: "ai", reason: err.to_string(), failure: err.kind() }
}

pub(crate) fn setup_error(err: AiSetupError) -> ApiError {
    match err {
        AiSetupError::NotConfigured(reason) => {
            ApiError::Upstream { service: "ai", reason, failure: "notConfigured" }
        }
        AiSetupError::Store(err) => err.into(),
        AiSetupError::Ai(err) => ai_error(&err),
    }
}

fn choice(using: &ModelSelection) -> ModelChoice {
    ModelChoice {
        model: using.model.clone(),
        task: using.task_class.or(Some(TaskClass::Generate)),
        ..ModelChoice::default()
    }
}

/// What the model may reference: the project's workflows and credentials (names, never secrets).
async fn context(ctx: &CallContext, project: ProjectId) -> Result<WorkflowContext, ApiError> {
    let store = ctx.state.store();
    let query = WorkflowQuery { tag: None, status: None, search: None, after: None, limit: 100 };
    let workflows = store.list_workflows(project, query).await?;
    let credentials = store.list_credentials(project).await?;
    Ok(WorkflowContext {
        existing_workflows: workflows
            .items
            .into_iter()
            .map(|w| WorkflowSummary { id: Some(w.id), name: w.name, description: w.description })
            .collect(),
        credentials: credentials
            .into_iter()
            .map(|c| CredentialSummary {
                id: c.id.to_string(),
                name: c.name,
                kind: c.kind.as_str().to_owned(),
            })
            .collect(),
    })
}

fn usd(micro: u64) -> f64 {
    micro as f64 / 1_000_000.0
}

/// `ai.generateWorkflow`.
pub struct GenerateWorkflow;
impl Procedure for GenerateWorkflow {
    const NAME: &'static str = "ai.generateWorkflow";
    const DOC: &'static str = "Generates a workflow graph from a description (EDITOR): constrained to the node catalogue, validated like the editor's graphs, repaired a bounded number of times; returns it with an explanation, or with `saveAs` saves it as a new workflow. Spends from the caller's and the project's budgets.";
    const ACCESS: Access = MEMBER;
    type Params = GenerateWorkflowParams;
    type Output = GenerateWorkflowResult;

    async fn call(
        ctx: CallContext,
        params: GenerateWorkflowParams,
    ) -> Result<GenerateWorkflowResult, ApiError> {
        let caller = ctx.caller()?.clone();
        require_project(&ctx, params.project_id, ProjectRole::Editor).await?;
        let description = params.description.trim();
        weft_core::validation::text_length("description", description, 1, MAX_DESCRIPTION_CHARS)
            .map_err(|e| ApiError::Validation(weft_core::ValidationErrors::single(e)))?;
        let mut errors = weft_core::ValidationErrors::new();
        let name = params.save_as.as_deref().map(|name| common::name(&mut errors, "saveAs", name));
        if params.save_as.is_some() && params.save_to.is_some() {
            errors.push(weft_core::FieldError::new(
                "saveTo",
                "invalid",
                "give `saveAs` or `saveTo`, not both",
            ));
        }
        errors.into_result()?;
        if let Some(target) = &params.save_to {
            // Checked before any spend: the workflow exists, may be edited, and is current.
            let workflow = require_workflow(&ctx, target.workflow_id, ProjectRole::Editor).await?;
            if workflow.project_id != params.project_id {
                return Err(ApiError::NotFound { resource: "workflow" });
            }
            if workflow.current_version != target.expected_version {
                return Err(ApiError::StaleVersion { current_version: workflow.current_version });
            }
        }
        let using = params.using.unwrap_or_default();
        let ai = ctx.state.engine().ai();
        let credential = using.credential_id.map(|id| id.to_string());
        let client = ai.client_for(params.project_id, credential.as_deref()).await.map_err(setup_error)?;
        let request = GenerateWorkflowRequest {
            description: description.to_owned(),
            choice: choice(&using),
            context: context(&ctx, params.project_id).await?,
            max_repairs: MAX_REPAIRS,
            limits: ctx.state.config().graph_limits,
            ..GenerateWorkflowRequest::default()
        };
        let site = CallSite {
            user_id: Some(caller.user_id),
            project_id: Some(params.project_id),
            purpose: "generateWorkflow",
            ..CallSite::default()
        };
        let guard = ai.guard(site, None).await?;
        let generated = client.generate_workflow(request, &guard).await;
        guard.flush().await;
        let generated = generated.map_err(|err| ai_error(&err))?;
        let saved = match (name, &params.save_to) {
            (None, Some(target)) => {
                let saved = save_whole(
                    &ctx,
                    params.project_id,
                    target.workflow_id,
                    target.expected_version,
                    generated.graph.clone(),
                    "generated by ai.generateWorkflow".to_owned(),
                )
                .await?;
                Some((saved.workflow.id, saved.workflow.current_version))
            }
            (Some(name), _) => {
                let text = serde_json::to_string(&generated.graph)
                    .map_err(|e| ApiError::Internal(InternalError::new("failed to serialise graph", e)))?;
                let new = NewWorkflow {
                    project_id: params.project_id,
                    name,
                    description: description.chars().take(common::MAX_DESCRIPTION_CHARS).collect(),
                    tags: vec!["generated".to_owned()],
                    graph: text,
                    message: "generated by ai.generateWorkflow".to_owned(),
                    author_id: caller.user_id,
                };
                Some((ctx.state.store().create_workflow(new, Utc::now()).await?.id, 1))
            }
            (None, None) => None,
        };
        Ok(GenerateWorkflowResult {
            graph: generated.graph,
            explanation: generated.explanation,
            validation: generated.report,
            repairs: generated.n_repairs,
            model: generated.last.model,
            cost_usd: usd(generated.total_cost_micro_usd),
            workflow_id: saved.map(|(id, _)| id),
            version: saved.map(|(_, version)| version),
        })
    }
}

/// `ai.suggestNext`.
pub struct SuggestNext;
impl Procedure for SuggestNext {
    const NAME: &'static str = "ai.suggestNext";
    const DOC: &'static str = "Proposes 1 to 5 next nodes for a workflow's current graph (EDITOR), each with the edge that connects it; suggestions that would not fit the graph are dropped. Spends from the caller's and the project's budgets.";
    const ACCESS: Access = MEMBER;
    type Params = SuggestNextParams;
    type Output = SuggestNextResult;

    async fn call(ctx: CallContext, params: SuggestNextParams) -> Result<SuggestNextResult, ApiError> {
        let caller = ctx.caller()?.clone();
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let max = params.max_suggestions.unwrap_or(3);
        if !(1..=5).contains(&max) {
            return Err(ApiError::field("maxSuggestions", "outOfRange", "must be between 1 and 5"));
        }
        let graph = load_graph(&ctx, workflow.id, workflow.current_version).await?;
        let selected = match &params.node_id {
            Some(id) => {
                let id = NodeId::new(id.clone())
                    .map_err(|e| ApiError::field("nodeId", "invalid", &e.to_string()))?;
                if graph.node(id.as_str()).is_none() {
                    return Err(ApiError::field("nodeId", "notFound", "is not a node of the workflow"));
                }
                Some(id)
            }
            None => None,
        };
        let using = params.using.unwrap_or_default();
        let ai = ctx.state.engine().ai();
        let credential = using.credential_id.map(|id| id.to_string());
        let client = ai.client_for(workflow.project_id, credential.as_deref()).await.map_err(setup_error)?;
        let request = SuggestNextRequest {
            graph,
            selected,
            max_suggestions: max as usize,
            choice: choice(&using),
            context: context(&ctx, workflow.project_id).await?,
            max_repairs: MAX_REPAIRS,
            limits: ctx.state.config().graph_limits,
            ..SuggestNextRequest::default()
        };
        let site = CallSite {
            user_id: Some(caller.user_id),
            project_id: Some(workflow.project_id),
            workflow_id: Some(workflow.id),
            purpose: "suggestNext",
            ..CallSite::default()
        };
        let guard = ai.guard(site, None).await?;
        let suggested = client.suggest_next(request, &guard).await;
        guard.flush().await;
        let suggested = suggested.map_err(|err| ai_error(&err))?;
        Ok(SuggestNextResult {
            suggestions: suggested
                .suggestions
                .into_iter()
                .map(|s| NodeSuggestionView { node: s.node, edge: s.edge, reason: s.reason })
                .collect(),
            model: suggested.last.model,
            cost_usd: usd(suggested.total_cost_micro_usd),
        })
    }
}
