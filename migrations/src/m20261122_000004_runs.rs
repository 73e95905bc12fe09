//! Runs and their steps. A step is one execution of one node in one scope (the top level,
//! or one iteration of a loop); the steps table is also the engine's queue: a `ready` step
//! whose `available_at` has come is claimed by a worker, which holds a lease on it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Workflows {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Runs {
    Table,
    Id,
    WorkflowId,
    ProjectId,
    Version,
    Status,
    Input,
    Output,
    Error,
    Trigger,
    StartedBy,
    ParentRunId,
    ParentStepId,
    Depth,
    CancelRequested,
    DeadlineAt,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Steps {
    Table,
    Id,
    RunId,
    NodeId,
    Scope,
    Status,
    Attempt,
    NArrived,
    NSkipped,
    Ports,
    Input,
    Output,
    Error,
    AvailableAt,
    LeaseOwner,
    LeaseExpiresAt,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Runs::Table)
                    .col(pk_uuid(Runs::Id))
                    .col(uuid(Runs::WorkflowId))
                    .col(uuid(Runs::ProjectId))
                    .col(integer(Runs::Version))
                    .col(string_len(Runs::Status, 16))
                    .col(text(Runs::Input))
                    .col(text_null(Runs::Output))
                    .col(text_null(Runs::Error))
                    .col(string_len(Runs::Trigger, 32))
                    .col(uuid_null(Runs::StartedBy))
                    .col(uuid_null(Runs::ParentRunId))
                    .col(uuid_null(Runs::ParentStepId))
                    .col(integer(Runs::Depth).default(0))
                    .col(boolean(Runs::CancelRequested).default(false))
                    .col(timestamp_with_time_zone_null(Runs::DeadlineAt))
                    .col(timestamp_with_time_zone(Runs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Runs::StartedAt))
                    .col(timestamp_with_time_zone_null(Runs::FinishedAt))
                    .col(timestamp_with_time_zone(Runs::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_runs_workflow")
                            .from(Runs::Table, Runs::WorkflowId)
                            .to(Workflows::Table, Workflows::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_runs_workflow", [Runs::WorkflowId, Runs::CreatedAt]),
            ("idx_runs_project", [Runs::ProjectId, Runs::CreatedAt]),
            ("idx_runs_status", [Runs::Status, Runs::CreatedAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Runs::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_index(
                Index::create().name("idx_runs_parent").table(Runs::Table).col(Runs::ParentRunId).to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Steps::Table)
                    .col(pk_uuid(Steps::Id))
                    .col(uuid(Steps::RunId))
                    .col(string_len(Steps::NodeId, 64))
                    .col(string_len(Steps::Scope, 1024).default(""))
                    .col(string_len(Steps::Status, 16))
                    .col(integer(Steps::Attempt).default(0))
                    .col(integer(Steps::NArrived).default(0))
                    .col(integer(Steps::NSkipped).default(0))
                    .col(text_null(Steps::Ports))
                    .col(text_null(Steps::Input))
                    .col(text_null(Steps::Output))
                    .col(text_null(Steps::Error))
                    .col(timestamp_with_time_zone(Steps::AvailableAt))
                    .col(string_len_null(Steps::LeaseOwner, 64))
                    .col(timestamp_with_time_zone_null(Steps::LeaseExpiresAt))
                    .col(timestamp_with_time_zone(Steps::CreatedAt))
                    .col(timestamp_with_time_zone_null(Steps::StartedAt))
                    .col(timestamp_with_time_zone_null(Steps::FinishedAt))
                    .col(timestamp_with_time_zone(Steps::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_steps_run")
                            .from(Steps::Table, Steps::RunId)
                            .to(Runs::Table, Runs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_steps_node_scope")
                    .table(Steps::Table)
                    .col(Steps::RunId)
                    .col(Steps::NodeId)
                    .col(Steps::Scope)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_steps_queue")
                    .table(Steps::Table)
                    .col(Steps::Status)
                    .col(Steps::AvailableAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Steps::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Runs::Table).to_owned()).await
    }
}
