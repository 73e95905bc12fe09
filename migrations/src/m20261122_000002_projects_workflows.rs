//! Projects with their members and invitations; workflows with their tags and immutable
//! versions.

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
enum Projects {
    Table,
    Id,
    Name,
    Description,
    ArchivedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectInvitations {
    Table,
    Id,
    ProjectId,
    Email,
    Role,
    InvitedBy,
    Status,
    CreatedAt,
    ExpiresAt,
    RespondedAt,
}

#[derive(DeriveIden)]
enum Workflows {
    Table,
    Id,
    ProjectId,
    Name,
    Description,
    CurrentVersion,
    PublishedVersion,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WorkflowTags {
    Table,
    WorkflowId,
    Tag,
}

#[derive(DeriveIden)]
enum WorkflowVersions {
    Table,
    WorkflowId,
    Version,
    Graph,
    AuthorId,
    Message,
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
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(pk_uuid(Projects::Id))
                    .col(string_len(Projects::Name, 200))
                    .col(text(Projects::Description))
                    .col(timestamp_with_time_zone_null(Projects::ArchivedAt))
                    .col(timestamp_with_time_zone(Projects::CreatedAt))
                    .col(timestamp_with_time_zone(Projects::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .col(uuid(ProjectMembers::ProjectId))
                    .col(uuid(ProjectMembers::UserId))
                    .col(string_len(ProjectMembers::Role, 16))
                    .col(timestamp_with_time_zone(ProjectMembers::CreatedAt))
                    .primary_key(Index::create().col(ProjectMembers::ProjectId).col(ProjectMembers::UserId))
                    .foreign_key(&mut cascade(
                        "fk_members_project",
                        (ProjectMembers::Table, ProjectMembers::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_members_user",
                        (ProjectMembers::Table, ProjectMembers::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_members_user")
                    .table(ProjectMembers::Table)
                    .col(ProjectMembers::UserId)
                    .to_owned(),
            )
            .await?;
        // Exactly one owner per project: at most one by this index, at least one by the
        // repositories (ownership only moves inside a transaction).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_members_one_owner ON project_members (project_id) WHERE role = 'OWNER'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProjectInvitations::Table)
                    .col(pk_uuid(ProjectInvitations::Id))
                    .col(uuid(ProjectInvitations::ProjectId))
                    .col(string_len(ProjectInvitations::Email, 254))
                    .col(string_len(ProjectInvitations::Role, 16))
                    .col(uuid(ProjectInvitations::InvitedBy))
                    .col(string_len(ProjectInvitations::Status, 16))
                    .col(timestamp_with_time_zone(ProjectInvitations::CreatedAt))
                    .col(timestamp_with_time_zone(ProjectInvitations::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ProjectInvitations::RespondedAt))
                    .foreign_key(&mut cascade(
                        "fk_invitations_project",
                        (ProjectInvitations::Table, ProjectInvitations::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invitations_email")
                    .table(ProjectInvitations::Table)
                    .col(ProjectInvitations::Email)
                    .col(ProjectInvitations::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invitations_project")
                    .table(ProjectInvitations::Table)
                    .col(ProjectInvitations::ProjectId)
                    .col(ProjectInvitations::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Workflows::Table)
                    .col(pk_uuid(Workflows::Id))
                    .col(uuid(Workflows::ProjectId))
                    .col(string_len(Workflows::Name, 200))
                    .col(text(Workflows::Description))
                    .col(integer(Workflows::CurrentVersion))
                    .col(integer_null(Workflows::PublishedVersion))
                    .col(uuid(Workflows::CreatedBy))
                    .col(timestamp_with_time_zone(Workflows::CreatedAt))
                    .col(timestamp_with_time_zone(Workflows::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_workflows_project",
                        (Workflows::Table, Workflows::ProjectId),
                        (Projects::Table, Projects::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workflows_project")
                    .table(Workflows::Table)
                    .col(Workflows::ProjectId)
                    .col(Workflows::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WorkflowTags::Table)
                    .col(uuid(WorkflowTags::WorkflowId))
                    .col(string_len(WorkflowTags::Tag, 64))
                    .primary_key(Index::create().col(WorkflowTags::WorkflowId).col(WorkflowTags::Tag))
                    .foreign_key(&mut cascade(
                        "fk_tags_workflow",
                        (WorkflowTags::Table, WorkflowTags::WorkflowId),
                        (Workflows::Table, Workflows::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tags_tag")
                    .table(WorkflowTags::Table)
                    .col(WorkflowTags::Tag)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WorkflowVersions::Table)
                    .col(uuid(WorkflowVersions::WorkflowId))
                    .col(integer(WorkflowVersions::Version))
                    .col(text(WorkflowVersions::Graph))
                    .col(uuid(WorkflowVersions::AuthorId))
                    .col(string_len(WorkflowVersions::Message, 500))
                    .col(timestamp_with_time_zone(WorkflowVersions::CreatedAt))
                    .primary_key(
                        Index::create().col(WorkflowVersions::WorkflowId).col(WorkflowVersions::Version),
                    )
                    .foreign_key(&mut cascade(
                        "fk_versions_workflow",
                        (WorkflowVersions::Table, WorkflowVersions::WorkflowId),
                        (Workflows::Table, Workflows::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WorkflowVersions::Table.into_iden(),
            WorkflowTags::Table.into_iden(),
            Workflows::Table.into_iden(),
            ProjectInvitations::Table.into_iden(),
            ProjectMembers::Table.into_iden(),
            Projects::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
