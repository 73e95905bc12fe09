//! Fire records of schedules and event triggers: one row per trigger and key (a fire time,
//! or the run that triggered), unique in the database. A fire that starts a run is claimed
//! inside the transaction that creates the run ([`StepTxn::claim_fire`]): both commit or
//! neither does, so a fire runs exactly once however many instances try it and wherever a
//! process dies.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use weft_core::RunId;

use super::runs::RunStatus;
use super::{BATCH_ROWS, chunks_of, split_page};
use crate::entities::{runs, trigger_fires};
use crate::error::{Context, StoreError};
use crate::{Page, StepTxn, Store};

/// What became of a fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FireStatus {
    /// Its run started.
    Started,
    /// Not run: the previous run was still going (overlap `skip`).
    Skipped,
    /// Waiting for the previous run to end (overlap `queue`).
    Queued,
}

impl FireStatus {
    /// The stored (and wire) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Skipped => "skipped",
            Self::Queued => "queued",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "started" => Ok(Self::Started),
            "skipped" => Ok(Self::Skipped),
            "queued" => Ok(Self::Queued),
            other => Err(StoreError::Corrupt(format!("fire status {other:?}"))),
        }
    }
}

/// One fire of a trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fire {
    /// The fire (ids grow with time: a cursor).
    pub id: uuid::Uuid,
    /// The schedule or event trigger.
    pub trigger_id: uuid::Uuid,
    /// What makes it unique for its trigger.
    pub fire_key: String,
    /// The fire time (schedules) or when the triggering run ended.
    pub fire_at: DateTime<Utc>,
    /// What became of it.
    pub status: FireStatus,
    /// The run it started.
    pub run_id: Option<RunId>,
    /// That run's status, when it has one.
    pub run_status: Option<RunStatus>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// A fire to claim with the run it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FireClaim {
    /// A new fire of `trigger_id` with `key`.
    New {
        /// The schedule or event trigger.
        trigger_id: uuid::Uuid,
        /// Unique per trigger.
        key: String,
        /// When it is due.
        fire_at: DateTime<Utc>,
    },
    /// A queued fire whose turn came.
    Queued {
        /// The fire.
        fire_id: uuid::Uuid,
    },
}

/// The key of a schedule's fire at `at` (whole seconds, UTC).
pub fn time_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A fire recorded in a batch ([`StepTxn::insert_fires`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFire {
    /// The schedule or event trigger.
    pub trigger_id: uuid::Uuid,
    /// Unique per trigger.
    pub key: String,
    /// When it is due.
    pub fire_at: DateTime<Utc>,
    /// `Started` with the run it starts, or held back (skipped, queued).
    pub status: FireStatus,
    /// The run the transaction creates for it (claimed with it).
    pub run_id: Option<RunId>,
}

/// A trigger's fire is recorded once per key.
fn on_key() -> OnConflict {
    OnConflict::columns([trigger_fires::Column::TriggerId, trigger_fires::Column::FireKey])
        .do_nothing()
        .to_owned()
}

async fn insert_fire<C: ConnectionTrait>(
    conn: &C,
    row: trigger_fires::ActiveModel,
) -> Result<bool, StoreError> {
    let result = trigger_fires::Entity::insert(row)
        .on_conflict(on_key())
        .exec_without_returning(conn)
        .await
        .context("failed to record fire")?;
    Ok(result == 1)
}

fn new_row(
    trigger_id: uuid::Uuid,
    key: &str,
    fire_at: DateTime<Utc>,
    status: FireStatus,
    now: DateTime<Utc>,
) -> trigger_fires::ActiveModel {
    trigger_fires::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        trigger_id: Set(trigger_id),
        fire_key: Set(key.to_owned()),
        fire_at: Set(fire_at),
        status: Set(status.as_str().to_owned()),
        run_id: Set(None),
        created_at: Set(now),
    }
}

impl StepTxn {
    /// Claims a fire for `run`, the run this transaction is about to create (the fire names
    /// it at once); `None` when it was claimed already (by another instance, or before a
    /// crash).
    pub async fn claim_fire(
        &mut self,
        claim: &FireClaim,
        run: RunId,
        now: DateTime<Utc>,
    ) -> Result<Option<uuid::Uuid>, StoreError> {
        match claim {
            FireClaim::New { trigger_id, key, fire_at } => {
                let id = uuid::Uuid::now_v7();
                let mut row = new_row(*trigger_id, key, *fire_at, FireStatus::Started, now);
                row.id = Set(id);
                row.run_id = Set(Some(run.0));
                Ok(insert_fire(&self.txn, row).await?.then_some(id))
            }
            FireClaim::Queued { fire_id } => {
                let result = trigger_fires::Entity::update_many()
                    .col_expr(trigger_fires::Column::Status, Expr::value(FireStatus::Started.as_str()))
                    .col_expr(trigger_fires::Column::RunId, Expr::value(Some(run.0)))
                    .filter(trigger_fires::Column::Id.eq(*fire_id))
                    .filter(trigger_fires::Column::Status.eq(FireStatus::Queued.as_str()))
                    .exec(&self.txn)
                    .await
                    .context("failed to claim queued fire")?;
                Ok((result.rows_affected == 1).then_some(*fire_id))
            }
        }
    }

    /// Records fires in a few multi-row statements, each with the run it starts in this
    /// transaction (a claim) or none; answers for each whether it is new. `false`: that
    /// trigger's fire with that key was recorded already (by another instance, or before a
    /// crash), so its run is not this transaction's to create.
    pub async fn insert_fires(
        &mut self,
        fires: &[NewFire],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let rows: Vec<trigger_fires::ActiveModel> = fires
            .iter()
            .map(|fire| {
                let mut row = new_row(fire.trigger_id, &fire.key, fire.fire_at, fire.status, now);
                row.run_id = Set(fire.run_id.map(|run| run.0));
                row
            })
            .collect();
        let mut inserted = HashSet::new();
        for chunk in chunks_of(&rows, &BATCH_ROWS) {
            let mut insert =
                trigger_fires::Entity::insert_many(chunk.iter().cloned()).on_conflict(on_key()).into_query();
            insert.returning_col(trigger_fires::Column::Id);
            for row in self.txn.query_all(&insert).await.context("failed to record fires")? {
                inserted.insert(row.try_get::<uuid::Uuid>("", "id").context("failed to read a fire id")?);
            }
        }
        Ok(rows.iter().map(|row| row.id.try_as_ref().is_some_and(|id| inserted.contains(id))).collect())
    }

    /// The triggers that are busy for an overlap policy, in one query: those of `live_of`
    /// with a run still going that one of their fires started, and those of `queued_of`
    /// with a queued fire.
    pub async fn busy_triggers(
        &mut self,
        live_of: &[uuid::Uuid],
        queued_of: &[uuid::Uuid],
    ) -> Result<HashSet<uuid::Uuid>, StoreError> {
        // An empty `IN` would be an always-false term, and SQLite then scans every fire
        // rather than searching the others' keys: only the terms with triggers are added.
        let mut busy = Condition::any();
        if !live_of.is_empty() {
            busy = busy.add(
                Condition::all()
                    .add(trigger_fires::Column::TriggerId.is_in(live_of.iter().copied()))
                    .add(trigger_fires::Column::Status.eq(FireStatus::Started.as_str()))
                    .add(trigger_fires::Column::RunId.in_subquery(live_runs())),
            );
        }
        if !queued_of.is_empty() {
            busy = busy.add(
                Condition::all()
                    .add(trigger_fires::Column::TriggerId.is_in(queued_of.iter().copied()))
                    .add(trigger_fires::Column::Status.eq(FireStatus::Queued.as_str())),
            );
        }
        if busy.is_empty() {
            return Ok(HashSet::new());
        }
        let busy: Vec<uuid::Uuid> = trigger_fires::Entity::find()
            .select_only()
            .column(trigger_fires::Column::TriggerId)
            .distinct()
            .filter(busy)
            .into_tuple()
            .all(&self.txn)
            .await
            .context("failed to look for busy triggers")?;
        Ok(busy.into_iter().collect())
    }
}

/// The ids of unfinished runs (a subquery served by the index on the runs' status: few
/// runs are unfinished, however many a trigger has started).
fn live_runs() -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(runs::Column::Status.is_in(RunStatus::LIVE.map(RunStatus::as_str)))
        .to_owned()
}

impl Store {
    /// Whether a run started by one of the trigger's fires is still going.
    pub async fn trigger_has_live_run(&self, trigger_id: uuid::Uuid) -> Result<bool, StoreError> {
        let live = trigger_fires::Entity::find()
            .select_only()
            .column(trigger_fires::Column::Id)
            .filter(trigger_fires::Column::TriggerId.eq(trigger_id))
            .filter(trigger_fires::Column::Status.eq(FireStatus::Started.as_str()))
            .filter(trigger_fires::Column::RunId.in_subquery(live_runs()))
            .into_tuple::<uuid::Uuid>()
            .one(&self.read)
            .await
            .context("failed to look for a live run of a trigger")?;
        Ok(live.is_some())
    }

    /// The trigger's oldest queued fire.
    pub async fn oldest_queued_fire(&self, trigger_id: uuid::Uuid) -> Result<Option<Fire>, StoreError> {
        trigger_fires::Entity::find()
            .filter(trigger_fires::Column::TriggerId.eq(trigger_id))
            .filter(trigger_fires::Column::Status.eq(FireStatus::Queued.as_str()))
            .order_by_asc(trigger_fires::Column::FireAt)
            .one(&self.read)
            .await
            .context("failed to load queued fire")?
            .map(|row| fire_from_row(row, None))
            .transpose()
    }

    /// The fire that started `run`, if a trigger started it.
    pub async fn fire_of_run(&self, run: RunId) -> Result<Option<Fire>, StoreError> {
        trigger_fires::Entity::find()
            .filter(trigger_fires::Column::RunId.eq(run.0))
            .one(&self.read)
            .await
            .context("failed to load fire of run")?
            .map(|row| fire_from_row(row, None))
            .transpose()
    }

    /// A trigger's fires, newest first, with their runs' statuses.
    pub async fn list_fires(
        &self,
        trigger_id: uuid::Uuid,
        before: Option<uuid::Uuid>,
        limit: u64,
    ) -> Result<Page<Fire>, StoreError> {
        let mut find = trigger_fires::Entity::find().filter(trigger_fires::Column::TriggerId.eq(trigger_id));
        if let Some(before) = before {
            find = find.filter(trigger_fires::Column::Id.lt(before));
        }
        let rows = find
            .order_by_desc(trigger_fires::Column::Id)
            .limit(limit + 1)
            .all(&self.read)
            .await
            .context("failed to list fires")?;
        let (rows, next_cursor) = split_page(rows, limit, |row| row.id);
        let run_ids: Vec<uuid::Uuid> = rows.iter().filter_map(|row| row.run_id).collect();
        let statuses: Vec<(uuid::Uuid, String)> = if run_ids.is_empty() {
            Vec::new()
        } else {
            runs::Entity::find()
                .select_only()
                .columns([runs::Column::Id, runs::Column::Status])
                .filter(runs::Column::Id.is_in(run_ids))
                .into_tuple()
                .all(&self.read)
                .await
                .context("failed to load the runs of fires")?
        };
        let items = rows
            .into_iter()
            .map(|row| {
                let status = row.run_id.and_then(|id| statuses.iter().find(|(run, _)| *run == id));
                let status = status.map(|(_, text)| RunStatus::parse(text)).transpose()?;
                fire_from_row(row, status)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

fn fire_from_row(row: trigger_fires::Model, run_status: Option<RunStatus>) -> Result<Fire, StoreError> {
    Ok(Fire {
        id: row.id,
        trigger_id: row.trigger_id,
        fire_key: row.fire_key,
        fire_at: row.fire_at,
        status: FireStatus::parse(&row.status)?,
        run_id: row.run_id.map(RunId),
        run_status,
        created_at: row.created_at,
    })
}
