//! The `trigger_fires` table: one row per fire of a schedule or event trigger, unique per
//! trigger and key (the fire time, or the source run).
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trigger_fires")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub trigger_id: Uuid,
    pub fire_key: String,
    pub fire_at: DateTimeUtc,
    pub status: String,
    pub run_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
