//! The `workflow` router: workflows, their graphs, versions, publication, export/import.

pub mod types;

use chrono::Utc;
use weft_core::validation::join_path;
use weft_core::workflow::{self as wf, Graph, ValidationReport, WorkflowExport};
use weft_core::{FieldError, ProjectRole, Role, ValidationErrors, WorkflowId};
use weft_events::{Audience, WeftEvent};
use weft_store::{NewVersion, NewWorkflow, SaveOutcome, VersionContent, WorkflowChanges, WorkflowQuery};

use std::sync::Arc;

use crate::error::{ApiError, InternalError};
use crate::graph_cache::CachedGraph;
use crate::routers::auth::types::EmptyParams;
use crate::routers::common::{self, require_project};
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<Create>()
        .add::<List>()
        .add::<Get>()
        .add::<Update>()
        .add::<Duplicate>()
        .add::<Delete>()
        .add::<Validate>()
        .add::<SaveGraph>()
        .add::<PatchGraph>()
        .add::<Versions>()
        .add::<GetVersion>()
        .add::<Diff>()
        .add::<Restore>()
        .add::<Publish>()
        .add::<Export>()
        .add::<Import>()
        .add::<NodeTypes>()
}

const MEMBER: Access = Access::Role(Role::Guest);
const MAX_MESSAGE_CHARS: usize = 500;

/// Loads a workflow if the caller's role in its project is at least `required`. A
/// workflow in a project the caller is not a member of answers not-found.
pub(crate) async fn require_workflow(
    ctx: &CallContext,
    id: WorkflowId,
    required: ProjectRole,
) -> Result<weft_store::Workflow, ApiError> {
    let caller = ctx.caller()?;
    let store = ctx.state.store();
    let not_found = ApiError::NotFound { resource: "workflow" };
    let workflow = store.find_workflow(id).await?.ok_or(ApiError::NotFound { resource: "workflow" })?;
    let role = store.project_role(workflow.project_id, caller.user_id).await?.ok_or(not_found)?;
    if !role.satisfies(required) {
        return Err(ApiError::ForbiddenInProject { required });
    }
    Ok(workflow)
}

/// An edit based on `expected` applies only if that is still the current version; the
/// store checks again inside the write's transaction.
fn check_current(workflow: &weft_store::Workflow, expected: i32) -> Result<(), ApiError> {
    if workflow.current_version != expected {
        return Err(ApiError::StaleVersion { current_version: workflow.current_version });
    }
    Ok(())
}

/// The workflow, if the caller may edit it and `expected` is its current version.
async fn require_editable(
    ctx: &CallContext,
    id: WorkflowId,
    expected: i32,
) -> Result<weft_store::Workflow, ApiError> {
    let workflow = require_workflow(ctx, id, ProjectRole::Editor).await?;
    check_current(&workflow, expected)?;
    Ok(workflow)
}

fn internal(context: &'static str) -> impl FnOnce(serde_json::Error) -> ApiError {
    move |e| ApiError::Internal(InternalError::new(context, e))
}

/// A stored version's document and graph, from the cache or the database (trusted: it was
/// parsed before it was saved). What is loaded is cached on the way.
pub(crate) async fn load_entry(
    ctx: &CallContext,
    id: WorkflowId,
    version: i32,
) -> Result<Arc<CachedGraph>, ApiError> {
    if let Some(entry) = ctx.state.graphs().get(id, version) {
        return Ok(entry);
    }
    let stored = ctx
        .state
        .store()
        .get_version(id, version)
        .await?
        .ok_or(ApiError::NotFound { resource: "version" })?;
    let text = stored.graph.as_deref().unwrap_or_default();
    let document: serde_json::Value =
        serde_json::from_str(text).map_err(internal("stored graph is unreadable"))?;
    let graph: Graph = serde_json::from_str(text).map_err(internal("stored graph is unreadable"))?;
    let entry = CachedGraph { version, document, graph };
    ctx.state.graphs().put(id, entry.clone());
    Ok(Arc::new(entry))
}

/// A stored version's graph.
pub(crate) async fn load_graph(ctx: &CallContext, id: WorkflowId, version: i32) -> Result<Graph, ApiError> {
    Ok(load_entry(ctx, id, version).await?.graph.clone())
}

/// Which parts of the graph document a patch can have changed.
enum Touched {
    /// Only these nodes (none added or removed) and, if `edges`, the edge list.
    Parts { nodes: std::collections::BTreeSet<usize>, edges: bool },
    /// Anything else: the whole document must be parsed again.
    Everything,
}

fn touched(operations: &[json_patch::PatchOperation]) -> Touched {
    use json_patch::PatchOperation as Op;
    let mut nodes = std::collections::BTreeSet::new();
    let mut edges = false;
    for operation in operations {
        let (path, whole_node_ok) = match operation {
            Op::Test(_) => continue,
            Op::Replace(op) => (op.path.to_string(), true),
            Op::Add(op) => (op.path.to_string(), false),
            Op::Remove(op) => (op.path.to_string(), false),
            Op::Move(_) | Op::Copy(_) => return Touched::Everything,
        };
        let mut parts = path.split('/').skip(1);
        match (parts.next(), parts.next(), parts.next()) {
            (Some("edges"), _, _) => edges = true,
            (Some("nodes"), Some(index), rest) => match index.parse::<usize>() {
                Ok(index) if rest.is_some() || whole_node_ok => {
                    nodes.insert(index);
                }
                _ => return Touched::Everything,
            },
            _ => return Touched::Everything,
        }
    }
    Touched::Parts { nodes, edges }
}

fn prefixed(prefix: &str, errors: ValidationErrors) -> ApiError {
    ApiError::Validation(ValidationErrors(
        errors
            .0
            .into_iter()
            .map(|e| FieldError::new(join_path(prefix, &e.path), e.code, e.message))
            .collect(),
    ))
}

/// Parses an untrusted graph; errors carry paths under `prefix` (`graph.nodes[3].config.url`).
fn parse_graph(ctx: &CallContext, value: &serde_json::Value, prefix: &str) -> Result<Graph, ApiError> {
    wf::parse_graph(value, &ctx.state.config().graph_limits).map_err(|errors| {
        ApiError::Validation(ValidationErrors(
            errors
                .0
                .into_iter()
                .map(|e| FieldError::new(join_path(prefix, &e.path), e.code, e.message))
                .collect(),
        ))
    })
}

fn check_tags(errors: &mut ValidationErrors, tags: &[String]) -> Vec<String> {
    let mut clean: Vec<String> = tags.iter().map(|t| t.trim().to_owned()).collect();
    if clean.len() > wf::MAX_TAGS {
        errors.push(FieldError::new("tags", "tooMany", format!("at most {} tags", wf::MAX_TAGS)));
    }
    for (i, tag) in clean.iter().enumerate() {
        if tag.is_empty() || tag.chars().count() > wf::MAX_TAG_CHARS {
            errors.push(FieldError::new(
                format!("tags[{i}]"),
                "invalid",
                format!("must be 1 to {} characters", wf::MAX_TAG_CHARS),
            ));
        }
    }
    clean.sort();
    clean.dedup();
    clean
}

fn message(errors: &mut ValidationErrors, message: Option<&str>, default: &str) -> String {
    let message = message.map(str::trim).filter(|m| !m.is_empty()).unwrap_or(default).to_owned();
    if message.chars().count() > MAX_MESSAGE_CHARS {
        errors.push(FieldError::new(
            "message",
            "tooLong",
            format!("must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    message
}

fn report(ctx: &CallContext, graph: &Graph) -> ValidationReport {
    wf::validate(graph, &ctx.state.config().graph_limits)
}

/// Refuses a graph with validation issues (publishing, running): VALIDATION with one
/// field error per issue.
pub(crate) fn require_valid(ctx: &CallContext, graph: &Graph) -> Result<(), ApiError> {
    let validation = report(ctx, graph);
    if validation.valid {
        return Ok(());
    }
    let fields = validation
        .issues
        .into_iter()
        .map(|issue| FieldError::new(join_path("graph", &issue.path), issue.code, issue.message))
        .collect();
    Err(ApiError::Validation(ValidationErrors(fields)))
}

/// Largest delta stored as such; a bigger change is cheaper to read back as a snapshot.
const MAX_DELTA_BYTES: usize = 64 * 1024;

/// A graph to save, with its normalised JSON document (`serde_json::to_value(&graph)`, what
/// JSON Patch paths of later edits point into) and, when known, the exact JSON Patch from
/// the previous version's document to this one.
/// Who edited, and why.
struct EditInfo {
    /// The version message.
    message: String,
    /// The editor (browser tab) that sent the edit, when it said.
    client_id: Option<uuid::Uuid>,
}

impl From<String> for EditInfo {
    fn from(message: String) -> Self {
        Self { message, client_id: None }
    }
}

struct Edited {
    graph: Graph,
    document: serde_json::Value,
    delta: Option<Vec<json_patch::PatchOperation>>,
}

impl Edited {
    /// A whole new graph (no delta against the previous version).
    fn whole(graph: Graph) -> Result<Self, ApiError> {
        let document = serde_json::to_value(&graph).map_err(internal("failed to serialise graph"))?;
        Ok(Self { graph, document, delta: None })
    }
}

/// Saves the edited graph as the version after `expected_version`: a delta when one is
/// known, small, and no snapshot is due, otherwise the whole graph. The document is cached
/// for the next edit.
async fn save(
    ctx: &CallContext,
    id: WorkflowId,
    expected_version: i32,
    edited: Edited,
    edit: EditInfo,
) -> Result<SaveResult, ApiError> {
    let caller = ctx.caller()?;
    let Edited { graph, document, delta } = edited;
    let validation = report(ctx, &graph);
    // What other editors apply: the delta from the normalised previous version, exact.
    let patch: Option<Vec<serde_json::Value>> = match &delta {
        Some(ops) => Some(
            ops.iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()
                .map_err(internal("failed to serialise patch"))?,
        ),
        None => None,
    };
    let delta = match delta {
        Some(ops) if !weft_store::snapshot_due(expected_version + 1) => {
            Some(serde_json::to_string(&ops).map_err(internal("failed to serialise delta"))?)
        }
        _ => None,
    };
    let content = match delta {
        Some(text) if text.len() <= MAX_DELTA_BYTES => VersionContent::Delta(text),
        _ => VersionContent::Snapshot(
            serde_json::to_string(&document).map_err(internal("failed to serialise graph"))?,
        ),
    };
    let new = NewVersion { expected_version, content, author_id: caller.user_id, message: edit.message };
    match ctx.state.store().save_version(id, new, Utc::now()).await? {
        SaveOutcome::Saved(workflow) => {
            let version = workflow.current_version;
            ctx.state.graphs().put(id, CachedGraph { version, document, graph });
            let audience = Audience::Workflow { project: workflow.project_id, workflow: id };
            let event = match patch {
                Some(patch) => WeftEvent::WorkflowPatched {
                    workflow_id: id,
                    version,
                    patch,
                    author_id: caller.user_id,
                    client_id: edit.client_id,
                },
                None => WeftEvent::WorkflowSaved { workflow_id: id, version, author_id: caller.user_id },
            };
            ctx.state.bus().publish(audience, event);
            Ok(SaveResult { workflow: workflow.into(), validation })
        }
        SaveOutcome::Conflict { current_version } => Err(ApiError::StaleVersion { current_version }),
        SaveOutcome::NotFound => Err(ApiError::NotFound { resource: "workflow" }),
    }
}

/// Saves `graph` whole as the version after `expected_version` of workflow `id` of
/// `project` (EDITOR; a stale version answers CONFLICT, another project's workflow NOT_FOUND).
pub(crate) async fn save_whole(
    ctx: &CallContext,
    project: weft_core::ProjectId,
    id: WorkflowId,
    expected_version: i32,
    graph: Graph,
    message: String,
) -> Result<SaveResult, ApiError> {
    let workflow = require_editable(ctx, id, expected_version).await?;
    if workflow.project_id != project {
        return Err(ApiError::NotFound { resource: "workflow" });
    }
    save(ctx, workflow.id, expected_version, Edited::whole(graph)?, message.into()).await
}

/// Applies `operations` to the cached version an edit starts from. Nodes and edges the
/// patch touched are parsed again (all of the graph when it added, removed or moved
/// nodes) and put back into the document in normalised form; the delta stored for the new
/// version is computed from that normalised form, so replaying it gives exactly this graph.
fn apply_patch(
    ctx: &CallContext,
    entry: CachedGraph,
    operations: &[json_patch::PatchOperation],
) -> Result<Edited, ApiError> {
    use json_patch::{PatchOperation, ReplaceOperation};
    let limits = ctx.state.config().graph_limits;
    let CachedGraph { mut document, mut graph, .. } = entry;
    let touched = touched(operations);
    let old_edges = match touched {
        Touched::Parts { edges: true, .. } => Some(document.get("edges").cloned().unwrap_or_default()),
        _ => None,
    };
    if let Err(e) = json_patch::patch(&mut document, operations) {
        return Err(ApiError::field(&format!("patch[{}]", e.operation), "patchFailed", &e.kind.to_string()));
    }
    let node_count = document.get("nodes").and_then(|n| n.as_array()).map(Vec::len);
    let Touched::Parts { nodes, edges } = touched else {
        return Edited::whole(parse_graph(ctx, &document, "graph")?);
    };
    if node_count != Some(graph.nodes.len()) {
        return Edited::whole(parse_graph(ctx, &document, "graph")?);
    }
    let mut delta = Vec::new();
    for index in nodes {
        let node = wf::parse_node_in(&document, index, &limits).map_err(|e| prefixed("graph", e))?;
        let normalised = serde_json::to_value(&node).map_err(internal("failed to serialise node"))?;
        if let Some(slot) = graph.nodes.get_mut(index) {
            *slot = node;
        }
        if let Some(slot) = document.get_mut("nodes").and_then(|n| n.get_mut(index)) {
            *slot = normalised.clone();
        }
        let path = json_patch::jsonptr::PointerBuf::from_tokens(["nodes".to_owned(), index.to_string()]);
        delta.push(PatchOperation::Replace(ReplaceOperation { path, value: normalised }));
    }
    if edges {
        graph.edges = wf::parse_edges_in(&document, &limits).map_err(|e| prefixed("graph", e))?;
        let normalised = serde_json::to_value(&graph.edges).map_err(internal("failed to serialise edges"))?;
        let before = serde_json::json!({ "edges": old_edges.unwrap_or_default() });
        let after = serde_json::json!({ "edges": normalised });
        delta.extend(json_patch::diff(&before, &after).0);
        if let (Some(slot), serde_json::Value::Object(mut after)) = (document.get_mut("edges"), after) {
            *slot = after.remove("edges").unwrap_or_default();
        }
    }
    Ok(Edited { graph, document, delta: Some(delta) })
}

async fn create(ctx: &CallContext, new: NewWorkflow, graph: &Graph) -> Result<WorkflowDetail, ApiError> {
    let workflow = ctx.state.store().create_workflow(new, Utc::now()).await?;
    Ok(WorkflowDetail { workflow: workflow.into(), validation: report(ctx, graph), graph: graph.clone() })
}

/// `workflow.create`.
pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "workflow.create";
    const DOC: &'static str = "Creates a workflow in a project (EDITOR) with version 1. The graph is checked for shape (refused with field paths) and validated (issues reported, not refused: drafts may be incomplete).";
    const ACCESS: Access = MEMBER;
    type Params = CreateWorkflowParams;
    type Output = WorkflowDetail;

    async fn call(ctx: CallContext, params: CreateWorkflowParams) -> Result<WorkflowDetail, ApiError> {
        let caller = ctx.caller()?.clone();
        require_project(&ctx, params.project_id, ProjectRole::Editor).await?;
        let mut errors = ValidationErrors::new();
        let name = common::name(&mut errors, "name", &params.name);
        let description = common::description(
            &mut errors,
            "description",
            params.description.as_deref().unwrap_or_default(),
        );
        let tags = check_tags(&mut errors, params.tags.as_deref().unwrap_or_default());
        errors.into_result()?;
        let graph = match &params.graph {
            Some(value) => parse_graph(&ctx, value, "graph")?,
            None => Graph::default(),
        };
        let text = serde_json::to_string(&graph).map_err(internal("failed to serialise graph"))?;
        let new = NewWorkflow {
            project_id: params.project_id,
            name,
            description,
            tags,
            graph: text,
            message: "created".to_owned(),
            author_id: caller.user_id,
        };
        create(&ctx, new, &graph).await
    }
}

/// `workflow.list`.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "workflow.list";
    const DOC: &'static str = "A project's workflows, newest first, with cursor pagination; filter by tag, status (draft or published) and name.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListWorkflowsParams;
    type Output = WorkflowPage;

    async fn call(ctx: CallContext, params: ListWorkflowsParams) -> Result<WorkflowPage, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Viewer).await?;
        let (after, limit) = common::page(params.cursor.as_deref(), params.limit)?;
        let status = params.status.map(|s| match s {
            WorkflowStatus::Draft => weft_store::WorkflowStatus::Draft,
            WorkflowStatus::Published => weft_store::WorkflowStatus::Published,
        });
        let tag = params.tag.map(|t| t.trim().to_owned());
        if tag.as_ref().is_some_and(|t| t.chars().count() > wf::MAX_TAG_CHARS) {
            return Err(ApiError::field(
                "tag",
                "tooLong",
                &format!("must be at most {} characters", wf::MAX_TAG_CHARS),
            ));
        }
        let query =
            WorkflowQuery { tag, status, search: common::search("search", params.search)?, after, limit };
        let page = ctx.state.store().list_workflows(params.project_id, query).await?;
        Ok(WorkflowPage {
            items: page.items.into_iter().map(Workflow::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }
}

/// `workflow.get`.
pub struct Get;
impl Procedure for Get {
    const NAME: &'static str = "workflow.get";
    const DOC: &'static str = "A workflow with its current graph and validation report.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = WorkflowRef;
    type Output = WorkflowDetail;

    async fn call(ctx: CallContext, params: WorkflowRef) -> Result<WorkflowDetail, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let entry = load_entry(&ctx, workflow.id, workflow.current_version).await?;
        Ok(WorkflowDetail {
            validation: report(&ctx, &entry.graph),
            graph: entry.graph.clone(),
            workflow: workflow.into(),
        })
    }
}

/// `workflow.update`.
pub struct Update;
impl Procedure for Update {
    const NAME: &'static str = "workflow.update";
    const DOC: &'static str = "Changes a workflow's name, description, tags and/or error handler workflow (EDITOR). The graph changes only through saveGraph, patchGraph and restore.";
    const ACCESS: Access = MEMBER;
    type Params = UpdateWorkflowParams;
    type Output = Workflow;

    async fn call(ctx: CallContext, params: UpdateWorkflowParams) -> Result<Workflow, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let mut errors = ValidationErrors::new();
        if let Some(Some(handler)) = params.error_workflow_id {
            let found = ctx.state.store().find_workflow(handler).await?;
            if handler == workflow.id || found.is_none_or(|h| h.project_id != workflow.project_id) {
                errors.push(FieldError::new(
                    "errorWorkflowId",
                    "invalid",
                    "must be another workflow of the same project",
                ));
            }
        }
        let changes = WorkflowChanges {
            error_workflow_id: params.error_workflow_id,
            name: params.name.as_deref().map(|n| common::name(&mut errors, "name", n)),
            description: params
                .description
                .as_deref()
                .map(|d| common::description(&mut errors, "description", d)),
            tags: params.tags.as_deref().map(|t| check_tags(&mut errors, t)),
        };
        errors.into_result()?;
        let workflow = ctx.state.store().update_workflow(params.workflow_id, changes, Utc::now()).await?;
        workflow.map(Workflow::from).ok_or(ApiError::NotFound { resource: "workflow" })
    }
}

/// `workflow.duplicate`.
pub struct Duplicate;
impl Procedure for Duplicate {
    const NAME: &'static str = "workflow.duplicate";
    const DOC: &'static str = "Copies a workflow's current version into a new workflow in the same project (EDITOR), with fresh node ids and no credential references.";
    const ACCESS: Access = MEMBER;
    type Params = DuplicateWorkflowParams;
    type Output = WorkflowDetail;

    async fn call(ctx: CallContext, params: DuplicateWorkflowParams) -> Result<WorkflowDetail, ApiError> {
        let caller = ctx.caller()?.clone();
        let source = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let mut errors = ValidationErrors::new();
        let default_name: String =
            format!("{} (copy)", source.name).chars().take(common::MAX_NAME_CHARS).collect();
        let name = common::name(&mut errors, "name", params.name.as_deref().unwrap_or(&default_name));
        errors.into_result()?;
        let mut graph = wf::reassign_ids(&load_graph(&ctx, source.id, source.current_version).await?);
        wf::strip_credentials(&mut graph);
        let text = serde_json::to_string(&graph).map_err(internal("failed to serialise graph"))?;
        let new = NewWorkflow {
            project_id: source.project_id,
            name,
            description: source.description.clone(),
            tags: source.tags.clone(),
            graph: text,
            message: format!("duplicated from {} version {}", source.id, source.current_version),
            author_id: caller.user_id,
        };
        create(&ctx, new, &graph).await
    }
}

/// `workflow.delete`.
pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "workflow.delete";
    const DOC: &'static str = "Deletes a workflow with all its versions (OWNER).";
    const ACCESS: Access = MEMBER;
    type Params = WorkflowRef;
    type Output = WorkflowIdResult;

    async fn call(ctx: CallContext, params: WorkflowRef) -> Result<WorkflowIdResult, ApiError> {
        require_workflow(&ctx, params.workflow_id, ProjectRole::Owner).await?;
        if !ctx.state.store().delete_workflow(params.workflow_id).await? {
            return Err(ApiError::NotFound { resource: "workflow" });
        }
        ctx.state.graphs().remove(params.workflow_id);
        Ok(WorkflowIdResult { workflow_id: params.workflow_id })
    }
}

/// `workflow.validate`.
pub struct Validate;
impl Procedure for Validate {
    const NAME: &'static str = "workflow.validate";
    const DOC: &'static str = "Validates an unsaved graph, or a stored version: cycles (except through loop nodes), exactly one entry, unreachable nodes, dangling and duplicate edges, unknown ports, required config, and template references to nodes that do not precede them. Shape errors are reported as issues too.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ValidateParams;
    type Output = ValidationReport;

    async fn call(ctx: CallContext, params: ValidateParams) -> Result<ValidationReport, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let graph = match (&params.graph, params.version) {
            (Some(value), _) => match wf::parse_graph(value, &ctx.state.config().graph_limits) {
                Ok(graph) => graph,
                Err(errors) => {
                    let issues = errors
                        .0
                        .into_iter()
                        .map(|e| wf::GraphIssue {
                            code: e.code,
                            message: e.message,
                            path: e.path,
                            node_id: None,
                        })
                        .collect();
                    return Ok(ValidationReport { valid: false, issues });
                }
            },
            (None, version) => {
                load_graph(&ctx, workflow.id, version.unwrap_or(workflow.current_version)).await?
            }
        };
        Ok(report(&ctx, &graph))
    }
}

/// `workflow.saveGraph`.
pub struct SaveGraph;
impl Procedure for SaveGraph {
    const NAME: &'static str = "workflow.saveGraph";
    const DOC: &'static str = "Replaces the graph (EDITOR), creating a new immutable version, if expectedVersion is still current; otherwise CONFLICT with currentVersion and nothing changes.";
    const ACCESS: Access = MEMBER;
    type Params = SaveGraphParams;
    type Output = SaveResult;

    async fn call(ctx: CallContext, params: SaveGraphParams) -> Result<SaveResult, ApiError> {
        let workflow = require_editable(&ctx, params.workflow_id, params.expected_version).await?;
        let mut errors = ValidationErrors::new();
        let message = message(&mut errors, params.message.as_deref(), "saved");
        errors.into_result()?;
        let graph = parse_graph(&ctx, &params.graph, "graph")?;
        save(&ctx, workflow.id, params.expected_version, Edited::whole(graph)?, message.into()).await
    }
}

/// `workflow.patchGraph`.
pub struct PatchGraph;
impl Procedure for PatchGraph {
    const NAME: &'static str = "workflow.patchGraph";
    const DOC: &'static str = "Applies an RFC 6902 JSON Patch to the graph (EDITOR), creating a new version, if expectedVersion is still current. A malformed or failing patch, or one whose result breaks the graph schema, is refused with a precise error and changes nothing.";
    const ACCESS: Access = MEMBER;
    type Params = PatchGraphParams;
    type Output = SaveResult;

    async fn call(ctx: CallContext, params: PatchGraphParams) -> Result<SaveResult, ApiError> {
        let workflow = require_editable(&ctx, params.workflow_id, params.expected_version).await?;
        let mut errors = ValidationErrors::new();
        let message = message(&mut errors, params.message.as_deref(), "edited");
        let mut operations = Vec::with_capacity(params.patch.len());
        for (i, op) in params.patch.into_iter().enumerate() {
            match serde_json::from_value::<json_patch::PatchOperation>(op) {
                Ok(op) => operations.push(op),
                Err(e) => errors.push(FieldError::new(
                    format!("patch[{i}]"),
                    "invalid",
                    format!("not a JSON Patch operation: {e}"),
                )),
            }
        }
        errors.into_result()?;
        let entry = match ctx.state.graphs().take(workflow.id, workflow.current_version) {
            Some(entry) => entry,
            None => (*load_entry(&ctx, workflow.id, workflow.current_version).await?).clone(),
        };
        let edited = apply_patch(&ctx, entry, &operations)?;
        save(
            &ctx,
            workflow.id,
            params.expected_version,
            edited,
            EditInfo { message, client_id: params.client_id },
        )
        .await
    }
}

fn version_info(v: weft_store::WorkflowVersion, published: Option<i32>) -> VersionInfo {
    VersionInfo {
        published: published == Some(v.version),
        version: v.version,
        author_id: v.author_id,
        message: v.message,
        created_at: v.created_at,
    }
}

/// `workflow.versions`.
pub struct Versions;
impl Procedure for Versions {
    const NAME: &'static str = "workflow.versions";
    const DOC: &'static str = "The workflow's versions, newest first, with cursor pagination.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListVersionsParams;
    type Output = VersionPage;

    async fn call(ctx: CallContext, params: ListVersionsParams) -> Result<VersionPage, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let (_, limit) = common::page(None, params.limit)?;
        // The cursor is the last listed version's number: versions below it come next.
        let before = match params.cursor.as_deref() {
            None => None,
            Some(cursor) => Some(cursor.parse::<i32>().ok().filter(|v| *v >= 1).ok_or_else(|| {
                ApiError::field("cursor", "invalid", "is not a cursor from a previous page")
            })?),
        };
        // One more than asked tells whether a next page exists.
        let mut versions = ctx.state.store().list_versions(workflow.id, before, limit + 1).await?;
        let next_cursor = if versions.len() as u64 > limit {
            versions.truncate(limit as usize);
            versions.last().map(|v| v.version.to_string())
        } else {
            None
        };
        Ok(VersionPage {
            items: versions.into_iter().map(|v| version_info(v, workflow.published_version)).collect(),
            next_cursor,
        })
    }
}

/// `workflow.getVersion`.
pub struct GetVersion;
impl Procedure for GetVersion {
    const NAME: &'static str = "workflow.getVersion";
    const DOC: &'static str = "One version with its graph.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = VersionRef;
    type Output = VersionDetail;

    async fn call(ctx: CallContext, params: VersionRef) -> Result<VersionDetail, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let stored = ctx
            .state
            .store()
            .get_version(workflow.id, params.version)
            .await?
            .ok_or(ApiError::NotFound { resource: "version" })?;
        let graph: Graph = serde_json::from_str(stored.graph.as_deref().unwrap_or_default())
            .map_err(internal("stored graph is unreadable"))?;
        Ok(VersionDetail { info: version_info(stored, workflow.published_version), graph })
    }
}

/// `workflow.diff`.
pub struct Diff;
impl Procedure for Diff {
    const NAME: &'static str = "workflow.diff";
    const DOC: &'static str = "Node- and edge-level differences between two versions.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = DiffParams;
    type Output = DiffResult;

    async fn call(ctx: CallContext, params: DiffParams) -> Result<DiffResult, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let before = load_graph(&ctx, workflow.id, params.from).await?;
        let after = load_graph(&ctx, workflow.id, params.to).await?;
        Ok(DiffResult { from: params.from, to: params.to, diff: wf::diff(&before, &after) })
    }
}

/// `workflow.restore`.
pub struct Restore;
impl Procedure for Restore {
    const NAME: &'static str = "workflow.restore";
    const DOC: &'static str = "Makes an earlier version's graph current again by saving it as a new version (EDITOR); history is never rewritten.";
    const ACCESS: Access = MEMBER;
    type Params = RestoreParams;
    type Output = SaveResult;

    async fn call(ctx: CallContext, params: RestoreParams) -> Result<SaveResult, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let expected = params.expected_version.unwrap_or(workflow.current_version);
        check_current(&workflow, expected)?;
        let entry = load_entry(&ctx, workflow.id, params.version).await?;
        let edited = Edited { graph: entry.graph.clone(), document: entry.document.clone(), delta: None };
        save(&ctx, workflow.id, expected, edited, format!("restored version {}", params.version).into()).await
    }
}

/// `workflow.publish`.
pub struct Publish;
impl Procedure for Publish {
    const NAME: &'static str = "workflow.publish";
    const DOC: &'static str = "Marks a version (default: the current one) as the one that triggers run (EDITOR). A graph with validation issues is refused with VALIDATION, one field error per issue.";
    const ACCESS: Access = MEMBER;
    type Params = PublishParams;
    type Output = Workflow;

    async fn call(ctx: CallContext, params: PublishParams) -> Result<Workflow, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Editor).await?;
        let version = params.version.unwrap_or(workflow.current_version);
        let graph = load_graph(&ctx, workflow.id, version).await?;
        require_valid(&ctx, &graph)?;
        let published = ctx.state.store().publish_version(workflow.id, version, Utc::now()).await?;
        published.map(Workflow::from).ok_or(ApiError::NotFound { resource: "version" })
    }
}

/// `workflow.export`.
pub struct Export;
impl Procedure for Export {
    const NAME: &'static str = "workflow.export";
    const DOC: &'static str = "A version (default: current) as a portable document in the versioned format of docs/workflow-format.md. Credential references are removed.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ExportParams;
    type Output = WorkflowExport;

    async fn call(ctx: CallContext, params: ExportParams) -> Result<WorkflowExport, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let graph = load_graph(&ctx, workflow.id, params.version.unwrap_or(workflow.current_version)).await?;
        Ok(WorkflowExport::new(workflow.name, workflow.description, workflow.tags, graph))
    }
}

/// `workflow.import`.
pub struct Import;
impl Procedure for Import {
    const NAME: &'static str = "workflow.import";
    const DOC: &'static str = "Creates a workflow from an exported document (EDITOR): everything is re-validated, node ids are reassigned, credential references are dropped, and nothing runs. Another format version is refused.";
    const ACCESS: Access = MEMBER;
    type Params = ImportParams;
    type Output = WorkflowDetail;

    async fn call(ctx: CallContext, params: ImportParams) -> Result<WorkflowDetail, ApiError> {
        let caller = ctx.caller()?.clone();
        require_project(&ctx, params.project_id, ProjectRole::Editor).await?;
        let document =
            wf::prepare_import(&params.document, &ctx.state.config().graph_limits).map_err(|errors| {
                ApiError::Validation(ValidationErrors(
                    errors
                        .0
                        .into_iter()
                        .map(|e| FieldError::new(join_path("document", &e.path), e.code, e.message))
                        .collect(),
                ))
            })?;
        let mut errors = ValidationErrors::new();
        let name = common::name(&mut errors, "name", params.name.as_deref().unwrap_or(&document.name));
        let tags = check_tags(&mut errors, &document.tags);
        errors.into_result()?;
        let text = serde_json::to_string(&document.graph).map_err(internal("failed to serialise graph"))?;
        let new = NewWorkflow {
            project_id: params.project_id,
            name,
            description: document.description.clone(),
            tags,
            graph: text,
            message: "imported".to_owned(),
            author_id: caller.user_id,
        };
        create(&ctx, new, &document.graph).await
    }
}

/// `workflow.nodeTypes`.
pub struct NodeTypes;
impl Procedure for NodeTypes {
    const NAME: &'static str = "workflow.nodeTypes";
    const DOC: &'static str = "The node catalogue: every node type with its description and ports.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = EmptyParams;
    type Output = NodeTypeList;

    async fn call(_ctx: CallContext, _: EmptyParams) -> Result<NodeTypeList, ApiError> {
        Ok(NodeTypeList { items: wf::catalogue() })
    }
}
