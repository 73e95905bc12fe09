//! sea-orm entities: one module per table. These are table rows, never wire types; the
//! repositories convert them into the records in [`crate::records`].

pub mod ai_budgets;
pub mod ai_calls;
pub mod approval_tasks;
pub mod audit_events;
pub mod collab_presence;
pub mod credentials;
pub mod event_log;
pub mod event_log_state;
pub mod event_triggers;
pub mod notification_preferences;
pub mod notifications;
pub mod project_invitations;
pub mod project_members;
pub mod projects;
pub mod refresh_tokens;
pub mod runs;
pub mod schedules;
pub mod sessions;
pub mod steps;
pub mod stream_tickets;
pub mod trigger_fires;
pub mod users;
pub mod webhooks;
pub mod workflow_comments;
pub mod workflow_tags;
pub mod workflow_versions;
pub mod workflows;
