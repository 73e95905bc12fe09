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
use crate::entities::{workflow_tags, workflow_versions, workflows};
use crate::error::{Context, StoreError};
use crate::records::{NewWorkflow, Page, Workflow, WorkflowVersion};
use crate::repos::projects::like_contains;

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
}

/// A new version to save.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The version the editor started from; saving fails if it is no longer current.
    pub expected_version: i32,
    /// The graph as JSON text.
    pub graph: String,
    /// Who saves.
    pub author_id: UserId,
    /// Why.
    pub message: String,
}

/// The outcome of saving a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Saved; the workflow now has this current version.
    Saved(Workflow),
    /// Someone saved first: nothing was written.
    Conflict {
        /// The version that is current now.
        current_version: i32,
    },
    /// No such workflow.
    NotFound,
}

fn workflow_from_row(row: workflows::Model, tags: Vec<String>) -> Workflow {
    Workflow {
        id: WorkflowId(row.id),
        project_id: ProjectId(row.project_id),
        name: row.name,
        description: row.description,
        tags,
        current_version: row.current_version,
        published_version: row.published_version,
        created_by: UserId(row.created_by),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn version_from_row(row: workflow_versions::Model, with_graph: bool) -> WorkflowVersion {
    WorkflowVersion {
        workflow_id: WorkflowId(row.workflow_id),
        version: row.version,
        graph: with_graph.then_some(row.graph),
        author_id: UserId(row.author_id),
        message: row.message,
        created_at: row.created_at,
    }
}

async fn insert_version<C: ConnectionTrait>(
    conn: &C,
    workflow: WorkflowId,
    version: i32,
    graph: String,
    author: UserId,
    message: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    workflow_versions::ActiveModel {
        workflow_id: Set(workflow.0),
        version: Set(version),
        graph: Set(graph),
        author_id: Set(author.0),
        message: Set(message),
        created_at: Set(now),
    }
    .insert(conn)
    .await
    .context("failed to insert workflow version")?;
    Ok(())
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
    async fn tags_of(&self, ids: &[uuid::Uuid]) -> Result<HashMap<uuid::Uuid, Vec<String>>, StoreError> {
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
            created_by: Set(new.author_id.0),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .context("failed to insert workflow")?;
        replace_tags(&txn, id, &new.tags).await?;
        insert_version(&txn, id, 1, new.graph, new.author_id, new.message, now).await?;
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

    /// Saves a new version if `expected_version` is still current (optimistic concurrency):
    /// the version check and both writes are one transaction.
    pub async fn save_version(
        &self,
        id: WorkflowId,
        new: NewVersion,
        now: DateTime<Utc>,
    ) -> Result<SaveOutcome, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let next = new.expected_version + 1;
        let claimed = workflows::Entity::update_many()
            .col_expr(workflows::Column::CurrentVersion, Expr::value(next))
            .col_expr(workflows::Column::UpdatedAt, Expr::value(now))
            .filter(workflows::Column::Id.eq(id.0))
            .filter(workflows::Column::CurrentVersion.eq(new.expected_version))
            .exec(&txn)
            .await
            .context("failed to advance workflow version")?;
        if claimed.rows_affected != 1 {
            let current =
                workflows::Entity::find_by_id(id.0).one(&txn).await.context("failed to load workflow")?;
            return Ok(match current {
                Some(row) => SaveOutcome::Conflict { current_version: row.current_version },
                None => SaveOutcome::NotFound,
            });
        }
        insert_version(&txn, id, next, new.graph, new.author_id, new.message, now).await?;
        let row = workflows::Entity::find_by_id(id.0).one(&txn).await.context("failed to load workflow")?;
        txn.commit().await.context("failed to commit workflow version")?;
        let Some(row) = row else { return Ok(SaveOutcome::NotFound) };
        let mut tags = self.tags_of(&[row.id]).await?;
        Ok(SaveOutcome::Saved(workflow_from_row(row, tags.remove(&id.0).unwrap_or_default())))
    }

    /// Versions of a workflow, newest first, without their graphs.
    pub async fn list_versions(
        &self,
        id: WorkflowId,
        before: Option<i32>,
        limit: u64,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        let mut find = workflow_versions::Entity::find()
            .select_only()
            .columns([
                workflow_versions::Column::WorkflowId,
                workflow_versions::Column::Version,
                workflow_versions::Column::AuthorId,
                workflow_versions::Column::Message,
                workflow_versions::Column::CreatedAt,
            ])
            .expr_as(Expr::value(""), "graph")
            .filter(workflow_versions::Column::WorkflowId.eq(id.0));
        if let Some(before) = before {
            find = find.filter(workflow_versions::Column::Version.lt(before));
        }
        Ok(find
            .order_by_desc(workflow_versions::Column::Version)
            .limit(Ord::max(limit, 1))
            .all(&self.read)
            .await
            .context("failed to list versions")?
            .into_iter()
            .map(|row| version_from_row(row, false))
            .collect())
    }

    /// One version with its graph.
    pub async fn get_version(
        &self,
        id: WorkflowId,
        version: i32,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        Ok(workflow_versions::Entity::find_by_id((id.0, version))
            .one(&self.read)
            .await
            .context("failed to load version")?
            .map(|row| version_from_row(row, true)))
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
