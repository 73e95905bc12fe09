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
    serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| ApiError::InvalidParams(vec![weft_core::validation::from_serde_error("", &err)]))
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
