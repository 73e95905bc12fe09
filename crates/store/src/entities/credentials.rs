//! The `credentials` table: secrets of a project (provider keys, HTTP tokens), encrypted.
#![allow(missing_docs)]

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub kind: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub base_url: Option<String>,
    pub header_name: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub models: String,
    #[sea_orm(column_type = "Text")]
    pub ciphertext: String,
    pub hint: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
