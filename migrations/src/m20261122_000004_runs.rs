//! Runs and their steps. A step is one execution of one node in one scope (the top level,
//! or one iteration of a loop); the steps table is also the engine's queue: a `ready` (or
//! `waiting`) step whose `available_at` has come is claimed by a worker, which holds a lease
//! on it. Approval tasks belong to waiting approval steps. A workflow may name an error
//! handler workflow, run when one of its runs fails.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Workflows {
    Table,
    Id,
    ErrorWorkflowId,
}

#[derive(DeriveIden)]
enum ApprovalTasks {
    Table,
    Id,
    RunId,
    StepId,
    ProjectId,
    WorkflowId,
    NodeId,
    Scope,
    Assignees,
    Role,
    Instructions,
    CommentPolicy,
    Status,
    DecidedBy,
    Comment,
    DecidedAt,
    DueAt,
    Escalated,
    CreatedAt,
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
    PriorStatus,
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
        // Overdue runs are found by their time limit.
        manager
            .create_index(
                Index::create().name("idx_runs_deadline").table(Runs::Table).col(Runs::DeadlineAt).to_owned(),
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
                    .col(string_len_null(Steps::PriorStatus, 16))
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

        manager
            .create_table(
                Table::create()
                    .table(ApprovalTasks::Table)
                    .col(pk_uuid(ApprovalTasks::Id))
                    .col(uuid(ApprovalTasks::RunId))
                    .col(uuid(ApprovalTasks::StepId))
                    .col(uuid(ApprovalTasks::ProjectId))
                    .col(uuid(ApprovalTasks::WorkflowId))
                    .col(string_len(ApprovalTasks::NodeId, 64))
                    .col(string_len(ApprovalTasks::Scope, 1024))
                    .col(text(ApprovalTasks::Assignees))
                    .col(string_len_null(ApprovalTasks::Role, 16))
                    .col(text(ApprovalTasks::Instructions))
                    .col(string_len(ApprovalTasks::CommentPolicy, 24))
                    .col(string_len(ApprovalTasks::Status, 16))
                    .col(uuid_null(ApprovalTasks::DecidedBy))
                    .col(text_null(ApprovalTasks::Comment))
                    .col(timestamp_with_time_zone_null(ApprovalTasks::DecidedAt))
                    .col(timestamp_with_time_zone_null(ApprovalTasks::DueAt))
                    .col(boolean(ApprovalTasks::Escalated).default(false))
                    .col(timestamp_with_time_zone(ApprovalTasks::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tasks_run")
                            .from(ApprovalTasks::Table, ApprovalTasks::RunId)
                            .to(Runs::Table, Runs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_tasks_step")
                    .table(ApprovalTasks::Table)
                    .col(ApprovalTasks::StepId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_project_status")
                    .table(ApprovalTasks::Table)
                    .col(ApprovalTasks::ProjectId)
                    .col(ApprovalTasks::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Workflows::Table)
                    .add_column(uuid_null(Workflows::ErrorWorkflowId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Workflows::Table).drop_column(Workflows::ErrorWorkflowId).to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(ApprovalTasks::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Steps::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Runs::Table).to_owned()).await
    }
}
