//! Pieces shared by routers: access checks on projects, pagination, text and time limits.

use chrono::{DateTime, Datelike, Utc};
use weft_core::validation::text_length;
use weft_core::{FieldError, ProjectId, ProjectRole, ValidationErrors};
use weft_store::ProjectMembership;

use crate::error::ApiError;
use crate::rpc::CallContext;

/// Longest project or workflow name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest search text, in characters. A search becomes a `LIKE` pattern, whose length the
/// database bounds (SQLite refuses patterns over 50,000 bytes); the check comes before any query.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Default page size.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page size.
pub const MAX_PAGE: u32 = 200;

/// Loads the project if the caller is a member holding at least `required`. A project the
/// caller is not a member of answers not-found, exactly like one that does not exist.
pub async fn require_project(
    ctx: &CallContext,
    project: ProjectId,
    required: ProjectRole,
) -> Result<ProjectMembership, ApiError> {
    let caller = ctx.caller()?;
    let membership = ctx
        .state
        .store()
        .project_for_member(project, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound { resource: "project" })?;
    if !membership.role.satisfies(required) {
        return Err(ApiError::ForbiddenInProject { required });
    }
    Ok(membership)
}

/// Parses an opaque cursor and a page size.
pub fn page(cursor: Option<&str>, limit: Option<u32>) -> Result<(Option<uuid::Uuid>, u64), ApiError> {
    let after = match cursor {
        None => None,
        Some(cursor) => Some(
            uuid::Uuid::parse_str(cursor)
                .map_err(|_| ApiError::field("cursor", "invalid", "is not a cursor from a previous page"))?,
        ),
    };
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::field("limit", "outOfRange", &format!("must be between 1 and {MAX_PAGE}")));
    }
    Ok((after, u64::from(limit)))
}

/// Trims and checks a name.
pub fn name(errors: &mut ValidationErrors, path: &str, value: &str) -> String {
    let trimmed = value.trim().to_owned();
    errors.check(text_length(path, &trimmed, 1, MAX_NAME_CHARS));
    trimmed
}

/// Checks a description.
pub fn description(errors: &mut ValidationErrors, path: &str, value: &str) -> String {
    if value.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            path,
            "tooLong",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    value.to_owned()
}

/// Years a timestamp param may name. chrono reads years up to ±262,143, PostgreSQL stores
/// 4713 BC to 294276 AD, and date arithmetic near chrono's ends overflows; four-digit years
/// are what every client means and both databases hold.
pub const TIMESTAMP_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// Checks a timestamp param against [`TIMESTAMP_YEARS`], before it reaches a query or a sum.
pub fn timestamp(path: &str, value: Option<DateTime<Utc>>) -> Result<(), FieldError> {
    match value {
        Some(at) if !TIMESTAMP_YEARS.contains(&at.year()) => Err(FieldError::new(
            path,
            "outOfRange",
            format!("must be between the years {} and {}", TIMESTAMP_YEARS.start(), TIMESTAMP_YEARS.end()),
        )),
        _ => Ok(()),
    }
}

/// A search text, trimmed; `None` when absent or blank; VALIDATION when longer than
/// [`MAX_SEARCH_CHARS`].
pub fn search(path: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(trimmed) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    text_length(path, &trimmed, 1, MAX_SEARCH_CHARS)
        .map_err(|e| ApiError::from(ValidationErrors::single(e)))?;
    Ok(Some(trimmed))
}
