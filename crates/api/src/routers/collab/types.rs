//! Params and results of the `collab` router.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::WorkflowId;
use weft_events::{CommentView, PresenceView};

/// `collab.join` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JoinParams {
    /// The workflow opened in the editor.
    pub workflow_id: WorkflowId,
    /// The editor's id from an earlier join (rejoining after a reconnect); a new one is
    /// made when absent.
    #[serde(default)]
    #[ts(optional)]
    pub client_id: Option<uuid::Uuid>,
}

/// `collab.join` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    /// This editor's id: send it with heartbeats, cursor updates and edits.
    pub client_id: uuid::Uuid,
    /// The workflow's current version (edits arriving as `workflow.patched` follow it).
    pub version: i32,
    /// Everyone on the workflow now, this editor included.
    pub presence: Vec<PresenceView>,
    /// Send a heartbeat (or a cursor update) at least this often, or the presence expires.
    #[ts(type = "number")]
    pub heartbeat_ms: u64,
}

/// Names an editor on a workflow.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientRef {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The editor, from `collab.join`.
    pub client_id: uuid::Uuid,
}

/// `collab.cursor` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CursorParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The editor, from `collab.join`.
    pub client_id: uuid::Uuid,
    /// Where the cursor is (any small JSON value, e.g. `{"x": 10, "y": 20}`; null hides it).
    #[serde(default)]
    #[ts(optional, type = "unknown")]
    pub cursor: Option<serde_json::Value>,
    /// Selected node ids (unchanged when absent).
    #[serde(default)]
    #[ts(optional)]
    pub selection: Option<Vec<String>>,
}

/// `collab.presence` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkflowRef {
    /// The workflow.
    pub workflow_id: WorkflowId,
}

/// Who is on a workflow.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceList {
    /// Editors, earliest joined first.
    pub items: Vec<PresenceView>,
}

/// `collab.leave` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Left {
    /// The editor was there (false when it had already left or expired).
    pub left: bool,
}

/// `collab.comment` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommentParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// A node of its current version.
    pub node_id: String,
    /// The text (1 to 10,000 characters).
    pub body: String,
    /// The comment answered, in the same workflow.
    #[serde(default)]
    #[ts(optional)]
    pub parent_id: Option<uuid::Uuid>,
}

/// `collab.listComments` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListCommentsParams {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// Only this node's.
    #[serde(default)]
    #[ts(optional)]
    pub node_id: Option<String>,
    /// Resolved ones too (default false).
    #[serde(default)]
    #[ts(optional)]
    pub include_resolved: Option<bool>,
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Page size (default 50, at most 200).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// A page of comments.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentPage {
    /// Oldest first.
    pub items: Vec<CommentView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `collab.resolveComment` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResolveParams {
    /// The comment.
    pub comment_id: uuid::Uuid,
    /// Resolve (true, the default) or reopen (false).
    #[serde(default)]
    #[ts(optional)]
    pub resolved: Option<bool>,
}
