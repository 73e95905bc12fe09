//! Params and results of the `project` router.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::{InvitationId, ProjectId, ProjectRole, UserId};

/// Params of `project.create`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateProjectParams {
    /// 1 to 200 characters.
    pub name: String,
    /// Free text, up to 10,000 characters.
    #[serde(default)]
    #[ts(optional)]
    pub description: Option<String>,
}

/// Params of `project.list`.
#[derive(Debug, Default, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListProjectsParams {
    /// Case-insensitive substring of the name; at most 200 characters.
    #[serde(default)]
    #[ts(optional)]
    pub search: Option<String>,
    /// Include archived projects.
    #[serde(default)]
    #[ts(optional)]
    pub include_archived: Option<bool>,
    /// The previous page's `nextCursor` (absent or `null`: the first page).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

/// Params naming one project.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProjectRef {
    /// The project.
    pub project_id: ProjectId,
}

/// Params of `project.update`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateProjectParams {
    /// The project.
    pub project_id: ProjectId,
    /// New name.
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    #[ts(optional)]
    pub description: Option<String>,
}

/// A project as its members see it.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Identifier.
    pub id: ProjectId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// When it was archived; `null` when active.
    pub archived_at: Option<DateTime<Utc>>,
    /// The caller's role.
    pub my_role: ProjectRole,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<weft_store::ProjectMembership> for Project {
    fn from(m: weft_store::ProjectMembership) -> Self {
        Self {
            id: m.project.id,
            name: m.project.name,
            description: m.project.description,
            archived_at: m.project.archived_at,
            my_role: m.role,
            created_at: m.project.created_at,
            updated_at: m.project.updated_at,
        }
    }
}

/// A page of projects.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPage {
    /// Newest first.
    pub items: Vec<Project>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Result of `project.delete` and `project.leave`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectIdResult {
    /// The project.
    pub project_id: ProjectId,
}

/// One member.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The account.
    pub user_id: UserId,
    /// Its e-mail address.
    pub email: String,
    /// Its display name.
    pub display_name: String,
    /// Role in the project.
    pub role: ProjectRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

impl From<weft_store::Member> for Member {
    fn from(m: weft_store::Member) -> Self {
        Self {
            user_id: m.user_id,
            email: m.email,
            display_name: m.display_name,
            role: m.role,
            joined_at: m.joined_at,
        }
    }
}

/// Result of `project.members` and of membership changes.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    /// Owner first, then by join time.
    pub items: Vec<Member>,
}

/// Params of `project.invite`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InviteParams {
    /// The project.
    pub project_id: ProjectId,
    /// Address of the person to invite; they accept after registering or logging in with it.
    pub email: String,
    /// EDITOR or VIEWER (ownership moves with `project.transferOwnership`).
    pub role: ProjectRole,
}

/// An invitation.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    /// Identifier.
    pub id: InvitationId,
    /// The project.
    pub project_id: ProjectId,
    /// Its name.
    pub project_name: String,
    /// The invitee's address.
    pub email: String,
    /// Role granted on acceptance.
    pub role: ProjectRole,
    /// Who invited.
    pub invited_by: UserId,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

impl From<weft_store::Invitation> for Invitation {
    fn from(i: weft_store::Invitation) -> Self {
        Self {
            id: i.id,
            project_id: i.project_id,
            project_name: i.project_name,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// A list of invitations.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationList {
    /// Newest first.
    pub items: Vec<Invitation>,
}

/// Params naming an invitation addressed to the caller.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InvitationRef {
    /// The invitation.
    pub invitation_id: InvitationId,
}

/// Params of `project.revokeInvitation`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevokeInvitationParams {
    /// The project.
    pub project_id: ProjectId,
    /// The invitation.
    pub invitation_id: InvitationId,
}

/// Result of answering or revoking an invitation.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationIdResult {
    /// The invitation.
    pub invitation_id: InvitationId,
}

/// Params naming a member of a project.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemberRef {
    /// The project.
    pub project_id: ProjectId,
    /// The member.
    pub user_id: UserId,
}

/// Params of `project.setMemberRole`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetMemberRoleParams {
    /// The project.
    pub project_id: ProjectId,
    /// The member.
    pub user_id: UserId,
    /// EDITOR or VIEWER.
    pub role: ProjectRole,
}
