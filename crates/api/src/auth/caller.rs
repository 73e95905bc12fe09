//! Resolving the credentials of a request into an authenticated [`Caller`].
//!
//! Every authenticated call checks the session in the database, not only the token's
//! signature: a logout, password change or role change takes effect at once, on every
//! instance, and the caller's role always comes from the database.

use std::net::IpAddr;

use chrono::Utc;
use tokio::sync::OnceCell;
use weft_core::{Role, SessionId, UserId};

use crate::AppState;
use crate::error::{ApiError, UnauthenticatedReason};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account.
    pub user_id: UserId,
    /// The session the credentials belong to.
    pub session_id: SessionId,
    /// The account's current role.
    pub role: Role,
}

/// What a request presented to identify itself.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// Nothing.
    None,
    /// `Authorization: Bearer <access token>`.
    Bearer(String),
    /// A connection authenticated when it was opened (WebSocket, event stream); the
    /// session is re-checked on every use.
    Session(SessionId),
    /// An `Authorization` header that is not a bearer token.
    Malformed,
}

impl Credentials {
    /// Reads an `Authorization` header value.
    pub fn from_authorization(header: Option<&str>) -> Self {
        match header {
            None => Credentials::None,
            Some(value) => match value.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Credentials::Bearer(token.trim().to_owned())
                }
                _ => Credentials::Malformed,
            },
        }
    }
}

/// Facts about one request (an HTTP call, or one WebSocket message).
#[derive(Debug)]
pub struct RequestInfo {
    /// `x-request-id`, generated when the client sent none.
    pub request_id: String,
    /// The client's address.
    pub client_ip: Option<IpAddr>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// What the request presented.
    pub credentials: Credentials,
    /// The WebSocket the request arrived on, for procedures that push to it.
    pub socket: Option<crate::realtime::socket::SocketLink>,
    resolved: OnceCell<Result<Caller, UnauthenticatedReason>>,
}

impl RequestInfo {
    /// Describes a request.
    pub fn new(
        request_id: String,
        client_ip: Option<IpAddr>,
        user_agent: Option<String>,
        credentials: Credentials,
    ) -> Self {
        Self { request_id, client_ip, user_agent, credentials, socket: None, resolved: OnceCell::new() }
    }

    /// The same request, arrived on a WebSocket.
    pub fn on_socket(mut self, socket: crate::realtime::socket::SocketLink) -> Self {
        self.socket = Some(socket);
        self
    }

    /// Client address as stored in the audit log and session list.
    pub fn client_ip_string(&self) -> Option<String> {
        self.client_ip.map(|ip| ip.to_string())
    }

    /// Authenticates the request once; later calls (other members of the same batch)
    /// reuse the answer. Infrastructure failures are not cached.
    pub async fn authenticate(&self, state: &AppState) -> Result<Caller, ApiError> {
        let mut infra_error = None;
        let resolved = self
            .resolved
            .get_or_try_init(|| async {
                match resolve(state, &self.credentials).await {
                    Ok(result) => Ok(result),
                    Err(err) => {
                        infra_error = Some(err);
                        Err(())
                    }
                }
            })
            .await;
        match resolved {
            Ok(Ok(caller)) => Ok(caller.clone()),
            Ok(Err(reason)) => Err(ApiError::Unauthenticated(*reason)),
            Err(()) => {
                Err(infra_error.unwrap_or(ApiError::Unauthenticated(UnauthenticatedReason::InvalidToken)))
            }
        }
    }
}

async fn resolve(
    state: &AppState,
    credentials: &Credentials,
) -> Result<Result<Caller, UnauthenticatedReason>, ApiError> {
    let (claimed_user, session_id) = match credentials {
        Credentials::None => return Ok(Err(UnauthenticatedReason::MissingToken)),
        Credentials::Malformed => return Ok(Err(UnauthenticatedReason::InvalidToken)),
        Credentials::Bearer(token) => match state.tokens().verify_access(token) {
            Ok((user, session)) => (Some(user), session),
            Err(reason) => return Ok(Err(reason)),
        },
        Credentials::Session(session_id) => (None, *session_id),
    };
    caller_for_session(state, session_id, claimed_user).await
}

/// Loads a session and checks that it is active (and belongs to `claimed_user` when the
/// credentials named one).
pub(crate) async fn caller_for_session(
    state: &AppState,
    session_id: SessionId,
    claimed_user: Option<UserId>,
) -> Result<Result<Caller, UnauthenticatedReason>, ApiError> {
    let Some((session, user)) = state.store().session_with_user(session_id).await? else {
        return Ok(Err(UnauthenticatedReason::SessionRevoked));
    };
    if claimed_user.is_some_and(|claimed| claimed != user.id) {
        return Ok(Err(UnauthenticatedReason::InvalidToken));
    }
    if !session.is_active(Utc::now()) {
        return Ok(Err(UnauthenticatedReason::SessionRevoked));
    }
    Ok(Ok(Caller { user_id: user.id, session_id: session.id, role: user.role }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers_are_parsed_strictly() {
        assert!(matches!(Credentials::from_authorization(None), Credentials::None));
        assert!(
            matches!(Credentials::from_authorization(Some("Bearer abc")), Credentials::Bearer(t) if t == "abc")
        );
        assert!(matches!(Credentials::from_authorization(Some("bearer abc")), Credentials::Bearer(_)));
        assert!(matches!(Credentials::from_authorization(Some("Basic dXNlcg==")), Credentials::Malformed));
        assert!(matches!(Credentials::from_authorization(Some("Bearer ")), Credentials::Malformed));
        assert!(matches!(Credentials::from_authorization(Some("Bearer")), Credentials::Malformed));
    }
}
