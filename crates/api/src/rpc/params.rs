//! Turning a raw `params` member into a procedure's params type, with field paths.
//!
//! Rules that hold for every string of every procedure live here, at the one boundary every
//! call crosses, so that a new procedure inherits them without a line of its own: a text
//! holding a NUL character (U+0000) is refused with a VALIDATION error naming each field.
//! PostgreSQL cannot store NUL in text while SQLite can; refusing it everywhere makes both
//! databases answer alike, and no legitimate name, search or document needs it. Params nest
//! at most [`MAX_DEPTH`] levels: free-form JSON (run inputs) comes back inside answers and
//! events a few levels deeper, and clients' JSON readers stop at 128.

use serde::de::DeserializeOwned;
use serde_json::Value;
use weft_core::validation::join_path;
use weft_core::{FieldError, ValidationErrors};

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
    let params = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| ApiError::InvalidParams(vec![weft_core::validation::from_serde_error("", &err)]))?;
    if has_escaped_nul(raw) {
        return Err(nul_errors(raw).into());
    }
    if nesting_depth(raw) > MAX_DEPTH {
        return Err(depth_error(raw).into());
    }
    Ok(params)
}

/// Deepest nesting of arrays and objects params may have.
pub(crate) const MAX_DEPTH: usize = 64;

/// How deep arrays and objects nest in the JSON text (brackets inside strings ignored).
fn nesting_depth(raw: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in raw.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The VALIDATION error naming where the params first nest too deep.
fn depth_error(raw: &str) -> ValidationErrors {
    fn find(value: &Value, path: String, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return Some(path);
        }
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(idx, item)| find(item, join_path(&path, &format!("[{idx}]")), depth + 1)),
            Value::Object(map) => {
                map.iter().find_map(|(key, item)| find(item, join_path(&path, key), depth + 1))
            }
            _ => None,
        }
    }
    // The params object itself is level 1.
    let path = serde_json::from_str::<Value>(raw).ok().and_then(|v| find(&v, String::new(), 1));
    ValidationErrors::single(FieldError::new(
        path.unwrap_or_default(),
        "tooDeep",
        format!("must not nest deeper than {MAX_DEPTH} levels"),
    ))
}

/// Whether the JSON text spells a NUL character. JSON cannot carry a raw NUL inside a string,
/// so `\u0000` is its only spelling; escapes are consumed pairwise, so an escaped backslash
/// followed by `u0000` is not one. One pass over the text, without allocating.
fn has_escaped_nul(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut at = 0;
    while let Some(offset) = bytes[at..].iter().position(|&b| b == b'\\') {
        let escape = at + offset;
        if bytes.get(escape + 1) == Some(&b'u') && bytes.get(escape + 2..escape + 6) == Some(b"0000") {
            return true;
        }
        at = escape + 2;
        if at >= bytes.len() {
            return false;
        }
    }
    false
}

/// The VALIDATION error naming every field (or object key) whose text holds a NUL.
fn nul_errors(raw: &str) -> ValidationErrors {
    let mut errors = ValidationErrors::new();
    if let Ok(value) = serde_json::from_str::<Value>(raw) {
        collect_nul_paths(&value, "", &mut errors);
    }
    if errors.0.is_empty() {
        errors.push(nul_error(""));
    }
    errors
}

fn nul_error(path: &str) -> FieldError {
    FieldError::new(path, "nulCharacter", "must not contain the NUL character (U+0000)")
}

fn collect_nul_paths(value: &Value, path: &str, errors: &mut ValidationErrors) {
    match value {
        Value::String(text) if text.contains('\0') => errors.push(nul_error(path)),
        Value::Array(items) => {
            for (idx, item) in items.iter().enumerate() {
                collect_nul_paths(item, &join_path(path, &format!("[{idx}]")), errors);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let item_path = join_path(path, &key.replace('\0', "\\u0000"));
                if key.contains('\0') {
                    errors.push(nul_error(&item_path));
                }
                collect_nul_paths(item, &item_path, errors);
            }
        }
        _ => {}
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
    fn nul_characters_are_refused_with_the_path_of_each_field() {
        let refused = |raw: &str| match parse_params::<serde_json::Value>(Some(raw)) {
            Err(ApiError::Validation(errors)) => {
                errors.0.into_iter().map(|e| (e.path, e.code)).collect::<Vec<_>>()
            }
            other => panic!("expected a validation error for {raw}, got {other:?}"),
        };
        let nul = |path: &str| (path.to_owned(), "nulCharacter".to_owned());
        assert_eq!(refused(r#"{"email":"a\u0000b"}"#), vec![nul("email")]);
        assert_eq!(
            refused(r#"{"inner":{"list":["ok","\u0000"]},"k\u0000":1}"#),
            vec![nul("inner.list[1]"), nul("k\\u0000")]
        );
        // An escaped backslash followed by `u0000` is text, not a NUL.
        for raw in [r#"{"a":"\\u0000"}"#, r#"{"a":"\\\\u0000x"}"#, r#"{"a":"\u0001"}"#, r#"{"a":"\\"}"#] {
            assert!(parse_params::<serde_json::Value>(Some(raw)).is_ok(), "{raw}");
        }
        assert!(has_escaped_nul(r#"{"a":"\\\u0000"}"#));
        // A malformed params object stays an INVALID_PARAMS error.
        assert!(matches!(
            parse_params::<Params>(Some(r#"{"email":"\u0000","x":1}"#)),
            Err(ApiError::InvalidParams(_))
        ));
    }

    #[test]
    fn params_nest_at_most_max_depth_levels() {
        let nested =
            |levels: usize| format!("{{\"input\":{}1{}}}", "[".repeat(levels - 1), "]".repeat(levels - 1));
        assert!(parse_params::<serde_json::Value>(Some(&nested(MAX_DEPTH))).is_ok());
        match parse_params::<serde_json::Value>(Some(&nested(MAX_DEPTH + 1))) {
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors.0[0].code, "tooDeep");
                assert!(errors.0[0].path.starts_with("input[0]"), "{}", errors.0[0].path);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        // Brackets inside strings are text.
        let text = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(200), "{".repeat(200));
        assert!(parse_params::<serde_json::Value>(Some(&text)).is_ok());
    }

    #[test]
    fn absent_params_mean_an_empty_object() {
        #[derive(Deserialize)]
        struct Empty {}
        assert!(parse_params::<Empty>(None).is_ok());
    }
}
