//! Notifications and their per-kind preferences. A notification belongs to one user; every
//! read and change names that user, so nobody reaches another's notifications.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use weft_core::UserId;

use crate::entities::{notification_preferences, notifications};
use crate::error::{Context, StoreError};
use crate::repos::split_page;
use crate::{Page, Store};

/// A notification to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    /// Who is told.
    pub user_id: UserId,
    /// `runFailed`, `approvalRequested`, `approvalEscalated`, `invitationReceived`,
    /// `memberJoined`, `budgetNearlyReached`, ...
    pub kind: String,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// One line.
    pub title: String,
    /// More detail.
    pub body: String,
    /// What it is about (JSON text: ids of the run, project, task, ...).
    pub data: String,
}

/// A stored notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The notification (ids grow with time: a cursor).
    pub id: uuid::Uuid,
    /// Whose.
    pub user_id: UserId,
    /// Kind.
    pub kind: String,
    /// Priority.
    pub priority: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Data (JSON text).
    pub data: String,
    /// When it was read.
    pub read_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

fn from_row(row: notifications::Model) -> Notification {
    Notification {
        id: row.id,
        user_id: UserId(row.user_id),
        kind: row.kind,
        priority: row.priority,
        title: row.title,
        body: row.body,
        data: row.data,
        read_at: row.read_at,
        created_at: row.created_at,
    }
}

impl Store {
    /// Creates the notifications whose user has not turned their kind off; answers those
    /// created.
    pub async fn create_notifications(
        &self,
        new: Vec<NewNotification>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Notification>, StoreError> {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let users: Vec<uuid::Uuid> = new.iter().map(|n| n.user_id.0).collect();
        let off: Vec<(uuid::Uuid, String)> = notification_preferences::Entity::find()
            .select_only()
            .column(notification_preferences::Column::UserId)
            .column(notification_preferences::Column::Kind)
            .filter(notification_preferences::Column::UserId.is_in(users))
            .filter(notification_preferences::Column::InApp.eq(false))
            .into_tuple()
            .all(&self.read)
            .await
            .context("failed to read notification preferences")?;
        let created: Vec<Notification> = new
            .into_iter()
            .filter(|n| !off.iter().any(|(user, kind)| *user == n.user_id.0 && *kind == n.kind))
            .map(|n| Notification {
                id: uuid::Uuid::now_v7(),
                user_id: n.user_id,
                kind: n.kind,
                priority: n.priority,
                title: n.title,
                body: n.body,
                data: n.data,
                read_at: None,
                created_at: now,
            })
            .collect();
        if created.is_empty() {
            return Ok(created);
        }
        let rows = created.iter().map(|n| notifications::ActiveModel {
            id: Set(n.id),
            user_id: Set(n.user_id.0),
            kind: Set(n.kind.clone()),
            priority: Set(n.priority.clone()),
            title: Set(n.title.clone()),
            body: Set(n.body.clone()),
            data: Set(n.data.clone()),
            read_at: Set(None),
            created_at: Set(now),
        });
        notifications::Entity::insert_many(rows)
            .exec_without_returning(&self.write)
            .await
            .context("failed to insert notifications")?;
        Ok(created)
    }

    /// A user's notifications, newest first; with `unread_only` only the unread ones.
    pub async fn list_notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<uuid::Uuid>,
        limit: u64,
    ) -> Result<Page<Notification>, StoreError> {
        let mut find = notifications::Entity::find().filter(notifications::Column::UserId.eq(user.0));
        if unread_only {
            find = find.filter(notifications::Column::ReadAt.is_null());
        }
        if let Some(cursor) = before {
            find = find.filter(notifications::Column::Id.lt(cursor));
        }
        let limit = Ord::max(limit, 1);
        let rows = find
            .order_by_desc(notifications::Column::Id)
            .limit(limit + 1)
            .all(&self.read)
            .await
            .context("failed to list notifications")?;
        let (rows, next) = split_page(rows, limit, |row| row.id);
        Ok(Page { items: rows.into_iter().map(from_row).collect(), next_cursor: next })
    }

    /// How many of the user's notifications are unread.
    pub async fn unread_notifications(&self, user: UserId) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait;
        notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user.0))
            .filter(notifications::Column::ReadAt.is_null())
            .count(&self.read)
            .await
            .context("failed to count unread notifications")
    }

    /// Marks the user's notifications `ids` (all unread ones with `None`) read; answers how
    /// many changed.
    pub async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: Option<&[uuid::Uuid]>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut update = notifications::Entity::update_many()
            .col_expr(notifications::Column::ReadAt, Expr::value(now))
            .filter(notifications::Column::UserId.eq(user.0))
            .filter(notifications::Column::ReadAt.is_null());
        if let Some(ids) = ids {
            update = update.filter(notifications::Column::Id.is_in(ids.iter().copied()));
        }
        let result = update.exec(&self.write).await.context("failed to mark notifications read")?;
        Ok(result.rows_affected)
    }

    /// Deletes one of the user's notifications; `false` when the user has no such one.
    pub async fn delete_notification(&self, user: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
        let result = notifications::Entity::delete_many()
            .filter(notifications::Column::Id.eq(id))
            .filter(notifications::Column::UserId.eq(user.0))
            .exec(&self.write)
            .await
            .context("failed to delete notification")?;
        Ok(result.rows_affected == 1)
    }

    /// The kinds the user has set a preference for: `(kind, in_app)`.
    pub async fn notification_preferences(&self, user: UserId) -> Result<Vec<(String, bool)>, StoreError> {
        notification_preferences::Entity::find()
            .select_only()
            .column(notification_preferences::Column::Kind)
            .column(notification_preferences::Column::InApp)
            .filter(notification_preferences::Column::UserId.eq(user.0))
            .order_by_asc(notification_preferences::Column::Kind)
            .into_tuple()
            .all(&self.read)
            .await
            .context("failed to read notification preferences")
    }

    /// Sets whether the user sees notifications of `kind` in the app.
    pub async fn set_notification_preference(
        &self,
        user: UserId,
        kind: &str,
        in_app: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = notification_preferences::ActiveModel {
            user_id: Set(user.0),
            kind: Set(kind.to_owned()),
            in_app: Set(in_app),
            updated_at: Set(now),
        };
        let mut conflict = OnConflict::columns([
            notification_preferences::Column::UserId,
            notification_preferences::Column::Kind,
        ]);
        conflict.update_columns([
            notification_preferences::Column::InApp,
            notification_preferences::Column::UpdatedAt,
        ]);
        notification_preferences::Entity::insert(row)
            .on_conflict(conflict.to_owned())
            .exec_without_returning(&self.write)
            .await
            .context("failed to set notification preference")?;
        Ok(())
    }
}
