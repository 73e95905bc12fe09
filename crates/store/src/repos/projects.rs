//! Projects and their members.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use weft_core::{ProjectId, ProjectRole, UserId};

use crate::Store;
use crate::entities::{project_members, projects, users};
use crate::error::{Context, StoreError};
use crate::records::{Member, Page, Project, ProjectMembership};

/// Filters of [`Store::list_projects`].
#[derive(Clone, Debug, Default)]
pub struct ProjectQuery {
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
    /// Include archived projects.
    pub include_archived: bool,
    /// Cursor: the last id of the previous page.
    pub after: Option<uuid::Uuid>,
    /// Page size.
    pub limit: u64,
}

/// What a membership change led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// Done.
    Done,
    /// The user is not a member.
    NotMember,
    /// The change would leave the project without exactly one owner.
    OwnerRequired,
}

pub(crate) fn project_from_row(row: projects::Model) -> Project {
    Project {
        id: ProjectId(row.id),
        name: row.name,
        description: row.description,
        archived_at: row.archived_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(crate) fn parse_role(value: &str) -> Result<ProjectRole, StoreError> {
    ProjectRole::parse(value).ok_or_else(|| StoreError::Corrupt(format!("unknown project role {value:?}")))
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub(crate) fn like_contains(text: &str) -> LikeExpr {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
        .collect();
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

impl Store {
    /// Creates a project owned by `owner`, in one transaction with the owner's membership.
    pub async fn create_project(
        &self,
        owner: UserId,
        name: String,
        description: String,
        now: DateTime<Utc>,
    ) -> Result<Project, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let row = projects::ActiveModel {
            id: Set(ProjectId::new().0),
            name: Set(name),
            description: Set(description),
            archived_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .context("failed to insert project")?;
        project_members::ActiveModel {
            project_id: Set(row.id),
            user_id: Set(owner.0),
            role: Set(ProjectRole::Owner.as_str().to_owned()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .context("failed to insert owner")?;
        txn.commit().await.context("failed to commit project")?;
        Ok(project_from_row(row))
    }

    /// The user's role in the project, `None` when not a member (or no such project).
    pub async fn project_role(
        &self,
        project: ProjectId,
        user: UserId,
    ) -> Result<Option<ProjectRole>, StoreError> {
        project_members::Entity::find_by_id((project.0, user.0))
            .one(&self.read)
            .await
            .context("failed to look up membership")?
            .map(|m| parse_role(&m.role))
            .transpose()
    }

    /// Every member of the project.
    pub async fn project_member_ids(&self, project: ProjectId) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<uuid::Uuid> = project_members::Entity::find()
            .select_only()
            .column(project_members::Column::UserId)
            .filter(project_members::Column::ProjectId.eq(project.0))
            .into_tuple()
            .all(&self.read)
            .await
            .context("failed to list members")?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    /// Every project the user is a member of.
    pub async fn member_project_ids(&self, user: UserId) -> Result<Vec<ProjectId>, StoreError> {
        let ids: Vec<uuid::Uuid> = project_members::Entity::find()
            .select_only()
            .column(project_members::Column::ProjectId)
            .filter(project_members::Column::UserId.eq(user.0))
            .into_tuple()
            .all(&self.read)
            .await
            .context("failed to list memberships")?;
        Ok(ids.into_iter().map(ProjectId).collect())
    }

    /// The project and the user's role in it, if the user is a member.
    pub async fn project_for_member(
        &self,
        project: ProjectId,
        user: UserId,
    ) -> Result<Option<ProjectMembership>, StoreError> {
        let Some(role) = self.project_role(project, user).await? else { return Ok(None) };
        let row = projects::Entity::find_by_id(project.0)
            .one(&self.read)
            .await
            .context("failed to load project")?;
        Ok(row.map(|row| ProjectMembership { project: project_from_row(row), role }))
    }

    /// The user's projects, newest first, one page at a time.
    pub async fn list_projects(
        &self,
        user: UserId,
        query: ProjectQuery,
    ) -> Result<Page<ProjectMembership>, StoreError> {
        let member_of = Query::select()
            .column(project_members::Column::ProjectId)
            .from(project_members::Entity)
            .and_where(project_members::Column::UserId.eq(user.0))
            .to_owned();
        let mut find = projects::Entity::find().filter(projects::Column::Id.in_subquery(member_of));
        if !query.include_archived {
            find = find.filter(projects::Column::ArchivedAt.is_null());
        }
        if let Some(search) = query.search.as_deref().filter(|s| !s.trim().is_empty()) {
            find = find.filter(
                Expr::expr(Func::lower(Expr::col(projects::Column::Name))).like(like_contains(search.trim())),
            );
        }
        if let Some(after) = query.after {
            find = find.filter(projects::Column::Id.lt(after));
        }
        let limit = Ord::max(query.limit, 1);
        let rows = find
            .order_by_desc(projects::Column::Id)
            .limit(limit + 1)
            .all(&self.read)
            .await
            .context("failed to list projects")?;
        let (rows, next_cursor) = crate::repos::split_page(rows, limit, |r| r.id);
        let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
        let roles: HashMap<uuid::Uuid, String> = project_members::Entity::find()
            .filter(project_members::Column::UserId.eq(user.0))
            .filter(project_members::Column::ProjectId.is_in(ids))
            .all(&self.read)
            .await
            .context("failed to load memberships")?
            .into_iter()
            .map(|m| (m.project_id, m.role))
            .collect();
        let items = rows
            .into_iter()
            .map(|row| {
                let role = parse_role(roles.get(&row.id).map(String::as_str).unwrap_or_default())?;
                Ok(ProjectMembership { project: project_from_row(row), role })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Page { items, next_cursor })
    }

    /// Changes name and/or description.
    pub async fn update_project(
        &self,
        project: ProjectId,
        name: Option<String>,
        description: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Option<Project>, StoreError> {
        let Some(row) = projects::Entity::find_by_id(project.0)
            .one(&self.write)
            .await
            .context("failed to load project")?
        else {
            return Ok(None);
        };
        let mut row: projects::ActiveModel = row.into();
        if let Some(name) = name {
            row.name = Set(name);
        }
        if let Some(description) = description {
            row.description = Set(description);
        }
        row.updated_at = Set(now);
        Ok(Some(project_from_row(row.update(&self.write).await.context("failed to update project")?)))
    }

    /// Archives (hides from default listings, keeps everything) or restores a project.
    pub async fn set_project_archived(
        &self,
        project: ProjectId,
        archived: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Project>, StoreError> {
        let Some(row) = projects::Entity::find_by_id(project.0)
            .one(&self.write)
            .await
            .context("failed to load project")?
        else {
            return Ok(None);
        };
        let mut row: projects::ActiveModel = row.into();
        row.archived_at = Set(archived.then_some(now));
        row.updated_at = Set(now);
        Ok(Some(project_from_row(row.update(&self.write).await.context("failed to archive project")?)))
    }

    /// Deletes a project with its members, invitations, workflows and versions.
    pub async fn delete_project(&self, project: ProjectId) -> Result<bool, StoreError> {
        let result = projects::Entity::delete_by_id(project.0)
            .exec(&self.write)
            .await
            .context("failed to delete project")?;
        Ok(result.rows_affected == 1)
    }

    /// The project's members, owner first, then by join time.
    pub async fn list_members(&self, project: ProjectId) -> Result<Vec<Member>, StoreError> {
        let members = project_members::Entity::find()
            .filter(project_members::Column::ProjectId.eq(project.0))
            .order_by_asc(project_members::Column::CreatedAt)
            .all(&self.read)
            .await
            .context("failed to list members")?;
        let users: HashMap<uuid::Uuid, users::Model> = users::Entity::find()
            .filter(users::Column::Id.is_in(members.iter().map(|m| m.user_id)))
            .all(&self.read)
            .await
            .context("failed to load members' accounts")?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut out = Vec::with_capacity(members.len());
        for member in members {
            let Some(user) = users.get(&member.user_id) else { continue };
            out.push(Member {
                user_id: UserId(member.user_id),
                email: user.email.clone(),
                display_name: user.display_name.clone(),
                role: parse_role(&member.role)?,
                joined_at: member.created_at,
            });
        }
        out.sort_by_key(|m| (m.role != ProjectRole::Owner, m.joined_at));
        Ok(out)
    }

    /// Sets a member's role to EDITOR or VIEWER. The owner's role only changes through
    /// [`Store::transfer_ownership`].
    pub async fn set_member_role(
        &self,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
    ) -> Result<MemberChange, StoreError> {
        if role == ProjectRole::Owner {
            return Ok(MemberChange::OwnerRequired);
        }
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let Some(member) = project_members::Entity::find_by_id((project.0, user.0))
            .one(&txn)
            .await
            .context("failed to load member")?
        else {
            return Ok(MemberChange::NotMember);
        };
        if parse_role(&member.role)? == ProjectRole::Owner {
            return Ok(MemberChange::OwnerRequired);
        }
        let mut member: project_members::ActiveModel = member.into();
        member.role = Set(role.as_str().to_owned());
        member.update(&txn).await.context("failed to update member")?;
        txn.commit().await.context("failed to commit member role")?;
        Ok(MemberChange::Done)
    }

    /// Removes a member; the owner cannot be removed (transfer ownership first).
    pub async fn remove_member(&self, project: ProjectId, user: UserId) -> Result<MemberChange, StoreError> {
        let result = project_members::Entity::delete_many()
            .filter(project_members::Column::ProjectId.eq(project.0))
            .filter(project_members::Column::UserId.eq(user.0))
            .filter(project_members::Column::Role.ne(ProjectRole::Owner.as_str()))
            .exec(&self.write)
            .await
            .context("failed to remove member")?;
        if result.rows_affected == 1 {
            return Ok(MemberChange::Done);
        }
        Ok(match self.project_role(project, user).await? {
            Some(_) => MemberChange::OwnerRequired,
            None => MemberChange::NotMember,
        })
    }

    /// Makes `to` (already a member) the owner and `from` an editor, in one transaction.
    pub async fn transfer_ownership(
        &self,
        project: ProjectId,
        from: UserId,
        to: UserId,
    ) -> Result<MemberChange, StoreError> {
        let txn = self.write.begin().await.context("failed to begin transaction")?;
        let target = project_members::Entity::find_by_id((project.0, to.0))
            .one(&txn)
            .await
            .context("failed to load member")?;
        if target.is_none() || from == to {
            return Ok(MemberChange::NotMember);
        }
        let demoted = project_members::Entity::update_many()
            .col_expr(project_members::Column::Role, Expr::value(ProjectRole::Editor.as_str()))
            .filter(project_members::Column::ProjectId.eq(project.0))
            .filter(project_members::Column::UserId.eq(from.0))
            .filter(project_members::Column::Role.eq(ProjectRole::Owner.as_str()))
            .exec(&txn)
            .await
            .context("failed to demote owner")?;
        if demoted.rows_affected != 1 {
            return Ok(MemberChange::OwnerRequired);
        }
        project_members::Entity::update_many()
            .col_expr(project_members::Column::Role, Expr::value(ProjectRole::Owner.as_str()))
            .filter(project_members::Column::ProjectId.eq(project.0))
            .filter(project_members::Column::UserId.eq(to.0))
            .exec(&txn)
            .await
            .context("failed to promote owner")?;
        txn.commit().await.context("failed to commit ownership transfer")?;
        Ok(MemberChange::Done)
    }
}
