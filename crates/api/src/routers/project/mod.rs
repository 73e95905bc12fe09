//! The `project` router: projects, members and invitations.

pub mod types;

use chrono::Utc;
use weft_core::credentials::normalize_email;
use weft_core::{ProjectRole, Role, ValidationErrors};
use weft_store::{InvitationAnswer, InviteRefusal, MemberChange, NewInvitation, ProjectQuery};

use crate::error::{ApiError, InternalError};
use crate::routers::auth::types::EmptyParams;
use crate::routers::common::{self, require_project};
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<Create>()
        .add::<List>()
        .add::<Get>()
        .add::<Update>()
        .add::<Archive>()
        .add::<Restore>()
        .add::<Delete>()
        .add::<Members>()
        .add::<Invite>()
        .add::<Invitations>()
        .add::<MyInvitations>()
        .add::<RevokeInvitation>()
        .add::<AcceptInvitation>()
        .add::<DeclineInvitation>()
        .add::<SetMemberRole>()
        .add::<RemoveMember>()
        .add::<Leave>()
        .add::<TransferOwnership>()
}

const MEMBER: Access = Access::Role(Role::Guest);
const CREATOR: Access = Access::Role(Role::User);

fn member_change(change: MemberChange) -> Result<(), ApiError> {
    match change {
        MemberChange::Done => Ok(()),
        MemberChange::NotMember => Err(ApiError::NotFound { resource: "member" }),
        MemberChange::OwnerRequired => Err(ApiError::Conflict {
            detail: "a project has exactly one owner: transfer ownership instead".to_owned(),
        }),
    }
}

async fn members(ctx: &CallContext, project: weft_core::ProjectId) -> Result<MemberList, ApiError> {
    let members = ctx.state.store().list_members(project).await?;
    Ok(MemberList { items: members.into_iter().map(Member::from).collect() })
}

/// `project.create`.
pub struct Create;
impl Procedure for Create {
    const NAME: &'static str = "project.create";
    const DOC: &'static str = "Creates a project; the caller becomes its OWNER.";
    const ACCESS: Access = CREATOR;
    type Params = CreateProjectParams;
    type Output = Project;

    async fn call(ctx: CallContext, params: CreateProjectParams) -> Result<Project, ApiError> {
        let caller = ctx.caller()?.clone();
        let mut errors = ValidationErrors::new();
        let name = common::name(&mut errors, "name", &params.name);
        let description = common::description(
            &mut errors,
            "description",
            params.description.as_deref().unwrap_or_default(),
        );
        errors.into_result()?;
        let project = ctx.state.store().create_project(caller.user_id, name, description, Utc::now()).await?;
        Ok(Project::from(weft_store::ProjectMembership { project, role: ProjectRole::Owner }))
    }
}

/// `project.list`.
pub struct List;
impl Procedure for List {
    const NAME: &'static str = "project.list";
    const DOC: &'static str = "The caller's projects, newest first, with cursor pagination and search by name. Archived projects only with includeArchived.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ListProjectsParams;
    type Output = ProjectPage;

    async fn call(ctx: CallContext, params: ListProjectsParams) -> Result<ProjectPage, ApiError> {
        let caller = ctx.caller()?;
        let (after, limit) = common::page(params.cursor.as_deref(), params.limit)?;
        let query = ProjectQuery {
            search: common::search("search", params.search)?,
            include_archived: params.include_archived.unwrap_or(false),
            after,
            limit,
        };
        let page = ctx.state.store().list_projects(caller.user_id, query).await?;
        Ok(ProjectPage {
            items: page.items.into_iter().map(Project::from).collect(),
            next_cursor: page.next_cursor.map(|c| c.to_string()),
        })
    }
}

/// `project.get`.
pub struct Get;
impl Procedure for Get {
    const NAME: &'static str = "project.get";
    const DOC: &'static str = "One project the caller is a member of.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ProjectRef;
    type Output = Project;

    async fn call(ctx: CallContext, params: ProjectRef) -> Result<Project, ApiError> {
        Ok(require_project(&ctx, params.project_id, ProjectRole::Viewer).await?.into())
    }
}

/// `project.update`.
pub struct Update;
impl Procedure for Update {
    const NAME: &'static str = "project.update";
    const DOC: &'static str = "Changes a project's name and/or description (EDITOR or OWNER).";
    const ACCESS: Access = MEMBER;
    type Params = UpdateProjectParams;
    type Output = Project;

    async fn call(ctx: CallContext, params: UpdateProjectParams) -> Result<Project, ApiError> {
        let membership = require_project(&ctx, params.project_id, ProjectRole::Editor).await?;
        let mut errors = ValidationErrors::new();
        let name = params.name.as_deref().map(|n| common::name(&mut errors, "name", n));
        let description =
            params.description.as_deref().map(|d| common::description(&mut errors, "description", d));
        errors.into_result()?;
        let project = ctx
            .state
            .store()
            .update_project(params.project_id, name, description, Utc::now())
            .await?
            .ok_or(ApiError::NotFound { resource: "project" })?;
        Ok(weft_store::ProjectMembership { project, role: membership.role }.into())
    }
}

async fn set_archived(ctx: CallContext, params: ProjectRef, archived: bool) -> Result<Project, ApiError> {
    let membership = require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
    let project = ctx
        .state
        .store()
        .set_project_archived(params.project_id, archived, Utc::now())
        .await?
        .ok_or(ApiError::NotFound { resource: "project" })?;
    Ok(weft_store::ProjectMembership { project, role: membership.role }.into())
}

/// `project.archive`.
pub struct Archive;
impl Procedure for Archive {
    const NAME: &'static str = "project.archive";
    const DOC: &'static str = "Archives a project (OWNER): it leaves default listings; nothing is deleted.";
    const ACCESS: Access = MEMBER;
    type Params = ProjectRef;
    type Output = Project;

    async fn call(ctx: CallContext, params: ProjectRef) -> Result<Project, ApiError> {
        set_archived(ctx, params, true).await
    }
}

/// `project.restore`.
pub struct Restore;
impl Procedure for Restore {
    const NAME: &'static str = "project.restore";
    const DOC: &'static str = "Restores an archived project (OWNER).";
    const ACCESS: Access = MEMBER;
    type Params = ProjectRef;
    type Output = Project;

    async fn call(ctx: CallContext, params: ProjectRef) -> Result<Project, ApiError> {
        set_archived(ctx, params, false).await
    }
}

/// `project.delete`.
pub struct Delete;
impl Procedure for Delete {
    const NAME: &'static str = "project.delete";
    const DOC: &'static str =
        "Deletes a project with its members, invitations, workflows and versions (OWNER).";
    const ACCESS: Access = MEMBER;
    type Params = ProjectRef;
    type Output = ProjectIdResult;

    async fn call(ctx: CallContext, params: ProjectRef) -> Result<ProjectIdResult, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
        if !ctx.state.store().delete_project(params.project_id).await? {
            return Err(ApiError::NotFound { resource: "project" });
        }
        Ok(ProjectIdResult { project_id: params.project_id })
    }
}

/// `project.members`.
pub struct Members;
impl Procedure for Members {
    const NAME: &'static str = "project.members";
    const DOC: &'static str = "The project's members with their roles.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ProjectRef;
    type Output = MemberList;

    async fn call(ctx: CallContext, params: ProjectRef) -> Result<MemberList, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Viewer).await?;
        members(&ctx, params.project_id).await
    }
}

/// `project.invite`.
pub struct Invite;
impl Procedure for Invite {
    const NAME: &'static str = "project.invite";
    const DOC: &'static str = "Invites an e-mail address as EDITOR or VIEWER (OWNER). The invitation expires after WEFT_INVITATION_TTL; the invitee accepts it with project.acceptInvitation once logged in with that address.";
    const ACCESS: Access = MEMBER;
    type Params = InviteParams;
    type Output = Invitation;

    async fn call(ctx: CallContext, params: InviteParams) -> Result<Invitation, ApiError> {
        let caller = ctx.caller()?.clone();
        require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
        let email = normalize_email("email", &params.email).map_err(ValidationErrors::single)?;
        if params.role == ProjectRole::Owner {
            return Err(ApiError::field(
                "role",
                "invalid",
                "must be EDITOR or VIEWER: ownership moves with project.transferOwnership",
            ));
        }
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(ctx.state.config().invitation_ttl)
            .map_err(|e| ApiError::Internal(InternalError::new("invitation lifetime out of range", e)))?;
        let new = NewInvitation {
            project_id: params.project_id,
            email,
            role: params.role,
            invited_by: caller.user_id,
            expires_at: now + ttl,
        };
        match ctx.state.store().create_invitation(new, now).await? {
            Ok(invitation) => {
                // An invitee who already has an account hears of it at once.
                if let Some(invitee) = ctx.state.store().find_user_by_email(&invitation.email).await? {
                    let notice = weft_engine::notify::Notice {
                        user_id: invitee.id,
                        kind: weft_events::NotificationKind::InvitationReceived,
                        title: format!("You are invited to {}", invitation.project_name),
                        body: format!("as {}", invitation.role),
                        data: serde_json::json!({ "invitationId": invitation.id, "projectId": invitation.project_id }),
                    };
                    ctx.state.engine().notify(vec![notice]).await;
                }
                Ok(invitation.into())
            }
            Err(InviteRefusal::AlreadyMember) => {
                Err(ApiError::Conflict { detail: "this address belongs to a member already".to_owned() })
            }
            Err(InviteRefusal::AlreadyInvited) => {
                Err(ApiError::Conflict { detail: "this address has a pending invitation already".to_owned() })
            }
        }
    }
}

/// `project.invitations`.
pub struct Invitations;
impl Procedure for Invitations {
    const NAME: &'static str = "project.invitations";
    const DOC: &'static str = "The project's pending invitations (OWNER).";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = ProjectRef;
    type Output = InvitationList;

    async fn call(ctx: CallContext, params: ProjectRef) -> Result<InvitationList, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
        let invitations = ctx.state.store().project_invitations(params.project_id, Utc::now()).await?;
        Ok(InvitationList { items: invitations.into_iter().map(Invitation::from).collect() })
    }
}

/// `project.myInvitations`.
pub struct MyInvitations;
impl Procedure for MyInvitations {
    const NAME: &'static str = "project.myInvitations";
    const DOC: &'static str = "Pending invitations addressed to the caller's e-mail address.";
    const ACCESS: Access = MEMBER;
    const KIND: Kind = Kind::Query;
    type Params = EmptyParams;
    type Output = InvitationList;

    async fn call(ctx: CallContext, _: EmptyParams) -> Result<InvitationList, ApiError> {
        let invitations =
            ctx.state.store().invitations_for_email(&caller_email(&ctx).await?, Utc::now()).await?;
        Ok(InvitationList { items: invitations.into_iter().map(Invitation::from).collect() })
    }
}

async fn caller_email(ctx: &CallContext) -> Result<String, ApiError> {
    let caller = ctx.caller()?;
    let user =
        ctx.state.store().find_user(caller.user_id).await?.ok_or(ApiError::NotFound { resource: "user" })?;
    Ok(user.email)
}

/// `project.revokeInvitation`.
pub struct RevokeInvitation;
impl Procedure for RevokeInvitation {
    const NAME: &'static str = "project.revokeInvitation";
    const DOC: &'static str = "Withdraws a pending invitation (OWNER).";
    const ACCESS: Access = MEMBER;
    type Params = RevokeInvitationParams;
    type Output = InvitationIdResult;

    async fn call(ctx: CallContext, params: RevokeInvitationParams) -> Result<InvitationIdResult, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
        if !ctx.state.store().revoke_invitation(params.project_id, params.invitation_id, Utc::now()).await? {
            return Err(ApiError::NotFound { resource: "invitation" });
        }
        Ok(InvitationIdResult { invitation_id: params.invitation_id })
    }
}

async fn answer(
    ctx: &CallContext,
    params: InvitationRef,
    accept: bool,
) -> Result<InvitationAnswer, ApiError> {
    let caller = ctx.caller()?.clone();
    let email = caller_email(ctx).await?;
    let answer = ctx
        .state
        .store()
        .answer_invitation(params.invitation_id, caller.user_id, &email, accept, Utc::now())
        .await?;
    if answer == InvitationAnswer::NotFound {
        return Err(ApiError::NotFound { resource: "invitation" });
    }
    Ok(answer)
}

/// `project.acceptInvitation`.
pub struct AcceptInvitation;
impl Procedure for AcceptInvitation {
    const NAME: &'static str = "project.acceptInvitation";
    const DOC: &'static str = "Accepts a pending invitation addressed to the caller's e-mail address and joins the project. Invitations addressed to others, expired, or already answered answer not-found.";
    const ACCESS: Access = MEMBER;
    type Params = InvitationRef;
    type Output = Project;

    async fn call(ctx: CallContext, params: InvitationRef) -> Result<Project, ApiError> {
        match answer(&ctx, params, true).await? {
            InvitationAnswer::Accepted(membership) => {
                let caller = ctx.caller()?;
                let joined = ctx.state.store().find_user(caller.user_id).await?;
                let who = joined.map_or_else(|| "Someone".to_owned(), |u| u.display_name);
                let owners = ctx.state.store().list_members(membership.project.id).await?;
                let notices = owners
                    .into_iter()
                    .filter(|m| m.role == ProjectRole::Owner && m.user_id != caller.user_id)
                    .map(|owner| weft_engine::notify::Notice {
                        user_id: owner.user_id,
                        kind: weft_events::NotificationKind::MemberJoined,
                        title: format!("{who} joined {}", membership.project.name),
                        body: format!("as {}", membership.role),
                        data: serde_json::json!({ "projectId": membership.project.id, "userId": caller.user_id }),
                    })
                    .collect();
                ctx.state.engine().notify(notices).await;
                Ok(membership.into())
            }
            _ => Err(ApiError::NotFound { resource: "invitation" }),
        }
    }
}

/// `project.declineInvitation`.
pub struct DeclineInvitation;
impl Procedure for DeclineInvitation {
    const NAME: &'static str = "project.declineInvitation";
    const DOC: &'static str = "Declines a pending invitation addressed to the caller's e-mail address.";
    const ACCESS: Access = MEMBER;
    type Params = InvitationRef;
    type Output = InvitationIdResult;

    async fn call(ctx: CallContext, params: InvitationRef) -> Result<InvitationIdResult, ApiError> {
        let invitation_id = params.invitation_id;
        answer(&ctx, params, false).await?;
        Ok(InvitationIdResult { invitation_id })
    }
}

/// `project.setMemberRole`.
pub struct SetMemberRole;
impl Procedure for SetMemberRole {
    const NAME: &'static str = "project.setMemberRole";
    const DOC: &'static str =
        "Makes a member EDITOR or VIEWER (OWNER). The owner's role changes only by transferring ownership.";
    const ACCESS: Access = MEMBER;
    type Params = SetMemberRoleParams;
    type Output = MemberList;

    async fn call(ctx: CallContext, params: SetMemberRoleParams) -> Result<MemberList, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
        if params.role == ProjectRole::Owner {
            return Err(ApiError::field(
                "role",
                "invalid",
                "must be EDITOR or VIEWER: use project.transferOwnership",
            ));
        }
        member_change(
            ctx.state.store().set_member_role(params.project_id, params.user_id, params.role).await?,
        )?;
        members(&ctx, params.project_id).await
    }
}

/// `project.removeMember`.
pub struct RemoveMember;
impl Procedure for RemoveMember {
    const NAME: &'static str = "project.removeMember";
    const DOC: &'static str = "Removes a member (OWNER). The owner cannot be removed.";
    const ACCESS: Access = MEMBER;
    type Params = MemberRef;
    type Output = MemberList;

    async fn call(ctx: CallContext, params: MemberRef) -> Result<MemberList, ApiError> {
        require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
        member_change(ctx.state.store().remove_member(params.project_id, params.user_id).await?)?;
        members(&ctx, params.project_id).await
    }
}

/// `project.leave`.
pub struct Leave;
impl Procedure for Leave {
    const NAME: &'static str = "project.leave";
    const DOC: &'static str = "Leaves a project. The owner must transfer ownership first.";
    const ACCESS: Access = MEMBER;
    type Params = ProjectRef;
    type Output = ProjectIdResult;

    async fn call(ctx: CallContext, params: ProjectRef) -> Result<ProjectIdResult, ApiError> {
        let caller = ctx.caller()?.clone();
        require_project(&ctx, params.project_id, ProjectRole::Viewer).await?;
        member_change(ctx.state.store().remove_member(params.project_id, caller.user_id).await?)?;
        Ok(ProjectIdResult { project_id: params.project_id })
    }
}

/// `project.transferOwnership`.
pub struct TransferOwnership;
impl Procedure for TransferOwnership {
    const NAME: &'static str = "project.transferOwnership";
    const DOC: &'static str = "Makes another member the owner (OWNER); the previous owner becomes an EDITOR. Atomic: the project always has exactly one owner.";
    const ACCESS: Access = MEMBER;
    type Params = MemberRef;
    type Output = MemberList;

    async fn call(ctx: CallContext, params: MemberRef) -> Result<MemberList, ApiError> {
        let caller = ctx.caller()?.clone();
        require_project(&ctx, params.project_id, ProjectRole::Owner).await?;
        member_change(
            ctx.state.store().transfer_ownership(params.project_id, caller.user_id, params.user_id).await?,
        )?;
        members(&ctx, params.project_id).await
    }
}
