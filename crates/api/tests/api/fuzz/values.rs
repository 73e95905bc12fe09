//! Params made from a procedure's JSON Schema (as the OpenRPC document states it) with a
//! seeded RNG: values of the right type and of wrong types, adversarial strings, extreme
//! numbers, deep nesting, unknown fields, nulls, and ids of resources that exist.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use super::fixtures::IdPool;
use super::pools::*;

/// Bytes of long strings one case may hold, so that the body stays within the 64 KiB limit
/// the test config sets (bodies past it are refused before any procedure runs; the
/// conformance tests cover that answer).
const BODY_BUDGET: usize = 60_000;
/// The body limit of the test config.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Beyond this depth objects get only their required fields, and arrays stay short.
const MAX_SCHEMA_DEPTH: usize = 10;

/// Makes params for one procedure; deterministic for a given seed.
///
/// A case is either clean or chaotic. A clean case has every required field, values of the
/// right types, numbers most params accept and mostly ids that exist, so it gets past
/// deserialisation and lookups to the handler's own checks with its adversarial strings.
/// A chaotic case also has wrong types, missing fields, unknown fields, extreme numbers.
pub struct ParamsGen<'a> {
    rng: StdRng,
    components: &'a Map<String, Value>,
    ids: &'a IdPool,
    /// Valid values by type or field name (`Graph`, `patch`), varied in one leaf.
    examples: BTreeMap<String, Vec<Value>>,
    clean: bool,
    /// Bytes still available for long strings in this case.
    budget: usize,
}

impl<'a> ParamsGen<'a> {
    pub fn new(
        seed: u64,
        components: &'a Map<String, Value>,
        ids: &'a IdPool,
        examples: &[(&str, Value)],
    ) -> Self {
        let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (name, example) in examples {
            by_name.entry((*name).to_owned()).or_default().push(example.clone());
        }
        by_name.insert("patch".to_owned(), patch_examples());
        ParamsGen {
            rng: StdRng::seed_from_u64(seed),
            components,
            ids,
            examples: by_name,
            clean: false,
            budget: BODY_BUDGET,
        }
    }

    /// One call's body and its params, within the body limit (a case past it is drawn again).
    pub fn body(
        &mut self,
        method: &str,
        id: usize,
        fields: &[(String, bool, Value)],
    ) -> (Option<Value>, String) {
        loop {
            let params = self.params(fields);
            let mut envelope = json!({"jsonrpc": "2.0", "id": id, "method": method});
            if let Some(params) = &params {
                envelope["params"] = params.clone();
            }
            let body = envelope.to_string();
            if body.len() <= MAX_BODY_BYTES {
                return (params, body);
            }
        }
    }

    /// The `params` member of one call (`None`: left out), from the procedure's params as
    /// `(name, required, schema)`.
    fn params(&mut self, fields: &[(String, bool, Value)]) -> Option<Value> {
        self.budget = BODY_BUDGET;
        self.clean = self.rng.random_bool(0.45);
        if !self.clean && self.rng.random_bool(0.1) {
            return match self.rng.random_range(0..5) {
                0 => None,
                1 => Some(Value::Null),
                2 => Some(json!([])),
                3 => Some(self.scalar_garbage()),
                _ => Some(json!([self.object_of(fields, 0)])),
            };
        }
        Some(self.object_of(fields, 0))
    }

    fn object_of(&mut self, fields: &[(String, bool, Value)], depth: usize) -> Value {
        let mut object = Map::new();
        for (name, required, schema) in fields {
            let keep = match (*required, self.clean) {
                (true, true) => 1.0,
                (true, false) => 0.9,
                _ if depth > MAX_SCHEMA_DEPTH => 0.0,
                _ => 0.5,
            };
            if self.rng.random_bool(keep) {
                let value = self.value(schema, name, depth + 1);
                object.insert(name.clone(), value);
            }
        }
        if !self.clean && self.rng.random_bool(0.15) {
            let key = (*EXTRA_KEYS.choose(&mut self.rng).unwrap()).to_owned();
            let value = self.any(depth + 1);
            object.insert(key, value);
        }
        Value::Object(object)
    }

    /// A value for `schema`, in the field `field` (its name guides strings and ids).
    fn value(&mut self, schema: &Value, field: &str, depth: usize) -> Value {
        if !self.clean && self.rng.random_bool(0.06) {
            return self.wrong_type(depth);
        }
        if let Some(example) = self.example(field) {
            return example;
        }
        self.conforming(schema, field, None, depth)
    }

    /// Now and then, a valid value of this type or field with one leaf changed.
    fn example(&mut self, name: &str) -> Option<Value> {
        let chance = if self.clean { 0.6 } else { 0.3 };
        let examples = self.examples.get(name)?;
        let mut example = examples.choose(&mut self.rng).cloned()?;
        if !self.rng.random_bool(chance) {
            return None;
        }
        let mut leaves = Vec::new();
        collect_leaves(&example, String::new(), &mut leaves);
        if self.rng.random_bool(0.7)
            && let Some(pointer) = leaves.choose(&mut self.rng).cloned()
        {
            let key = pointer.rsplit('/').next().unwrap_or_default().to_owned();
            let replacement = match self.rng.random_range(0..3) {
                0 => self.number(if self.clean { VALID_INTEGERS } else { INTEGERS }),
                _ => self.string(&key, None),
            };
            if let Some(leaf) = example.pointer_mut(&pointer) {
                *leaf = replacement;
            }
        }
        Some(example)
    }

    /// Mostly a value of the schema's type; `hint` is the name of the `$ref` it came through
    /// (`ProjectId`, `NodeId`, ...).
    fn conforming(&mut self, schema: &Value, field: &str, hint: Option<&str>, depth: usize) -> Value {
        let Some(object) = schema.as_object() else {
            // `true`: anything.
            return self.any(depth);
        };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            if let Some(example) = self.example(name) {
                return example;
            }
            let target = self.components.get(name).cloned().unwrap_or(Value::Bool(true));
            return self.conforming(&target, field, Some(name), depth);
        }
        if let Some(all) = object.get("allOf").and_then(Value::as_array)
            && let Some(first) = all.first()
        {
            return self.conforming(first, field, hint, depth);
        }
        let variants = object.get("oneOf").or_else(|| object.get("anyOf")).and_then(Value::as_array);
        if let Some(variants) = variants {
            let variant = variants.choose(&mut self.rng).cloned().unwrap_or(Value::Bool(true));
            if object.contains_key("properties") {
                // Common fields next to a tagged choice (a node's `type` and `config`).
                return self.object(&merge_object(object, &variant), depth);
            }
            return self.conforming(&variant, field, hint, depth);
        }
        if let Some(constant) = object.get("const") {
            return if self.clean || self.rng.random_bool(0.9) {
                constant.clone()
            } else {
                self.string(field, hint)
            };
        }
        if let Some(options) = object.get("enum").and_then(Value::as_array)
            && (self.clean || self.rng.random_bool(0.9))
        {
            return options.choose(&mut self.rng).cloned().unwrap_or(Value::Null);
        }
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(Value::Array(kinds)) => {
                let non_null: Vec<&Value> = kinds.iter().filter(|k| *k != "null").collect();
                if non_null.is_empty() || self.rng.random_bool(0.12) {
                    return Value::Null;
                }
                non_null.choose(&mut self.rng).and_then(|k| k.as_str()).unwrap_or("null").to_owned()
            }
            _ if object.contains_key("properties") => "object".to_owned(),
            _ => return self.any(depth),
        };
        let format = object.get("format").and_then(Value::as_str);
        match kind.as_str() {
            "string" => match format {
                Some("uuid") => self.id(field, hint),
                Some("date-time") => self.date(),
                _ if is_id_name(field) || hint.is_some_and(is_id_name) => self.id(field, hint),
                _ => self.string(field, hint),
            },
            "integer" if field.to_lowercase().contains("version") && self.rng.random_bool(0.5) => {
                let version = self.ids.pick("version", &mut self.rng).unwrap_or_default();
                serde_json::from_str(&version).unwrap_or(Value::Null)
            }
            "integer" => self.number(if self.clean { VALID_INTEGERS } else { INTEGERS }),
            "number" => self.number(if self.clean { VALID_FLOATS } else { FLOATS }),
            "boolean" => Value::Bool(self.rng.random()),
            "array" => {
                let items = object.get("items").cloned().unwrap_or(Value::Bool(true));
                let n_items = match self.rng.random_range(0..10) {
                    0..=1 => 0,
                    2..=8 => self.rng.random_range(1..4),
                    _ if depth <= 3 => self.rng.random_range(20..120),
                    _ => 1,
                };
                Value::Array((0..n_items).map(|_| self.value(&items, field, depth + 1)).collect())
            }
            "object" => self.object(object, depth),
            _ => Value::Null,
        }
    }

    fn object(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let fields: Vec<(String, bool, Value)> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props.iter().map(|(k, v)| (k.clone(), required.contains(&k.as_str()), v.clone())).collect()
            })
            .unwrap_or_default();
        let mut value = self.object_of(&fields, depth);
        if fields.is_empty()
            && let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object())
        {
            // A map: a few keys of its own.
            for _ in 0..self.rng.random_range(0..4) {
                let key = self.string("key", None).as_str().unwrap_or_default().to_owned();
                let item = self.value(values, "value", depth + 1);
                value[key] = item;
            }
        }
        value
    }

    /// An id: mostly one of a resource that exists (of the kind the name says, or of
    /// another kind), else a random UUID or a near miss.
    fn id(&mut self, field: &str, hint: Option<&str>) -> Value {
        let roll = self.rng.random_range(0..100);
        let kind = hint.filter(|h| is_id_name(h)).unwrap_or(field);
        if roll < if self.clean { 85 } else { 55 }
            && let Some(id) = self.ids.pick(kind, &mut self.rng)
        {
            return json!(id);
        }
        if roll < 72
            && let Some(id) = self.ids.any(&mut self.rng)
        {
            return json!(id);
        }
        if roll < 88 {
            return json!(uuid::Uuid::from_u128(self.rng.random()).to_string());
        }
        let real = self.ids.any(&mut self.rng).unwrap_or_default();
        match self.rng.random_range(0..5) {
            0 => json!(real.to_uppercase()),
            1 => json!(format!("{{{real}}}")),
            2 => json!(format!("urn:uuid:{real}")),
            3 => json!(real.replace('-', "")),
            _ => self.string(field, hint),
        }
    }

    fn date(&mut self) -> Value {
        json!(DATES.choose(&mut self.rng).copied().unwrap_or_default())
    }

    fn number(&mut self, pool: &[&str]) -> Value {
        let text = pool.choose(&mut self.rng).copied().unwrap_or("0");
        serde_json::from_str(text).unwrap_or(Value::Null)
    }

    /// A string: plausible for the field, adversarial, long, or random unicode.
    fn string(&mut self, field: &str, hint: Option<&str>) -> Value {
        let roll = self.rng.random_range(0..100);
        if roll < 30
            && let Some(text) = self.plausible(&field.to_lowercase(), hint)
        {
            return json!(text);
        }
        if roll < 65 {
            return json!(ADVERSARIAL.choose(&mut self.rng).copied().unwrap_or_default());
        }
        if roll < 73 {
            return json!(self.boundary_string());
        }
        if roll < 83 {
            return json!(self.long_string());
        }
        json!(self.random_text())
    }

    fn plausible(&mut self, field: &str, hint: Option<&str>) -> Option<String> {
        let rng = &mut self.rng;
        let pick = |rng: &mut StdRng, pool: &[&str]| pool.choose(rng).map(|s| (*s).to_owned());
        if hint == Some("NodeId") || field.ends_with("nodeid") {
            return self.ids.pick("node", rng);
        }
        if field.contains("email") {
            return match rng.random_range(0..3) {
                0 => self.ids.pick("email", rng),
                1 => Some(format!("fuzz-{}@example.com", rng.random::<u32>())),
                _ => pick(rng, &["a@b", "@", "x@", "A@EXAMPLE.COM", " spaced@example.com "]),
            };
        }
        if field.contains("token") {
            return self.ids.pick("token", rng);
        }
        if field.contains("password") {
            return pick(rng, &[crate::helpers::PASSWORD, "short", "password", "Another-lilac-Heron-73"]);
        }
        if field.contains("cron") {
            return pick(rng, CRONS);
        }
        if field.contains("timezone") {
            return pick(rng, TIME_ZONES);
        }
        if field.contains("url") {
            return pick(
                rng,
                &["http://127.0.0.1:1/v1", "https://api.example.invalid/v1", "ftp://x", "http://[::1]"],
            );
        }
        if field.contains("topic") {
            let id = self.ids.any(rng).unwrap_or_default();
            return pick(rng, &["run:", "workflow:", "project:", "user:", "notifications"])
                .map(|prefix| format!("{prefix}{id}"));
        }
        if field.contains("model") || field.contains("provider") {
            return pick(rng, &["openai/gpt-4o-mini", "openai", "local/m-small", "nope/none"]);
        }
        if field.contains("header") {
            return pick(rng, &["X-Api-Key", "Authorization", "Bad Header", "x\r\nInjected: 1"]);
        }
        pick(rng, &["Live", "shape", "ok", "a", "Weekly report", "tag-1"])
    }

    /// A string at or one past a length a limit or a column is likely to have.
    fn boundary_string(&mut self) -> String {
        const LENGTHS: &[usize] = &[
            64, 65, 100, 101, 128, 129, 199, 200, 201, 254, 255, 500, 501, 512, 513, 1024, 1025, 2000, 2001,
            4001, 8193, 10_001,
        ];
        let n_chars = LENGTHS.choose(&mut self.rng).copied().unwrap_or(201);
        let unit = ["a", "é", "😀"].choose(&mut self.rng).copied().unwrap_or("a");
        if n_chars * unit.len() > self.budget {
            return unit.repeat(201);
        }
        self.budget -= n_chars * unit.len();
        unit.repeat(n_chars)
    }

    /// 10k to 60k bytes (as many characters in ASCII), within what is left of the budget.
    fn long_string(&mut self) -> String {
        let room = self.budget;
        if room < 10_000 {
            return "x".repeat(201);
        }
        let unit =
            ["a", "%", "é", "😀", "{{ x }}", "'", "ab%_\\"].choose(&mut self.rng).copied().unwrap_or("a");
        let n_bytes = self.rng.random_range(10_000..=room);
        let text = unit.repeat(n_bytes / unit.len().max(1) + 1);
        let mut cut = n_bytes.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.budget = self.budget.saturating_sub(cut);
        text[..cut].to_owned()
    }

    fn random_text(&mut self) -> String {
        const RANGES: &[(u32, u32)] = &[
            (0x20, 0x7e),
            (0x01, 0x1f),
            (0xa0, 0x24f),
            (0x300, 0x36f),
            (0x590, 0x6ff),
            (0x4e00, 0x4fff),
            (0x200b, 0x202e),
            (0x1f300, 0x1f6ff),
            (0x1d400, 0x1d7ff),
            (0xe000, 0xe0ff),
        ];
        let n_chars = self.rng.random_range(0..40);
        (0..n_chars)
            .filter_map(|_| {
                let (low, high) = *RANGES.choose(&mut self.rng)?;
                char::from_u32(self.rng.random_range(low..=high))
            })
            .collect()
    }

    fn scalar_garbage(&mut self) -> Value {
        [json!(0), json!(-1), json!(1.5), json!(true), json!("x"), json!("")]
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// A value of some other type than expected.
    fn wrong_type(&mut self, depth: usize) -> Value {
        match self.rng.random_range(0..4) {
            0 => Value::Null,
            1 => self.scalar_garbage(),
            2 => json!([{}, [], null]),
            _ => self.any(depth),
        }
    }

    /// Any JSON: scalars, strings, small trees, and now and then deep nesting.
    fn any(&mut self, depth: usize) -> Value {
        match self.rng.random_range(0..12) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.random()),
            2 => self.number(INTEGERS),
            3 => self.number(FLOATS),
            4 | 5 => self.string("any", None),
            6 | 7 if depth < 4 => {
                let n_items = self.rng.random_range(0..4);
                Value::Array((0..n_items).map(|_| self.any(depth + 1)).collect())
            }
            8 | 9 if depth < 4 => {
                let n_items = self.rng.random_range(0..4);
                let mut map = Map::new();
                for _ in 0..n_items {
                    let key = self.string("key", None).as_str().unwrap_or_default().to_owned();
                    let value = self.any(depth + 1);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            10 => {
                // Nesting near and past serde_json's recursion limit (128); far deeper nesting
                // is sent as raw text (see `raw_cases`).
                let levels = [20, 60, 120, 126, 127, 200].choose(&mut self.rng).copied().unwrap_or(20);
                (0..levels).fold(json!("leaf"), |inner, idx| {
                    if idx % 2 == 0 { json!([inner]) } else { json!({ "a": inner }) }
                })
            }
            _ => json!({}),
        }
    }
}

/// Whether a name spells an id (`projectId`, `notificationIds`, `ProjectId`, `NodeId`).
fn is_id_name(name: &str) -> bool {
    name.ends_with("Id") || name.ends_with("Ids")
}

/// An object schema's own properties with those of one of its tagged variants.
fn merge_object(base: &Map<String, Value>, variant: &Value) -> Map<String, Value> {
    let mut merged = base.clone();
    merged.remove("oneOf");
    merged.remove("anyOf");
    let Some(variant) = variant.as_object() else { return merged };
    if let Some(props) = variant.get("properties").and_then(Value::as_object) {
        let into = merged.entry("properties").or_insert_with(|| json!({}));
        for (key, value) in props {
            into[key] = value.clone();
        }
    }
    if let Some(required) = variant.get("required").and_then(Value::as_array) {
        let into = merged.entry("required").or_insert_with(|| json!([]));
        if let Some(list) = into.as_array_mut() {
            list.extend(required.iter().cloned());
        }
    }
    merged
}

/// JSON pointers of a value's strings and numbers.
fn collect_leaves(value: &Value, pointer: String, leaves: &mut Vec<String>) {
    match value {
        Value::String(_) | Value::Number(_) => leaves.push(pointer),
        Value::Array(items) => {
            for (idx, item) in items.iter().enumerate() {
                collect_leaves(item, format!("{pointer}/{idx}"), leaves);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                collect_leaves(
                    item,
                    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")),
                    leaves,
                );
            }
        }
        _ => {}
    }
}
