//! Parsing untrusted graph JSON into a [`Graph`], collecting precise field errors
//! (`nodes[3].config.url`, `edges[2].sourcePort`) instead of stopping at the first one.
//! The node object is walked by hand (serde's `flatten` would lose the paths); each config
//! is deserialised into its type's struct with `serde_path_to_error`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::GraphLimits;
use super::graph::{Edge, Graph, Node, NodeId, Position};
use super::nodes::{NodeSpec, NodeType};
use super::settings::NodeSettings;
use crate::validation::{FieldError, ValidationErrors};

/// At most this many errors are reported; the rest would only repeat them.
pub const MAX_REPORTED_ERRORS: usize = 100;

const GRAPH_KEYS: &[&str] = &["nodes", "edges"];
const NODE_KEYS: &[&str] = &["id", "name", "type", "position", "config", "settings"];

/// Parses a graph, enforcing `limits` (`tooMany` nodes or edges, `tooLarge` configs,
/// `tooLong` names). Graph-level rules (ports, cycles, references) are [`super::validate`]'s.
pub fn parse_graph(value: &Value, limits: &GraphLimits) -> Result<Graph, ValidationErrors> {
    let mut errors = ErrorSink::default();
    let graph = parse_graph_at(value, limits, "", &mut errors);
    match graph {
        Some(graph) if errors.0.is_empty() => Ok(graph),
        _ => Err(ValidationErrors(errors.0)),
    }
}

/// Re-parses only `nodes[index]` of a graph document, with the same rules and paths as
/// [`parse_graph`]. For incremental edits: the caller keeps the other, unchanged nodes.
pub fn parse_node_in(graph: &Value, index: usize, limits: &GraphLimits) -> Result<Node, ValidationErrors> {
    let mut errors = ErrorSink::default();
    let path = format!("nodes[{index}]");
    let node = match graph.get("nodes").and_then(|nodes| nodes.get(index)) {
        Some(raw) => parse_node(raw, &path, limits, &mut errors),
        None => {
            errors.push(path, "required", "is required");
            None
        }
    };
    match node {
        Some(node) if errors.0.is_empty() => Ok(node),
        _ => Err(ValidationErrors(errors.0)),
    }
}

/// Re-parses only the `edges` of a graph document, with the same rules and paths as
/// [`parse_graph`].
pub fn parse_edges_in(graph: &Value, limits: &GraphLimits) -> Result<Vec<Edge>, ValidationErrors> {
    let mut errors = ErrorSink::default();
    let raw = expect_array(graph.get("edges"), "edges", limits.max_edges, &mut errors);
    let edges: Vec<Edge> = raw
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(idx, raw)| deserialize_at(raw, &format!("edges[{idx}]"), &mut errors))
        .collect();
    match raw {
        Some(raw) if errors.0.is_empty() && edges.len() == raw.len() => Ok(edges),
        _ => Err(ValidationErrors(errors.0)),
    }
}

/// Collects field errors, up to [`MAX_REPORTED_ERRORS`].
#[derive(Debug, Default)]
pub(crate) struct ErrorSink(pub(crate) Vec<FieldError>);

impl ErrorSink {
    pub(crate) fn push(&mut self, path: impl Into<String>, code: &str, message: impl Into<String>) {
        if self.0.len() < MAX_REPORTED_ERRORS {
            self.0.push(FieldError::new(path, code, message));
        }
    }

    fn push_error(&mut self, error: FieldError) {
        if self.0.len() < MAX_REPORTED_ERRORS {
            self.0.push(error);
        }
    }
}

/// `prefix.name`, `prefix[3]`, or `name` at the root.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else if name.starts_with('[') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}.{name}")
    }
}

/// Parses the graph at `prefix` (empty at the root); `None` when anything failed.
pub(crate) fn parse_graph_at(
    value: &Value,
    limits: &GraphLimits,
    prefix: &str,
    errors: &mut ErrorSink,
) -> Option<Graph> {
    let object = expect_object(value, prefix, errors)?;
    refuse_unknown_keys(object, GRAPH_KEYS, prefix, errors);
    let nodes_path = join(prefix, "nodes");
    let edges_path = join(prefix, "edges");
    let raw_nodes = expect_array(object.get("nodes"), &nodes_path, limits.max_nodes, errors);
    let raw_edges = expect_array(object.get("edges"), &edges_path, limits.max_edges, errors);
    let nodes: Vec<Node> = raw_nodes
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(idx, raw)| parse_node(raw, &format!("{nodes_path}[{idx}]"), limits, errors))
        .collect();
    let edges: Vec<Edge> = raw_edges
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(idx, raw)| deserialize_at(raw, &format!("{edges_path}[{idx}]"), errors))
        .collect();
    let (raw_nodes, raw_edges) = (raw_nodes?, raw_edges?);
    let complete = nodes.len() == raw_nodes.len() && edges.len() == raw_edges.len();
    complete.then_some(Graph { nodes, edges })
}

pub(crate) fn expect_object<'v>(
    value: &'v Value,
    path: &str,
    errors: &mut ErrorSink,
) -> Option<&'v Map<String, Value>> {
    let object = value.as_object();
    if object.is_none() {
        errors.push(path, "invalidType", "must be an object");
    }
    object
}

pub(crate) fn refuse_unknown_keys(
    object: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
    errors: &mut ErrorSink,
) {
    for key in object.keys().filter(|key| !known.contains(&key.as_str())) {
        errors.push(join(prefix, key), "unknownField", "is not a known field");
    }
}

fn expect_array<'v>(
    value: Option<&'v Value>,
    path: &str,
    max_len: usize,
    errors: &mut ErrorSink,
) -> Option<&'v [Value]> {
    match value {
        None => errors.push(path, "required", "is required"),
        Some(Value::Array(items)) if items.len() > max_len => {
            errors.push(path, "tooMany", format!("at most {max_len} allowed, got {}", items.len()));
        }
        Some(Value::Array(items)) => return Some(items),
        Some(_) => errors.push(path, "invalidType", "must be an array"),
    }
    None
}

fn parse_node(value: &Value, path: &str, limits: &GraphLimits, errors: &mut ErrorSink) -> Option<Node> {
    let object = expect_object(value, path, errors)?;
    let before = errors.0.len();
    refuse_unknown_keys(object, NODE_KEYS, path, errors);
    let id = required(object, "id", path, errors)
        .and_then(|raw| deserialize_at::<NodeId>(raw, &join(path, "id"), errors));
    let name = required(object, "name", path, errors)
        .and_then(|raw| parse_name(raw, &join(path, "name"), limits, errors));
    let position = required(object, "position", path, errors)
        .and_then(|raw| deserialize_at::<Position>(raw, &join(path, "position"), errors));
    let settings = match object.get("settings") {
        None => Some(NodeSettings::default()),
        Some(raw) => deserialize_at::<NodeSettings>(raw, &join(path, "settings"), errors),
    };
    let node_type =
        required(object, "type", path, errors).and_then(|raw| parse_type(raw, &join(path, "type"), errors));
    let empty = Value::Object(Map::new());
    let config = object.get("config").unwrap_or(&empty);
    let config_path = join(path, "config");
    let spec = if exceeds(config, limits.max_config_bytes) {
        errors.push(&config_path, "tooLarge", format!("at most {} bytes of JSON", limits.max_config_bytes));
        None
    } else {
        node_type.and_then(|node_type| match NodeSpec::parse_config(node_type, config) {
            Ok(spec) => Some(spec),
            Err(err) => {
                errors.push_error(serde_error(&config_path, &err));
                None
            }
        })
    };
    if errors.0.len() != before {
        return None;
    }
    Some(Node { id: id?, name: name?, position: position?, settings: settings?, spec: spec? })
}

fn required<'v>(
    object: &'v Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut ErrorSink,
) -> Option<&'v Value> {
    let value = object.get(key);
    if value.is_none() {
        errors.push(join(path, key), "required", "is required");
    }
    value
}

fn parse_name(raw: &Value, path: &str, limits: &GraphLimits, errors: &mut ErrorSink) -> Option<String> {
    let Some(name) = raw.as_str() else {
        errors.push(path, "invalidType", "must be a string");
        return None;
    };
    if name.trim().is_empty() {
        errors.push(path, "required", "must not be empty");
        return None;
    }
    if name.chars().count() > limits.max_name_chars {
        errors.push(path, "tooLong", format!("must be at most {} characters", limits.max_name_chars));
        return None;
    }
    Some(name.to_owned())
}

fn parse_type(raw: &Value, path: &str, errors: &mut ErrorSink) -> Option<NodeType> {
    let Some(text) = raw.as_str() else {
        errors.push(path, "invalidType", "must be a string");
        return None;
    };
    let node_type = NodeType::parse(text);
    if node_type.is_none() {
        let known: Vec<&str> = NodeType::ALL.iter().map(|ty| ty.as_str()).collect();
        errors.push(path, "unknownType", format!("`{text}` is not a node type; known: {}", known.join(", ")));
    }
    node_type
}

/// Whether the compact JSON of `value` is longer than `limit` bytes; stops counting early.
fn exceeds(value: &Value, limit: usize) -> bool {
    struct Counter {
        n_bytes: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.n_bytes += buf.len();
            if self.n_bytes > self.limit {
                Err(std::io::Error::other("limit reached"))
            } else {
                Ok(buf.len())
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { n_bytes: 0, limit };
    serde_json::to_writer(&mut counter, value).is_err()
}

/// Deserialises `value` as `T`, recording an error at `path` on failure.
pub(crate) fn deserialize_at<T: DeserializeOwned>(
    value: &Value,
    path: &str,
    errors: &mut ErrorSink,
) -> Option<T> {
    match serde_path_to_error::deserialize(value) {
        Ok(parsed) => Some(parsed),
        Err(err) => {
            errors.push_error(serde_error(path, &err));
            None
        }
    }
}

/// See [`crate::validation::from_serde_error`].
pub(crate) fn serde_error(prefix: &str, err: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    crate::validation::from_serde_error(prefix, err)
}

#[cfg(test)]
mod tests;
