//! The parts of Weft's wire types this example reads, mirrored from
//! `crates/api/src/routers/auth/types.rs` and `crates/api/src/error.rs`. Unknown fields
//! are ignored, so the server may add fields without breaking the example.

use serde::Deserialize;
use uuid::Uuid;

/// Result of `auth.register`, `auth.login` and `auth.refresh`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSession {
    /// Sent as `Authorization: Bearer …`.
    pub access_token: String,
    /// The session these tokens belong to.
    pub session_id: Uuid,
    /// The account.
    pub user: User,
}

/// Result of `auth.me`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Identifier.
    pub id: Uuid,
    /// Normalised e-mail address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// `ADMIN`, `USER` or `GUEST`.
    pub role: String,
}

/// Result of `auth.sessions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    /// Newest first.
    pub items: Vec<SessionInfo>,
}

/// One active session of the caller.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Identifier.
    pub id: Uuid,
    /// Client's user agent at login.
    pub user_agent: Option<String>,
    /// Whether this is the session making the call.
    pub current: bool,
}

/// Result of `auth.logout`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogoutResult {
    /// The session that ended.
    pub session_id: Uuid,
}

/// The typed `data` member of a Weft error, tagged by `kind`. Only the kind this
/// example expects is spelled out; every other kind lands in `Other`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ErrorData {
    /// Code -32001: `reason` is `missingToken`, `invalidToken`, `expiredToken`,
    /// `sessionRevoked`, `invalidCredentials`, `invalidRefreshToken` or `invalidTicket`.
    Unauthenticated {
        /// Why the caller is not authenticated.
        reason: String,
    },
    /// Any other kind.
    #[serde(other)]
    Other,
}
