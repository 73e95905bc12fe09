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
