//! Every error a JSON-RPC caller can receive: the fixed code table ([`ErrorCode`]), the
//! typed `data` object ([`ErrorData`]), and the single exhaustive mapping from
//! [`ApiError`] to a JSON-RPC error object.

use serde::{Deserialize, Serialize};
use weft_core::{FieldError, ProjectRole, Role, ValidationErrors};
use weft_store::StoreError;

/// The fixed JSON-RPC error codes. The numbers never change once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The body is not valid JSON.
    ParseError,
    /// The JSON is not a valid JSON-RPC 2.0 request object.
    InvalidRequest,
    /// No procedure has that name.
    MethodNotFound,
    /// The params do not have the procedure's shape (missing field, wrong type, unknown field).
    InvalidParams,
    /// The server failed; the data carries a correlation id to quote in a report.
    Internal,
    /// No valid credentials were presented, or the session has ended.
    Unauthenticated,
    /// The caller is authenticated but lacks the role the procedure requires.
    Forbidden,
    /// The thing named does not exist, or the caller may not see it.
    NotFound,
    /// The request conflicts with the current state (a taken e-mail, a stale version).
    Conflict,
    /// The body or batch exceeds a configured limit.
    PayloadTooLarge,
    /// The params have the right shape but break a rule (too short, not an e-mail, ...).
    Validation,
    /// Too many attempts; retry after the given delay.
    RateLimited,
    /// An AI call could exceed a spending budget; nothing was spent.
    BudgetExceeded,
    /// An outside service the call needs (an AI provider) is not configured or failed.
    Upstream,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::ParseError,
        ErrorCode::InvalidRequest,
        ErrorCode::MethodNotFound,
        ErrorCode::InvalidParams,
        ErrorCode::Internal,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Validation,
        ErrorCode::RateLimited,
        ErrorCode::BudgetExceeded,
        ErrorCode::Upstream,
    ];

    /// The JSON-RPC `code`.
    pub fn code(self) -> i32 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::Unauthenticated => -32001,
            ErrorCode::Forbidden => -32003,
            ErrorCode::NotFound => -32004,
            ErrorCode::Conflict => -32009,
            ErrorCode::PayloadTooLarge => -32013,
            ErrorCode::Validation => -32022,
            ErrorCode::RateLimited => -32029,
            ErrorCode::BudgetExceeded => -32042,
            ErrorCode::Upstream => -32052,
        }
    }

    /// Constant name used in the TypeScript client (`UNAUTHENTICATED`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "PARSE_ERROR",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::MethodNotFound => "METHOD_NOT_FOUND",
            ErrorCode::InvalidParams => "INVALID_PARAMS",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::Validation => "VALIDATION",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::BudgetExceeded => "BUDGET_EXCEEDED",
            ErrorCode::Upstream => "UPSTREAM",
        }
    }

    /// The `message` sent with the code.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "Parse error",
            ErrorCode::InvalidRequest => "Invalid Request",
            ErrorCode::MethodNotFound => "Method not found",
            ErrorCode::InvalidParams => "Invalid params",
            ErrorCode::Internal => "Internal error",
            ErrorCode::Unauthenticated => "Unauthenticated",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::NotFound => "Not found",
            ErrorCode::Conflict => "Conflict",
            ErrorCode::PayloadTooLarge => "Payload too large",
            ErrorCode::Validation => "Validation failed",
            ErrorCode::RateLimited => "Rate limited",
            ErrorCode::BudgetExceeded => "Budget exceeded",
            ErrorCode::Upstream => "Upstream service failed",
        }
    }

    /// The `kind` of the `data` object sent with the code.
    pub fn data_kind(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "parse",
            ErrorCode::InvalidRequest => "invalidRequest",
            ErrorCode::MethodNotFound => "methodNotFound",
            ErrorCode::InvalidParams => "invalidParams",
            ErrorCode::Internal => "internal",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "notFound",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payloadTooLarge",
            ErrorCode::Validation => "validation",
            ErrorCode::RateLimited => "rateLimited",
            ErrorCode::BudgetExceeded => "budgetExceeded",
            ErrorCode::Upstream => "upstream",
        }
    }

    /// When the code is sent, for the documentation table.
    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "The body is not valid JSON (or not UTF-8).",
            ErrorCode::InvalidRequest => {
                "Not a JSON-RPC 2.0 request object: wrong `jsonrpc`, non-string `method`, params neither object nor array, an `id` that is not a string, number or null, an empty batch, or a non-JSON content type."
            }
            ErrorCode::MethodNotFound => "No procedure has that name.",
            ErrorCode::InvalidParams => {
                "The params do not have the procedure's shape: not a named-params object, a missing or unknown field, or a wrong type. `fields` gives the path of each problem."
            }
            ErrorCode::Internal => {
                "The server failed. Nothing about the cause is sent; `correlationId` finds it in the server log."
            }
            ErrorCode::Unauthenticated => {
                "No valid access token (missing, malformed, tampered, expired, wrong type), an ended session, wrong login credentials, or an invalid refresh token. `reason` says which."
            }
            ErrorCode::Forbidden => {
                "Authenticated, but the caller's account role (`requiredRole`) or role in the project (`requiredProjectRole`) is too low, or an approval task is not assigned to them (`notAssignee`). Things the caller may not see at all answer NOT_FOUND instead."
            }
            ErrorCode::NotFound => {
                "The named thing does not exist or belongs to someone else: the two are never distinguished."
            }
            ErrorCode::Conflict => {
                "The request conflicts with the current state, e.g. an e-mail address already registered."
            }
            ErrorCode::PayloadTooLarge => {
                "The body exceeds `WEFT_MAX_BODY_BYTES` or the batch exceeds `WEFT_MAX_BATCH`."
            }
            ErrorCode::Validation => {
                "The params have the right shape but break a rule (too short, common password, invalid e-mail). `fields` gives the path of each problem."
            }
            ErrorCode::RateLimited => "Too many attempts; `retryAfterSeconds` says when to try again.",
            ErrorCode::BudgetExceeded => {
                "An AI call could take a user's or project's spend past a budget (`ai.budgets.set`) or past the call's own ceiling; it was refused before anything was sent. `reason` says which budget."
            }
            ErrorCode::Upstream => {
                "An outside service the call needs failed or is not configured: `service` names it (`ai`), `reason` says what happened (no provider configured, every provider failed, an answer that never matched the schema). Provider keys never appear in it."
            }
        }
    }
}

/// Why a caller is not authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum UnauthenticatedReason {
    /// No access token was presented.
    MissingToken,
    /// The token is malformed, tampered with, of the wrong type, or not yet valid.
    InvalidToken,
    /// The token has expired: refresh it.
    ExpiredToken,
    /// The session behind the token has ended.
    SessionRevoked,
    /// Wrong e-mail or password.
    InvalidCredentials,
    /// The refresh token is unknown, expired, already used, or its session has ended.
    InvalidRefreshToken,
    /// The stream ticket is unknown, used or expired.
    InvalidTicket,
}

/// Which limit a payload exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LimitKind {
    /// Request body bytes.
    Body,
    /// Members of a batch.
    Batch,
}

/// The typed `data` member of every error, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(tag = "kind")]
pub enum ErrorData {
    /// See [`ErrorCode::ParseError`].
    #[serde(rename = "parse")]
    Parse {
        /// Where parsing stopped.
        detail: String,
    },
    /// See [`ErrorCode::InvalidRequest`].
    #[serde(rename = "invalidRequest")]
    InvalidRequest {
        /// What is wrong with the request object.
        detail: String,
    },
    /// See [`ErrorCode::MethodNotFound`].
    #[serde(rename = "methodNotFound")]
    MethodNotFound {
        /// The name that was called.
        method: String,
    },
    /// See [`ErrorCode::InvalidParams`].
    #[serde(rename = "invalidParams")]
    InvalidParams {
        /// One entry per problem.
        fields: Vec<FieldError>,
    },
    /// See [`ErrorCode::Validation`].
    #[serde(rename = "validation")]
    Validation {
        /// One entry per problem.
        fields: Vec<FieldError>,
    },
    /// See [`ErrorCode::Unauthenticated`].
    #[serde(rename = "unauthenticated")]
    Unauthenticated {
        /// Why.
        reason: UnauthenticatedReason,
    },
    /// See [`ErrorCode::Forbidden`].
    #[serde(rename = "forbidden", rename_all = "camelCase")]
    Forbidden {
        /// The account role the procedure requires, when that is what is missing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        required_role: Option<Role>,
        /// The project role the procedure requires, when that is what is missing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        required_project_role: Option<ProjectRole>,
        /// Set when the caller may see an approval task but is not one of its deciders.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        not_assignee: Option<bool>,
    },
    /// See [`ErrorCode::NotFound`].
    #[serde(rename = "notFound")]
    NotFound {
        /// What kind of thing was looked up (`session`, `user`).
        resource: String,
    },
    /// See [`ErrorCode::Conflict`].
    #[serde(rename = "conflict", rename_all = "camelCase")]
    Conflict {
        /// What conflicts.
        detail: String,
        /// For a stale `expectedVersion`: the version that is current now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        current_version: Option<i32>,
    },
    /// See [`ErrorCode::PayloadTooLarge`].
    #[serde(rename = "payloadTooLarge")]
    PayloadTooLarge {
        /// The configured limit (bytes or members).
        limit: u64,
        /// Which limit.
        what: LimitKind,
    },
    /// See [`ErrorCode::RateLimited`].
    #[serde(rename = "rateLimited", rename_all = "camelCase")]
    RateLimited {
        /// Seconds to wait before trying again.
        retry_after_seconds: u64,
    },
    /// See [`ErrorCode::BudgetExceeded`].
    #[serde(rename = "budgetExceeded", rename_all = "camelCase")]
    BudgetExceeded {
        /// Which budget, and by how much.
        reason: String,
    },
    /// See [`ErrorCode::Upstream`].
    #[serde(rename = "upstream", rename_all = "camelCase")]
    Upstream {
        /// The service (`ai`).
        service: String,
        /// What happened.
        reason: String,
        /// A stable name of the failure (`notConfigured`, `allProvidersFailed`, `invalidOutput`, ...).
        failure: String,
    },
    /// See [`ErrorCode::Internal`].
    #[serde(rename = "internal", rename_all = "camelCase")]
    Internal {
        /// Quote this when reporting the failure; the server log has the cause.
        correlation_id: String,
    },
}

/// A JSON-RPC error object as sent on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
pub struct RpcErrorObject {
    /// One of the codes in [`ErrorCode`].
    pub code: i32,
    /// Short, fixed description of the code.
    pub message: String,
    /// Typed details.
    pub data: ErrorData,
}

/// An infrastructure failure whose cause is logged, never sent.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct InternalError {
    context: &'static str,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InternalError {
    /// An internal failure with its cause.
    pub fn new(context: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { context, source: Some(source.into()) }
    }

    /// An internal failure with no further cause.
    pub fn message(context: &'static str) -> Self {
        Self { context, source: None }
    }
}

/// Everything a procedure can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// See [`ErrorCode::InvalidParams`].
    #[error("invalid params")]
    InvalidParams(Vec<FieldError>),
    /// See [`ErrorCode::Validation`].
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// See [`ErrorCode::Unauthenticated`].
    #[error("unauthenticated: {0:?}")]
    Unauthenticated(UnauthenticatedReason),
    /// See [`ErrorCode::Forbidden`]: the account role is too low.
    #[error("forbidden: requires {required_role}")]
    Forbidden {
        /// The role the procedure requires.
        required_role: Role,
    },
    /// See [`ErrorCode::Forbidden`]: the approval task is not assigned to the caller.
    #[error("forbidden: not an assignee of the task")]
    NotAssignee,
    /// See [`ErrorCode::Forbidden`]: the caller's role in the project is too low.
    #[error("forbidden: requires project role {required}")]
    ForbiddenInProject {
        /// The project role the procedure requires.
        required: ProjectRole,
    },
    /// See [`ErrorCode::NotFound`].
    #[error("{resource} not found")]
    NotFound {
        /// What was looked up.
        resource: &'static str,
    },
    /// See [`ErrorCode::Conflict`].
    #[error("conflict: {detail}")]
    Conflict {
        /// What conflicts.
        detail: String,
    },
    /// See [`ErrorCode::Conflict`]: an edit based on a version that is no longer current.
    #[error("stale version: current is {current_version}")]
    StaleVersion {
        /// The version that is current now.
        current_version: i32,
    },
    /// See [`ErrorCode::PayloadTooLarge`].
    #[error("payload too large")]
    PayloadTooLarge {
        /// The limit.
        limit: u64,
        /// Which limit.
        what: LimitKind,
    },
    /// See [`ErrorCode::RateLimited`].
    #[error("rate limited for {retry_after_seconds}s")]
    RateLimited {
        /// Seconds to wait.
        retry_after_seconds: u64,
    },
    /// See [`ErrorCode::BudgetExceeded`].
    #[error("budget exceeded: {reason}")]
    BudgetExceeded {
        /// Which budget.
        reason: String,
    },
    /// See [`ErrorCode::Upstream`].
    #[error("{service} failed: {reason}")]
    Upstream {
        /// The service.
        service: &'static str,
        /// What happened.
        reason: String,
        /// Stable failure name.
        failure: &'static str,
    },
    /// See [`ErrorCode::Internal`].
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { entity } => {
                ApiError::Conflict { detail: format!("{entity} already exists") }
            }
            other => ApiError::Internal(InternalError::new("store operation failed", other)),
        }
    }
}

impl ApiError {
    /// A single-field validation failure.
    pub fn field(path: &str, code: &str, message: &str) -> Self {
        ApiError::Validation(ValidationErrors::single(FieldError::new(path, code, message)))
    }

    /// The code this error is sent with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::InvalidParams(_) => ErrorCode::InvalidParams,
            ApiError::Validation(_) => ErrorCode::Validation,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::Forbidden { .. } => ErrorCode::Forbidden,
            ApiError::ForbiddenInProject { .. } => ErrorCode::Forbidden,
            ApiError::NotAssignee => ErrorCode::Forbidden,
            ApiError::NotFound { .. } => ErrorCode::NotFound,
            ApiError::Conflict { .. } => ErrorCode::Conflict,
            ApiError::StaleVersion { .. } => ErrorCode::Conflict,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::BudgetExceeded { .. } => ErrorCode::BudgetExceeded,
            ApiError::Upstream { .. } => ErrorCode::Upstream,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Converts into the wire object. Internal errors are logged here with a fresh
    /// correlation id, which is all the caller receives.
    pub fn into_object(self) -> RpcErrorObject {
        let code = self.code();
        let data = match self {
            ApiError::InvalidParams(fields) => ErrorData::InvalidParams { fields },
            ApiError::Validation(errors) => ErrorData::Validation { fields: errors.0 },
            ApiError::Unauthenticated(reason) => ErrorData::Unauthenticated { reason },
            ApiError::Forbidden { required_role } => ErrorData::Forbidden {
                required_role: Some(required_role),
                required_project_role: None,
                not_assignee: None,
            },
            ApiError::ForbiddenInProject { required } => ErrorData::Forbidden {
                required_role: None,
                required_project_role: Some(required),
                not_assignee: None,
            },
            ApiError::NotAssignee => ErrorData::Forbidden {
                required_role: None,
                required_project_role: None,
                not_assignee: Some(true),
            },
            ApiError::NotFound { resource } => ErrorData::NotFound { resource: resource.to_owned() },
            ApiError::Conflict { detail } => ErrorData::Conflict { detail, current_version: None },
            ApiError::StaleVersion { current_version } => ErrorData::Conflict {
                detail: format!(
                    "the workflow changed: version {current_version} is current; reload and reapply"
                ),
                current_version: Some(current_version),
            },
            ApiError::PayloadTooLarge { limit, what } => ErrorData::PayloadTooLarge { limit, what },
            ApiError::RateLimited { retry_after_seconds } => ErrorData::RateLimited { retry_after_seconds },
            ApiError::BudgetExceeded { reason } => ErrorData::BudgetExceeded { reason },
            ApiError::Upstream { service, reason, failure } => {
                ErrorData::Upstream { service: service.to_owned(), reason, failure: failure.to_owned() }
            }
            ApiError::Internal(err) => {
                let correlation_id = uuid::Uuid::new_v4().to_string();
                tracing::error!(correlation_id, error = %err, cause = ?std::error::Error::source(&err), "internal error");
                ErrorData::Internal { correlation_id }
            }
        };
        RpcErrorObject { code: code.code(), message: code.message().to_owned(), data }
    }
}

impl RpcErrorObject {
    /// A protocol-level error (parse, invalid request, method not found).
    pub fn protocol(code: ErrorCode, data: ErrorData) -> Self {
        Self { code: code.code(), message: code.message().to_owned(), data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kinds_match_data() {
        let mut codes: Vec<i32> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        let object = ApiError::RateLimited { retry_after_seconds: 30 }.into_object();
        let json = serde_json::to_value(&object).unwrap();
        assert_eq!(json["code"], -32029);
        assert_eq!(json["data"]["kind"], ErrorCode::RateLimited.data_kind());
        assert_eq!(json["data"]["retryAfterSeconds"], 30);
    }

    #[test]
    fn internal_errors_reveal_only_a_correlation_id() {
        let err =
            ApiError::Internal(InternalError::new("db failed", std::io::Error::other("secret path /var/x")));
        let json = serde_json::to_value(err.into_object()).unwrap();
        assert_eq!(json["code"], -32603);
        assert_eq!(json["data"].as_object().unwrap().len(), 2);
        assert!(!json.to_string().contains("secret"));
    }
}
