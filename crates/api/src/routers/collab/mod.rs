//! The `collab` router: who is editing a workflow (presence with heartbeats, cursors and
//! selections, expiring when an editor vanishes) and comments on its nodes. Everything is
//! announced on the workflow's topic (`workflow:<id>`): `collab.joined`, `collab.left`,
//! `collab.cursor`, `comment.created`, `comment.resolved`; accepted edits arrive there as
//! `workflow.patched` from `workflow.patchGraph`. Any member of the workflow's project may
//! take part; a workflow the caller may not see answers not-found.

mod types;

use chrono::Utc;
use weft_core::{ProjectRole, Role, UserId, WorkflowId};
use weft_events::{Audience, CommentView, PresenceView, WeftEvent};
use weft_store::{Comment, CommentRefusal, NewComment, Presence, PresenceUpdate};

use crate::error::ApiError;
use crate::routers::common;
use crate::routers::workflow::{load_entry, require_workflow};
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
pub use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<Join>()
        .add::<Heartbeat>()
        .add::<Cursor>()
        .add::<Leave>()
        .add::<PresenceNow>()
        .add::<CommentOn>()
        .add::<ListComments>()
        .add::<ResolveComment>()
}

const MEMBER: Access = Access::Role(Role::Guest);
const MAX_CURSOR_BYTES: usize = 1024;
const MAX_SELECTION: usize = 500;
const MAX_NODE_ID_CHARS: usize = 128;
const MAX_COMMENT_CHARS: usize = 10_000;

fn presence_view(presence: Presence) -> PresenceView {
    PresenceView {
        client_id: presence.client_id,
        user_id: presence.user_id,
        display_name: presence.display_name,
        cursor: presence.cursor.and_then(|text| serde_json::from_str(&text).ok()),
        selection: serde_json::from_str(&presence.selection).unwrap_or_default(),
        joined_at: presence.joined_at,
        seen_at: presence.seen_at,
    }
}

fn comment_view(comment: Comment) -> CommentView {
    CommentView {
        id: comment.id,
        workflow_id: comment.workflow_id,
        node_id: comment.node_id,
        parent_id: comment.parent_id,
        author_id: comment.author_id,
        author_name: comment.author_name,
        body: comment.body,
        resolved_at: comment.resolved_at,
        resolved_by: comment.resolved_by,
        created_at: comment.created_at,
    }
}

async fn presence_now(ctx: &CallContext, workflow_id: WorkflowId) -> Result<Vec<PresenceView>, ApiError> {
    let ttl = chrono::Duration::from_std(ctx.state.config().realtime.presence_ttl).unwrap_or_default();
    let rows = ctx.state.store().workflow_presence(workflow_id, Utc::now() - ttl).await?;
    Ok(rows.into_iter().map(presence_view).collect())
}

fn publish(ctx: &CallContext, workflow: &weft_store::Workflow, event: WeftEvent) {
    ctx.state
        .bus()
        .publish(Audience::Workflow { project: workflow.project_id, workflow: workflow.id }, event);
}

fn no_presence() -> ApiError {
    ApiError::NotFound { resource: "presence" }
}

/// `collab.join`.
pub struct Join;
impl Procedure for Join {
    const NAME: &'static str = "collab.join";
    const DOC: &'static str = "Opens the workflow in an editor: records the caller's presence (announced as `collab.joined` on the workflow's topic) and answers everyone there, the current version and how often to send heartbeats. Rejoining with an earlier clientId refreshes it.";
    const ACCESS: Access = MEMBER;
    type Params = JoinParams;
    type Output = Joined;

    async fn call(ctx: CallContext, params: JoinParams) -> Result<Joined, ApiError> {
        let caller = ctx.caller()?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let client_id = params.client_id.unwrap_or_else(uuid::Uuid::now_v7);
        let now = Utc::now();
        let rejoin = params.client_id.is_some();
        let presence = ctx
            .state
            .store()
            .join_presence(client_id, workflow.id, workflow.project_id, caller.user_id, now)
            .await?
            .ok_or_else(no_presence)?;
        // A rejoin within the presence's lifetime is not news; a join (or one after expiry) is.
        if !rejoin || presence.joined_at == now {
            publish(
                &ctx,
                &workflow,
                WeftEvent::CollabJoined { workflow_id: workflow.id, presence: presence_view(presence) },
            );
        }
        let ttl = ctx.state.config().realtime.presence_ttl;
        Ok(Joined {
            client_id,
            version: workflow.current_version,
            presence: presence_now(&ctx, workflow.id).await?,
            heartbeat_ms: u64::try_from((ttl / 3).as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// `collab.heartbeat`.
pub struct Heartbeat;
impl Procedure for Heartbeat {
    const NAME: &'static str = "collab.heartbeat";
    const DOC: &'static str = "Keeps the editor's presence alive and answers who is on the workflow. An editor that left or expired answers not-found: join again.";
    const ACCESS: Access = MEMBER;
    type Params = ClientRef;
    type Output = PresenceList;

    async fn call(ctx: CallContext, params: ClientRef) -> Result<PresenceList, ApiError> {
        let caller = ctx.caller()?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        ctx.state
            .store()
            .touch_presence(
                params.client_id,
                workflow.id,
                caller.user_id,
                PresenceUpdate::default(),
                Utc::now(),
            )
            .await?
            .ok_or_else(no_presence)?;
        Ok(PresenceList { items: presence_now(&ctx, workflow.id).await? })
    }
}

fn check_cursor(params: &CursorParams) -> Result<(), ApiError> {
    let mut errors = weft_core::ValidationErrors::new();
    if let Some(cursor) = &params.cursor
        && serde_json::to_string(cursor).map_or(0, |t| t.len()) > MAX_CURSOR_BYTES
    {
        errors.push(weft_core::FieldError::new(
            "cursor",
            "tooLarge",
            format!("at most {MAX_CURSOR_BYTES} bytes of JSON"),
        ));
    }
    if let Some(selection) = &params.selection {
        if selection.len() > MAX_SELECTION {
            errors.push(weft_core::FieldError::new(
                "selection",
                "tooMany",
                format!("at most {MAX_SELECTION} node ids"),
            ));
        }
        for (i, id) in selection.iter().enumerate() {
            if id.is_empty() || id.chars().count() > MAX_NODE_ID_CHARS {
                errors.push(weft_core::FieldError::new(
                    format!("selection[{i}]"),
                    "invalid",
                    format!("a node id of 1 to {MAX_NODE_ID_CHARS} characters"),
                ));
            }
        }
    }
    errors.into_result().map_err(ApiError::from)
}

/// `collab.cursor`.
pub struct Cursor;
impl Procedure for Cursor {
    const NAME: &'static str = "collab.cursor";
    const DOC: &'static str = "Moves the editor's cursor and/or changes its selection (also a heartbeat); announced live as `collab.cursor` on the workflow's topic.";
    const ACCESS: Access = MEMBER;
    type Params = CursorParams;
    type Output = Left;

    async fn call(ctx: CallContext, params: CursorParams) -> Result<Left, ApiError> {
        let caller = ctx.caller()?;
        check_cursor(&params)?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let update = PresenceUpdate {
            cursor: Some(params.cursor.as_ref().map(|c| c.to_string())),
            selection: params.selection.as_ref().map(|s| serde_json::Value::from(s.clone()).to_string()),
        };
        let presence = ctx
            .state
            .store()
            .touch_presence(params.client_id, workflow.id, caller.user_id, update, Utc::now())
            .await?
            .ok_or_else(no_presence)?;
        let view = presence_view(presence);
        publish(
            &ctx,
            &workflow,
            WeftEvent::CollabCursor {
                workflow_id: workflow.id,
                client_id: view.client_id,
                user_id: view.user_id,
                cursor: view.cursor,
                selection: view.selection,
            },
        );
        Ok(Left { left: false })
    }
}

/// `collab.leave`.
pub struct Leave;
impl Procedure for Leave {
    const NAME: &'static str = "collab.leave";
    const DOC: &'static str = "Closes the workflow in this editor; announced as `collab.left`.";
    const ACCESS: Access = MEMBER;
    type Params = ClientRef;
    type Output = Left;

    async fn call(ctx: CallContext, params: ClientRef) -> Result<Left, ApiError> {
        let caller = ctx.caller()?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let left = ctx.state.store().leave_presence(params.client_id, workflow.id, caller.user_id).await?;
        if left {
            publish(
                &ctx,
                &workflow,
                WeftEvent::CollabLeft {
                    workflow_id: workflow.id,
                    client_id: params.client_id,
                    user_id: caller.user_id,
                    expired: false,
                },
            );
        }
        Ok(Left { left })
    }
}

/// `collab.presence`.
pub struct PresenceNow;
impl Procedure for PresenceNow {
    const NAME: &'static str = "collab.presence";
    const DOC: &'static str = "Who is on the workflow now, earliest joined first.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = WorkflowRef;
    type Output = PresenceList;

    async fn call(ctx: CallContext, params: WorkflowRef) -> Result<PresenceList, ApiError> {
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        Ok(PresenceList { items: presence_now(&ctx, workflow.id).await? })
    }
}

/// `collab.comment`.
pub struct CommentOn;
impl Procedure for CommentOn {
    const NAME: &'static str = "collab.comment";
    const DOC: &'static str = "Comments on a node of the workflow's current version, or answers a comment (parentId); announced as `comment.created`.";
    const ACCESS: Access = MEMBER;
    type Params = CommentParams;
    type Output = CommentView;

    async fn call(ctx: CallContext, params: CommentParams) -> Result<CommentView, ApiError> {
        let caller = ctx.caller()?;
        let body = params.body.trim();
        if body.is_empty() || body.chars().count() > MAX_COMMENT_CHARS {
            return Err(ApiError::field("body", "length", &format!("1 to {MAX_COMMENT_CHARS} characters")));
        }
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let graph = load_entry(&ctx, workflow.id, workflow.current_version).await?;
        if graph.graph.node(&params.node_id).is_none() {
            return Err(ApiError::field(
                "nodeId",
                "unknownNode",
                "no such node in the workflow's current version",
            ));
        }
        let new = NewComment {
            workflow_id: workflow.id,
            node_id: params.node_id,
            parent_id: params.parent_id,
            author_id: caller.user_id,
            body: body.to_owned(),
        };
        let comment = match ctx.state.store().create_comment(new, Utc::now()).await? {
            Ok(comment) => comment_view(comment),
            Err(CommentRefusal::UnknownParent) => {
                return Err(ApiError::field("parentId", "unknown", "no such comment on this workflow"));
            }
        };
        publish(&ctx, &workflow, WeftEvent::CommentCreated { comment: comment.clone() });
        Ok(comment)
    }
}

/// `collab.listComments`.
pub struct ListComments;
impl Procedure for ListComments {
    const NAME: &'static str = "collab.listComments";
    const DOC: &'static str = "The workflow's comments, oldest first (cursor pagination), optionally of one node and with resolved ones.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListCommentsParams;
    type Output = CommentPage;

    async fn call(ctx: CallContext, params: ListCommentsParams) -> Result<CommentPage, ApiError> {
        let (after, limit) = common::page(params.cursor.as_deref(), params.limit)?;
        let workflow = require_workflow(&ctx, params.workflow_id, ProjectRole::Viewer).await?;
        let page = ctx
            .state
            .store()
            .list_comments(
                workflow.id,
                params.node_id.as_deref(),
                params.include_resolved.unwrap_or(false),
                after,
                limit,
            )
            .await?;
        Ok(CommentPage {
            items: page.items.into_iter().map(comment_view).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }
}

/// Whether `user` may resolve `comment`: its author, or an editor of the project.
async fn may_resolve(
    ctx: &CallContext,
    comment: &Comment,
    user: UserId,
    workflow: &weft_store::Workflow,
) -> Result<bool, ApiError> {
    if comment.author_id == user {
        return Ok(true);
    }
    let role = ctx.state.store().project_role(workflow.project_id, user).await?;
    Ok(role.is_some_and(|role| role.satisfies(ProjectRole::Editor)))
}

/// `collab.resolveComment`.
pub struct ResolveComment;
impl Procedure for ResolveComment {
    const NAME: &'static str = "collab.resolveComment";
    const DOC: &'static str = "Resolves (or reopens) a comment: its author or an editor of the project; announced as `comment.resolved`.";
    const ACCESS: Access = MEMBER;
    type Params = ResolveParams;
    type Output = CommentView;

    async fn call(ctx: CallContext, params: ResolveParams) -> Result<CommentView, ApiError> {
        let caller = ctx.caller()?;
        let not_found = || ApiError::NotFound { resource: "comment" };
        let comment = ctx.state.store().find_comment(params.comment_id).await?.ok_or_else(not_found)?;
        let workflow = match require_workflow(&ctx, comment.workflow_id, ProjectRole::Viewer).await {
            Ok(workflow) => workflow,
            Err(ApiError::NotFound { .. }) => return Err(not_found()),
            Err(err) => return Err(err),
        };
        if !may_resolve(&ctx, &comment, caller.user_id, &workflow).await? {
            return Err(ApiError::ForbiddenInProject { required: ProjectRole::Editor });
        }
        let resolved_by = params.resolved.unwrap_or(true).then_some(caller.user_id);
        let comment = ctx
            .state
            .store()
            .resolve_comment(comment.id, resolved_by, Utc::now())
            .await?
            .map(comment_view)
            .ok_or_else(not_found)?;
        publish(&ctx, &workflow, WeftEvent::CommentResolved { comment: comment.clone() });
        Ok(comment)
    }
}
