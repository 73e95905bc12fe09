//! Cron schedules of workflows. The scheduler reads them through one indexed query on
//! `next_fire_at` (paused and finished schedules have none) and advances each with a
//! conditional `UPDATE` in the transaction that claims its fires, so two instances never
//! both move the same schedule on; the fires themselves are made unique by `trigger_fires`
//! ([`super::fires`]).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use weft_core::schedule::{CatchUp, Overlap};
use weft_core::{ProjectId, ScheduleId, UserId, WorkflowId};

use super::{BATCH_ROWS, chunks_of};
use crate::entities::{schedules, trigger_fires};
use crate::error::{Context, StoreError};
use crate::{StepTxn, Store};

/// A schedule: when a workflow runs by itself, with what input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The schedule.
    pub id: ScheduleId,
    /// Its project.
    pub project_id: ProjectId,
    /// The workflow it starts (its published version).
    pub workflow_id: WorkflowId,
    /// Name.
    pub name: String,
    /// Cron expression (5, 6 or 7 fields).
    pub cron: String,
    /// IANA time zone of the expression.
    pub time_zone: String,
    /// No fire before.
    pub start_at: Option<DateTime<Utc>>,
    /// No fire after.
    pub end_at: Option<DateTime<Utc>>,
    /// The input of its runs (JSON text).
    pub input: String,
    /// While a previous run goes on.
    pub overlap: Overlap,
    /// Fire times missed while down.
    pub catch_up: CatchUp,
    /// How far back missed fire times are caught up, in seconds.
    pub catch_up_window_secs: i64,
    /// Paused schedules do not fire.
    pub paused: bool,
    /// The next fire time; `None` when paused or over.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Creator.
    pub created_by: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A schedule to move from one fire time to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advance {
    /// The schedule.
    pub id: ScheduleId,
    /// Where it should be now.
    pub expected: DateTime<Utc>,
    /// Where it goes (`None`: over).
    pub next: Option<DateTime<Utc>>,
}

fn from_row(row: schedules::Model) -> Result<Schedule, StoreError> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("schedule {what} {value:?}"));
    Ok(Schedule {
        id: ScheduleId(row.id),
        project_id: ProjectId(row.project_id),
        workflow_id: WorkflowId(row.workflow_id),
        overlap: Overlap::parse(&row.overlap).ok_or_else(|| corrupt("overlap", &row.overlap))?,
        catch_up: CatchUp::parse(&row.catch_up).ok_or_else(|| corrupt("catch-up", &row.catch_up))?,
        name: row.name,
        cron: row.cron,
        time_zone: row.time_zone,
        start_at: row.start_at,
        end_at: row.end_at,
        input: row.input,
        catch_up_window_secs: row.catch_up_window_secs,
        paused: row.paused,
        next_fire_at: row.next_fire_at,
        created_by: row.created_by.map(UserId),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_row(schedule: &Schedule) -> schedules::ActiveModel {
    schedules::ActiveModel {
        id: Set(schedule.id.0),
        project_id: Set(schedule.project_id.0),
        workflow_id: Set(schedule.workflow_id.0),
        name: Set(schedule.name.clone()),
        cron: Set(schedule.cron.clone()),
        time_zone: Set(schedule.time_zone.clone()),
        start_at: Set(schedule.start_at),
        end_at: Set(schedule.end_at),
        input: Set(schedule.input.clone()),
        overlap: Set(schedule.overlap.as_str().to_owned()),
        catch_up: Set(schedule.catch_up.as_str().to_owned()),
        catch_up_window_secs: Set(schedule.catch_up_window_secs),
        paused: Set(schedule.paused),
        next_fire_at: Set(schedule.next_fire_at),
        created_by: Set(schedule.created_by.map(|u| u.0)),
        created_at: Set(schedule.created_at),
        updated_at: Set(schedule.updated_at),
    }
}

impl Store {
    /// Stores a new schedule (the caller computed its first fire time).
    pub async fn create_schedule(&self, schedule: &Schedule) -> Result<Schedule, StoreError> {
        let row = to_row(schedule).insert(&self.write).await.context("failed to insert schedule")?;
        from_row(row)
    }

    /// Replaces a schedule's settings (everything but its id, project, workflow, creator and
    /// creation time); `None` when it does not exist.
    pub async fn update_schedule(&self, schedule: &Schedule) -> Result<Option<Schedule>, StoreError> {
        let mut row = to_row(schedule);
        row.id = sea_orm::ActiveValue::Unchanged(schedule.id.0);
        row.project_id = sea_orm::ActiveValue::NotSet;
        row.workflow_id = sea_orm::ActiveValue::NotSet;
        row.created_by = sea_orm::ActiveValue::NotSet;
        row.created_at = sea_orm::ActiveValue::NotSet;
        match row.update(&self.write).await {
            Ok(row) => from_row(row).map(Some),
            Err(sea_orm::DbErr::RecordNotUpdated) => Ok(None),
            Err(err) => Err(err).context("failed to update schedule"),
        }
    }

    /// One schedule.
    pub async fn get_schedule(&self, id: ScheduleId) -> Result<Option<Schedule>, StoreError> {
        schedules::Entity::find_by_id(id.0)
            .one(&self.read)
            .await
            .context("failed to load schedule")?
            .map(from_row)
            .transpose()
    }

    /// The schedules of a project, or of one of its workflows, oldest first.
    pub async fn list_schedules(
        &self,
        project: ProjectId,
        workflow: Option<WorkflowId>,
    ) -> Result<Vec<Schedule>, StoreError> {
        let mut find = schedules::Entity::find().filter(schedules::Column::ProjectId.eq(project.0));
        if let Some(workflow) = workflow {
            find = find.filter(schedules::Column::WorkflowId.eq(workflow.0));
        }
        find.order_by_asc(schedules::Column::Id)
            .all(&self.read)
            .await
            .context("failed to list schedules")?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// Deletes a schedule and its fire history in one transaction; `false` when it did not
    /// exist.
    pub async fn delete_schedule(&self, id: ScheduleId) -> Result<bool, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        trigger_fires::Entity::delete_many()
            .filter(trigger_fires::Column::TriggerId.eq(id.0))
            .exec(&txn)
            .await
            .context("failed to delete schedule fires")?;
        let deleted =
            schedules::Entity::delete_by_id(id.0).exec(&txn).await.context("failed to delete schedule")?;
        txn.commit().await.context("failed to commit transaction")?;
        Ok(deleted.rows_affected == 1)
    }

    /// Schedules whose next fire time has come, most overdue first (one indexed query).
    pub async fn due_schedules(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<Schedule>, StoreError> {
        schedules::Entity::find()
            .filter(schedules::Column::NextFireAt.lte(now))
            .order_by_asc(schedules::Column::NextFireAt)
            .limit(limit)
            .all(&self.read)
            .await
            .context("failed to load due schedules")?
            .into_iter()
            .map(from_row)
            .collect()
    }

    /// The earliest next fire time of any schedule (what the scheduler sleeps until).
    pub async fn earliest_fire(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let earliest: Option<Option<DateTime<Utc>>> = schedules::Entity::find()
            .select_only()
            .column_as(schedules::Column::NextFireAt.min(), "earliest")
            .into_tuple()
            .one(&self.read)
            .await
            .context("failed to load the earliest fire time")?;
        Ok(earliest.flatten())
    }
}

impl StepTxn {
    /// Moves schedules on in this transaction (the one that claims their fires), each only
    /// if it is still at its expected fire time, in a few multi-row `UPDATE`s; answers those
    /// that moved. One that did not (another instance moved it first, or it was changed
    /// meanwhile) is not this tick's to fire. On PostgreSQL the rows stay locked until the
    /// commit, so a second instance firing the same schedules waits, then finds them moved;
    /// the rows are taken in the order of their ids, the same for every instance.
    pub async fn advance_schedules(
        &mut self,
        advances: &[Advance],
    ) -> Result<HashSet<ScheduleId>, StoreError> {
        let mut ordered = advances.to_vec();
        ordered.sort_by_key(|advance| advance.id);
        let mut moved = HashSet::new();
        for chunk in chunks_of(&ordered, &BATCH_ROWS) {
            let Some((first, rest)) = chunk.split_first() else { continue };
            // Per row: where it goes and where it should be (a CASE on the id, so that the
            // rows are found through the primary key).
            let by_id = |value: fn(&Advance) -> Option<DateTime<Utc>>| -> Expr {
                let first = Expr::case(schedules::Column::Id.eq(first.id.0), Expr::value(value(first)));
                let case = rest.iter().fold(first, |case, advance| {
                    case.case(schedules::Column::Id.eq(advance.id.0), Expr::value(value(advance)))
                });
                case.into()
            };
            let next = by_id(|advance| advance.next);
            let at_expected = Condition::all()
                .add(schedules::Column::Id.is_in(chunk.iter().map(|advance| advance.id.0)))
                .add(Expr::col(schedules::Column::NextFireAt).eq(by_id(|advance| Some(advance.expected))));
            let mut update = schedules::Entity::update_many()
                .col_expr(schedules::Column::NextFireAt, next)
                .filter(at_expected)
                .into_query();
            update.returning_col(schedules::Column::Id);
            for row in self.txn.query_all(&update).await.context("failed to advance schedules")? {
                moved.insert(ScheduleId(
                    row.try_get::<uuid::Uuid>("", "id").context("failed to read a schedule id")?,
                ));
            }
        }
        Ok(moved)
    }
}
