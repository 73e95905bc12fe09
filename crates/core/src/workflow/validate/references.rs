//! Template checks: every template and expression must parse, and may only read variables
//! that exist where it runs: `input`, `vars`, `nodes.<id>` of a node that runs before it on
//! every path from the start, and `item`/`index` inside a loop body. A while loop's
//! condition may also read its own body's nodes (the previous iteration) and `index`.

use super::Issues;
use super::analysis::Analysis;
use super::structure::GraphIndex;
use crate::workflow::graph::Graph;
use crate::workflow::nodes::{LoopKind, NodeSpec};
use crate::workflow::templates::{
    LOOP_BODY_ROOTS, RefForm, TEMPLATE_FUNCTIONS, TemplateKind, TemplateParser, scan_node_refs,
};

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
            match parser.variables(kind, text) {
                Err(message) => issues.push("templateSyntax", full_path(), Some(&node.id), message),
                Ok(variables) => {
                    let mut variables: Vec<String> = variables.into_iter().collect();
                    variables.sort_unstable();
                    for message in scope.check(path, kind, text, &variables) {
                        issues.push("templateReference", full_path(), Some(&node.id), message);
                    }
                }
            }
        });
    }
}

impl NodeScope<'_, '_> {
    /// Messages for the variables of one string that do not exist where it runs.
    fn check(&mut self, path: &str, kind: TemplateKind, text: &str, variables: &[String]) -> Vec<String> {
        let mut messages = Vec::new();
        let mut node_refs: Vec<&str> = Vec::new();
        let mut dynamic = false;
        let in_while_condition = self.is_while && path == "condition";
        for variable in variables {
            let mut parts = variable.split('.');
            let root = parts.next().unwrap_or_default();
            match root {
                "nodes" => match parts.next() {
                    Some(id) => node_refs.push(id),
                    None => dynamic = true,
                },
                "input" | "vars" => {}
                _ if LOOP_BODY_ROOTS.contains(&root) => {
                    let allowed = self.analysis.in_loop_body[self.node_idx] || (in_while_condition && root == "index");
                    if !allowed {
                        messages.push(format!("`{root}` is only defined inside a loop body"));
                    }
                }
                _ if TEMPLATE_FUNCTIONS.contains(&root) => {}
                _ => messages.push(format!(
                    "unknown variable `{root}`: templates see `input`, `nodes`, `vars`, and `item` and `index` inside a loop body"
                )),
            }
        }
        if dynamic {
            // `nodes["id"]` is invisible to the parser's variable list; the scanner finds it.
            let found = scan_node_refs(kind, text);
            node_refs.extend(
                found.iter().filter(|r| r.form == RefForm::Bracket).filter_map(|r| text.get(r.id.clone())),
            );
        }
        node_refs.sort_unstable();
        node_refs.dedup();
        for id in node_refs {
            if let Some(message) = self.check_node_ref(id, in_while_condition) {
                messages.push(message);
            }
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
