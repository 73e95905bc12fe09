//! Webhooks: inbound HTTP triggers of a workflow. The store keeps only the sealed secret
//! (see `weft_core::secrets`) and a hint; the API seals, and opens to verify a request.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, TransactionTrait,
};
use weft_core::{ProjectId, UserId, WebhookId, WorkflowId};

use crate::Store;
use crate::entities::{trigger_fires, webhooks};
use crate::error::{Context, StoreError};

/// A stored webhook. `sealed` is the encrypted secret; never show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// The webhook (its URL is `/hooks/<id>`).
    pub id: WebhookId,
    /// Its project.
    pub project_id: ProjectId,
    /// The workflow it starts.
    pub workflow_id: WorkflowId,
    /// Name.
    pub name: String,
    /// How requests are verified: `hmac` or `token`.
    pub auth: String,
    /// `async` (202 with the run id) or `sync` (the run's result).
    pub mode: String,
    /// How long a sync request waits for its run.
    pub sync_timeout_ms: i64,
    /// Largest accepted body.
    pub max_body_bytes: i64,
    /// Requests per minute.
    pub rate_per_minute: i64,
    /// The sealed secret.
    pub sealed: String,
    /// The last characters of the secret.
    pub hint: String,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change (a rotated secret).
    pub updated_at: DateTime<Utc>,
}

fn from_row(row: webhooks::Model) -> Webhook {
    Webhook {
        id: WebhookId(row.id),
        project_id: ProjectId(row.project_id),
        workflow_id: WorkflowId(row.workflow_id),
        name: row.name,
        auth: row.auth,
        mode: row.mode,
        sync_timeout_ms: row.sync_timeout_ms,
        max_body_bytes: row.max_body_bytes,
        rate_per_minute: row.rate_per_minute,
        sealed: row.ciphertext,
        hint: row.hint,
        created_by: row.created_by.map(UserId),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

impl Store {
    /// Stores a webhook (the caller chose its id: it is sealed into the secret).
    pub async fn create_webhook(&self, webhook: &Webhook) -> Result<Webhook, StoreError> {
        let row = webhooks::ActiveModel {
            id: Set(webhook.id.0),
            project_id: Set(webhook.project_id.0),
            workflow_id: Set(webhook.workflow_id.0),
            name: Set(webhook.name.clone()),
            auth: Set(webhook.auth.clone()),
            ciphertext: Set(webhook.sealed.clone()),
            hint: Set(webhook.hint.clone()),
            mode: Set(webhook.mode.clone()),
            sync_timeout_ms: Set(webhook.sync_timeout_ms),
            max_body_bytes: Set(webhook.max_body_bytes),
            rate_per_minute: Set(webhook.rate_per_minute),
            created_by: Set(webhook.created_by.map(|u| u.0)),
            created_at: Set(webhook.created_at),
            updated_at: Set(webhook.updated_at),
        };
        Ok(from_row(row.insert(&self.write).await.context("failed to insert webhook")?))
    }

    /// One webhook.
    pub async fn get_webhook(&self, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        Ok(webhooks::Entity::find_by_id(id.0)
            .one(&self.read)
            .await
            .context("failed to load webhook")?
            .map(from_row))
    }

    /// A workflow's webhooks, oldest first.
    pub async fn list_webhooks(&self, workflow: WorkflowId) -> Result<Vec<Webhook>, StoreError> {
        Ok(webhooks::Entity::find()
            .filter(webhooks::Column::WorkflowId.eq(workflow.0))
            .order_by_asc(webhooks::Column::Id)
            .all(&self.read)
            .await
            .context("failed to list webhooks")?
            .into_iter()
            .map(from_row)
            .collect())
    }

    /// Replaces a webhook's secret; `None` when it does not exist.
    pub async fn rotate_webhook_secret(
        &self,
        id: WebhookId,
        sealed: String,
        hint: String,
        now: DateTime<Utc>,
    ) -> Result<Option<Webhook>, StoreError> {
        let row = webhooks::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(id.0),
            ciphertext: Set(sealed),
            hint: Set(hint),
            updated_at: Set(now),
            ..Default::default()
        };
        match row.update(&self.write).await {
            Ok(row) => Ok(Some(from_row(row))),
            Err(sea_orm::DbErr::RecordNotUpdated) => Ok(None),
            Err(err) => Err(err).context("failed to rotate webhook secret"),
        }
    }

    /// Deletes a webhook; `false` when it did not exist.
    pub async fn delete_webhook(&self, id: WebhookId) -> Result<bool, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        // Its signature claims (`trigger_fires` rows keyed by signature) go with it.
        trigger_fires::Entity::delete_many()
            .filter(trigger_fires::Column::TriggerId.eq(id.0))
            .exec(&txn)
            .await
            .context("failed to delete webhook claims")?;
        let result =
            webhooks::Entity::delete_by_id(id.0).exec(&txn).await.context("failed to delete webhook")?;
        txn.commit().await.context("failed to commit transaction")?;
        Ok(result.rows_affected == 1)
    }

    /// Deletes the signature claims of webhook calls signed before `before` (outside every
    /// tolerance, so never matched again); how many.
    pub async fn purge_webhook_claims(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let webhook_ids = webhooks::Entity::find().select_only().column(webhooks::Column::Id).into_query();
        Ok(trigger_fires::Entity::delete_many()
            .filter(trigger_fires::Column::TriggerId.in_subquery(webhook_ids))
            .filter(trigger_fires::Column::FireAt.lt(before))
            .exec(&self.write)
            .await
            .context("failed to purge webhook claims")?
            .rows_affected)
    }
}
