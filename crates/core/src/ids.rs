//! Typed identifiers. Each wraps a UUID (version 7, so ids sort by creation time) and
//! crosses the wire as its canonical string form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares an id type. In TypeScript it is a brand of `string` (`$brand`, which names the
/// type), so a project id is refused where a workflow id is expected; on the wire it is the
/// UUID's string.
macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $brand:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            ts_rs::TS, schemars::JsonSchema,
        )]
        #[serde(transparent)]
        #[ts(type = $brand)]
        #[schemars(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

define_id!(
    /// Identifies a user account.
    UserId,
    "string & { readonly __brand: \"UserId\" }"
);
define_id!(
    /// Identifies a login session: the family of refresh tokens issued from one login.
    SessionId,
    "string & { readonly __brand: \"SessionId\" }"
);

define_id!(
    /// Identifies a project.
    ProjectId,
    "string & { readonly __brand: \"ProjectId\" }"
);
define_id!(
    /// Identifies a workflow.
    WorkflowId,
    "string & { readonly __brand: \"WorkflowId\" }"
);
define_id!(
    /// Identifies an invitation to join a project.
    InvitationId,
    "string & { readonly __brand: \"InvitationId\" }"
);
define_id!(
    /// Identifies a run: one execution of a workflow version.
    RunId,
    "string & { readonly __brand: \"RunId\" }"
);
define_id!(
    /// Identifies a stored credential (a provider key or another secret of a project).
    CredentialId,
    "string & { readonly __brand: \"CredentialId\" }"
);
define_id!(
    /// Identifies an approval task: a human decision an approval step waits for.
    TaskId,
    "string & { readonly __brand: \"TaskId\" }"
);
define_id!(
    /// Identifies a cron schedule of a workflow.
    ScheduleId,
    "string & { readonly __brand: \"ScheduleId\" }"
);
define_id!(
    /// Identifies a webhook of a workflow (its URL is `/hooks/<id>`).
    WebhookId,
    "string & { readonly __brand: \"WebhookId\" }"
);
define_id!(
    /// Identifies an event trigger: a workflow started by another workflow's runs.
    EventTriggerId,
    "string & { readonly __brand: \"EventTriggerId\" }"
);
define_id!(
    /// Identifies a step: one execution of one node in one scope of a run. Also the step's
    /// idempotency key towards external systems (`Idempotency-Key` on HTTP requests).
    StepId,
    "string & { readonly __brand: \"StepId\" }"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_json_as_plain_strings() {
        let id = UserId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: UserId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b);
    }
}
