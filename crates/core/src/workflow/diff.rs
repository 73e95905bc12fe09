//! What changed between two versions of a graph: nodes added, removed and changed (with the
//! changed fields as paths: `name`, `position`, `type`, `config.url`, `settings.retry`), and
//! edges added and removed (an edge is identified by all four of its fields).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::graph::{Edge, Graph, Node, NodeId};

/// The difference between two graphs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphDiff {
    /// Nodes whose id is only in the newer graph, in its order.
    pub nodes_added: Vec<Node>,
    /// Nodes whose id is only in the older graph, in its order.
    pub nodes_removed: Vec<Node>,
    /// Nodes present in both that differ, in the newer graph's order.
    pub nodes_changed: Vec<NodeChange>,
    /// Edges only in the newer graph.
    pub edges_added: Vec<Edge>,
    /// Edges only in the older graph.
    pub edges_removed: Vec<Edge>,
}

impl GraphDiff {
    /// Whether the graphs are the same (up to the order of nodes and edges).
    pub fn is_empty(&self) -> bool {
        self.nodes_added.is_empty()
            && self.nodes_removed.is_empty()
            && self.nodes_changed.is_empty()
            && self.edges_added.is_empty()
            && self.edges_removed.is_empty()
    }
}

/// One node present in both graphs whose content differs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeChange {
    /// The node's id.
    pub id: NodeId,
    /// The node in the older graph.
    pub before: Node,
    /// The node in the newer graph.
    pub after: Node,
    /// What differs: `name`, `position`, `type` (then also `config`), `config.<path>`,
    /// `settings.<path>`.
    pub fields: Vec<String>,
}

/// Compares two graphs. Nodes are matched by id (the first node with an id, should a
/// draft repeat one).
pub fn diff(before: &Graph, after: &Graph) -> GraphDiff {
    let before_by_id = first_by_id(before);
    let after_by_id = first_by_id(after);
    let mut result = GraphDiff::default();
    for node in &after.nodes {
        match before_by_id.get(node.id.as_str()) {
            None => result.nodes_added.push(node.clone()),
            Some(old) if *old == node => {}
            Some(old) => {
                let fields = changed_fields(old, node);
                if !fields.is_empty() {
                    result.nodes_changed.push(NodeChange {
                        id: node.id.clone(),
                        before: (*old).clone(),
                        after: node.clone(),
                        fields,
                    });
                }
            }
        }
    }
    result.nodes_removed =
        before.nodes.iter().filter(|node| !after_by_id.contains_key(node.id.as_str())).cloned().collect();
    let before_edges: HashSet<&Edge> = before.edges.iter().collect();
    let after_edges: HashSet<&Edge> = after.edges.iter().collect();
    result.edges_added = after.edges.iter().filter(|edge| !before_edges.contains(edge)).cloned().collect();
    result.edges_removed = before.edges.iter().filter(|edge| !after_edges.contains(edge)).cloned().collect();
    result
}

fn first_by_id(graph: &Graph) -> HashMap<&str, &Node> {
    let mut by_id = HashMap::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        by_id.entry(node.id.as_str()).or_insert(node);
    }
    by_id
}

fn changed_fields(before: &Node, after: &Node) -> Vec<String> {
    let mut fields = Vec::new();
    if before.name != after.name {
        fields.push("name".to_owned());
    }
    if before.position != after.position {
        fields.push("position".to_owned());
    }
    if before.spec.node_type() != after.spec.node_type() {
        fields.push("type".to_owned());
        fields.push("config".to_owned());
    } else if before.spec != after.spec {
        json_diff("config", &before.spec.config_json(), &after.spec.config_json(), &mut fields);
    }
    if before.settings != after.settings {
        let as_json = |node: &Node| serde_json::to_value(&node.settings).unwrap_or(Value::Null);
        json_diff("settings", &as_json(before), &as_json(after), &mut fields);
    }
    fields
}

/// Records the paths under `path` where two JSON values differ: object members one by one,
/// array elements one by one when the lengths agree, anything else as a whole.
fn json_diff(path: &str, before: &Value, after: &Value, out: &mut Vec<String>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, old_value) in old {
                match new.get(key) {
                    Some(new_value) => json_diff(&format!("{path}.{key}"), old_value, new_value, out),
                    None => out.push(format!("{path}.{key}")),
                }
            }
            for key in new.keys().filter(|key| !old.contains_key(*key)) {
                out.push(format!("{path}.{key}"));
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
            for (idx, (old_value, new_value)) in old.iter().zip(new).enumerate() {
                json_diff(&format!("{path}[{idx}]"), old_value, new_value, out);
            }
        }
        _ => out.push(path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workflow::testing::{edge, node};

    #[test]
    fn reports_added_removed_and_changed_nodes_and_edges() {
        let before = Graph {
            nodes: vec![
                node("s", json!({"type": "start", "config": {}})),
                node(
                    "h",
                    json!({"type": "http", "config": {"url": "https://a.example", "headers": [{"name": "A", "value": "1"}]}}),
                ),
                node("t", json!({"type": "transform", "config": {"output": 1}})),
                node("gone", json!({"type": "end", "config": {}})),
            ],
            edges: vec![edge("s", "out", "h", "in"), edge("h", "out", "gone", "in")],
        };
        let mut after = before.clone();
        after.nodes.remove(3);
        after.nodes[0].position.x = 10.0;
        let mut http = after.nodes[1].clone();
        http.name = "Fetch".into();
        http.spec = node(
            "h",
            json!({"type": "http", "config": {"url": "https://b.example", "headers": [{"name": "A", "value": "2"}], "timeoutMs": 5}}),
        )
        .spec;
        after.nodes[1] = http;
        after.nodes[2].spec = node("t", json!({"type": "end", "config": {}})).spec;
        after.nodes[2].settings.continue_on_fail = true;
        after.nodes.push(node("new", json!({"type": "end", "config": {}})));
        after.edges = vec![edge("s", "out", "h", "in"), edge("h", "out", "new", "in")];

        let d = diff(&before, &after);
        assert_eq!(d.nodes_added.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["new"]);
        assert_eq!(d.nodes_removed.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["gone"]);
        let changes: Vec<(&str, Vec<&str>)> = d
            .nodes_changed
            .iter()
            .map(|c| (c.id.as_str(), c.fields.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            changes,
            [
                ("s", vec!["position"]),
                ("h", vec!["name", "config.url", "config.headers[0].value", "config.timeoutMs"]),
                ("t", vec!["type", "config", "settings.continueOnFail"]),
            ]
        );
        assert_eq!(d.edges_added, [edge("h", "out", "new", "in")]);
        assert_eq!(d.edges_removed, [edge("h", "out", "gone", "in")]);
        assert!(diff(&after, &after).is_empty());
    }
}
