//! The JSON-RPC routers. Each router declares its procedures (see [`crate::rpc::Procedure`])
//! and registers them in [`registry`].

pub mod auth;

use crate::rpc::Registry;

/// Every procedure Weft serves.
pub fn registry() -> Registry {
    auth::register(Registry::new())
}
