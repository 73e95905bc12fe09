//! The `approval_tasks` table: human decisions that approval steps wait for.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub run_id: Uuid,
    pub step_id: Uuid,
    pub project_id: Uuid,
    pub workflow_id: Uuid,
    pub node_id: String,
    pub scope: String,
    #[sea_orm(column_type = "Text")]
    pub assignees: String,
    pub role: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub instructions: String,
    pub comment_policy: String,
    pub status: String,
    pub decided_by: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub comment: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub due_at: Option<DateTimeUtc>,
    pub escalated: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
