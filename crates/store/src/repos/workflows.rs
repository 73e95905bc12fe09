//! Workflows, their tags, and their immutable versions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use weft_core::{ProjectId, UserId, WorkflowId};

use crate::Store;
use crate::entities::{workflow_tags, workflows};
use crate::error::{Context, StoreError};
use crate::records::{NewWorkflow, Page, Workflow};
use crate::repos::projects::like_contains;
use crate::repos::versions::{NewVersion, VersionContent, insert_version};

/// Whether a workflow has a published version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkflowStatus {
    /// Never published.
    Draft,
    /// Has a published version.
    Published,
}

/// Filters of [`Store::list_workflows`].
#[derive(Clone, Debug, Default)]
pub struct WorkflowQuery {
    /// Only workflows carrying this tag.
    pub tag: Option<String>,
    /// Only drafts or only published workflows.
    pub status: Option<WorkflowStatus>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Cursor: the last id of the previous page.
    pub after: Option<uuid::Uuid>,
    /// Page size.
    pub limit: u64,
}

/// Changes to a workflow's metadata; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WorkflowChanges {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New tag set (replaces the old one).
    pub tags: Option<Vec<String>>,
    /// New error handler workflow (`Some(None)` removes it).
    pub error_workflow_id: Option<Option<WorkflowId>>,
}

pub(crate) fn workflow_from_row(row: workflows::Model, tags: Vec<String>) -> Workflow {
    Workflow {
        id: WorkflowId(row.id),
        project_id: ProjectId(row.project_id),
        name: row.name,
        description: row.description,
        tags,
        current_version: row.current_version,
        published_version: row.published_version,
        error_workflow_id: row.error_workflow_id.map(WorkflowId),
        created_by: UserId(row.created_by),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn replace_tags<C: ConnectionTrait>(
    conn: &C,
    workflow: WorkflowId,
    tags: &[String],
) -> Result<(), StoreError> {
    workflow_tags::Entity::delete_many()
        .filter(workflow_tags::Column::WorkflowId.eq(workflow.0))
        .exec(conn)
        .await
        .context("failed to clear tags")?;
    if !tags.is_empty() {
        workflow_tags::Entity::insert_many(
            tags.iter().map(|tag| workflow_tags::ActiveModel {
                workflow_id: Set(workflow.0),
                tag: Set(tag.clone()),
            }),
        )
        .exec(conn)
        .await
        .context("failed to insert tags")?;
    }
    Ok(())
}

impl Store {
    pub(crate) async fn tags_of(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<HashMap<uuid::Uuid, Vec<String>>, StoreError> {
        let mut tags: HashMap<uuid::Uuid, Vec<String>> = HashMap::new();
        if ids.is_empty() {
            return Ok(tags);
        }
        for row in workflow_tags::Entity::find()
            .filter(workflow_tags::Column::WorkflowId.is_in(ids.iter().copied()))
            .order_by_asc(workflow_tags::Column::Tag)
            .all(&self.read)
            .await
            .context("failed to load tags")?
        {
            tags.entry(row.workflow_id).or_default().push(row.tag);
        }
        Ok(tags)
    }

    /// Creates a workflow with version 1, in one transaction.
    pub async fn create_workflow(
        &self,
        new: NewWorkflow,
        now: DateTime<Utc>,
    ) -> Result<Workflow, StoreError> {
        let id = WorkflowId::new();
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let row = workflows::ActiveModel {
            id: Set(id.0),
            project_id: Set(new.project_id.0),
            name: Set(new.name),
            description: Set(new.description),
            current_version: Set(1),
            published_version: Set(None),
            error_workflow_id: Set(None),
            created_by: Set(new.author_id.0),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .context("failed to insert workflow")?;
        replace_tags(&txn, id, &new.tags).await?;
        let first = NewVersion {
            expected_version: 0,
            content: VersionContent::Snapshot(new.graph),
            author_id: new.author_id,
            message: new.message,
        };
        insert_version(&txn, id, first, now).await?;
        txn.commit().await.context("failed to commit workflow")?;
        let mut tags = new.tags;
        tags.sort();
        Ok(workflow_from_row(row, tags))
    }

    /// A workflow by id.
    pub async fn find_workflow(&self, id: WorkflowId) -> Result<Option<Workflow>, StoreError> {
        let Some(row) =
            workflows::Entity::find_by_id(id.0).one(&self.read).await.context("failed to load workflow")?
        else {
            return Ok(None);
        };
        let mut tags = self.tags_of(&[row.id]).await?;
        Ok(Some(workflow_from_row(row, tags.remove(&id.0).unwrap_or_default())))
    }

    /// A project's workflows, newest first, one page at a time.
    pub async fn list_workflows(
        &self,
        project: ProjectId,
        query: WorkflowQuery,
    ) -> Result<Page<Workflow>, StoreError> {
        let mut find = workflows::Entity::find().filter(workflows::Column::ProjectId.eq(project.0));
        if let Some(tag) = &query.tag {
            let tagged = Query::select()
                .column(workflow_tags::Column::WorkflowId)
                .from(workflow_tags::Entity)
                .and_where(workflow_tags::Column::Tag.eq(tag.as_str()))
                .to_owned();
            find = find.filter(workflows::Column::Id.in_subquery(tagged));
        }
        match query.status {
            Some(WorkflowStatus::Draft) => find = find.filter(workflows::Column::PublishedVersion.is_null()),
            Some(WorkflowStatus::Published) => {
                find = find.filter(workflows::Column::PublishedVersion.is_not_null())
            }
            None => {}
        }
        if let Some(search) = query.search.as_deref().filter(|s| !s.trim().is_empty()) {
            find = find.filter(
                Expr::expr(Func::lower(Expr::col(workflows::Column::Name)))
                    .like(like_contains(search.trim())),
            );
        }
        if let Some(after) = query.after {
            find = find.filter(workflows::Column::Id.lt(after));
        }
        let limit = Ord::max(query.limit, 1);
        let rows = find
            .order_by_desc(workflows::Column::Id)
            .limit(limit + 1)
            .all(&self.read)
            .await
            .context("failed to list workflows")?;
        let (rows, next_cursor) = crate::repos::split_page(rows, limit, |r| r.id);
        let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
        let mut tags = self.tags_of(&ids).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let row_tags = tags.remove(&row.id).unwrap_or_default();
                workflow_from_row(row, row_tags)
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// Changes a workflow's name, description and/or tags, in one transaction.
    pub async fn update_workflow(
        &self,
        id: WorkflowId,
        changes: WorkflowChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Workflow>, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let Some(row) =
            workflows::Entity::find_by_id(id.0).one(&txn).await.context("failed to load workflow")?
        else {
            return Ok(None);
        };
        let mut row: workflows::ActiveModel = row.into();
        if let Some(name) = changes.name {
            row.name = Set(name);
        }
        if let Some(description) = changes.description {
            row.description = Set(description);
        }
        if let Some(handler) = changes.error_workflow_id {
            row.error_workflow_id = Set(handler.map(|w| w.0));
        }
        row.updated_at = Set(now);
        row.update(&txn).await.context("failed to update workflow")?;
        if let Some(tags) = &changes.tags {
            replace_tags(&txn, id, tags).await?;
        }
        txn.commit().await.context("failed to commit workflow update")?;
        self.find_workflow(id).await
    }

    /// Deletes a workflow with its versions and tags.
    pub async fn delete_workflow(&self, id: WorkflowId) -> Result<bool, StoreError> {
        let result = workflows::Entity::delete_by_id(id.0)
            .exec(&self.write)
            .await
            .context("failed to delete workflow")?;
        Ok(result.rows_affected == 1)
    }

    /// Marks `version` as the one that triggers run.
    pub async fn publish_version(
        &self,
        id: WorkflowId,
        version: i32,
        now: DateTime<Utc>,
    ) -> Result<Option<Workflow>, StoreError> {
        let result = workflows::Entity::update_many()
            .col_expr(workflows::Column::PublishedVersion, Expr::value(version))
            .col_expr(workflows::Column::UpdatedAt, Expr::value(now))
            .filter(workflows::Column::Id.eq(id.0))
            .filter(workflows::Column::CurrentVersion.gte(version))
            .exec(&self.write)
            .await
            .context("failed to publish workflow")?;
        if result.rows_affected != 1 {
            return Ok(None);
        }
        self.find_workflow(id).await
    }
}
