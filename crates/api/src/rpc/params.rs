//! Turning a raw `params` member into a procedure's params type, with field paths.

use serde::de::DeserializeOwned;
use weft_core::FieldError;

use crate::error::ApiError;

/// Parses by-name params. Absent params mean `{}`; by-position (array) params are refused,
/// because every Weft procedure takes one named-params object.
pub(crate) fn parse_params<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let raw = raw.unwrap_or("{}");
    if raw.trim_start().starts_with('[') {
        return Err(ApiError::InvalidParams(vec![FieldError::new(
            "",
            "byPosition",
            "params must be an object of named parameters",
        )]));
    }
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let parent = err.path().to_string();
        let parent = if parent == "." { String::new() } else { parent };
        ApiError::InvalidParams(vec![field_error(parent, &err.inner().to_string())])
    })
}

/// Rewrites serde's messages so that missing and unknown fields name their own path.
fn field_error(parent: String, message: &str) -> FieldError {
    let message = strip_position(message);
    let join = |name: &str| if parent.is_empty() { name.to_owned() } else { format!("{parent}.{name}") };
    if let Some(name) = quoted_name(message, "missing field `") {
        return FieldError::new(join(name), "required", "is required");
    }
    if let Some(name) = quoted_name(message, "unknown field `") {
        // serde_path_to_error already ends the path with the unknown field.
        let path =
            if parent == name || parent.ends_with(&format!(".{name}")) { parent.clone() } else { join(name) };
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

fn quoted_name<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix).and_then(|rest| rest.split('`').next())
}

/// serde_json appends " at line L column C"; the path already says where.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(idx) => &message[..idx],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Params {
        email: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        max_items: u32,
    }

    fn fields(raw: &str) -> Vec<FieldError> {
        match parse_params::<Params>(Some(raw)) {
            Err(ApiError::InvalidParams(fields)) => fields,
            other => panic!("expected invalid params, got {other:?}"),
        }
    }

    #[test]
    fn missing_fields_name_their_path() {
        assert_eq!(fields("{}")[0], FieldError::new("email", "required", "is required"));
        assert_eq!(fields(r#"{"email":"a","inner":{}}"#)[0].path, "inner.maxItems");
    }

    #[test]
    fn wrong_types_and_unknown_fields_name_their_path() {
        let f = fields(r#"{"email": 5}"#);
        assert_eq!((f[0].path.as_str(), f[0].code.as_str()), ("email", "invalidType"));
        assert!(!f[0].message.contains("line"));
        let f = fields(r#"{"email":"a","inner":{"maxItems":-1}}"#);
        assert_eq!((f[0].path.as_str(), f[0].code.as_str()), ("inner.maxItems", "invalidValue"));
        let f = fields(r#"{"email":"a","extra":1}"#);
        assert_eq!((f[0].path.as_str(), f[0].code.as_str()), ("extra", "unknownField"));
    }

    #[test]
    fn positional_params_are_refused() {
        assert_eq!(fields(r#"["a"]"#)[0].code, "byPosition");
    }

    #[test]
    fn absent_params_mean_an_empty_object() {
        #[derive(Deserialize)]
        struct Empty {}
        assert!(parse_params::<Empty>(None).is_ok());
    }
}
