//! Weft's domain vocabulary: identifiers, roles, validation errors and the rules that
//! decide whether an input is acceptable. Nothing here performs IO.

pub mod credentials;
pub mod cron_expr;
pub mod ids;
pub mod project;
pub mod role;
pub mod schedule;
pub mod secrets;
pub mod validation;
pub mod workflow;

pub use ids::{
    CredentialId, EventTriggerId, InvitationId, ProjectId, RunId, ScheduleId, SessionId, StepId, TaskId,
    UserId, WebhookId, WorkflowId,
};
pub use project::ProjectRole;
pub use role::Role;
pub use validation::{FieldError, ValidationErrors};
