//! The export/import format: one versioned JSON document per workflow
//! (`{ format: "weft.workflow", formatVersion: 1, name, description, tags, graph }`, see
//! docs/workflow-format.md). Import re-parses everything, assigns new node ids (rewriting
//! edges and template references) and drops credential references.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::GraphLimits;
use super::graph::{Graph, NodeId};
use super::parse::{ErrorSink, expect_object, parse_graph_at, refuse_unknown_keys};
use super::templates::rewrite_node_refs;
use crate::validation::ValidationErrors;

/// The value of `format`.
pub const EXPORT_FORMAT: &str = "weft.workflow";
/// The format version this code writes and reads. A change that old readers would
/// misread increments it; adding an optional field does not.
pub const EXPORT_FORMAT_VERSION: u32 = 1;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Most tags.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 50;

const EXPORT_KEYS: &[&str] = &["format", "formatVersion", "name", "description", "tags", "graph"];

/// The constant marking a Weft workflow export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
pub enum ExportFormat {
    /// `weft.workflow`.
    #[serde(rename = "weft.workflow")]
    WeftWorkflow,
}

/// A workflow as a portable document. Never carries credentials: credential references
/// are removed on export and again on import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowExport {
    /// Always `weft.workflow`.
    pub format: ExportFormat,
    /// [`EXPORT_FORMAT_VERSION`] when written by this version.
    pub format_version: u32,
    /// The workflow's name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The graph, with the ids it had in the exporting workflow.
    pub graph: Graph,
}

impl WorkflowExport {
    /// An export document for a workflow; credential references are removed.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        tags: Vec<String>,
        mut graph: Graph,
    ) -> Self {
        strip_credentials(&mut graph);
        Self {
            format: ExportFormat::WeftWorkflow,
            format_version: EXPORT_FORMAT_VERSION,
            name: name.into(),
            description: description.into(),
            tags,
            graph,
        }
    }
}

/// Reads an export document: refuses another format (`format`, `unsupportedFormat`) or
/// version (`formatVersion`, `unsupportedVersion`), checks the metadata and parses the graph
/// (paths start with `graph.`), then assigns new node ids and removes credential
/// references. Run [`super::validate`] on the result to list what must be fixed before
/// publishing.
pub fn prepare_import(value: &Value, limits: &GraphLimits) -> Result<WorkflowExport, ValidationErrors> {
    let mut errors = ErrorSink::default();
    let Some(object) = expect_object(value, "", &mut errors) else { return Err(ValidationErrors(errors.0)) };
    match object.get("format") {
        None => errors.push("format", "required", "is required"),
        Some(Value::String(format)) if format == EXPORT_FORMAT => {}
        Some(_) => errors.push("format", "unsupportedFormat", format!("must be `{EXPORT_FORMAT}`")),
    }
    match object.get("formatVersion").map(Value::as_u64) {
        None => errors.push("formatVersion", "required", "is required"),
        Some(Some(version)) if version == u64::from(EXPORT_FORMAT_VERSION) => {}
        Some(Some(version)) => errors.push(
            "formatVersion",
            "unsupportedVersion",
            format!("this server reads format version {EXPORT_FORMAT_VERSION}, not {version}"),
        ),
        Some(None) => errors.push("formatVersion", "invalidType", "must be a whole number"),
    }
    if !errors.0.is_empty() {
        // Another format or version may have another shape: report nothing else.
        return Err(ValidationErrors(errors.0));
    }
    refuse_unknown_keys(object, EXPORT_KEYS, "", &mut errors);
    let name = text(object.get("name"), "name", true, limits.max_name_chars, &mut errors);
    let description =
        text(object.get("description"), "description", false, MAX_DESCRIPTION_CHARS, &mut errors);
    let tags = tags(object.get("tags"), &mut errors);
    let graph = match object.get("graph") {
        None => {
            errors.push("graph", "required", "is required");
            None
        }
        Some(raw) => parse_graph_at(raw, limits, "graph", &mut errors),
    };
    match (name, description, tags, graph) {
        (Some(name), Some(description), Some(tags), Some(graph)) if errors.0.is_empty() => {
            let mut graph = reassign_ids(&graph);
            strip_credentials(&mut graph);
            Ok(WorkflowExport::new(name, description, tags, graph))
        }
        _ => Err(ValidationErrors(errors.0)),
    }
}

/// A string member: trimmed, at most `max_chars`, required or empty when absent.
fn text(
    value: Option<&Value>,
    path: &str,
    required: bool,
    max_chars: usize,
    errors: &mut ErrorSink,
) -> Option<String> {
    let text = match value {
        None if required => {
            errors.push(path, "required", "is required");
            return None;
        }
        None => return Some(String::new()),
        Some(Value::String(text)) => text.trim(),
        Some(_) => {
            errors.push(path, "invalidType", "must be a string");
            return None;
        }
    };
    if required && text.is_empty() {
        errors.push(path, "required", "must not be empty");
        return None;
    }
    if text.chars().count() > max_chars {
        errors.push(path, "tooLong", format!("must be at most {max_chars} characters"));
        return None;
    }
    Some(text.to_owned())
}

fn tags(value: Option<&Value>, errors: &mut ErrorSink) -> Option<Vec<String>> {
    let items = match value {
        None => return Some(Vec::new()),
        Some(Value::Array(items)) if items.len() > MAX_TAGS => {
            errors.push("tags", "tooMany", format!("at most {MAX_TAGS} tags"));
            return None;
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            errors.push("tags", "invalidType", "must be an array of strings");
            return None;
        }
    };
    let tags: Vec<String> = items
        .iter()
        .enumerate()
        .filter_map(|(idx, item)| text(Some(item), &format!("tags[{idx}]"), true, MAX_TAG_CHARS, errors))
        .collect();
    (tags.len() == items.len()).then_some(tags)
}

/// Removes every credential reference (`credentialId` of `http`, `ai` and `vectorSearch`
/// nodes). Imported and duplicated workflows start without credentials.
pub fn strip_credentials(graph: &mut Graph) {
    for node in &mut graph.nodes {
        if let Some(credential_id) = node.spec.credential_id_mut() {
            *credential_id = None;
        }
    }
}

/// A copy of the graph with fresh node ids `n1`, `n2`, … in node order, the edges and every
/// template reference (`nodes.<id>`, `nodes["<id>"]`) rewritten to match. Edges naming a
/// node that does not exist are dropped (their ids could collide with the new ones); when a
/// draft repeats an id, edges and references follow its first node.
pub fn reassign_ids(graph: &Graph) -> Graph {
    let new_ids: Vec<NodeId> = (1..=graph.nodes.len()).map(NodeId::numbered).collect();
    let mut map: HashMap<&str, &NodeId> = HashMap::with_capacity(graph.nodes.len());
    for (node, new_id) in graph.nodes.iter().zip(&new_ids) {
        map.entry(node.id.as_str()).or_insert(new_id);
    }
    let mut result = graph.clone();
    for (node, new_id) in result.nodes.iter_mut().zip(&new_ids) {
        node.id = new_id.clone();
        node.spec.visit_templates_mut(|kind, text| {
            if let Some(rewritten) = rewrite_node_refs(kind, text, &map) {
                *text = rewritten;
            }
        });
    }
    result.edges = graph
        .edges
        .iter()
        .filter_map(|edge| {
            let source = map.get(edge.source.as_str())?;
            let target = map.get(edge.target.as_str())?;
            let mut edge = edge.clone();
            edge.source = (*source).clone();
            edge.target = (*target).clone();
            Some(edge)
        })
        .collect();
    result
}

#[cfg(test)]
mod tests;
