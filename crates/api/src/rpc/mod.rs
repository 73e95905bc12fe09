//! The JSON-RPC 2.0 layer: procedure declarations ([`Procedure`]), the registry that
//! dispatches to them, and the envelope handling shared by the HTTP and WebSocket
//! transports.
//!
//! Weft parses envelopes itself rather than through a server framework so that it can
//! meet the specification exactly: any JSON number or string as `id`, echoed byte for
//! byte; notifications never answered, also inside batches and also when they fail;
//! precise `-32600` answers for malformed members.

mod envelope;
mod params;
mod procedure;

pub use envelope::Limits;
pub(crate) use envelope::standalone_error as envelope_error;
pub use procedure::{Access, CallContext, Kind, Procedure, ProcedureInfo, Registry, TypeInfo};
