//! The `auth` router: accounts, sessions and tokens.

pub mod types;

use chrono::{DateTime, Utc};
use weft_core::credentials::{check_new_password, normalize_email};
use weft_core::validation::text_length;
use weft_core::{FieldError, Role, UserId, ValidationErrors};
use weft_events::{Audience, RevokeReason, WeftEvent};
use weft_store::{AuditEntry, AuditKey, AuditKind, NewSession, NewUser, RefreshOutcome, Session};

use crate::AppState;
use crate::auth::{hash_secret, random_secret};
use crate::error::{ApiError, InternalError, UnauthenticatedReason};
use crate::rpc::{Access, CallContext, Kind, Procedure, Registry};
use types::*;

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry
        .add::<Register>()
        .add::<Login>()
        .add::<Refresh>()
        .add::<Logout>()
        .add::<Me>()
        .add::<ChangePassword>()
        .add::<Sessions>()
        .add::<RevokeSession>()
        .add::<SetRole>()
        .add::<CreateStreamTicket>()
}

const REFRESH_PREFIX: &str = "wrt_";
const TICKET_PREFIX: &str = "wst_";

fn to_chrono(duration: std::time::Duration) -> Result<chrono::Duration, ApiError> {
    chrono::Duration::from_std(duration)
        .map_err(|e| ApiError::Internal(InternalError::new("configured duration out of range", e)))
}

/// A new session for `user_id` plus the refresh token that goes with it.
fn new_session(
    ctx: &CallContext,
    user_id: UserId,
    now: DateTime<Utc>,
) -> Result<(NewSession, String), ApiError> {
    let config = ctx.state.config();
    let refresh_token = random_secret(REFRESH_PREFIX);
    let expires_at = now + to_chrono(config.session_ttl)?;
    let new = NewSession {
        user_id,
        user_agent: ctx.request.user_agent.as_ref().map(|ua| ua.chars().take(512).collect()),
        ip_address: ctx.request.client_ip_string(),
        expires_at,
        refresh_token_hash: hash_secret(&refresh_token),
        refresh_expires_at: (now + to_chrono(config.refresh_ttl)?).min(expires_at),
    };
    Ok((new, refresh_token))
}

fn auth_session(
    ctx: &CallContext,
    session: &Session,
    refresh_token: String,
    refresh_expires_at: DateTime<Utc>,
    user: weft_store::User,
    now: DateTime<Utc>,
) -> Result<AuthSession, ApiError> {
    let (access_token, access_token_expires_at) =
        ctx.state.tokens().issue_access(user.id, session.id, now)?;
    Ok(AuthSession {
        access_token,
        access_token_expires_at,
        refresh_token,
        refresh_token_expires_at: refresh_expires_at,
        session_id: session.id,
        user: user.into(),
    })
}

/// Opens a session for an authenticated user and returns its tokens.
async fn open_session(
    ctx: &CallContext,
    user: weft_store::User,
    now: DateTime<Utc>,
) -> Result<AuthSession, ApiError> {
    let (new, refresh_token) = new_session(ctx, user.id, now)?;
    let refresh_expires_at = new.refresh_expires_at;
    let session = ctx.state.store().create_session(new, now).await?;
    ctx.state
        .bus()
        .publish(Audience::User { user: user.id }, WeftEvent::SessionCreated { session_id: session.id });
    auth_session(ctx, &session, refresh_token, refresh_expires_at, user, now)
}

async fn audit(
    ctx: &CallContext,
    kind: AuditKind,
    user_id: Option<UserId>,
    subject: Option<String>,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = AuditEntry { kind, user_id, subject, ip_address: ctx.request.client_ip_string(), detail };
    ctx.state.store().record_audit(entry, Utc::now()).await?;
    Ok(())
}

fn publish_revoked(
    ctx: &CallContext,
    user_id: UserId,
    sessions: impl IntoIterator<Item = weft_core::SessionId>,
    reason: RevokeReason,
) {
    for session_id in sessions {
        ctx.state
            .bus()
            .publish(Audience::User { user: user_id }, WeftEvent::SessionRevoked { session_id, reason });
    }
}

/// `auth.register`.
pub struct Register;
impl Procedure for Register {
    const NAME: &'static str = "auth.register";
    const DOC: &'static str = "Creates an account with the USER role and logs it in. Each client address may create a limited number of accounts per hour.";
    const ACCESS: Access = Access::Public;
    type Params = RegisterParams;
    type Output = AuthSession;

    async fn call(ctx: CallContext, params: RegisterParams) -> Result<AuthSession, ApiError> {
        if let Some(ip) = ctx.request.client_ip_string() {
            let since = Utc::now() - chrono::Duration::hours(1);
            let recent = ctx
                .state
                .store()
                .count_audit_since(AuditKind::Registered, AuditKey::IpAddress(&ip), since)
                .await?;
            if recent >= ctx.state.config().registrations_per_ip_per_hour {
                return Err(ApiError::RateLimited { retry_after_seconds: 3600 });
            }
        }
        let user = create_account(&ctx.state, params, Role::User).await?;
        audit(&ctx, AuditKind::Registered, Some(user.id), Some(user.email.clone()), serde_json::json!({}))
            .await?;
        open_session(&ctx, user, Utc::now()).await
    }
}

/// Validates and creates an account with `role`: the same rules for self-registration
/// and for accounts made by an operator (`weft admin create-user`).
pub async fn create_account(
    state: &AppState,
    params: RegisterParams,
    role: Role,
) -> Result<weft_store::User, ApiError> {
    let mut errors = ValidationErrors::new();
    let email = normalize_email("email", &params.email).map_err(|e| errors.push(e)).ok();
    let display_name = params.display_name.trim().to_owned();
    errors.check(text_length("displayName", &display_name, 1, 100));
    errors.check(check_new_password(
        "password",
        &params.password,
        &[email.as_deref().unwrap_or_default(), &display_name],
    ));
    errors.into_result()?;
    let email =
        email.ok_or_else(|| ApiError::field("email", "invalidEmail", "must be a valid e-mail address"))?;

    let password_hash = state.passwords().hash(params.password).await?;
    let new_user = NewUser { email, display_name, password_hash, role };
    state.store().create_user(new_user, Utc::now()).await.map_err(|err| match err {
        weft_store::StoreError::Conflict { .. } => {
            ApiError::Conflict { detail: "an account with this e-mail address already exists".to_owned() }
        }
        other => other.into(),
    })
}

/// `auth.login`.
pub struct Login;
impl Procedure for Login {
    const NAME: &'static str = "auth.login";
    const DOC: &'static str = "Checks an e-mail and password and opens a session. Unknown accounts and wrong passwords get the same answer; repeated failures per account and per client address are throttled.";
    const ACCESS: Access = Access::Public;
    type Params = LoginParams;
    type Output = AuthSession;

    async fn call(ctx: CallContext, params: LoginParams) -> Result<AuthSession, ApiError> {
        let email = normalize_email("email", &params.email).map_err(ValidationErrors::single)?;
        if params.password.is_empty()
            || params.password.chars().count() > weft_core::credentials::PASSWORD_MAX_CHARS
        {
            return Err(ApiError::Validation(ValidationErrors::single(FieldError::new(
                "password",
                "invalidLength",
                "must be 1 to 1024 characters",
            ))));
        }
        let ip = ctx.request.client_ip_string();
        if let Err(err) = ctx.state.config().login_throttle.check(&ctx.state, &email, ip.as_deref()).await {
            audit(&ctx, AuditKind::LoginThrottled, None, Some(email), serde_json::json!({})).await?;
            return Err(err);
        }
        let user = ctx.state.store().find_user_by_email(&email).await?;
        let matched = ctx
            .state
            .passwords()
            .verify(params.password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let user = match user {
            Some(user) if matched => user,
            other => {
                let user_id = other.map(|u| u.id);
                audit(&ctx, AuditKind::LoginFailed, user_id, Some(email), serde_json::json!({})).await?;
                return Err(ApiError::Unauthenticated(UnauthenticatedReason::InvalidCredentials));
            }
        };
        let now = Utc::now();
        audit(&ctx, AuditKind::LoginSucceeded, Some(user.id), Some(email), serde_json::json!({})).await?;
        open_session(&ctx, user, now).await
    }
}

/// `auth.refresh`.
pub struct Refresh;
impl Procedure for Refresh {
    const NAME: &'static str = "auth.refresh";
    const DOC: &'static str = "Exchanges a refresh token for a new access and refresh token. Each refresh token works once: presenting one that was already used ends the whole session.";
    const ACCESS: Access = Access::Public;
    type Params = RefreshParams;
    type Output = AuthSession;

    async fn call(ctx: CallContext, params: RefreshParams) -> Result<AuthSession, ApiError> {
        let invalid = ApiError::Unauthenticated(UnauthenticatedReason::InvalidRefreshToken);
        if !params.refresh_token.starts_with(REFRESH_PREFIX) || params.refresh_token.len() > 128 {
            return Err(invalid);
        }
        let now = Utc::now();
        let new_token = random_secret(REFRESH_PREFIX);
        let new_expires_at = now + to_chrono(ctx.state.config().refresh_ttl)?;
        let outcome = ctx
            .state
            .store()
            .rotate_refresh_token(
                &hash_secret(&params.refresh_token),
                hash_secret(&new_token),
                new_expires_at,
                now,
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated { session, user } => {
                let expires_at = new_expires_at.min(session.expires_at);
                auth_session(&ctx, &session, new_token, expires_at, *user, now)
            }
            RefreshOutcome::Reused { session_id, user_id } => {
                tracing::warn!(%session_id, %user_id, "refresh token reused; session revoked");
                audit(
                    &ctx,
                    AuditKind::RefreshReuse,
                    Some(user_id),
                    None,
                    serde_json::json!({ "sessionId": session_id }),
                )
                .await?;
                publish_revoked(&ctx, user_id, [session_id], RevokeReason::RefreshReuse);
                Err(invalid)
            }
            RefreshOutcome::Invalid => Err(invalid),
        }
    }
}

/// `auth.logout`.
pub struct Logout;
impl Procedure for Logout {
    const NAME: &'static str = "auth.logout";
    const DOC: &'static str =
        "Ends the caller's session: its access and refresh tokens stop working and its event streams close.";
    const ACCESS: Access = Access::Role(Role::Guest);
    type Params = EmptyParams;
    type Output = LogoutResult;

    async fn call(ctx: CallContext, _: EmptyParams) -> Result<LogoutResult, ApiError> {
        let caller = ctx.caller()?.clone();
        ctx.state
            .store()
            .revoke_session(caller.user_id, caller.session_id, RevokeReason::Logout.as_str(), Utc::now())
            .await?;
        audit(
            &ctx,
            AuditKind::Logout,
            Some(caller.user_id),
            None,
            serde_json::json!({ "sessionId": caller.session_id }),
        )
        .await?;
        publish_revoked(&ctx, caller.user_id, [caller.session_id], RevokeReason::Logout);
        Ok(LogoutResult { session_id: caller.session_id })
    }
}

/// `auth.me`.
pub struct Me;
impl Procedure for Me {
    const NAME: &'static str = "auth.me";
    const DOC: &'static str = "The caller's account.";
    const ACCESS: Access = Access::Role(Role::Guest);
    const KIND: Kind = Kind::Query;
    type Params = EmptyParams;
    type Output = User;

    async fn call(ctx: CallContext, _: EmptyParams) -> Result<User, ApiError> {
        let caller = ctx.caller()?;
        let user = ctx.state.store().find_user(caller.user_id).await?;
        user.map(User::from).ok_or(ApiError::Unauthenticated(UnauthenticatedReason::SessionRevoked))
    }
}

/// `auth.changePassword`.
pub struct ChangePassword;
impl Procedure for ChangePassword {
    const NAME: &'static str = "auth.changePassword";
    const DOC: &'static str = "Changes the caller's password. Every session of the account ends, including the caller's; the answer carries the tokens of a fresh session.";
    const ACCESS: Access = Access::Role(Role::Guest);
    type Params = ChangePasswordParams;
    type Output = AuthSession;

    async fn call(ctx: CallContext, params: ChangePasswordParams) -> Result<AuthSession, ApiError> {
        let caller = ctx.caller()?.clone();
        let store = ctx.state.store();
        let user = store
            .find_user(caller.user_id)
            .await?
            .ok_or(ApiError::Unauthenticated(UnauthenticatedReason::SessionRevoked))?;
        let ip = ctx.request.client_ip_string();
        ctx.state.config().login_throttle.check(&ctx.state, &user.email, ip.as_deref()).await?;
        if params.current_password.chars().count() > weft_core::credentials::PASSWORD_MAX_CHARS
            || !ctx
                .state
                .passwords()
                .verify(params.current_password.clone(), Some(user.password_hash.clone()))
                .await?
        {
            audit(
                &ctx,
                AuditKind::LoginFailed,
                Some(user.id),
                Some(user.email.clone()),
                serde_json::json!({ "via": "changePassword" }),
            )
            .await?;
            return Err(ApiError::field("currentPassword", "incorrect", "is not the current password"));
        }
        check_new_password("newPassword", &params.new_password, &[&user.email, &user.display_name])
            .map_err(ValidationErrors::single)?;
        if params.new_password == params.current_password {
            return Err(ApiError::field("newPassword", "unchanged", "must differ from the current password"));
        }
        let password_hash = ctx.state.passwords().hash(params.new_password).await?;
        let now = Utc::now();
        let (replacement, refresh_token) = new_session(&ctx, user.id, now)?;
        let refresh_expires_at = replacement.refresh_expires_at;
        let (revoked, session) = store.change_password(user.id, password_hash, replacement, now).await?;
        audit(
            &ctx,
            AuditKind::PasswordChanged,
            Some(user.id),
            None,
            serde_json::json!({ "endedSessions": revoked.len() }),
        )
        .await?;
        publish_revoked(&ctx, user.id, revoked, RevokeReason::PasswordChanged);
        auth_session(&ctx, &session, refresh_token, refresh_expires_at, user, now)
    }
}

/// `auth.sessions`.
pub struct Sessions;
impl Procedure for Sessions {
    const NAME: &'static str = "auth.sessions";
    const DOC: &'static str = "The caller's active sessions, newest first.";
    const ACCESS: Access = Access::Role(Role::Guest);
    const KIND: Kind = Kind::Query;
    type Params = EmptyParams;
    type Output = SessionList;

    async fn call(ctx: CallContext, _: EmptyParams) -> Result<SessionList, ApiError> {
        let caller = ctx.caller()?;
        let sessions = ctx.state.store().active_sessions(caller.user_id, Utc::now()).await?;
        Ok(SessionList {
            items: sessions
                .into_iter()
                .map(|s| SessionInfo {
                    current: s.id == caller.session_id,
                    id: s.id,
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                    expires_at: s.expires_at,
                    user_agent: s.user_agent,
                    ip_address: s.ip_address,
                })
                .collect(),
        })
    }
}

/// `auth.revokeSession`.
pub struct RevokeSession;
impl Procedure for RevokeSession {
    const NAME: &'static str = "auth.revokeSession";
    const DOC: &'static str =
        "Ends one of the caller's own sessions. Another user's session id answers not-found.";
    const ACCESS: Access = Access::Role(Role::Guest);
    type Params = RevokeSessionParams;
    type Output = RevokeSessionResult;

    async fn call(ctx: CallContext, params: RevokeSessionParams) -> Result<RevokeSessionResult, ApiError> {
        let caller = ctx.caller()?.clone();
        let revoked = ctx
            .state
            .store()
            .revoke_session(caller.user_id, params.session_id, RevokeReason::Revoked.as_str(), Utc::now())
            .await?;
        if !revoked {
            return Err(ApiError::NotFound { resource: "session" });
        }
        audit(
            &ctx,
            AuditKind::SessionRevoked,
            Some(caller.user_id),
            None,
            serde_json::json!({ "sessionId": params.session_id }),
        )
        .await?;
        publish_revoked(&ctx, caller.user_id, [params.session_id], RevokeReason::Revoked);
        Ok(RevokeSessionResult { session_id: params.session_id })
    }
}

/// `auth.setRole`.
pub struct SetRole;
impl Procedure for SetRole {
    const NAME: &'static str = "auth.setRole";
    const DOC: &'static str = "Sets a user's role (ADMIN only). The user's sessions end so that no token minted under the old role stays in use. The last ADMIN cannot be demoted.";
    const ACCESS: Access = Access::Role(Role::Admin);
    type Params = SetRoleParams;
    type Output = User;

    async fn call(ctx: CallContext, params: SetRoleParams) -> Result<User, ApiError> {
        let caller = ctx.caller()?.clone();
        let store = ctx.state.store();
        let target = store.find_user(params.user_id).await?.ok_or(ApiError::NotFound { resource: "user" })?;
        if target.role == Role::Admin
            && params.role != Role::Admin
            && store.count_users_with_role(Role::Admin).await? <= 1
        {
            return Err(ApiError::Conflict { detail: "the last administrator cannot be demoted".to_owned() });
        }
        let (user, revoked) = store
            .set_role(params.user_id, params.role, Utc::now())
            .await?
            .ok_or(ApiError::NotFound { resource: "user" })?;
        audit(
            &ctx,
            AuditKind::RoleChanged,
            Some(user.id),
            None,
            serde_json::json!({ "from": target.role, "to": params.role, "by": caller.user_id }),
        )
        .await?;
        ctx.state.bus().publish(
            Audience::User { user: user.id },
            WeftEvent::UserRoleChanged { user_id: user.id, role: user.role },
        );
        publish_revoked(&ctx, user.id, revoked, RevokeReason::RoleChanged);
        Ok(user.into())
    }
}

/// `auth.streamTicket`.
pub struct CreateStreamTicket;
impl Procedure for CreateStreamTicket {
    const NAME: &'static str = "auth.streamTicket";
    const DOC: &'static str = "A single-use, short-lived ticket for opening the event stream from a browser's EventSource, which cannot send an Authorization header: GET /events?ticket=<ticket>.";
    const ACCESS: Access = Access::Role(Role::Guest);
    type Params = EmptyParams;
    type Output = StreamTicket;

    async fn call(ctx: CallContext, _: EmptyParams) -> Result<StreamTicket, ApiError> {
        let caller = ctx.caller()?;
        let ticket = random_secret(TICKET_PREFIX);
        let expires_at = Utc::now() + to_chrono(ctx.state.config().stream_ticket_ttl)?;
        ctx.state.store().create_stream_ticket(caller.session_id, hash_secret(&ticket), expires_at).await?;
        Ok(StreamTicket { ticket, expires_at })
    }
}
