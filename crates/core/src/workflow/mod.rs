//! The workflow graph as pure data and rules: node and edge types with one typed config per
//! node type ([`nodes`]), ports and the node catalogue ([`ports`]), parsing untrusted JSON
//! with field paths ([`parse_graph`]), graph validation ([`validate`]), diffs between
//! versions ([`diff`]) and the export/import format ([`prepare_import`]).
//!
//! Saving a draft needs [`parse_graph`] to succeed (the JSON has the right shape); the
//! [`ValidationReport`] of [`validate`] is shown to the editor and must be clean to publish.

mod diff;
mod export;
mod graph;
pub mod nodes;
mod parse;
pub mod ports;
mod settings;
mod templates;
pub mod testing;
mod validate;

use serde::{Deserialize, Serialize};

pub use diff::{GraphDiff, NodeChange, diff};
pub use export::{
    EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ExportFormat, MAX_DESCRIPTION_CHARS, MAX_TAG_CHARS, MAX_TAGS,
    WorkflowExport, prepare_import, reassign_ids, strip_credentials,
};
pub use graph::{Edge, Graph, InvalidNodeId, NODE_ID_MAX_CHARS, Node, NodeId, Position};
pub use nodes::{NodeSpec, NodeType};
pub use parse::{parse_edges_in, parse_graph, parse_node_in};
pub use ports::{NodeTypeInfo, PortInfo, catalogue, input_ports, output_ports};
pub use settings::{
    ErrorClass, MAX_NODE_TIMEOUT_MS, MAX_RETRY_ATTEMPTS, NodeSettings, RetryPolicy, StepError,
};
pub use templates::{
    LOOP_BODY_ROOTS, NodeReferences, TEMPLATE_FUNCTIONS, TEMPLATE_ROOTS, TemplateKind, node_references,
};
pub use validate::{GraphIssue, ValidationReport, validate};

/// Smallest accepted `max_nodes`: every deployment must take graphs of 2,000 nodes.
pub const MIN_MAX_NODES: usize = 2_000;

/// Size limits on a graph, enforced by [`parse_graph`] (and, except for config size, by
/// [`validate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphLimits {
    /// Most nodes in a graph (default 5,000; never below [`MIN_MAX_NODES`]).
    pub max_nodes: usize,
    /// Most edges in a graph (default four per node: 20,000).
    pub max_edges: usize,
    /// Largest config of one node, in bytes of compact JSON (default 64 KiB).
    pub max_config_bytes: usize,
    /// Longest node name and workflow name, in characters (default 200).
    pub max_name_chars: usize,
}

impl Default for GraphLimits {
    fn default() -> Self {
        Self { max_nodes: 5_000, max_edges: 20_000, max_config_bytes: 64 * 1024, max_name_chars: 200 }
    }
}

impl GraphLimits {
    /// The limits with `max_nodes` raised to [`MIN_MAX_NODES`] if it was set lower.
    pub fn normalized(self) -> Self {
        Self { max_nodes: self.max_nodes.max(MIN_MAX_NODES), ..self }
    }
}
