//! Weft's domain vocabulary: identifiers, roles, validation errors and the rules that
//! decide whether an input is acceptable. Nothing here performs IO.

pub mod credentials;
pub mod ids;
pub mod project;
pub mod role;
pub mod secrets;
pub mod validation;
pub mod workflow;

pub use ids::{CredentialId, InvitationId, ProjectId, RunId, SessionId, StepId, TaskId, UserId, WorkflowId};
pub use project::ProjectRole;
pub use role::Role;
pub use validation::{FieldError, ValidationErrors};
