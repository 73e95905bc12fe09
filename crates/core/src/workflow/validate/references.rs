//! Template checks: every template and expression must parse, and may only read variables
//! that exist where it runs: `input`, `vars`, `nodes.<id>` of a node that runs before it on
//! every path from the start, and `item`/`index` inside a loop body. A while loop's
//! condition may also read its own body's nodes (the previous iteration) and `index`.

use super::Issues;
use super::analysis::Analysis;
use super::structure::GraphIndex;
use crate::workflow::graph::Graph;
use crate::workflow::nodes::{LoopKind, NodeSpec};
use crate::workflow::templates::{LOOP_BODY_ROOTS, TEMPLATE_FUNCTIONS, TEMPLATE_ROOTS, TemplateParser};

/// What the checks of one node's templates share.
struct NodeScope<'a, 'g> {
    graph: &'g Graph,
    index: &'a GraphIndex<'g>,
    analysis: &'a Analysis,
    node_idx: usize,
    is_while: bool,
    /// The loop's own body, for a while loop's condition; computed on first need.
    own_body: Option<Vec<bool>>,
}

pub(crate) fn check_templates(
    graph: &Graph,
    index: &GraphIndex<'_>,
    analysis: &Analysis,
    issues: &mut Issues,
) {
    let parser = TemplateParser::new();
    for (node_idx, node) in graph.nodes.iter().enumerate() {
        let is_while = matches!(&node.spec, NodeSpec::Loop(config) if config.kind == LoopKind::While);
        let mut scope = NodeScope { graph, index, analysis, node_idx, is_while, own_body: None };
        node.spec.visit_templates(|path, kind, text| {
            let full_path = || format!("nodes[{node_idx}].config.{path}");
            match parser.reads(kind, text) {
                Err(message) => issues.push("templateSyntax", full_path(), Some(&node.id), message),
                Ok(reads) => {
                    for message in scope.check(path, &reads) {
                        issues.push("templateReference", full_path(), Some(&node.id), message);
                    }
                }
            }
        });
    }
}

impl NodeScope<'_, '_> {
    /// Messages for what one string reads (see [`TemplateParser::reads`]) that does not
    /// exist where it runs.
    fn check(&mut self, path: &str, reads: &[String]) -> Vec<String> {
        let mut messages = Vec::new();
        let in_while_condition = self.is_while && path == "condition";
        for read in reads {
            let (root, node_id) = match read.split_once('.') {
                Some((root, id)) => (root, Some(id)),
                None => (read.as_str(), None),
            };
            let message = match (root, node_id) {
                ("nodes", Some(id)) => self.check_node_ref(id, in_while_condition),
                // A bare `nodes` is a lookup by a computed name: checked when it runs.
                _ if TEMPLATE_ROOTS.contains(&root) => None,
                _ if LOOP_BODY_ROOTS.contains(&root) => {
                    let allowed =
                        self.analysis.in_loop_body[self.node_idx] || (in_while_condition && root == "index");
                    (!allowed).then(|| format!("`{root}` is only defined inside a loop body"))
                }
                _ if TEMPLATE_FUNCTIONS.contains(&root) => None,
                _ => Some(format!(
                    "unknown variable `{root}`: templates see `input`, `nodes`, `vars`, and `item` and `index` inside a loop body"
                )),
            };
            messages.extend(message);
        }
        messages
    }

    fn check_node_ref(&mut self, id: &str, in_while_condition: bool) -> Option<String> {
        let Some(&target) = self.index.by_id.get(id) else {
            return Some(format!("`nodes.{id}` names no node of this workflow"));
        };
        if target == self.node_idx {
            return Some("a node cannot read its own output".to_owned());
        }
        if self.analysis.precedes(target, self.node_idx) != Some(false) {
            return None;
        }
        if in_while_condition {
            let (edges, n_nodes) = (&self.index.edges, self.graph.nodes.len());
            let body =
                self.own_body.get_or_insert_with(|| self.analysis.loop_body(edges, self.node_idx, n_nodes));
            if body[target] {
                return None;
            }
        }
        let name = &self.graph.nodes[self.node_idx].id;
        Some(format!(
            "`{id}` does not run before `{name}` on every path from the start, so its output may be missing"
        ))
    }
}
