//! Weft's persistence layer: the only crate that knows SQL. It owns the connection pools
//! for SQLite (embedded default) and PostgreSQL (scale-out), runs migrations, and exposes
//! repositories as methods on [`Store`] that return plain records, never table rows.
//!
//! Every write that touches more than one row runs in one transaction.

mod connect;
mod entities;
mod error;
pub mod records;
mod repos;
pub mod testing;

pub use connect::{Backend, MigrationState, Store, StoreOptions};
pub use error::StoreError;
pub use records::*;
pub use repos::ai_usage::{
    AiCallRecord, Budget, BudgetCheck, BudgetPeriod, BudgetScope, Reservation, UsageGroup, UsageQuery,
    UsageRow,
};
pub use repos::approvals::{ApprovalTask, NewTask, TaskStatus};
pub use repos::audit::AuditKey;
pub use repos::collab::{Comment, CommentRefusal, NewComment, Presence, PresenceUpdate};
pub use repos::credentials::{Credential, CredentialChanges, CredentialKind, NewCredential};
pub use repos::event_log::{EventRow, EventSignal, NewEventRow};
pub use repos::event_triggers::EventTrigger;
pub use repos::fires::{Fire, FireClaim, FireStatus, NewFire, time_key};
pub use repos::invitations::{InvitationAnswer, InviteRefusal, NewInvitation};
pub use repos::notifications::{NewNotification, Notification};
pub use repos::projects::{MemberChange, ProjectQuery};
pub use repos::runs::{Claim, NewRun, Run, RunQuery, RunStatus, Step, StepEnd, StepOutput, StepStatus};
pub use repos::schedules::{Advance, Schedule};
pub use repos::sessions::RefreshOutcome;
pub use repos::step_txn::{Arrival, Requeue, StepTxn};
pub use repos::versions::{NewVersion, SaveOutcome, VERSIONS_PER_SNAPSHOT, VersionContent, snapshot_due};
pub use repos::webhooks::Webhook;
pub use repos::workflows::{WorkflowChanges, WorkflowQuery, WorkflowStatus};
