//! The JSON-RPC routers. Each router declares its procedures (see [`crate::rpc::Procedure`])
//! and registers them in [`registry`].

pub mod ai;
pub mod auth;
pub mod collab;
pub mod common;
pub mod events;
pub mod notification;
pub mod project;
pub mod run;
pub mod schedule;
pub mod trigger;
pub mod webhook;
pub mod workflow;

use crate::rpc::Registry;

/// Every procedure Weft serves.
pub fn registry() -> Registry {
    let registry = auth::register(Registry::new());
    let registry = project::register(registry);
    let registry = workflow::register(registry);
    let registry = run::register(registry);
    let registry = ai::register(registry);
    let registry = notification::register(registry);
    let registry = collab::register(registry);
    let registry = events::register(registry);
    let registry = schedule::register(registry);
    let registry = webhook::register(registry);
    trigger::register(registry)
}
