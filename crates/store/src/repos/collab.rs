//! Collaboration on workflows: editors' presence (one row per browser tab, kept alive by
//! heartbeats and expired when they stop) and comments on nodes, in threads.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use weft_core::{ProjectId, UserId, WorkflowId};

use crate::entities::{collab_presence, users, workflow_comments};
use crate::error::{Context, StoreError};
use crate::repos::split_page;
use crate::{Page, Store};

/// An editor on a workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    /// The editor (a browser tab).
    pub client_id: uuid::Uuid,
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// Its project.
    pub project_id: ProjectId,
    /// The user.
    pub user_id: UserId,
    /// The user's display name.
    pub display_name: String,
    /// Cursor (JSON text).
    pub cursor: Option<String>,
    /// Selected node ids (JSON array text).
    pub selection: String,
    /// Joined.
    pub joined_at: DateTime<Utc>,
    /// Last heartbeat.
    pub seen_at: DateTime<Utc>,
}

/// What a heartbeat or cursor update changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresenceUpdate {
    /// New cursor (JSON text), when given (`Some(None)` clears it).
    pub cursor: Option<Option<String>>,
    /// New selection (JSON array text), when given.
    pub selection: Option<String>,
}

/// A comment to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewComment {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The node.
    pub node_id: String,
    /// The comment answered (same workflow).
    pub parent_id: Option<uuid::Uuid>,
    /// The writer.
    pub author_id: UserId,
    /// The text.
    pub body: String,
}

/// A stored comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The comment (ids grow with time: a cursor).
    pub id: uuid::Uuid,
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The node.
    pub node_id: String,
    /// The comment answered.
    pub parent_id: Option<uuid::Uuid>,
    /// The writer.
    pub author_id: UserId,
    /// Their display name.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// Resolved when.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Resolved by whom.
    pub resolved_by: Option<UserId>,
    /// Written when.
    pub created_at: DateTime<Utc>,
}

/// Why a comment could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentRefusal {
    /// The parent is not a comment of the same workflow.
    UnknownParent,
}

impl Store {
    async fn display_names(
        &self,
        ids: impl IntoIterator<Item = uuid::Uuid>,
    ) -> Result<HashMap<uuid::Uuid, String>, StoreError> {
        let mut ids: Vec<uuid::Uuid> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let rows: Vec<(uuid::Uuid, String)> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .column(users::Column::DisplayName)
            .filter(users::Column::Id.is_in(ids))
            .into_tuple()
            .all(&self.read)
            .await
            .context("failed to read display names")?;
        Ok(rows.into_iter().collect())
    }

    async fn presences(&self, rows: Vec<collab_presence::Model>) -> Result<Vec<Presence>, StoreError> {
        let names = self.display_names(rows.iter().map(|r| r.user_id)).await?;
        Ok(rows
            .into_iter()
            .map(|row| Presence {
                client_id: row.client_id,
                workflow_id: WorkflowId(row.workflow_id),
                project_id: ProjectId(row.project_id),
                user_id: UserId(row.user_id),
                display_name: names.get(&row.user_id).cloned().unwrap_or_default(),
                cursor: row.cursor,
                selection: row.selection,
                joined_at: row.joined_at,
                seen_at: row.seen_at,
            })
            .collect())
    }

    /// Records an editor on a workflow (again, when the user already has that client id).
    /// Client ids are the user's own: another user's id is simply a new editor of this one.
    /// Answers `None` when the user's client id is open on another workflow.
    pub async fn join_presence(
        &self,
        client_id: uuid::Uuid,
        workflow_id: WorkflowId,
        project_id: ProjectId,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<Presence>, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let existing = collab_presence::Entity::find_by_id((client_id, user_id.0))
            .one(&txn)
            .await
            .context("failed to read presence")?;
        let row = match existing {
            Some(row) if row.workflow_id != workflow_id.0 => return Ok(None),
            Some(row) => {
                collab_presence::Entity::update_many()
                    .col_expr(collab_presence::Column::SeenAt, Expr::value(now))
                    .filter(collab_presence::Column::ClientId.eq(client_id))
                    .filter(collab_presence::Column::UserId.eq(user_id.0))
                    .exec(&txn)
                    .await
                    .context("failed to refresh presence")?;
                collab_presence::Model { seen_at: now, ..row }
            }
            None => {
                let row = collab_presence::Model {
                    client_id,
                    workflow_id: workflow_id.0,
                    project_id: project_id.0,
                    user_id: user_id.0,
                    cursor: None,
                    selection: "[]".to_owned(),
                    joined_at: now,
                    seen_at: now,
                };
                collab_presence::Entity::insert(collab_presence::ActiveModel::from(row.clone()))
                    .exec_without_returning(&txn)
                    .await
                    .context("failed to record presence")?;
                row
            }
        };
        txn.commit().await.context("failed to record presence")?;
        Ok(self.presences(vec![row]).await?.pop())
    }

    /// A heartbeat of the user's editor, with its cursor and selection when they changed.
    /// `None` when the editor is unknown (it left or expired and must join again).
    pub async fn touch_presence(
        &self,
        client_id: uuid::Uuid,
        workflow_id: WorkflowId,
        user_id: UserId,
        update: PresenceUpdate,
        now: DateTime<Utc>,
    ) -> Result<Option<Presence>, StoreError> {
        let mut change = collab_presence::Entity::update_many()
            .col_expr(collab_presence::Column::SeenAt, Expr::value(now))
            .filter(collab_presence::Column::ClientId.eq(client_id))
            .filter(collab_presence::Column::WorkflowId.eq(workflow_id.0))
            .filter(collab_presence::Column::UserId.eq(user_id.0));
        if let Some(cursor) = update.cursor {
            change = change.col_expr(collab_presence::Column::Cursor, Expr::value(cursor));
        }
        if let Some(selection) = update.selection {
            change = change.col_expr(collab_presence::Column::Selection, Expr::value(selection));
        }
        let updated = change.exec(&self.write).await.context("failed to refresh presence")?.rows_affected;
        if updated == 0 {
            return Ok(None);
        }
        let row = collab_presence::Entity::find_by_id((client_id, user_id.0))
            .one(&self.write)
            .await
            .context("failed to read presence")?;
        Ok(self.presences(row.into_iter().collect()).await?.pop())
    }

    /// The user's editor leaves; answers it when it was there.
    pub async fn leave_presence(
        &self,
        client_id: uuid::Uuid,
        workflow_id: WorkflowId,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let deleted = collab_presence::Entity::delete_many()
            .filter(collab_presence::Column::ClientId.eq(client_id))
            .filter(collab_presence::Column::WorkflowId.eq(workflow_id.0))
            .filter(collab_presence::Column::UserId.eq(user_id.0))
            .exec(&self.write)
            .await
            .context("failed to remove presence")?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// Editors on a workflow seen since `since`, earliest joined first.
    pub async fn workflow_presence(
        &self,
        workflow_id: WorkflowId,
        since: DateTime<Utc>,
    ) -> Result<Vec<Presence>, StoreError> {
        let rows = collab_presence::Entity::find()
            .filter(collab_presence::Column::WorkflowId.eq(workflow_id.0))
            .filter(collab_presence::Column::SeenAt.gte(since))
            .order_by_asc(collab_presence::Column::JoinedAt)
            .all(&self.read)
            .await
            .context("failed to read presence")?;
        self.presences(rows).await
    }

    /// Removes editors not seen since `before` and answers them. Each row is answered by
    /// exactly one caller, also with several instances expiring at once.
    pub async fn expire_presence(&self, before: DateTime<Utc>) -> Result<Vec<Presence>, StoreError> {
        let rows = collab_presence::Entity::delete_many()
            .filter(collab_presence::Column::SeenAt.lt(before))
            .exec_with_returning(&self.write)
            .await
            .context("failed to expire presence")?;
        self.presences(rows).await
    }

    async fn comments(&self, rows: Vec<workflow_comments::Model>) -> Result<Vec<Comment>, StoreError> {
        let names = self.display_names(rows.iter().map(|r| r.author_id)).await?;
        Ok(rows
            .into_iter()
            .map(|row| Comment {
                author_name: names.get(&row.author_id).cloned().unwrap_or_default(),
                id: row.id,
                workflow_id: WorkflowId(row.workflow_id),
                node_id: row.node_id,
                parent_id: row.parent_id,
                author_id: UserId(row.author_id),
                body: row.body,
                resolved_at: row.resolved_at,
                resolved_by: row.resolved_by.map(UserId),
                created_at: row.created_at,
            })
            .collect())
    }

    /// Writes a comment.
    pub async fn create_comment(
        &self,
        new: NewComment,
        now: DateTime<Utc>,
    ) -> Result<Result<Comment, CommentRefusal>, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        if let Some(parent) = new.parent_id {
            let found = workflow_comments::Entity::find_by_id(parent)
                .filter(workflow_comments::Column::WorkflowId.eq(new.workflow_id.0))
                .one(&txn)
                .await
                .context("failed to read a comment")?;
            if found.is_none() {
                return Ok(Err(CommentRefusal::UnknownParent));
            }
        }
        let row = workflow_comments::Model {
            id: uuid::Uuid::now_v7(),
            workflow_id: new.workflow_id.0,
            node_id: new.node_id,
            parent_id: new.parent_id,
            author_id: new.author_id.0,
            body: new.body,
            resolved_at: None,
            resolved_by: None,
            created_at: now,
        };
        workflow_comments::Entity::insert(workflow_comments::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await
            .context("failed to write a comment")?;
        txn.commit().await.context("failed to write a comment")?;
        let mut comments = self.comments(vec![row]).await?;
        Ok(comments.pop().ok_or(CommentRefusal::UnknownParent))
    }

    /// A comment by id.
    pub async fn find_comment(&self, id: uuid::Uuid) -> Result<Option<Comment>, StoreError> {
        let row = workflow_comments::Entity::find_by_id(id)
            .one(&self.read)
            .await
            .context("failed to read a comment")?;
        Ok(self.comments(row.into_iter().collect()).await?.pop())
    }

    /// A workflow's comments, oldest first, optionally of one node and without resolved ones;
    /// page after `after`.
    pub async fn list_comments(
        &self,
        workflow_id: WorkflowId,
        node_id: Option<&str>,
        include_resolved: bool,
        after: Option<uuid::Uuid>,
        limit: u64,
    ) -> Result<Page<Comment>, StoreError> {
        let mut query =
            workflow_comments::Entity::find().filter(workflow_comments::Column::WorkflowId.eq(workflow_id.0));
        if let Some(node_id) = node_id {
            query = query.filter(workflow_comments::Column::NodeId.eq(node_id));
        }
        if !include_resolved {
            query = query.filter(workflow_comments::Column::ResolvedAt.is_null());
        }
        if let Some(after) = after {
            query = query.filter(workflow_comments::Column::Id.gt(after));
        }
        let rows = query
            .order_by_asc(workflow_comments::Column::Id)
            .limit(limit.saturating_add(1))
            .all(&self.read)
            .await
            .context("failed to list comments")?;
        let (rows, next_cursor) = split_page(rows, limit, |row| row.id);
        Ok(Page { items: self.comments(rows).await?, next_cursor })
    }

    /// Resolves (or reopens) a comment of the workflow; `None` when there is none.
    pub async fn resolve_comment(
        &self,
        id: uuid::Uuid,
        resolved_by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<Comment>, StoreError> {
        let updated = workflow_comments::Entity::update_many()
            .col_expr(workflow_comments::Column::ResolvedAt, Expr::value(resolved_by.map(|_| now)))
            .col_expr(workflow_comments::Column::ResolvedBy, Expr::value(resolved_by.map(|u| u.0)))
            .filter(workflow_comments::Column::Id.eq(id))
            .exec(&self.write)
            .await
            .context("failed to resolve a comment")?
            .rows_affected;
        if updated == 0 {
            return Ok(None);
        }
        let row = workflow_comments::Entity::find_by_id(id)
            .one(&self.write)
            .await
            .context("failed to read a comment")?;
        Ok(self.comments(row.into_iter().collect()).await?.pop())
    }
}
