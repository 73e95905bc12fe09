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
