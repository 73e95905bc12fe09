//! Editors' presence is keyed by the user and the client id together: a client id is chosen
//! by the browser tab, so one user's id must never collide with (or reveal) another's. The
//! table holds only live editors (30 s without a heartbeat and they are gone), so it is
//! rebuilt rather than copied.

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

/// The presence table, keyed by the client id alone (`per_user == false`, as migration 7
/// made it) or by user and client id.
fn presence_table(per_user: bool) -> TableCreateStatement {
    let mut table = Table::create();
    table.table(CollabPresence::Table);
    if per_user {
        table
            .col(uuid(CollabPresence::ClientId))
            .col(uuid(CollabPresence::UserId))
            .primary_key(Index::create().col(CollabPresence::UserId).col(CollabPresence::ClientId));
    } else {
        table.col(pk_uuid(CollabPresence::ClientId)).col(uuid(CollabPresence::UserId));
    }
    table
        .col(uuid(CollabPresence::WorkflowId))
        .col(uuid(CollabPresence::ProjectId))
        .col(text_null(CollabPresence::Cursor))
        .col(text(CollabPresence::Selection))
        .col(timestamp_with_time_zone(CollabPresence::JoinedAt))
        .col(timestamp_with_time_zone(CollabPresence::SeenAt))
        .foreign_key(
            ForeignKey::create()
                .name("fk_collab_presence_workflow")
                .from(CollabPresence::Table, CollabPresence::WorkflowId)
                .to(Workflows::Table, Workflows::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_collab_presence_user")
                .from(CollabPresence::Table, CollabPresence::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

async fn rebuild(manager: &SchemaManager<'_>, per_user: bool) -> Result<(), DbErr> {
    manager.drop_table(Table::drop().table(CollabPresence::Table).to_owned()).await?;
    manager.create_table(presence_table(per_user)).await?;
    for (name, column) in [
        ("idx_collab_presence_workflow", CollabPresence::WorkflowId),
        ("idx_collab_presence_seen", CollabPresence::SeenAt),
    ] {
        manager
            .create_index(Index::create().name(name).table(CollabPresence::Table).col(column).to_owned())
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, false).await
    }
}
