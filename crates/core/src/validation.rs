//! Field-level validation errors, shared by every input check so that clients always
//! receive the same shape: a list of `{ path, code, message }`.

use serde::{Deserialize, Serialize};

/// One problem with one input field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
pub struct FieldError {
    /// Dotted path to the field inside the params object (`password`, `nodes[3].config.url`).
    pub path: String,
    /// Stable machine-readable code (`tooShort`, `invalidEmail`, `required`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(path: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), code: code.into(), message: message.into() }
    }
}

/// A non-empty collection of field errors.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", summary(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn summary(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")
}

impl ValidationErrors {
    /// An empty collector.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Records one error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Records the error of a check, if any.
    pub fn check(&mut self, result: Result<(), FieldError>) {
        if let Err(error) = result {
            self.0.push(error);
        }
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// A single-field failure.
    pub fn single(error: FieldError) -> Self {
        Self(vec![error])
    }
}

/// Checks that a trimmed text has between `min` and `max` characters.
pub fn text_length(path: &str, value: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n_chars = value.chars().count();
    if n_chars < min {
        let message = if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {min} characters")
        };
        return Err(FieldError::new(path, if min == 1 { "required" } else { "tooShort" }, message));
    }
    if n_chars > max {
        return Err(FieldError::new(path, "tooLong", format!("must be at most {max} characters")));
    }
    Ok(())
}

/// `prefix.name`, `prefix[3]`, or `name` alone when the prefix is empty.
pub fn join_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else if name.is_empty() {
        prefix.to_owned()
    } else if name.starts_with('[') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}.{name}")
    }
}

/// Turns a serde error (with the path serde_path_to_error tracked) into a field error whose
/// path names the offending field itself, also for missing and unknown fields, which serde
/// names only in its message. Paths start under `prefix`.
pub fn from_serde_error(prefix: &str, err: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let inner_path = err.path().to_string();
    let parent = if inner_path == "." { prefix.to_owned() } else { join_path(prefix, &inner_path) };
    let message = err.inner().to_string();
    // serde_json appends " at line L column C"; the path already says where.
    let message = message.rfind(" at line ").map_or(message.as_str(), |idx| &message[..idx]);
    let quoted = |lead: &str| message.strip_prefix(lead).and_then(|rest| rest.split('`').next());
    if let Some(name) = quoted("missing field `") {
        return FieldError::new(join_path(&parent, name), "required", "is required");
    }
    if let Some(name) = quoted("unknown field `") {
        // serde_path_to_error's path usually ends with the unknown field already.
        let path = if parent == name || parent.ends_with(&format!(".{name}")) {
            parent
        } else {
            join_path(&parent, name)
        };
        return FieldError::new(path, "unknownField", "is not a known field");
    }
    let code = if message.starts_with("invalid type") {
        "invalidType"
    } else if message.starts_with("invalid value") || message.starts_with("unknown variant") {
        "invalidValue"
    } else {
        "invalid"
    };
    FieldError::new(parent, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_errors_in_order() {
        let mut errors = ValidationErrors::new();
        errors.check(text_length("name", "", 1, 10));
        errors.check(text_length("bio", "abcdef", 1, 3));
        errors.check(text_length("ok", "fine", 1, 10));
        let err = errors.into_result().unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert_eq!(err.0[0].code, "required");
        assert_eq!(err.0[1].code, "tooLong");
        assert_eq!(
            err.to_string(),
            "invalid input: name: must not be empty; bio: must be at most 3 characters"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(text_length("n", "ééé", 1, 3).is_ok());
    }
}
