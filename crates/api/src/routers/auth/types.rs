//! Params and results of the `auth` router.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::{Role, SessionId, UserId};

/// Params of `auth.register`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterParams {
    /// E-mail address; trimmed and lower-cased, unique.
    pub email: String,
    /// 8 to 1024 characters; common and easily guessed passwords are refused.
    pub password: String,
    /// Name shown to others, 1 to 100 characters.
    pub display_name: String,
}

/// Params of `auth.login`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginParams {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// Params of `auth.refresh`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshParams {
    /// The refresh token from the last `AuthSession`; it is used up by this call.
    pub refresh_token: String,
}

/// Params of procedures that take none.
#[derive(Debug, Default, Deserialize, Serialize, TS, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyParams {}

/// Params of `auth.changePassword`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangePasswordParams {
    /// The password in use now.
    pub current_password: String,
    /// The new password; same rules as at registration.
    pub new_password: String,
}

/// Params of `auth.revokeSession`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevokeSessionParams {
    /// One of the caller's own sessions.
    pub session_id: SessionId,
}

/// Params of `auth.setRole`.
#[derive(Debug, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetRoleParams {
    /// The account to change.
    pub user_id: UserId,
    /// Its new role.
    pub role: Role,
}

/// A user account as others see it.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Normalised e-mail address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Account-wide role.
    pub role: Role,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl From<weft_store::User> for User {
    fn from(user: weft_store::User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            role: user.role,
            created_at: user.created_at,
        }
    }
}

/// Tokens of a session. Send `accessToken` as `Authorization: Bearer …`; before it
/// expires, exchange `refreshToken` with `auth.refresh` for a new pair.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSession {
    /// Short-lived JWT.
    pub access_token: String,
    /// When the access token stops being accepted.
    pub access_token_expires_at: DateTime<Utc>,
    /// Opaque, single-use refresh token.
    pub refresh_token: String,
    /// When the refresh token stops being accepted.
    pub refresh_token_expires_at: DateTime<Utc>,
    /// The session these tokens belong to.
    pub session_id: SessionId,
    /// The account.
    pub user: User,
}

/// Result of `auth.logout`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoutResult {
    /// The session that ended.
    pub session_id: SessionId,
}

/// One active session of the caller.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Identifier.
    pub id: SessionId,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last token refresh.
    pub last_used_at: DateTime<Utc>,
    /// Absolute end.
    pub expires_at: DateTime<Utc>,
    /// Client's user agent at login.
    pub user_agent: Option<String>,
    /// Client's address at login.
    pub ip_address: Option<String>,
    /// Whether this is the session making the call.
    pub current: bool,
}

/// Result of `auth.sessions`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    /// Newest first.
    pub items: Vec<SessionInfo>,
}

/// Result of `auth.revokeSession`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokeSessionResult {
    /// The session that ended.
    pub session_id: SessionId,
}

/// Result of `auth.streamTicket`: open `GET /events?ticket=<ticket>` (for browsers'
/// `EventSource`, which cannot send headers). Single use, short-lived.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamTicket {
    /// Opaque ticket.
    pub ticket: String,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}
