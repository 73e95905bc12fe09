//! The `schedules` table: cron schedules of a workflow.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub workflow_id: Uuid,
    pub name: String,
    pub cron: String,
    pub time_zone: String,
    pub start_at: Option<DateTimeUtc>,
    pub end_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub input: String,
    pub overlap: String,
    pub catch_up: String,
    pub catch_up_window_secs: i64,
    pub paused: bool,
    pub next_fire_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
