//! sea-orm entities: one module per table. These are table rows, never wire types; the
//! repositories convert them into the records in [`crate::records`].

pub mod audit_events;
pub mod refresh_tokens;
pub mod sessions;
pub mod stream_tickets;
pub mod users;
