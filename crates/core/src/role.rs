//! Account roles and the order between them.

use serde::{Deserialize, Serialize};

/// A user's account-wide role. `ADMIN` may do everything a `USER` may, who may do
/// everything a `GUEST` may.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Manages users and the instance.
    Admin,
    /// A regular account.
    User,
    /// Read-mostly account with the least rights.
    Guest,
}

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::Guest => 0,
            Role::User => 1,
            Role::Admin => 2,
        }
    }

    /// Whether a holder of `self` may call something that requires `required`.
    pub fn satisfies(self, required: Role) -> bool {
        self.rank() >= required.rank()
    }

    /// The stored and wire spelling (`ADMIN`, `USER`, `GUEST`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::User => "USER",
            Role::Guest => "GUEST",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "ADMIN" => Some(Role::Admin),
            "USER" => Some(Role::User),
            "GUEST" => Some(Role::Guest),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.satisfies(Role::User));
        assert!(Role::User.satisfies(Role::Guest));
        assert!(!Role::Guest.satisfies(Role::User));
        assert!(!Role::User.satisfies(Role::Admin));
    }

    #[test]
    fn spelling_round_trips() {
        for role in [Role::Admin, Role::User, Role::Guest] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
