//! The workflow graph's shape: nodes with stable ids, names, positions and typed configs,
//! and edges from a node's output port to another node's input port.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::nodes::NodeSpec;
use super::settings::NodeSettings;

/// Longest node id, in characters.
pub const NODE_ID_MAX_CHARS: usize = 64;

/// Identifies a node inside one graph: 1 to 64 ASCII letters, digits, `_` or `-`.
/// Ids are stable across edits (edges, template references and run traces use them) and
/// unique within their graph only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ts_rs::TS)]
#[ts(type = "string")]
pub struct NodeId(String);

/// A string that is not a valid [`NodeId`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to {NODE_ID_MAX_CHARS} characters among letters, digits, `_` and `-`")]
pub struct InvalidNodeId;

/// Whether `value` matches `^[A-Za-z0-9_-]{1,64}$` (node ids and port names).
pub(crate) fn is_id_like(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= NODE_ID_MAX_CHARS
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl NodeId {
    /// Checks and wraps an id.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidNodeId> {
        let value = value.into();
        if is_id_like(&value) { Ok(Self(value)) } else { Err(InvalidNodeId) }
    }

    /// `n<k>`, the form of the ids Weft assigns (always valid).
    pub(crate) fn numbered(k: usize) -> Self {
        Self(format!("n{k}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeId {
    type Err = InvalidNodeId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        NodeId::new(value).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for NodeId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]{1,64}$",
            "description": "Identifies a node inside one graph."
        })
    }
}

/// Where a node sits on the editor's canvas. The engine ignores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Position {
    /// Horizontal coordinate.
    pub x: f64,
    /// Vertical coordinate.
    pub y: f64,
}

/// One step of a workflow. On the wire: `{ id, name, type, position, config, settings? }`,
/// where `type` picks the config's shape (see [`NodeSpec`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Stable id, unique in the graph; templates refer to the node's output as `nodes.<id>.output`.
    pub id: NodeId,
    /// Label shown in the editor and in run traces.
    pub name: String,
    /// Canvas position.
    pub position: Position,
    /// Retry policy, timeout and failure handling shared by every node type.
    #[serde(default, skip_serializing_if = "NodeSettings::is_default")]
    pub settings: NodeSettings,
    /// The node's type and its typed config.
    #[serde(flatten)]
    pub spec: NodeSpec,
}

/// A connection from `source`'s output port `sourcePort` to `target`'s input port `targetPort`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Edge {
    /// The node the edge leaves.
    pub source: NodeId,
    /// The output port it leaves from (`out`, `true`, a case name, `error`, ...).
    pub source_port: String,
    /// The node the edge enters.
    pub target: NodeId,
    /// The input port it enters (`in`, or `continue` on a loop).
    pub target_port: String,
}

/// A workflow's graph. Parse untrusted JSON with [`super::parse_graph`], which reports
/// precise field paths; `Deserialize` is for trusted, stored graphs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    /// The nodes, in editor order.
    pub nodes: Vec<Node>,
    /// The edges, in editor order.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The first node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.id.as_str() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_checked() {
        assert!(NodeId::new("fetch_user-2").is_ok());
        assert_eq!(NodeId::new(""), Err(InvalidNodeId));
        assert_eq!(NodeId::new("a b"), Err(InvalidNodeId));
        assert_eq!(NodeId::new("é"), Err(InvalidNodeId));
        assert!(NodeId::new("x".repeat(64)).is_ok());
        assert!(NodeId::new("x".repeat(65)).is_err());
        let err = serde_json::from_str::<NodeId>("\"a.b\"").unwrap_err();
        assert!(err.to_string().contains("letters, digits"));
        assert_eq!(serde_json::to_string(&NodeId::new("n1").unwrap()).unwrap(), "\"n1\"");
    }

    #[test]
    fn typescript_sees_a_node_as_common_fields_and_a_union_of_typed_configs() {
        use ts_rs::TS;
        let decl = Node::decl(&ts_rs::Config::new());
        assert!(
            decl.contains("settings?: NodeSettings, } & ({ \"type\": \"start\", \"config\": StartConfig } |"),
            "{decl}"
        );
        assert!(decl.contains("{ \"type\": \"vectorSearch\", \"config\": VectorSearchConfig })"), "{decl}");
        assert_eq!(NodeId::decl(&ts_rs::Config::new()), "type NodeId = string;");
    }
}
