//! Invitations to join a project.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use weft_core::{InvitationId, ProjectId, ProjectRole, UserId};

use crate::Store;
use crate::entities::{project_invitations, project_members, projects, users};
use crate::error::{Context, StoreError};
use crate::records::{Invitation, InvitationStatus, ProjectMembership};
use crate::repos::projects::{parse_role, project_from_row};

/// What is needed to invite someone.
#[derive(Clone, Debug)]
pub struct NewInvitation {
    /// The project.
    pub project_id: ProjectId,
    /// Normalised e-mail address.
    pub email: String,
    /// Role granted on acceptance (EDITOR or VIEWER).
    pub role: ProjectRole,
    /// Who invites.
    pub invited_by: UserId,
    /// When it stops being acceptable.
    pub expires_at: DateTime<Utc>,
}

/// Why an invitation could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteRefusal {
    /// The address belongs to a member already.
    AlreadyMember,
    /// A pending, unexpired invitation for the address exists.
    AlreadyInvited,
}

/// The outcome of answering an invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvitationAnswer {
    /// Joined; here is the project with the new role.
    Accepted(ProjectMembership),
    /// Declined.
    Declined,
    /// No pending, unexpired invitation with that id for this user.
    NotFound,
}

fn invitation_from_row(
    row: project_invitations::Model,
    project_name: String,
) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        id: InvitationId(row.id),
        project_id: ProjectId(row.project_id),
        project_name,
        email: row.email,
        role: parse_role(&row.role)?,
        invited_by: UserId(row.invited_by),
        status: InvitationStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown invitation status {:?}", row.status)))?,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

impl Store {
    async fn with_project_names(
        &self,
        rows: Vec<project_invitations::Model>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let names: HashMap<uuid::Uuid, String> = projects::Entity::find()
            .filter(projects::Column::Id.is_in(rows.iter().map(|r| r.project_id)))
            .all(&self.read)
            .await
            .context("failed to load project names")?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        rows.into_iter()
            .map(|row| {
                let name = names.get(&row.project_id).cloned().unwrap_or_default();
                invitation_from_row(row, name)
            })
            .collect()
    }

    /// Creates a pending invitation, refusing members and addresses already invited.
    pub async fn create_invitation(
        &self,
        new: NewInvitation,
        now: DateTime<Utc>,
    ) -> Result<Result<Invitation, InviteRefusal>, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        if let Some(user) = users::Entity::find()
            .filter(users::Column::Email.eq(&new.email))
            .one(&txn)
            .await
            .context("failed to look up invitee")?
        {
            let member = project_members::Entity::find_by_id((new.project_id.0, user.id))
                .one(&txn)
                .await
                .context("failed to look up membership")?;
            if member.is_some() {
                return Ok(Err(InviteRefusal::AlreadyMember));
            }
        }
        let pending = project_invitations::Entity::find()
            .filter(project_invitations::Column::ProjectId.eq(new.project_id.0))
            .filter(project_invitations::Column::Email.eq(&new.email))
            .filter(project_invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
            .filter(project_invitations::Column::ExpiresAt.gt(now))
            .one(&txn)
            .await
            .context("failed to look up invitations")?;
        if pending.is_some() {
            return Ok(Err(InviteRefusal::AlreadyInvited));
        }
        let row = project_invitations::ActiveModel {
            id: Set(InvitationId::new().0),
            project_id: Set(new.project_id.0),
            email: Set(new.email),
            role: Set(new.role.as_str().to_owned()),
            invited_by: Set(new.invited_by.0),
            status: Set(InvitationStatus::Pending.as_str().to_owned()),
            created_at: Set(now),
            expires_at: Set(new.expires_at),
            responded_at: Set(None),
        }
        .insert(&txn)
        .await
        .context("failed to insert invitation")?;
        txn.commit().await.context("failed to commit invitation")?;
        let mut invitations = self.with_project_names(vec![row]).await?;
        invitations.pop().map(Ok).ok_or_else(|| StoreError::Corrupt("invitation vanished".to_owned()))
    }

    /// Pending, unexpired invitations matching `condition`, newest first.
    async fn pending_invitations(
        &self,
        condition: sea_orm::sea_query::SimpleExpr,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let rows = project_invitations::Entity::find()
            .filter(condition)
            .filter(project_invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
            .filter(project_invitations::Column::ExpiresAt.gt(now))
            .order_by_desc(project_invitations::Column::CreatedAt)
            .all(&self.read)
            .await
            .context("failed to list invitations")?;
        self.with_project_names(rows).await
    }

    /// Pending, unexpired invitations of a project.
    pub async fn project_invitations(
        &self,
        project: ProjectId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.pending_invitations(project_invitations::Column::ProjectId.eq(project.0), now).await
    }

    /// Pending, unexpired invitations addressed to an e-mail address.
    pub async fn invitations_for_email(
        &self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.pending_invitations(project_invitations::Column::Email.eq(email), now).await
    }

    /// Accepts or declines an invitation addressed to `user`'s e-mail. Accepting adds the
    /// membership in the same transaction.
    pub async fn answer_invitation(
        &self,
        invitation: InvitationId,
        user: UserId,
        email: &str,
        accept: bool,
        now: DateTime<Utc>,
    ) -> Result<InvitationAnswer, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let status = if accept { InvitationStatus::Accepted } else { InvitationStatus::Declined };
        let claimed = project_invitations::Entity::update_many()
            .col_expr(project_invitations::Column::Status, Expr::value(status.as_str()))
            .col_expr(project_invitations::Column::RespondedAt, Expr::value(now))
            .filter(project_invitations::Column::Id.eq(invitation.0))
            .filter(project_invitations::Column::Email.eq(email))
            .filter(project_invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
            .filter(project_invitations::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await
            .context("failed to answer invitation")?;
        if claimed.rows_affected != 1 {
            return Ok(InvitationAnswer::NotFound);
        }
        if !accept {
            txn.commit().await.context("failed to commit invitation answer")?;
            return Ok(InvitationAnswer::Declined);
        }
        let Some(row) = project_invitations::Entity::find_by_id(invitation.0)
            .one(&txn)
            .await
            .context("failed to load invitation")?
        else {
            return Ok(InvitationAnswer::NotFound);
        };
        let role = parse_role(&row.role)?;
        let existing = project_members::Entity::find_by_id((row.project_id, user.0))
            .one(&txn)
            .await
            .context("failed to look up membership")?;
        let role = match existing {
            Some(member) => parse_role(&member.role)?,
            None => {
                project_members::ActiveModel {
                    project_id: Set(row.project_id),
                    user_id: Set(user.0),
                    role: Set(role.as_str().to_owned()),
                    created_at: Set(now),
                }
                .insert(&txn)
                .await
                .context("failed to add member")?;
                role
            }
        };
        let Some(project) =
            projects::Entity::find_by_id(row.project_id).one(&txn).await.context("failed to load project")?
        else {
            return Ok(InvitationAnswer::NotFound);
        };
        txn.commit().await.context("failed to commit invitation answer")?;
        Ok(InvitationAnswer::Accepted(ProjectMembership { project: project_from_row(project), role }))
    }

    /// Withdraws a pending invitation of the project.
    pub async fn revoke_invitation(
        &self,
        project: ProjectId,
        invitation: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = project_invitations::Entity::update_many()
            .col_expr(project_invitations::Column::Status, Expr::value(InvitationStatus::Revoked.as_str()))
            .col_expr(project_invitations::Column::RespondedAt, Expr::value(now))
            .filter(project_invitations::Column::Id.eq(invitation.0))
            .filter(project_invitations::Column::ProjectId.eq(project.0))
            .filter(project_invitations::Column::Status.eq(InvitationStatus::Pending.as_str()))
            .exec(&self.write)
            .await
            .context("failed to revoke invitation")?;
        Ok(result.rows_affected == 1)
    }
}
