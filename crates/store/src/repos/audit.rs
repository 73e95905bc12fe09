//! The security audit log.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;
use weft_core::UserId;

use crate::Store;
use crate::entities::audit_events;
use crate::error::{Context, StoreError};
use crate::records::{AuditEntry, AuditKind, AuditRecord};

/// Which attribute of an audit entry a count is keyed on.
#[derive(Clone, Copy, Debug)]
pub enum AuditKey<'a> {
    /// The name the actor used (normalised e-mail).
    Subject(&'a str),
    /// The client address.
    IpAddress(&'a str),
}

impl Store {
    /// Appends an entry to the audit log.
    pub async fn record_audit(&self, entry: AuditEntry, now: DateTime<Utc>) -> Result<(), StoreError> {
        audit_events::ActiveModel {
            id: Set(Uuid::now_v7()),
            kind: Set(entry.kind.as_str().to_owned()),
            user_id: Set(entry.user_id.map(|id| id.0)),
            subject: Set(entry.subject),
            ip_address: Set(entry.ip_address),
            detail: Set(entry.detail),
            created_at: Set(now),
        }
        .insert(&self.write)
        .await
        .context("failed to write audit event")?;
        Ok(())
    }

    /// Counts entries of `kind` for `key` recorded after `since`.
    pub async fn count_audit_since(
        &self,
        kind: AuditKind,
        key: AuditKey<'_>,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let query = audit_events::Entity::find()
            .filter(audit_events::Column::Kind.eq(kind.as_str()))
            .filter(audit_events::Column::CreatedAt.gt(since));
        let query = match key {
            AuditKey::Subject(subject) => query.filter(audit_events::Column::Subject.eq(subject)),
            AuditKey::IpAddress(ip) => query.filter(audit_events::Column::IpAddress.eq(ip)),
        };
        query.count(&self.read).await.context("failed to count audit events")
    }

    /// The newest audit entries about a user, newest first.
    pub async fn audit_for_user(&self, user_id: UserId, limit: u64) -> Result<Vec<AuditRecord>, StoreError> {
        use sea_orm::QuerySelect;
        Ok(audit_events::Entity::find()
            .filter(audit_events::Column::UserId.eq(user_id.0))
            .order_by_desc(audit_events::Column::CreatedAt)
            .order_by_desc(audit_events::Column::Id)
            .limit(limit)
            .all(&self.read)
            .await
            .context("failed to read audit events")?
            .into_iter()
            .map(|row| AuditRecord {
                kind: row.kind,
                user_id: row.user_id.map(UserId),
                subject: row.subject,
                ip_address: row.ip_address,
                detail: row.detail,
                created_at: row.created_at,
            })
            .collect())
    }
}
