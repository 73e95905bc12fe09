//! Params and results of the `workflow` router.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::workflow::{Graph, GraphDiff, NodeTypeInfo, ValidationReport};
use weft_core::{ProjectId, UserId, WorkflowId};

/// Whether a workflow has a published version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WorkflowStatus {
    /// Never published.
    Draft,
    /// Has a published version.
    Published,
}

/// A workflow's metadata.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workflow {
    /// Identifier.
    pub id: WorkflowId,
    /// Owning project.
    pub project_id: ProjectId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Draft or published.
    pub status: WorkflowStatus,
    /// The latest version; pass it as `expectedVersion` when editing.
    pub current_version: i32,
    /// The version that triggers run.
    pub published_version: Option<i32>,
    /// The workflow run when a run of this one fails.
    pub error_workflow_id: Option<WorkflowId>,
    /// Creator.
    pub created_by: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<weft_store::Workflow> for Workflow {
    fn from(w: weft_store::Workflow) -> Self {
        Self {
            status: if w.published_version.is_some() {
                WorkflowStatus::Published
            } else {
                WorkflowStatus::Draft
            },
            id: w.id,
            project_id: w.project_id,
            name: w.name,
            description: w.description,
            tags: w.tags,
            current_version: w.current_version,
            published_version: w.published_version,
            error_workflow_id: w.error_workflow_id,
            created_by: w.created_by,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A workflow with its current graph and that graph's validation report.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDetail {
    /// Metadata.
    pub workflow: Workflow,
    /// The graph of `workflow.currentVersion`.
    pub graph: Graph,
    /// What must be fixed before publishing.
    pub validation: ValidationReport,
}

/// Params of `workflow.create`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWorkflowParams {
    /// The project (EDITOR or OWNER).
    pub project_id: ProjectId,
    /// 1 to 200 characters.
    pub name: String,
    /// Free text.
    #[serde(default)]
    #[ts(optional)]
    pub description: Option<String>,
    /// Up to 20 tags of up to 50 characters.
    #[serde(default)]
    #[ts(optional)]
    pub tags: Option<Vec<String>>,
    /// The first version's graph; an empty graph when omitted.
    #[serde(default)]
    #[ts(optional, as = "Option<Graph>")]
    #[schemars(with = "Option<Graph>")]
    pub graph: Option<serde_json::Value>,
}

/// Params of `workflow.list`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListWorkflowsParams {
    /// The project.
    pub project_id: ProjectId,
    /// Only workflows with this tag.
    #[serde(default)]
    #[ts(optional)]
    pub tag: Option<String>,
    /// Only drafts or only published workflows.
    #[serde(default)]
    #[ts(optional)]
    pub status: Option<WorkflowStatus>,
    /// Case-insensitive substring of the name; at most 200 characters.
    #[serde(default)]
    #[ts(optional)]
    pub search: Option<String>,
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// A page of workflows.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowPage {
    /// Newest first.
    pub items: Vec<Workflow>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Params naming a workflow.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkflowRef {
    /// The workflow.
    pub workflow_id: WorkflowId,
}

/// Result of `workflow.delete`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowIdResult {
    /// The workflow.
    pub workflow_id: WorkflowId,
}

/// Params of `workflow.update`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateWorkflowParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// New name.
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    #[ts(optional)]
    pub description: Option<String>,
    /// New tag set.
    #[serde(default)]
    #[ts(optional)]
    pub tags: Option<Vec<String>>,
    /// A workflow of the same project run (published version) when a run of this one
    /// fails, with `{ failedRun: { id, workflowId, error } }` as input; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[ts(optional, type = "string | null")]
    #[schemars(with = "Option<WorkflowId>")]
    pub error_workflow_id: Option<Option<WorkflowId>>,
}

/// Tells a member given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Params of `workflow.duplicate`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DuplicateWorkflowParams {
    /// The workflow to copy (its current version).
    pub workflow_id: WorkflowId,
    /// Name of the copy; "<name> (copy)" when omitted.
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
}

/// Params of `workflow.validate`: a graph to check, or a stored workflow version.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValidateParams {
    /// The workflow whose graph to check (its current version unless `version` is given);
    /// also the project whose limits apply when `graph` is given.
    pub workflow_id: WorkflowId,
    /// A version of the workflow.
    #[serde(default)]
    #[ts(optional)]
    pub version: Option<i32>,
    /// An unsaved graph to check instead.
    #[serde(default)]
    #[ts(optional, as = "Option<Graph>")]
    #[schemars(with = "Option<Graph>")]
    pub graph: Option<serde_json::Value>,
}

/// Params of `workflow.saveGraph`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SaveGraphParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The version the edit is based on; a stale one answers CONFLICT with `currentVersion`.
    pub expected_version: i32,
    /// The whole new graph.
    #[ts(as = "Graph")]
    #[schemars(with = "Graph")]
    pub graph: serde_json::Value,
    /// Version message.
    #[serde(default)]
    #[ts(optional)]
    pub message: Option<String>,
}

/// Params of `workflow.patchGraph`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchGraphParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The version the patch is based on; a stale one answers CONFLICT with `currentVersion`.
    pub expected_version: i32,
    /// RFC 6902 JSON Patch operations applied to the graph document (`/nodes/3/config/url`, ...).
    #[ts(as = "Vec<JsonPatchOperation>")]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub patch: Vec<serde_json::Value>,
    /// Version message.
    #[serde(default)]
    #[ts(optional)]
    pub message: Option<String>,
    /// The editor sending the edit (its `collab.join` client id), echoed in the
    /// `workflow.patched` event so it can skip its own edit.
    #[serde(default)]
    #[ts(optional)]
    pub client_id: Option<uuid::Uuid>,
}

/// One RFC 6902 operation (TypeScript shape only; the server parses and checks it).
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JsonPatchOperation {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    pub op: String,
    /// JSON Pointer into the graph.
    pub path: String,
    /// For `move` and `copy`.
    #[serde(default)]
    #[ts(optional)]
    pub from: Option<String>,
    /// For `add`, `replace` and `test`.
    #[serde(default)]
    #[ts(optional)]
    pub value: Option<serde_json::Value>,
}

/// Result of saving, patching or restoring a graph.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaveResult {
    /// Metadata with the new `currentVersion`.
    pub workflow: Workflow,
    /// The saved graph's validation report (drafts may be saved with issues).
    pub validation: ValidationReport,
}

/// Params of `workflow.versions`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListVersionsParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// One version, without its graph.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// 1, 2, 3, ...
    pub version: i32,
    /// Who saved it.
    pub author_id: UserId,
    /// Why.
    pub message: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Whether this is the published version.
    pub published: bool,
}

/// A page of versions (`workflow.versions`).
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionPage {
    /// Newest first.
    pub items: Vec<VersionInfo>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Params naming one version.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VersionRef {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The version.
    pub version: i32,
}

/// One version with its graph.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionDetail {
    /// The version.
    pub info: VersionInfo,
    /// Its graph.
    pub graph: Graph,
}

/// Params of `workflow.diff`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DiffParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The older version.
    pub from: i32,
    /// The newer version.
    pub to: i32,
}

/// Result of `workflow.diff`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffResult {
    /// The older version.
    pub from: i32,
    /// The newer version.
    pub to: i32,
    /// Node- and edge-level changes.
    pub diff: GraphDiff,
}

/// Params of `workflow.restore`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestoreParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The version whose graph becomes a new version.
    pub version: i32,
    /// The version the restore is based on; the current one when omitted.
    #[serde(default)]
    #[ts(optional)]
    pub expected_version: Option<i32>,
}

/// Params of `workflow.publish`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The version to publish; the current one when omitted.
    #[serde(default)]
    #[ts(optional)]
    pub version: Option<i32>,
}

/// Params of `workflow.export`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExportParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The version; the current one when omitted.
    #[serde(default)]
    #[ts(optional)]
    pub version: Option<i32>,
}

/// Params of `workflow.import`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImportParams {
    /// The project to import into (EDITOR or OWNER).
    pub project_id: ProjectId,
    /// A document written by `workflow.export` (see docs/workflow-format.md).
    #[ts(as = "weft_core::workflow::WorkflowExport")]
    #[schemars(with = "weft_core::workflow::WorkflowExport")]
    pub document: serde_json::Value,
    /// Name of the new workflow; the document's name when omitted.
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
}

/// Result of `workflow.nodeTypes`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeTypeList {
    /// Every node type with its ports.
    pub items: Vec<NodeTypeInfo>,
}
