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
/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more: larger frames travel in parts.
const MAX_RELAY_BYTES: usize = 7900;
/// Frame bytes per part (leaving room for the part header).
const RELAY_PART_BYTES: usize = 7800;
/// Most parts of one frame (≈ 500 KB); larger frames are not relayed (logged).
const MAX_RELAY_PARTS: usize = 64;
/// Frames being reassembled at once per listener; beyond, the oldest is dropped.
const MAX_PARTIAL_RELAYS: usize = 64;
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
    /// A frame too large for one notification is sent in parts (`#<id>:<k>:<n>:<text>`) by one
    /// statement, and reassembled by [`Store::event_signals`]; beyond
    /// [`MAX_RELAY_PARTS`] it is dropped with a log line.
    pub async fn relay_event(&self, frame: &str) -> Result<(), StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        let payloads = match relay_payloads(frame) {
            Some(payloads) => payloads,
            None => {
                tracing::warn!(bytes = frame.len(), "ephemeral event too large to relay to other instances");
                return Ok(());
            }
        };
        let calls: Vec<String> = (0..payloads.len()).map(|i| format!("pg_notify($1, ${})", i + 2)).collect();
        let mut values: Vec<sea_orm::Value> = vec![RELAY_CHANNEL.into()];
        values.extend(payloads.into_iter().map(Into::into));
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {}", calls.join(", ")),
            values,
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
        futures::stream::unfold((url, None, RelayParts::default()), |(url, listener, mut parts)| async move {
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
            let signal = loop {
                match listener.recv().await {
                    Ok(notification) if notification.channel() == RELAY_CHANNEL => {
                        if let Some(frame) = parts.add(notification.payload()) {
                            break EventSignal::Relay(frame);
                        }
                    }
                    Ok(_) => break EventSignal::Appended,
                    Err(err) => {
                        // The listener reconnects on the next `recv`; what was sent meanwhile is
                        // lost, so read the log again.
                        tracing::warn!(error = %err, "lost the event listener connection");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break EventSignal::Appended;
                    }
                }
            };
            Some((signal, (url, Some(listener), parts)))
        })
        .boxed()
    }
}

/// The notification payloads relaying `frame`: itself when it fits, else its parts
/// (`#<id>:<k>:<n>:<text>`, split at character boundaries); `None` when it needs more than
/// [`MAX_RELAY_PARTS`].
fn relay_payloads(frame: &str) -> Option<Vec<String>> {
    if frame.len() <= MAX_RELAY_BYTES && !frame.starts_with('#') {
        return Some(vec![frame.to_owned()]);
    }
    let mut chunks = Vec::new();
    let mut rest = frame;
    while !rest.is_empty() {
        let mut end = rest.len().min(RELAY_PART_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        chunks.push(&rest[..end]);
        rest = &rest[end..];
        if chunks.len() > MAX_RELAY_PARTS {
            return None;
        }
    }
    let id = uuid::Uuid::now_v7().simple();
    let n = chunks.len();
    Some(chunks.into_iter().enumerate().map(|(k, chunk)| format!("#{id}:{k}:{n}:{chunk}")).collect())
}

/// Relayed frames arriving in parts, reassembled.
#[derive(Default)]
struct RelayParts {
    /// Frame id → its parts so far (in arrival order of first part).
    partial: Vec<(String, Vec<Option<String>>)>,
}

impl RelayParts {
    /// Takes one notification payload; the whole frame once it is complete.
    fn add(&mut self, payload: &str) -> Option<String> {
        let Some(part) = payload.strip_prefix('#') else { return Some(payload.to_owned()) };
        let mut fields = part.splitn(4, ':');
        let (Some(id), Some(k), Some(n), Some(text)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            tracing::debug!("ignoring a malformed relay part");
            return None;
        };
        let (Ok(k), Ok(n)) = (k.parse::<usize>(), n.parse::<usize>()) else { return None };
        if n == 0 || n > MAX_RELAY_PARTS || k >= n {
            return None;
        }
        let index = match self.partial.iter().position(|(known, _)| known == id) {
            Some(index) => index,
            None => {
                if self.partial.len() >= MAX_PARTIAL_RELAYS {
                    self.partial.remove(0);
                }
                self.partial.push((id.to_owned(), vec![None; n]));
                self.partial.len() - 1
            }
        };
        let slots = &mut self.partial[index].1;
        if slots.len() != n {
            return None;
        }
        slots[k] = Some(text.to_owned());
        if slots.iter().any(Option::is_none) {
            return None;
        }
        let (_, slots) = self.partial.remove(index);
        Some(slots.into_iter().flatten().collect())
    }
}

/// A listener on its own connection (with its own one-connection pool for reconnecting).
async fn listen(url: &str) -> Result<sea_orm::sqlx::postgres::PgListener, sea_orm::sqlx::Error> {
    let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url).await?;
    listener.listen_all([APPENDED_CHANNEL, RELAY_CHANNEL]).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_relays_are_split_and_reassembled_in_any_order() {
        let small = r#"{"origin":"x"}"#;
        assert_eq!(relay_payloads(small).unwrap(), vec![small.to_owned()]);
        assert_eq!(RelayParts::default().add(small).as_deref(), Some(small));

        // Multi-byte characters across part boundaries.
        let frame = format!("{{\"text\":\"{}\"}}", "ä€x".repeat(6000));
        let payloads = relay_payloads(&frame).unwrap();
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8000), "every part fits a notification");
        let mut parts = RelayParts::default();
        let mut reversed = payloads.clone();
        reversed.reverse();
        let (last, others) = reversed.split_last().unwrap();
        for payload in others {
            assert_eq!(parts.add(payload), None);
        }
        assert_eq!(parts.add(last).as_deref(), Some(frame.as_str()));
        assert!(parts.partial.is_empty());

        // Interleaved frames, a malformed part, and a frame beyond the limit.
        let other = format!("{{\"b\":\"{}\"}}", "y".repeat(9000));
        let (a, b) = (relay_payloads(&frame).unwrap(), relay_payloads(&other).unwrap());
        let mut got = Vec::new();
        for (x, y) in a.iter().zip(b.iter().chain(std::iter::repeat(&String::new()))) {
            got.extend(parts.add(x));
            if !y.is_empty() {
                got.extend(parts.add(y));
            }
        }
        got.sort();
        let mut want = vec![frame.clone(), other.clone()];
        want.sort();
        assert_eq!(got, want);
        assert_eq!(parts.add("#nope"), None);
        assert_eq!(parts.add("#id:5:2:x"), None);
        assert!(relay_payloads(&"z".repeat(RELAY_PART_BYTES * (MAX_RELAY_PARTS + 1))).is_none());
    }
}
