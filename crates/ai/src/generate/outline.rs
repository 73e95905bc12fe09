//! The graph as the suggestion prompt shows it: whole when it is small; otherwise an outline
//! (ids, names, types and edges, no configs); for very large graphs, the outline of the part
//! around where the user works. The node to continue from is always shown in full, with its
//! output ports.

use std::collections::{HashSet, VecDeque};

use serde_json::{Value, json};
use weft_core::workflow::{Graph, Node, NodeSpec, output_ports};

/// Most bytes of graph JSON put in the prompt.
const MAX_GRAPH_BYTES: usize = 32 * 1024;
/// Edges walked (either way) from the anchors when only part of a large graph is shown.
const NEIGHBOURHOOD_HOPS: usize = 4;
/// Most nodes of that part.
const MAX_NEIGHBOURHOOD_NODES: usize = 200;

/// The user turn: the graph, and where to continue.
pub(crate) fn describe(graph: &Graph, selected: Option<&Node>) -> String {
    let anchors: Vec<&Node> = match selected {
        Some(node) => vec![node],
        None => open_ends(graph),
    };
    let mut text = match graph_json(graph, &anchors) {
        Shown::Whole(json) => format!("The graph so far:\n{json}\n\n"),
        Shown::Outline(json) => format!("The graph so far (configs left out):\n{json}\n\n"),
        Shown::Part(json) => {
            format!("Part of the graph so far, around where to continue (configs left out):\n{json}\n\n")
        }
    };
    match selected {
        Some(node) => text.push_str(&format!("Continue from the selected node: {}", anchor(node))),
        None if anchors.is_empty() => text.push_str("The graph is empty: it has no node to continue from."),
        None => {
            text.push_str("No node is selected. The graph's open ends:\n");
            for node in &anchors {
                text.push_str(&format!("- {}\n", anchor(node)));
            }
        }
    }
    text
}

/// A node in full, with its output ports.
fn anchor(node: &Node) -> String {
    let ports = output_ports(&node.spec).join(", ");
    let json = serde_json::to_string(node).unwrap_or_default();
    format!("{json} (output ports: {ports})")
}

/// Nodes other than `end` that no edge leaves (or every node but `end` when there is none).
fn open_ends(graph: &Graph) -> Vec<&Node> {
    let sources: HashSet<&str> = graph.edges.iter().map(|edge| edge.source.as_str()).collect();
    let not_end = |node: &&Node| !matches!(node.spec, NodeSpec::End(_));
    let ends: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(not_end)
        .filter(|node| !sources.contains(node.id.as_str()))
        .take(10)
        .collect();
    if ends.is_empty() { graph.nodes.iter().filter(not_end).take(10).collect() } else { ends }
}

enum Shown {
    Whole(String),
    Outline(String),
    Part(String),
}

fn graph_json(graph: &Graph, anchors: &[&Node]) -> Shown {
    let whole = serde_json::to_string(graph).unwrap_or_default();
    if whole.len() <= MAX_GRAPH_BYTES {
        return Shown::Whole(whole);
    }
    let outline = outline_of(graph, |_| true);
    if outline.len() <= MAX_GRAPH_BYTES {
        return Shown::Outline(outline);
    }
    let near = neighbourhood(graph, anchors);
    Shown::Part(outline_of(graph, |id| near.contains(id)))
}

fn outline_of(graph: &Graph, keep: impl Fn(&str) -> bool) -> String {
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .filter(|node| keep(node.id.as_str()))
        .map(|node| json!({"id": node.id, "name": node.name, "type": node.spec.node_type()}))
        .collect();
    let edges: Vec<&weft_core::workflow::Edge> =
        graph.edges.iter().filter(|edge| keep(edge.source.as_str()) && keep(edge.target.as_str())).collect();
    json!({"nodes": nodes, "edges": edges}).to_string()
}

/// Ids of the nodes within [`NEIGHBOURHOOD_HOPS`] edges of an anchor, nearest first.
fn neighbourhood(graph: &Graph, anchors: &[&Node]) -> HashSet<String> {
    let mut seen: HashSet<String> = anchors.iter().map(|node| node.id.to_string()).collect();
    let mut queue: VecDeque<(String, usize)> = seen.iter().map(|id| (id.clone(), 0)).collect();
    while let Some((id, hops)) = queue.pop_front() {
        if hops == NEIGHBOURHOOD_HOPS {
            continue;
        }
        for edge in &graph.edges {
            let next = if edge.source.as_str() == id {
                edge.target.as_str()
            } else if edge.target.as_str() == id {
                edge.source.as_str()
            } else {
                continue;
            };
            if seen.len() < MAX_NEIGHBOURHOOD_NODES && seen.insert(next.to_owned()) {
                queue.push_back((next.to_owned(), hops + 1));
            }
        }
    }
    seen
}
