//! The graph's index (node id → position) and the per-edge and entry checks.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::Issues;
use crate::workflow::graph::Graph;
use crate::workflow::nodes::NodeSpec;
use crate::workflow::ports::{CONTINUE_PORT, has_input_port, has_output_port, output_ports};

/// An edge whose two ends exist.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResolvedEdge<'g> {
    /// Position in `graph.edges`.
    pub(crate) edge_idx: usize,
    pub(crate) source: usize,
    pub(crate) source_port: &'g str,
    pub(crate) target: usize,
    /// Enters a loop's `continue` port: the one kind of edge allowed to close a cycle.
    pub(crate) loop_back: bool,
}

/// Node positions by id and the resolved edges.
pub(crate) struct GraphIndex<'g> {
    pub(crate) by_id: HashMap<&'g str, usize>,
    pub(crate) edges: Vec<ResolvedEdge<'g>>,
    /// Resolved edges entering each node.
    pub(crate) in_degree: Vec<usize>,
    pub(crate) starts: Vec<usize>,
}

impl<'g> GraphIndex<'g> {
    pub(crate) fn build(graph: &'g Graph, issues: &mut Issues) -> Self {
        let mut by_id = HashMap::with_capacity(graph.nodes.len());
        let mut starts = Vec::new();
        for (idx, node) in graph.nodes.iter().enumerate() {
            // The first node with an id is the one edges and references mean.
            match by_id.entry(node.id.as_str()) {
                Entry::Occupied(_) => {
                    let message = format!("another node already has the id `{}`", node.id);
                    issues.push("duplicateId", format!("nodes[{idx}].id"), Some(&node.id), message);
                }
                Entry::Vacant(slot) => {
                    slot.insert(idx);
                }
            }
            if matches!(node.spec, NodeSpec::Start(_)) {
                starts.push(idx);
            }
        }
        match starts.as_slice() {
            [] => issues.push("noEntry", "nodes", None, "add a start node: the workflow has no entry"),
            [_] => {}
            [_, extra @ ..] => {
                for &idx in extra {
                    let node = &graph.nodes[idx];
                    let message = "a workflow has exactly one start node";
                    issues.push("multipleEntries", format!("nodes[{idx}].type"), Some(&node.id), message);
                }
            }
        }
        let mut index = Self {
            by_id,
            edges: Vec::with_capacity(graph.edges.len()),
            in_degree: vec![0; graph.nodes.len()],
            starts,
        };
        index.resolve_edges(graph, issues);
        index
    }

    fn resolve_edges(&mut self, graph: &'g Graph, issues: &mut Issues) {
        let mut seen = HashSet::with_capacity(graph.edges.len());
        for (edge_idx, edge) in graph.edges.iter().enumerate() {
            let source = self.by_id.get(edge.source.as_str()).copied();
            let target = self.by_id.get(edge.target.as_str()).copied();
            if source.is_none() {
                let message = format!("no node has the id `{}`", edge.source);
                issues.push("danglingEdge", format!("edges[{edge_idx}].source"), None, message);
            }
            if target.is_none() {
                let message = format!("no node has the id `{}`", edge.target);
                issues.push("danglingEdge", format!("edges[{edge_idx}].target"), None, message);
            }
            let (Some(source), Some(target)) = (source, target) else { continue };
            let key = (source, edge.source_port.as_str(), target, edge.target_port.as_str());
            if !seen.insert(key) {
                let message = "the same edge appears twice";
                issues.push("duplicateEdge", format!("edges[{edge_idx}]"), Some(&edge.source), message);
                continue;
            }
            let (source_spec, target_spec) = (&graph.nodes[source].spec, &graph.nodes[target].spec);
            // Edges out of `end` or into `start` are reported once here and left out of the
            // structure, where they would only add cycles and reachability noise.
            let mut structural = true;
            if matches!(source_spec, NodeSpec::End(_)) {
                let message = "an end node has no outputs";
                issues.push("invalidEdge", format!("edges[{edge_idx}].source"), Some(&edge.source), message);
                structural = false;
            } else if !has_output_port(source_spec, &edge.source_port) {
                let ports: Vec<String> =
                    output_ports(source_spec).into_iter().map(|p| format!("`{p}`")).collect();
                let message = format!(
                    "`{}` is not an output of `{}`; outputs: {}",
                    edge.source_port,
                    edge.source,
                    ports.join(", ")
                );
                issues.push(
                    "unknownPort",
                    format!("edges[{edge_idx}].sourcePort"),
                    Some(&edge.source),
                    message,
                );
            }
            if matches!(target_spec, NodeSpec::Start(_)) {
                let message = "nothing may enter the start node";
                issues.push("invalidEdge", format!("edges[{edge_idx}].target"), Some(&edge.target), message);
                structural = false;
            } else if !has_input_port(target_spec, &edge.target_port) {
                let inputs =
                    if matches!(target_spec, NodeSpec::Loop(_)) { "`in`, `continue`" } else { "`in`" };
                let message =
                    format!("`{}` is not an input of `{}`; inputs: {inputs}", edge.target_port, edge.target);
                issues.push(
                    "unknownPort",
                    format!("edges[{edge_idx}].targetPort"),
                    Some(&edge.target),
                    message,
                );
            }
            if !structural {
                continue;
            }
            let loop_back = matches!(target_spec, NodeSpec::Loop(_)) && edge.target_port == CONTINUE_PORT;
            self.in_degree[target] += 1;
            self.edges.push(ResolvedEdge {
                edge_idx,
                source,
                source_port: &edge.source_port,
                target,
                loop_back,
            });
        }
    }
}
