//! Immutable workflow versions, stored as snapshots and deltas.
//!
//! A version is either a snapshot (the whole graph as JSON text) or a delta (an RFC 6902
//! JSON Patch that turns the previous version's graph into this one). A one-node edit of a
//! large graph thus writes a few hundred bytes instead of the whole graph. Reading a version
//! replays the deltas after the nearest snapshot at or before it. Every version that is a
//! multiple of [`VERSIONS_PER_SNAPSHOT`] (and version 1) is a snapshot, so no read replays
//! more than `VERSIONS_PER_SNAPSHOT - 1` deltas; the store refuses a delta where a snapshot
//! is due.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use weft_core::{UserId, WorkflowId};

use crate::Store;
use crate::entities::{workflow_versions, workflows};
use crate::error::{Context, StoreError};
use crate::records::{Workflow, WorkflowVersion};
use crate::repos::workflows::workflow_from_row;

/// Every version that is a multiple of this is stored as a snapshot.
pub const VERSIONS_PER_SNAPSHOT: i32 = 32;

/// Whether `version` must be stored as a snapshot.
pub fn snapshot_due(version: i32) -> bool {
    version <= 1 || version % VERSIONS_PER_SNAPSHOT == 0
}

/// What a new version stores.
#[derive(Clone, Debug)]
pub enum VersionContent {
    /// The whole graph as JSON text.
    Snapshot(String),
    /// A JSON Patch (as JSON text) that turns the previous version's graph into this one,
    /// exactly: applying it to the previous version's stored JSON gives this version's.
    Delta(String),
}

/// A new version to save.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The version the editor started from; saving fails if it is no longer current.
    pub expected_version: i32,
    /// The graph, whole or as a delta.
    pub content: VersionContent,
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

fn version_from_row(row: workflow_versions::Model, graph: Option<String>) -> WorkflowVersion {
    WorkflowVersion {
        workflow_id: WorkflowId(row.workflow_id),
        version: row.version,
        graph,
        author_id: UserId(row.author_id),
        message: row.message,
        created_at: row.created_at,
    }
}

/// Inserts version `new.expected_version + 1`.
pub(crate) async fn insert_version<C: ConnectionTrait>(
    conn: &C,
    workflow: WorkflowId,
    new: NewVersion,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let version = new.expected_version + 1;
    let (graph, is_delta) = match new.content {
        VersionContent::Snapshot(graph) => (graph, false),
        VersionContent::Delta(_) if snapshot_due(version) => {
            return Err(StoreError::Corrupt(format!("version {version} must be stored as a snapshot")));
        }
        VersionContent::Delta(patch) => (patch, true),
    };
    workflow_versions::ActiveModel {
        workflow_id: Set(workflow.0),
        version: Set(version),
        graph: Set(graph),
        is_delta: Set(is_delta),
        author_id: Set(new.author_id.0),
        message: Set(new.message),
        created_at: Set(now),
    }
    .insert(conn)
    .await
    .context("failed to insert workflow version")?;
    Ok(())
}

/// Replays `rows` (ascending, the first a snapshot) into the last one's graph as JSON text.
fn replay(rows: &[workflow_versions::Model]) -> Result<String, StoreError> {
    let corrupt =
        |version: i32, what: String| StoreError::Corrupt(format!("workflow version {version}: {what}"));
    let Some((first, deltas)) = rows.split_first() else {
        return Err(StoreError::Corrupt("no workflow version to replay".to_owned()));
    };
    if first.is_delta {
        return Err(corrupt(first.version, "a delta without a snapshot before it".to_owned()));
    }
    if deltas.is_empty() {
        return Ok(first.graph.clone());
    }
    let mut document: serde_json::Value =
        serde_json::from_str(&first.graph).map_err(|e| corrupt(first.version, e.to_string()))?;
    for row in deltas {
        let patch: json_patch::Patch =
            serde_json::from_str(&row.graph).map_err(|e| corrupt(row.version, e.to_string()))?;
        json_patch::patch(&mut document, &patch).map_err(|e| corrupt(row.version, e.to_string()))?;
    }
    serde_json::to_string(&document).map_err(|e| corrupt(first.version, e.to_string()))
}

impl Store {
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
            .exec_with_returning(&txn)
            .await
            .context("failed to advance workflow version")?;
        let Some(row) = claimed.into_iter().next() else {
            let current =
                workflows::Entity::find_by_id(id.0).one(&txn).await.context("failed to load workflow")?;
            return Ok(match current {
                Some(row) => SaveOutcome::Conflict { current_version: row.current_version },
                None => SaveOutcome::NotFound,
            });
        };
        insert_version(&txn, id, new, now).await?;
        txn.commit().await.context("failed to commit workflow version")?;
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
                workflow_versions::Column::IsDelta,
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
            .map(|row| version_from_row(row, None))
            .collect())
    }

    /// One version with its whole graph (deltas replayed onto the snapshot before them).
    pub async fn get_version(
        &self,
        id: WorkflowId,
        version: i32,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        // Versions start at 1; below that, `oldest` could overflow (a caller's i32::MIN).
        if version < 1 {
            return Ok(None);
        }
        // The nearest snapshot is at most VERSIONS_PER_SNAPSHOT - 1 versions back.
        let oldest = version - (VERSIONS_PER_SNAPSHOT - 1);
        let snapshot: Option<i32> = workflow_versions::Entity::find()
            .select_only()
            .column(workflow_versions::Column::Version)
            .filter(workflow_versions::Column::WorkflowId.eq(id.0))
            .filter(workflow_versions::Column::Version.between(oldest, version))
            .filter(workflow_versions::Column::IsDelta.eq(false))
            .order_by_desc(workflow_versions::Column::Version)
            .into_tuple()
            .one(&self.read)
            .await
            .context("failed to find snapshot")?;
        let Some(snapshot) = snapshot else {
            // No such version (a stored delta always has a snapshot within reach).
            return Ok(None);
        };
        let rows = workflow_versions::Entity::find()
            .filter(workflow_versions::Column::WorkflowId.eq(id.0))
            .filter(workflow_versions::Column::Version.between(snapshot, version))
            .order_by_asc(workflow_versions::Column::Version)
            .all(&self.read)
            .await
            .context("failed to load version")?;
        match rows.last() {
            Some(last) if last.version == version => {}
            _ => return Ok(None),
        }
        let graph = replay(&rows)?;
        Ok(rows.into_iter().next_back().map(|row| version_from_row(row, Some(graph))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_due_at_the_first_version_and_every_interval() {
        assert!(snapshot_due(1));
        assert!(!snapshot_due(2));
        assert!(!snapshot_due(VERSIONS_PER_SNAPSHOT - 1));
        assert!(snapshot_due(VERSIONS_PER_SNAPSHOT));
        assert!(snapshot_due(VERSIONS_PER_SNAPSHOT * 3));
    }

    fn row(version: i32, graph: &str, is_delta: bool) -> workflow_versions::Model {
        workflow_versions::Model {
            workflow_id: uuid::Uuid::nil(),
            version,
            graph: graph.to_owned(),
            is_delta,
            author_id: uuid::Uuid::nil(),
            message: String::new(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn replay_applies_deltas_in_order() {
        let rows = [
            row(1, r#"{"nodes":[{"id":"a","name":"A"}],"edges":[]}"#, false),
            row(2, r#"[{"op":"replace","path":"/nodes/0/name","value":"B"}]"#, true),
            row(3, r#"[{"op":"add","path":"/edges/-","value":{"from":"a"}}]"#, true),
        ];
        assert_eq!(replay(&rows).unwrap(), r#"{"nodes":[{"id":"a","name":"B"}],"edges":[{"from":"a"}]}"#);
        assert_eq!(replay(&rows[..1]).unwrap(), rows[0].graph);
    }

    #[test]
    fn replay_refuses_broken_chains() {
        assert!(matches!(replay(&[]), Err(StoreError::Corrupt(_))));
        let orphan = [row(2, "[]", true)];
        assert!(matches!(replay(&orphan), Err(StoreError::Corrupt(_))));
        let failing = [row(1, r#"{"nodes":[]}"#, false), row(2, r#"[{"op":"remove","path":"/x"}]"#, true)];
        assert!(matches!(replay(&failing), Err(StoreError::Corrupt(_))));
    }
}
