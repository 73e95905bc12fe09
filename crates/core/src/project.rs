//! Project membership roles and what each may do.

use serde::{Deserialize, Serialize};

/// A member's role in one project. Every project has exactly one `OWNER`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectRole {
    /// Manages members, settings and deletion; exactly one per project.
    Owner,
    /// Creates and edits workflows.
    Editor,
    /// Reads.
    Viewer,
}

impl ProjectRole {
    fn rank(self) -> u8 {
        match self {
            ProjectRole::Viewer => 0,
            ProjectRole::Editor => 1,
            ProjectRole::Owner => 2,
        }
    }

    /// Whether a holder of `self` may do what requires `required`.
    pub fn satisfies(self, required: ProjectRole) -> bool {
        self.rank() >= required.rank()
    }

    /// Stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Owner => "OWNER",
            ProjectRole::Editor => "EDITOR",
            ProjectRole::Viewer => "VIEWER",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "OWNER" => Some(ProjectRole::Owner),
            "EDITOR" => Some(ProjectRole::Editor),
            "VIEWER" => Some(ProjectRole::Viewer),
            _ => None,
        }
    }
}

impl std::fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(ProjectRole::Owner.satisfies(ProjectRole::Editor));
        assert!(ProjectRole::Editor.satisfies(ProjectRole::Viewer));
        assert!(!ProjectRole::Viewer.satisfies(ProjectRole::Editor));
        for role in [ProjectRole::Owner, ProjectRole::Editor, ProjectRole::Viewer] {
            assert_eq!(ProjectRole::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
    }
}
