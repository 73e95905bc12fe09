//! The event log: durable events with monotonically increasing ids, read back in order by
//! every instance, pruned after a retention period; and, on PostgreSQL, the LISTEN/NOTIFY
//! channels that tell other instances to read it (`weft_events`) or carry ephemeral events
//! (`weft_relay`).
//!
//! Appends are serialised (SQLite's single writer; a transaction-scoped advisory lock on
//! PostgreSQL) so ids commit in order: a reader that has seen id `n` never later finds a
//! smaller one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionTrait,
};

use crate::Store;
use crate::connect::Backend;
use crate::entities::{event_log, event_log_state};
use crate::error::{Context, StoreError};

/// Advisory lock key of event-log appends ("weftevnt").
const APPEND_LOCK: i64 = 0x7765_6674_6576_6e74;
/// Channel telling instances that events were appended.
const APPENDED_CHANNEL: &str = "weft_events";
/// Channel carrying ephemeral events between instances.
const RELAY_CHANNEL: &str = "weft_relay";
/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_RELAY_BYTES: usize = 7900;
/// Event text per PostgreSQL insert (see `fresh::PG_STATEMENT_BYTES`).
const PG_STATEMENT_BYTES: usize = 12 * 1024;

/// An event to append.
#[derive(Clone, Debug)]
pub struct NewEventRow<'a> {
    /// When it was published.
    pub at: DateTime<Utc>,
    /// Its type name.
    pub kind: &'a str,
    /// Personal events: the user.
    pub user_id: Option<uuid::Uuid>,
    /// Project events: the project.
    pub project_id: Option<uuid::Uuid>,
    /// Workflow and run events: the workflow.
    pub workflow_id: Option<uuid::Uuid>,
    /// Run events: the run.
    pub run_id: Option<uuid::Uuid>,
    /// The event as JSON.
    pub data: &'a str,
}

/// An event read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Its position.
    pub id: i64,
    /// Personal events: the user.
    pub user_id: Option<uuid::Uuid>,
    /// The project.
    pub project_id: Option<uuid::Uuid>,
    /// The workflow.
    pub workflow_id: Option<uuid::Uuid>,
    /// The run.
    pub run_id: Option<uuid::Uuid>,
    /// The event as JSON.
    pub data: String,
}

/// Something another instance did, from PostgreSQL's notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventSignal {
    /// Events were appended (or the listener reconnected and may have missed some).
    Appended,
    /// An ephemeral event.
    Relay(String),
}

impl Store {
    /// Appends events; ids are assigned in order.
    pub async fn append_events(&self, rows: &[NewEventRow<'_>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let postgres = self.backend() == Backend::Postgres;
        if postgres {
            let lock = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [APPEND_LOCK.into()],
            );
            txn.execute_raw(lock).await.context("failed to lock the event log")?;
        }
        let mut start = 0;
        while start < rows.len() {
            let mut end = start + 1;
            if postgres {
                let mut bytes = rows[start].data.len();
                while end < rows.len() && bytes + rows[end].data.len() < PG_STATEMENT_BYTES {
                    bytes += rows[end].data.len();
                    end += 1;
                }
            } else {
                end = rows.len().min(start + 256);
            }
            event_log::Entity::insert_many(rows[start..end].iter().map(|row| event_log::ActiveModel {
                id: NotSet,
                at: Set(row.at),
                kind: Set(row.kind.to_owned()),
                user_id: Set(row.user_id),
                project_id: Set(row.project_id),
                workflow_id: Set(row.workflow_id),
                run_id: Set(row.run_id),
                data: Set(row.data.to_owned()),
            }))
            .exec_without_returning(&txn)
            .await
            .context("failed to append events")?;
            start = end;
        }
        if postgres {
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, '')",
                [APPENDED_CHANNEL.into()],
            );
            txn.execute_raw(notify).await.context("failed to announce events")?;
        }
        txn.commit().await.context("failed to append events")
    }

    /// Up to `limit` events after `after`, oldest first: with `user`, personal events of that
    /// user; with `projects`, events of those projects; with neither, every event.
    pub async fn events_after(
        &self,
        after: i64,
        limit: u32,
        user: Option<uuid::Uuid>,
        projects: Option<&[uuid::Uuid]>,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut query = event_log::Entity::find().filter(event_log::Column::Id.gt(after));
        if user.is_some() || projects.is_some() {
            let mut scope = Condition::any();
            if let Some(user) = user {
                scope = scope.add(event_log::Column::UserId.eq(user));
            }
            if let Some(projects) = projects.filter(|p| !p.is_empty()) {
                scope = scope.add(event_log::Column::ProjectId.is_in(projects.iter().copied()));
            }
            query = query.filter(scope);
        }
        let rows = query
            .order_by_asc(event_log::Column::Id)
            .limit(u64::from(limit))
            .all(&self.read)
            .await
            .context("failed to read the event log")?;
        Ok(rows
            .into_iter()
            .map(|row| EventRow {
                id: row.id,
                user_id: row.user_id,
                project_id: row.project_id,
                workflow_id: row.workflow_id,
                run_id: row.run_id,
                data: row.data,
            })
            .collect())
    }

    /// How far the log was pruned and its newest id (each 0 when none).
    pub async fn event_log_bounds(&self) -> Result<(i64, i64), StoreError> {
        let pruned = event_log_state::Entity::find_by_id(1)
            .one(&self.read)
            .await
            .context("failed to read the event log state")?
            .map_or(0, |state| state.pruned_through);
        let last: Option<i64> = event_log::Entity::find()
            .select_only()
            .column_as(event_log::Column::Id.max(), "last")
            .into_tuple()
            .one(&self.read)
            .await
            .context("failed to read the event log")?
            .flatten();
        Ok((pruned, last.unwrap_or(0).max(pruned)))
    }

    /// Deletes events published before `before` and moves the pruning watermark; answers
    /// how many were deleted.
    pub async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let through: Option<i64> = event_log::Entity::find()
            .select_only()
            .column_as(event_log::Column::Id.max(), "through")
            .filter(event_log::Column::At.lt(before))
            .into_tuple()
            .one(&txn)
            .await
            .context("failed to read the event log")?
            .flatten();
        let Some(through) = through else { return Ok(0) };
        let deleted = event_log::Entity::delete_many()
            .filter(event_log::Column::Id.lte(through))
            .exec(&txn)
            .await
            .context("failed to prune the event log")?
            .rows_affected;
        event_log_state::Entity::update_many()
            .col_expr(event_log_state::Column::PrunedThrough, Expr::value(through))
            .filter(event_log_state::Column::Id.eq(1))
            .filter(event_log_state::Column::PrunedThrough.lt(through))
            .exec(&txn)
            .await
            .context("failed to move the pruning watermark")?;
        txn.commit().await.context("failed to prune the event log")?;
        Ok(deleted)
    }

    /// Sends an ephemeral event to the other instances (PostgreSQL); nothing on SQLite.
    /// Frames too large for a notification are dropped with a log line.
    pub async fn relay_event(&self, frame: &str) -> Result<(), StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        if frame.len() > MAX_RELAY_BYTES {
            tracing::debug!(bytes = frame.len(), "ephemeral event too large to relay");
            return Ok(());
        }
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [RELAY_CHANNEL.into(), frame.into()],
        );
        self.write.execute_raw(notify).await.context("failed to relay an event")?;
        Ok(())
    }

    /// What other instances do: on PostgreSQL a dedicated LISTEN connection (reconnecting
    /// after failures); on SQLite an empty stream.
    pub fn event_signals(&self) -> BoxStream<'static, EventSignal> {
        if self.backend() != Backend::Postgres {
            return futures::stream::pending().boxed();
        }
        let Some(url) = self.listen_url.clone() else {
            return futures::stream::pending().boxed();
        };
        futures::stream::unfold((url, None), |(url, listener)| async move {
            let mut listener = match listener {
                Some(listener) => listener,
                None => loop {
                    match listen(&url.0).await {
                        Ok(listener) => break listener,
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot listen for events of other instances; retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                },
            };
            let signal = match listener.recv().await {
                Ok(notification) if notification.channel() == RELAY_CHANNEL => {
                    EventSignal::Relay(notification.payload().to_owned())
                }
                Ok(_) => EventSignal::Appended,
                Err(err) => {
                    // The listener reconnects on the next `recv`; what was sent meanwhile is lost,
                    // so read the log again.
                    tracing::warn!(error = %err, "lost the event listener connection");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    EventSignal::Appended
                }
            };
            Some((signal, (url, Some(listener))))
        })
        .boxed()
    }
}

/// A listener on its own connection (with its own one-connection pool for reconnecting).
async fn listen(url: &str) -> Result<sea_orm::sqlx::postgres::PgListener, sea_orm::sqlx::Error> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url).await?;
    listener.listen_all([APPENDED_CHANNEL, RELAY_CHANNEL]).await?;
    Ok(listener)
}
