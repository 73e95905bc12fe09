//! Plain records returned by the repositories. They carry domain types (ids, roles) and
//! are converted into wire types by the API layer.

use chrono::{DateTime, Utc};
use weft_core::{Role, SessionId, UserId};

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Normalised, unique e-mail address.
    pub email: String,
    /// Name shown to other people.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Account-wide role.
    pub role: Role,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What is needed to create a user.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Normalised e-mail address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Initial role.
    pub role: Role,
}

/// A login session: the family of refresh tokens issued from one login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Identifier, also carried in access tokens as `sid`.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last refresh.
    pub last_used_at: DateTime<Utc>,
    /// Absolute end of the session; refreshing never extends past it.
    pub expires_at: DateTime<Utc>,
    /// When it was ended, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was ended (`logout`, `refreshReuse`, `passwordChanged`, ...).
    pub revoked_reason: Option<String>,
    /// Client's user agent at login.
    pub user_agent: Option<String>,
    /// Client's address at login.
    pub ip_address: Option<String>,
}

impl Session {
    /// Whether the session may still be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// What is needed to open a session together with its first refresh token.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// Owner.
    pub user_id: UserId,
    /// Client's user agent.
    pub user_agent: Option<String>,
    /// Client's address.
    pub ip_address: Option<String>,
    /// Absolute end of the session.
    pub expires_at: DateTime<Utc>,
    /// SHA-256 (hex) of the first refresh token.
    pub refresh_token_hash: String,
    /// When that refresh token stops being accepted.
    pub refresh_expires_at: DateTime<Utc>,
}

/// Kinds of security events kept in the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    /// A new account.
    Registered,
    /// A successful login.
    LoginSucceeded,
    /// A failed login (unknown account or wrong password).
    LoginFailed,
    /// A login refused because of too many failures.
    LoginThrottled,
    /// A session ended by its owner.
    Logout,
    /// A used refresh token was presented again; the session was revoked.
    RefreshReuse,
    /// A password was changed.
    PasswordChanged,
    /// An administrator changed a role.
    RoleChanged,
    /// A session was revoked from the session list.
    SessionRevoked,
    /// An administrator account was created from the command line.
    AdminCreated,
}

impl AuditKind {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Registered => "registered",
            AuditKind::LoginSucceeded => "login.succeeded",
            AuditKind::LoginFailed => "login.failed",
            AuditKind::LoginThrottled => "login.throttled",
            AuditKind::Logout => "logout",
            AuditKind::RefreshReuse => "refresh.reuse",
            AuditKind::PasswordChanged => "password.changed",
            AuditKind::RoleChanged => "role.changed",
            AuditKind::SessionRevoked => "session.revoked",
            AuditKind::AdminCreated => "admin.created",
        }
    }
}

/// One audit log entry to record.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// What happened.
    pub kind: AuditKind,
    /// The account concerned, when known.
    pub user_id: Option<UserId>,
    /// The name the actor used (normalised e-mail for login attempts), when relevant.
    pub subject: Option<String>,
    /// Client address.
    pub ip_address: Option<String>,
    /// Extra structured facts (never secrets).
    pub detail: serde_json::Value,
}

/// A recorded audit log entry.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// What happened.
    pub kind: String,
    /// The account concerned.
    pub user_id: Option<UserId>,
    /// The name the actor used.
    pub subject: Option<String>,
    /// Client address.
    pub ip_address: Option<String>,
    /// Extra facts.
    pub detail: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    /// Identifier.
    pub id: weft_core::ProjectId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// When it was archived, if it is.
    pub archived_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A project together with the caller's role in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectMembership {
    /// The project.
    pub project: Project,
    /// The caller's role.
    pub role: weft_core::ProjectRole,
}

/// One member of a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The account.
    pub user_id: UserId,
    /// Its e-mail address.
    pub email: String,
    /// Its display name.
    pub display_name: String,
    /// Role in the project.
    pub role: weft_core::ProjectRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Waiting for an answer.
    Pending,
    /// The invitee joined.
    Accepted,
    /// The invitee declined.
    Declined,
    /// A manager withdrew it.
    Revoked,
}

impl InvitationStatus {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Revoked => "revoked",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Declined, Self::Revoked]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// An invitation to join a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Identifier.
    pub id: weft_core::InvitationId,
    /// The project.
    pub project_id: weft_core::ProjectId,
    /// The project's name (for the invitee's list).
    pub project_name: String,
    /// Normalised e-mail address of the invitee.
    pub email: String,
    /// Role granted on acceptance.
    pub role: weft_core::ProjectRole,
    /// Who invited.
    pub invited_by: UserId,
    /// State.
    pub status: InvitationStatus,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it stops being acceptable.
    pub expires_at: DateTime<Utc>,
}

/// A workflow's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workflow {
    /// Identifier.
    pub id: weft_core::WorkflowId,
    /// Owning project.
    pub project_id: weft_core::ProjectId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// The latest version (what editors see).
    pub current_version: i32,
    /// The version that triggers run, if any was published.
    pub published_version: Option<i32>,
    /// The workflow run when one of this workflow's runs fails.
    pub error_workflow_id: Option<weft_core::WorkflowId>,
    /// Creator.
    pub created_by: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of metadata or graph.
    pub updated_at: DateTime<Utc>,
}

/// One immutable version of a workflow's graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowVersion {
    /// The workflow.
    pub workflow_id: weft_core::WorkflowId,
    /// 1, 2, 3, ...
    pub version: i32,
    /// The graph as JSON text; `None` in listings.
    pub graph: Option<String>,
    /// Who saved it.
    pub author_id: UserId,
    /// Why.
    pub message: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What is needed to create a workflow with its first version.
#[derive(Clone, Debug)]
pub struct NewWorkflow {
    /// Owning project.
    pub project_id: weft_core::ProjectId,
    /// Name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The first version's graph (JSON text).
    pub graph: String,
    /// Message of the first version.
    pub message: String,
    /// Creator.
    pub author_id: UserId,
}

/// A page of results and the cursor of the next page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_cursor: Option<uuid::Uuid>,
}
