//! Login throttling. Failures are counted from the audit log, so the limits hold across
//! restarts and across instances sharing one database.

use std::time::Duration;

use chrono::Utc;
use weft_store::{AuditKey, AuditKind};

use crate::AppState;
use crate::error::{ApiError, InternalError};

/// Failure limits within a sliding window.
#[derive(Clone, Copy, Debug)]
pub struct LoginThrottle {
    /// Failures per account (normalised e-mail, known or not) before login is refused.
    pub max_failures_per_account: u64,
    /// Failures per client address before login is refused.
    pub max_failures_per_ip: u64,
    /// The window.
    pub window: Duration,
}

impl LoginThrottle {
    /// Refuses with `RateLimited` when either limit is reached.
    pub(crate) async fn check(
        &self,
        state: &AppState,
        email: &str,
        ip: Option<&str>,
    ) -> Result<(), ApiError> {
        let window = chrono::Duration::from_std(self.window)
            .map_err(|e| InternalError::new("throttle window out of range", e))?;
        let since = Utc::now() - window;
        let store = state.store();
        let limited = store
            .count_audit_since(AuditKind::LoginFailed, AuditKey::Subject(email), since)
            .await?
            >= self.max_failures_per_account
            || match ip {
                Some(ip) => {
                    store.count_audit_since(AuditKind::LoginFailed, AuditKey::IpAddress(ip), since).await?
                        >= self.max_failures_per_ip
                }
                None => false,
            };
        if limited {
            return Err(ApiError::RateLimited { retry_after_seconds: self.window.as_secs().max(1) });
        }
        Ok(())
    }
}
