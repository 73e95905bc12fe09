//! The `webhooks` table: inbound HTTP triggers of a workflow, with their sealed secrets.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub workflow_id: Uuid,
    pub name: String,
    pub auth: String,
    #[sea_orm(column_type = "Text")]
    pub ciphertext: String,
    pub hint: String,
    pub mode: String,
    pub sync_timeout_ms: i64,
    pub max_body_bytes: i64,
    pub rate_per_minute: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
