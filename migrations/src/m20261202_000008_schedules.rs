//! Schedules and triggers: cron schedules, webhooks and event triggers of a workflow, and
//! the fire records that make every fire happen exactly once (unique per trigger and key).

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
enum Workflows {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    ProjectId,
    WorkflowId,
    Name,
    Cron,
    TimeZone,
    StartAt,
    EndAt,
    Input,
    Overlap,
    CatchUp,
    CatchUpWindowSecs,
    Paused,
    NextFireAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    ProjectId,
    WorkflowId,
    Name,
    Auth,
    Ciphertext,
    Hint,
    Mode,
    SyncTimeoutMs,
    MaxBodyBytes,
    RatePerMinute,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EventTriggers {
    Table,
    Id,
    ProjectId,
    WorkflowId,
    SourceWorkflowId,
    On,
    Input,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TriggerFires {
    Table,
    Id,
    TriggerId,
    FireKey,
    FireAt,
    Status,
    RunId,
    CreatedAt,
}

fn owned_by(
    table: impl IntoIden,
    name: &str,
    column: impl IntoIden,
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
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
                    .table(Schedules::Table)
                    .col(pk_uuid(Schedules::Id))
                    .col(uuid(Schedules::ProjectId))
                    .col(uuid(Schedules::WorkflowId))
                    .col(string_len(Schedules::Name, 200))
                    .col(string_len(Schedules::Cron, 200))
                    .col(string_len(Schedules::TimeZone, 64))
                    .col(timestamp_with_time_zone_null(Schedules::StartAt))
                    .col(timestamp_with_time_zone_null(Schedules::EndAt))
                    .col(text(Schedules::Input))
                    .col(string_len(Schedules::Overlap, 16))
                    .col(string_len(Schedules::CatchUp, 16))
                    .col(big_integer(Schedules::CatchUpWindowSecs))
                    .col(boolean(Schedules::Paused))
                    .col(timestamp_with_time_zone_null(Schedules::NextFireAt))
                    .col(uuid_null(Schedules::CreatedBy))
                    .col(timestamp_with_time_zone(Schedules::CreatedAt))
                    .col(timestamp_with_time_zone(Schedules::UpdatedAt))
                    .foreign_key(&mut owned_by(
                        Schedules::Table,
                        "fk_schedules_project",
                        Schedules::ProjectId,
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut owned_by(
                        Schedules::Table,
                        "fk_schedules_workflow",
                        Schedules::WorkflowId,
                        (Workflows::Table, Workflows::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // The scheduler's one query: due schedules by next fire time (paused ones have none).
        manager
            .create_index(
                Index::create()
                    .name("idx_schedules_next_fire")
                    .table(Schedules::Table)
                    .col(Schedules::NextFireAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedules_workflow")
                    .table(Schedules::Table)
                    .col(Schedules::WorkflowId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(pk_uuid(Webhooks::Id))
                    .col(uuid(Webhooks::ProjectId))
                    .col(uuid(Webhooks::WorkflowId))
                    .col(string_len(Webhooks::Name, 200))
                    .col(string_len(Webhooks::Auth, 16))
                    .col(text(Webhooks::Ciphertext))
                    .col(string_len(Webhooks::Hint, 16))
                    .col(string_len(Webhooks::Mode, 16))
                    .col(big_integer(Webhooks::SyncTimeoutMs))
                    .col(big_integer(Webhooks::MaxBodyBytes))
                    .col(big_integer(Webhooks::RatePerMinute))
                    .col(uuid_null(Webhooks::CreatedBy))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                    .foreign_key(&mut owned_by(
                        Webhooks::Table,
                        "fk_webhooks_project",
                        Webhooks::ProjectId,
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut owned_by(
                        Webhooks::Table,
                        "fk_webhooks_workflow",
                        Webhooks::WorkflowId,
                        (Workflows::Table, Workflows::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhooks_workflow")
                    .table(Webhooks::Table)
                    .col(Webhooks::WorkflowId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventTriggers::Table)
                    .col(pk_uuid(EventTriggers::Id))
                    .col(uuid(EventTriggers::ProjectId))
                    .col(uuid(EventTriggers::WorkflowId))
                    .col(uuid(EventTriggers::SourceWorkflowId))
                    .col(string_len(EventTriggers::On, 16))
                    .col(text(EventTriggers::Input))
                    .col(uuid_null(EventTriggers::CreatedBy))
                    .col(timestamp_with_time_zone(EventTriggers::CreatedAt))
                    .foreign_key(&mut owned_by(
                        EventTriggers::Table,
                        "fk_event_triggers_project",
                        EventTriggers::ProjectId,
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut owned_by(
                        EventTriggers::Table,
                        "fk_event_triggers_workflow",
                        EventTriggers::WorkflowId,
                        (Workflows::Table, Workflows::Id),
                    ))
                    .foreign_key(&mut owned_by(
                        EventTriggers::Table,
                        "fk_event_triggers_source",
                        EventTriggers::SourceWorkflowId,
                        (Workflows::Table, Workflows::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_triggers_source")
                    .table(EventTriggers::Table)
                    .col(EventTriggers::SourceWorkflowId)
                    .to_owned(),
            )
            .await?;
        // Fire records: no foreign keys (a fire is claimed in the transaction that creates its
        // run, before the run row is written; a trigger's fires go with it in one transaction).
        manager
            .create_table(
                Table::create()
                    .table(TriggerFires::Table)
                    .col(pk_uuid(TriggerFires::Id))
                    .col(uuid(TriggerFires::TriggerId))
                    .col(string_len(TriggerFires::FireKey, 64))
                    .col(timestamp_with_time_zone(TriggerFires::FireAt))
                    .col(string_len(TriggerFires::Status, 16))
                    .col(uuid_null(TriggerFires::RunId))
                    .col(timestamp_with_time_zone(TriggerFires::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_trigger_fires_key")
                    .table(TriggerFires::Table)
                    .col(TriggerFires::TriggerId)
                    .col(TriggerFires::FireKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_trigger_fires_run")
                    .table(TriggerFires::Table)
                    .col(TriggerFires::RunId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TriggerFires::Table.into_iden(),
            EventTriggers::Table.into_iden(),
            Webhooks::Table.into_iden(),
            Schedules::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
