//! Workflow versions stored as deltas: a version's `graph` column holds either the whole
//! graph (a snapshot) or, when `is_delta` is set, an RFC 6902 JSON Patch that turns the
//! previous version's graph into this one. Existing rows are snapshots.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkflowVersions {
    Table,
    IsDelta,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowVersions::Table)
                    .add_column(boolean(WorkflowVersions::IsDelta).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Deltas cannot be read without this column: refuse to lose history silently.
        let db = manager.get_connection();
        let deltas = db
            .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                manager.get_database_backend(),
                "SELECT COUNT(*) AS n FROM workflow_versions WHERE is_delta",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if deltas > 0 {
            return Err(DbErr::Migration(format!(
                "{deltas} workflow versions are stored as deltas; reverting would make them unreadable"
            )));
        }
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowVersions::Table)
                    .drop_column(WorkflowVersions::IsDelta)
                    .to_owned(),
            )
            .await
    }
}
