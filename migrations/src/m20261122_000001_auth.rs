//! Accounts, login sessions, rotating refresh tokens, single-use stream tickets and the
//! security audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    RevokedReason,
    UserAgent,
    IpAddress,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum StreamTickets {
    Table,
    Id,
    SessionId,
    TicketHash,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    Kind,
    UserId,
    Subject,
    IpAddress,
    Detail,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        // SQLite supports transactional DDL too: a failed migration leaves nothing behind.
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_len_uniq(Users::Email, 254))
                    .col(string_len(Users::DisplayName, 100))
                    .col(text(Users::PasswordHash))
                    .col(string_len(Users::Role, 16))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastUsedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::RevokedReason, 64))
                    .col(string_len_null(Sessions::UserAgent, 512))
                    .col(string_len_null(Sessions::IpAddress, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::SessionId))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_session")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_session")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StreamTickets::Table)
                    .col(pk_uuid(StreamTickets::Id))
                    .col(uuid(StreamTickets::SessionId))
                    .col(string_len_uniq(StreamTickets::TicketHash, 64))
                    .col(timestamp_with_time_zone(StreamTickets::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_stream_tickets_session")
                            .from(StreamTickets::Table, StreamTickets::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(string_len(AuditEvents::Kind, 64))
                    .col(uuid_null(AuditEvents::UserId))
                    .col(string_len_null(AuditEvents::Subject, 254))
                    .col(string_len_null(AuditEvents::IpAddress, 64))
                    .col(json(AuditEvents::Detail))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_audit_kind_subject_time", AuditEvents::Subject),
            ("idx_audit_kind_ip_time", AuditEvents::IpAddress),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(AuditEvents::Kind)
                        .col(column)
                        .col(AuditEvents::CreatedAt)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_user_time")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::UserId)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            StreamTickets::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
