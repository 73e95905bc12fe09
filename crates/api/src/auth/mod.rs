//! Authentication: access tokens, opaque refresh tokens and stream tickets, password
//! hashing, login throttling, and resolving a request's credentials into a [`Caller`].

pub(crate) mod caller;
mod password;
mod throttle;
mod tokens;

pub use caller::{Caller, Credentials, RequestInfo};
pub use password::PasswordHasher;
pub use throttle::LoginThrottle;
pub use tokens::{AccessClaims, TokenConfig, TokenService, hash_secret, random_secret};
