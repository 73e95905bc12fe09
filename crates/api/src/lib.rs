//! Weft's network surface: JSON-RPC 2.0 over HTTP and WebSocket, the Server-Sent Events
//! stream, health probes, authentication, and the code generation that derives the
//! OpenRPC document and the TypeScript client from the procedure declarations.
//!
//! This is the only crate that knows JSON-RPC and HTTP.

pub mod auth;
pub mod codegen;
pub mod error;
pub mod graph_cache;
pub mod http;
pub mod realtime;
pub mod routers;
pub mod rpc;
mod state;

pub use error::{ApiError, ErrorCode, ErrorData};
pub use state::{ApiConfig, AppState, WeakState};
