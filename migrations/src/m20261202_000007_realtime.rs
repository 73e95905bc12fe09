//! Realtime: the event log (every durable event with a monotonically increasing id, for
//! resuming streams and cross-instance delivery), its pruning watermark, editors' presence
//! on workflows and comments on nodes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Workflows {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EventLog {
    Table,
    Id,
    At,
    Kind,
    UserId,
    ProjectId,
    WorkflowId,
    RunId,
    Data,
}

#[derive(DeriveIden)]
enum EventLogState {
    Table,
    Id,
    PrunedThrough,
}

#[derive(DeriveIden)]
enum CollabPresence {
    Table,
    ClientId,
    WorkflowId,
    ProjectId,
    UserId,
    Cursor,
    Selection,
    JoinedAt,
    SeenAt,
}

#[derive(DeriveIden)]
enum WorkflowComments {
    Table,
    Id,
    WorkflowId,
    NodeId,
    ParentId,
    AuthorId,
    Body,
    ResolvedAt,
    ResolvedBy,
    CreatedAt,
}

fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
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
        // Ids never restart (SQLite AUTOINCREMENT, a PostgreSQL sequence), also once pruning
        // has emptied the table: a client's Last-Event-ID stays meaningful.
        manager
            .create_table(
                Table::create()
                    .table(EventLog::Table)
                    .col(ColumnDef::new(EventLog::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(timestamp_with_time_zone(EventLog::At))
                    .col(string_len(EventLog::Kind, 48))
                    .col(uuid_null(EventLog::UserId))
                    .col(uuid_null(EventLog::ProjectId))
                    .col(uuid_null(EventLog::WorkflowId))
                    .col(uuid_null(EventLog::RunId))
                    .col(text(EventLog::Data))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_event_log_at").table(EventLog::Table).col(EventLog::At).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventLogState::Table)
                    .col(integer(EventLogState::Id).primary_key())
                    .col(big_integer(EventLogState::PrunedThrough))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(EventLogState::Table)
                    .columns([EventLogState::Id, EventLogState::PrunedThrough])
                    .values([1.into(), 0i64.into()])
                    .map_err(|e| DbErr::Custom(e.to_string()))?
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CollabPresence::Table)
                    .col(pk_uuid(CollabPresence::ClientId))
                    .col(uuid(CollabPresence::WorkflowId))
                    .col(uuid(CollabPresence::ProjectId))
                    .col(uuid(CollabPresence::UserId))
                    .col(text_null(CollabPresence::Cursor))
                    .col(text(CollabPresence::Selection))
                    .col(timestamp_with_time_zone(CollabPresence::JoinedAt))
                    .col(timestamp_with_time_zone(CollabPresence::SeenAt))
                    .foreign_key(&mut cascade(
                        "fk_collab_presence_workflow",
                        (CollabPresence::Table, CollabPresence::WorkflowId),
                        (Workflows::Table, Workflows::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_collab_presence_user",
                        (CollabPresence::Table, CollabPresence::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_collab_presence_workflow")
                    .table(CollabPresence::Table)
                    .col(CollabPresence::WorkflowId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_collab_presence_seen")
                    .table(CollabPresence::Table)
                    .col(CollabPresence::SeenAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkflowComments::Table)
                    .col(pk_uuid(WorkflowComments::Id))
                    .col(uuid(WorkflowComments::WorkflowId))
                    .col(string_len(WorkflowComments::NodeId, 128))
                    .col(uuid_null(WorkflowComments::ParentId))
                    .col(uuid(WorkflowComments::AuthorId))
                    .col(text(WorkflowComments::Body))
                    .col(timestamp_with_time_zone_null(WorkflowComments::ResolvedAt))
                    .col(uuid_null(WorkflowComments::ResolvedBy))
                    .col(timestamp_with_time_zone(WorkflowComments::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_workflow_comments_workflow",
                        (WorkflowComments::Table, WorkflowComments::WorkflowId),
                        (Workflows::Table, Workflows::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_workflow_comments_author",
                        (WorkflowComments::Table, WorkflowComments::AuthorId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_workflow_comments_parent",
                        (WorkflowComments::Table, WorkflowComments::ParentId),
                        (WorkflowComments::Table, WorkflowComments::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workflow_comments_workflow")
                    .table(WorkflowComments::Table)
                    .col(WorkflowComments::WorkflowId)
                    .col(WorkflowComments::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WorkflowComments::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CollabPresence::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(EventLogState::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(EventLog::Table).to_owned()).await
    }
}
