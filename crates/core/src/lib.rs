//! Weft's domain vocabulary: identifiers, roles, validation errors and the rules that
//! decide whether an input is acceptable. Nothing here performs IO.

pub mod credentials;
pub mod ids;
pub mod role;
pub mod validation;

pub use ids::{SessionId, UserId};
pub use role::Role;
pub use validation::{FieldError, ValidationErrors};
