//! The `collab_presence` table: editors (browser tabs) on a workflow, until they leave or
//! stop sending heartbeats. Keyed by user and client id: a tab chooses its client id, so two
//! users' ids never meet.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "collab_presence")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub workflow_id: Uuid,
    pub project_id: Uuid,
    #[sea_orm(column_type = "Text", nullable)]
    pub cursor: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub selection: String,
    pub joined_at: DateTimeUtc,
    pub seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
