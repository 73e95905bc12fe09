//! Integration tests of the HTTP and JSON-RPC surface. Every test runs against a real
//! server on port 0, once on SQLite and once on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod helpers;

mod ai;
mod auth_errors;
mod auth_flows;
mod codegen;
mod collab;
mod conformance;
mod event_connections;
mod events;
mod fuzz;
mod hardening;
mod notifications;
mod projects;
mod realtime;
mod runs;
mod schedules;
mod transport;
mod triggers;
mod webhooks;
mod workflow_access;
mod workflows;
