//! Event triggers: a workflow started when a run of another workflow (of the same project)
//! ends, or is started by hand. Each fire is unique per trigger and triggering run
//! (`trigger_fires`), so a run's end starts the triggered workflow once.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use weft_core::{EventTriggerId, ProjectId, UserId, WorkflowId};

use crate::Store;
use crate::entities::{event_triggers, trigger_fires};
use crate::error::{Context, StoreError};

/// A stored event trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventTrigger {
    /// The trigger.
    pub id: EventTriggerId,
    /// Its project.
    pub project_id: ProjectId,
    /// The workflow it starts.
    pub workflow_id: WorkflowId,
    /// The workflow whose runs trigger it.
    pub source_workflow_id: WorkflowId,
    /// `succeeded`, `failed`, `finished` or `manual`.
    pub on: String,
    /// Extra input of the runs it starts (JSON text).
    pub input: String,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

fn from_row(row: event_triggers::Model) -> EventTrigger {
    EventTrigger {
        id: EventTriggerId(row.id),
        project_id: ProjectId(row.project_id),
        workflow_id: WorkflowId(row.workflow_id),
        source_workflow_id: WorkflowId(row.source_workflow_id),
        on: row.on,
        input: row.input,
        created_by: row.created_by.map(UserId),
        created_at: row.created_at,
    }
}

impl Store {
    /// Stores an event trigger.
    pub async fn create_event_trigger(&self, trigger: &EventTrigger) -> Result<EventTrigger, StoreError> {
        let row = event_triggers::ActiveModel {
            id: Set(trigger.id.0),
            project_id: Set(trigger.project_id.0),
            workflow_id: Set(trigger.workflow_id.0),
            source_workflow_id: Set(trigger.source_workflow_id.0),
            on: Set(trigger.on.clone()),
            input: Set(trigger.input.clone()),
            created_by: Set(trigger.created_by.map(|u| u.0)),
            created_at: Set(trigger.created_at),
        };
        Ok(from_row(row.insert(&self.write).await.context("failed to insert event trigger")?))
    }

    /// One event trigger.
    pub async fn get_event_trigger(&self, id: EventTriggerId) -> Result<Option<EventTrigger>, StoreError> {
        Ok(event_triggers::Entity::find_by_id(id.0)
            .one(&self.read)
            .await
            .context("failed to load event trigger")?
            .map(from_row))
    }

    /// The triggers of a workflow (as the one started), oldest first.
    pub async fn list_event_triggers(&self, workflow: WorkflowId) -> Result<Vec<EventTrigger>, StoreError> {
        self.event_triggers_where(event_triggers::Column::WorkflowId.eq(workflow.0)).await
    }

    /// The triggers a run of `source` may fire.
    pub async fn event_triggers_of_source(
        &self,
        source: WorkflowId,
    ) -> Result<Vec<EventTrigger>, StoreError> {
        self.event_triggers_where(event_triggers::Column::SourceWorkflowId.eq(source.0)).await
    }

    /// Every event trigger watching a run's end (for the recovery sweep).
    pub async fn event_triggers_on_run_ends(&self) -> Result<Vec<EventTrigger>, StoreError> {
        self.event_triggers_where(event_triggers::Column::On.ne("manual")).await
    }

    /// Every event trigger watching starts by hand (for the recovery sweep).
    pub async fn event_triggers_on_manual_starts(&self) -> Result<Vec<EventTrigger>, StoreError> {
        self.event_triggers_where(event_triggers::Column::On.eq("manual")).await
    }

    /// Which of `keys` a trigger has fired for.
    pub async fn fired_keys(
        &self,
        trigger: EventTriggerId,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut fired = std::collections::HashSet::new();
        for chunk in keys.chunks(256) {
            let rows = trigger_fires::Entity::find()
                .filter(trigger_fires::Column::TriggerId.eq(trigger.0))
                .filter(trigger_fires::Column::FireKey.is_in(chunk.iter().cloned()))
                .all(&self.read)
                .await
                .context("failed to read trigger fires")?;
            fired.extend(rows.into_iter().map(|row| row.fire_key));
        }
        Ok(fired)
    }

    async fn event_triggers_where(
        &self,
        condition: sea_orm::sea_query::SimpleExpr,
    ) -> Result<Vec<EventTrigger>, StoreError> {
        Ok(event_triggers::Entity::find()
            .filter(condition)
            .order_by_asc(event_triggers::Column::Id)
            .all(&self.read)
            .await
            .context("failed to list event triggers")?
            .into_iter()
            .map(from_row)
            .collect())
    }

    /// Deletes an event trigger and its fire history in one transaction; `false` when it did
    /// not exist.
    pub async fn delete_event_trigger(&self, id: EventTriggerId) -> Result<bool, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        trigger_fires::Entity::delete_many()
            .filter(trigger_fires::Column::TriggerId.eq(id.0))
            .exec(&txn)
            .await
            .context("failed to delete trigger fires")?;
        let deleted = event_triggers::Entity::delete_by_id(id.0)
            .exec(&txn)
            .await
            .context("failed to delete event trigger")?;
        txn.commit().await.context("failed to commit transaction")?;
        Ok(deleted.rows_affected == 1)
    }
}
