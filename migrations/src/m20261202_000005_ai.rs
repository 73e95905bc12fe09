//! The AI layer: stored credentials (provider keys and other secrets nodes use, encrypted at
//! rest), the ledger of model calls (usage and cost), and spending budgets.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Credentials {
    Table,
    Id,
    ProjectId,
    Name,
    Kind,
    BaseUrl,
    HeaderName,
    Models,
    Ciphertext,
    Hint,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AiCalls {
    Table,
    Id,
    UserId,
    ProjectId,
    WorkflowId,
    RunId,
    NodeId,
    Purpose,
    Provider,
    Model,
    PromptTokens,
    CompletionTokens,
    CostMicroUsd,
    LatencyMs,
    Outcome,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AiBudgets {
    Table,
    Id,
    Scope,
    SubjectId,
    Period,
    LimitMicroUsd,
    CreatedAt,
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
                    .table(Credentials::Table)
                    .col(pk_uuid(Credentials::Id))
                    .col(uuid(Credentials::ProjectId))
                    .col(string_len(Credentials::Name, 200))
                    .col(string_len(Credentials::Kind, 32))
                    .col(text_null(Credentials::BaseUrl))
                    .col(string_len_null(Credentials::HeaderName, 200))
                    .col(text(Credentials::Models))
                    .col(text(Credentials::Ciphertext))
                    .col(string_len(Credentials::Hint, 32))
                    .col(uuid_null(Credentials::CreatedBy))
                    .col(timestamp_with_time_zone(Credentials::CreatedAt))
                    .col(timestamp_with_time_zone(Credentials::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_credentials_project")
                            .from(Credentials::Table, Credentials::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_credentials_project_name")
                    .table(Credentials::Table)
                    .col(Credentials::ProjectId)
                    .col(Credentials::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // A ledger: rows outlive the runs, workflows and projects they name.
        manager
            .create_table(
                Table::create()
                    .table(AiCalls::Table)
                    .col(pk_uuid(AiCalls::Id))
                    .col(uuid_null(AiCalls::UserId))
                    .col(uuid_null(AiCalls::ProjectId))
                    .col(uuid_null(AiCalls::WorkflowId))
                    .col(uuid_null(AiCalls::RunId))
                    .col(string_len_null(AiCalls::NodeId, 64))
                    .col(string_len(AiCalls::Purpose, 32))
                    .col(string_len(AiCalls::Provider, 64))
                    .col(string_len(AiCalls::Model, 200))
                    .col(integer(AiCalls::PromptTokens))
                    .col(integer(AiCalls::CompletionTokens))
                    .col(big_integer(AiCalls::CostMicroUsd))
                    .col(integer(AiCalls::LatencyMs))
                    .col(string_len(AiCalls::Outcome, 32))
                    .col(timestamp_with_time_zone(AiCalls::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in
            [("idx_ai_calls_project", AiCalls::ProjectId), ("idx_ai_calls_user", AiCalls::UserId)]
        {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AiCalls::Table)
                        .col(column)
                        .col(AiCalls::CreatedAt)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AiBudgets::Table)
                    .col(pk_uuid(AiBudgets::Id))
                    .col(string_len(AiBudgets::Scope, 16))
                    .col(uuid(AiBudgets::SubjectId))
                    .col(string_len(AiBudgets::Period, 8))
                    .col(big_integer(AiBudgets::LimitMicroUsd))
                    .col(timestamp_with_time_zone(AiBudgets::CreatedAt))
                    .col(timestamp_with_time_zone(AiBudgets::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_ai_budgets_subject_period")
                    .table(AiBudgets::Table)
                    .col(AiBudgets::Scope)
                    .col(AiBudgets::SubjectId)
                    .col(AiBudgets::Period)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AiBudgets::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(AiCalls::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Credentials::Table).to_owned()).await
    }
}
