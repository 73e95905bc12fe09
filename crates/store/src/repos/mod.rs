//! Repositories: methods on [`crate::Store`], grouped by the records they manage.

pub mod audit;
pub mod invitations;
pub mod projects;
pub mod sessions;
pub mod users;
pub mod workflows;
