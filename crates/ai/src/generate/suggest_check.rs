//! Checking suggested nodes one by one: the node parses (type, config, settings), its id is
//! fresh, it is not a second `start`, the edge leaves an existing node (the selected one, if
//! any) by one of its output ports and enters the new node by one of its input ports, and once
//! both are added the validator reports nothing new about them (template references, config
//! rules) and no made-up credential or workflow id. Paths are rebased to
//! `suggestions[i].node…` and `suggestions[i].edge…`.

use serde_json::{Value, json};
use weft_core::workflow::ports::{has_input_port, has_output_port};
use weft_core::workflow::{
    Edge, Graph, GraphIssue, GraphLimits, Node, NodeId, NodeSpec, input_ports, output_ports, parse_node_in,
    validate,
};

use super::WorkflowContext;
use super::answer::{answer_issue, context_issues, field_issues};
use super::prompt;
use super::suggest::{MAX_SUGGESTIONS, NodeSuggestion};
use crate::structured::{AnswerCheck, parse_json};

/// The [`AnswerCheck`] of suggestions: valid ones, and the issues of the dropped ones.
pub(crate) struct SuggestionCheck<'a> {
    pub graph: &'a Graph,
    pub selected: Option<&'a NodeId>,
    pub max_suggestions: usize,
    pub limits: GraphLimits,
    pub context: &'a WorkflowContext,
    /// The graph's own issues, which suggestions are not blamed for.
    pub baseline: Vec<GraphIssue>,
}

impl AnswerCheck for SuggestionCheck<'_> {
    type Output = (Vec<NodeSuggestion>, Vec<GraphIssue>);
    type Issue = GraphIssue;

    fn check(&mut self, text: &str) -> Result<Self::Output, Vec<GraphIssue>> {
        let answer = parse_json(text).map_err(|error| vec![answer_issue(error)])?;
        let Some(raw) = answer.get("suggestions").and_then(Value::as_array) else {
            return Err(vec![answer_issue("the answer has no `suggestions` array".to_owned())]);
        };
        let (mut valid, mut dropped) = (Vec::new(), Vec::new());
        // Surplus answers stand in for invalid ones, up to the number asked for.
        for (idx, raw) in raw.iter().enumerate().take(MAX_SUGGESTIONS) {
            if valid.len() == self.max_suggestions {
                break;
            }
            match self.suggestion(idx, raw, &valid) {
                Ok(suggestion) => valid.push(suggestion),
                Err(issues) => dropped.extend(issues),
            }
        }
        if valid.is_empty() {
            if dropped.is_empty() {
                dropped.push(answer_issue("`suggestions` is empty".to_owned()));
            }
            return Err(dropped);
        }
        if !dropped.is_empty() {
            tracing::debug!(
                n_valid = valid.len(),
                n_dropped_issues = dropped.len(),
                "invalid suggestions dropped"
            );
        }
        Ok((valid, dropped))
    }

    fn repair_prompt(&self, issues: &[GraphIssue]) -> String {
        format!(
            "No suggestion is valid. Fix every issue (path, [code], message):\n{}\nAnswer again with the whole \
             JSON object {{\"suggestions\": […]}}: no prose, no code fences.",
            prompt::quote_issues(issues)
        )
    }
}

impl SuggestionCheck<'_> {
    /// Suggestion `idx`, or why it is invalid (paths `suggestions[idx].node…`).
    fn suggestion(
        &self,
        idx: usize,
        raw: &Value,
        accepted: &[NodeSuggestion],
    ) -> Result<NodeSuggestion, Vec<GraphIssue>> {
        let at = format!("suggestions[{idx}]");
        let issue = |path: &str, code: &str, message: String| GraphIssue {
            code: code.to_owned(),
            message,
            path: format!("{at}.{path}"),
            node_id: None,
        };
        let mut raw_node = raw.get("node").cloned().unwrap_or(Value::Null);
        let source = raw.pointer("/edge/source").and_then(Value::as_str).and_then(|id| self.graph.node(id));
        if let (Some(object), Some(source)) = (raw_node.as_object_mut(), source) {
            // Placement is cosmetic: not worth a repair turn.
            let y = source.position.y + 160.0 * idx as f64;
            object.entry("position").or_insert_with(|| json!({"x": source.position.x + 240.0, "y": y}));
        }
        let wrapped = json!({ "nodes": [raw_node] });
        let node = parse_node_in(&wrapped, 0, &self.limits).map_err(|errors| {
            let mut issues = field_issues(&wrapped, errors);
            for issue in &mut issues {
                issue.path = rebase(&issue.path, "nodes[0]", &format!("{at}.node"));
            }
            issues
        })?;
        let new_id = node.id.clone();
        let with_node = |mut issue: GraphIssue| {
            issue.node_id = Some(new_id.clone());
            issue
        };
        if self.graph.node(new_id.as_str()).is_some() || accepted.iter().any(|other| other.node.id == new_id)
        {
            return Err(vec![with_node(issue(
                "node.id",
                "duplicateId",
                format!("`{new_id}` is already used"),
            ))]);
        }
        if matches!(node.spec, NodeSpec::Start(_)) {
            let message = "the graph has its start node; suggest a step after it".to_owned();
            return Err(vec![with_node(issue("node.type", "multipleEntries", message))]);
        }
        let edge: Edge =
            serde_json::from_value(raw.get("edge").cloned().unwrap_or(Value::Null)).map_err(|error| {
                vec![with_node(issue("edge", "invalid", format!("not a valid edge: {error}")))]
            })?;
        let mut issues = self.edge_issues(&edge, &node);
        for found in &mut issues {
            found.path = format!("{at}.{}", found.path);
            found.node_id = Some(new_id.clone());
        }
        if issues.is_empty() {
            issues = self.validated(&node, &edge, &at);
        }
        let reason = raw.get("reason").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
        if issues.is_empty() { Ok(NodeSuggestion { node, edge, reason }) } else { Err(issues) }
    }

    /// The edge must leave an existing node (the selected one, if any) by one of its output
    /// ports and enter the new node by one of its input ports.
    fn edge_issues(&self, edge: &Edge, node: &Node) -> Vec<GraphIssue> {
        let mut issues = Vec::new();
        let mut push = |path: &str, code: &str, message: String| {
            issues.push(GraphIssue {
                code: code.to_owned(),
                message,
                path: format!("edge.{path}"),
                node_id: None,
            });
        };
        match self.graph.node(edge.source.as_str()) {
            None => {
                push("source", "danglingEdge", format!("no node of the graph has the id `{}`", edge.source))
            }
            Some(_) if self.selected.is_some_and(|selected| *selected != edge.source) => {
                let selected = self.selected.map(NodeId::as_str).unwrap_or_default();
                push("source", "invalidEdge", format!("must leave the selected node `{selected}`"));
            }
            Some(source) if !has_output_port(&source.spec, &edge.source_port) => {
                let ports = output_ports(&source.spec).join(", ");
                let message =
                    format!("`{}` has no output port `{}`; it has: {ports}", source.id, edge.source_port);
                push("sourcePort", "unknownPort", message);
            }
            Some(_) => {}
        }
        if edge.target != node.id {
            push("target", "invalidEdge", format!("must enter the new node `{}`", node.id));
        } else if !has_input_port(&node.spec, &edge.target_port) {
            let ports = input_ports(&node.spec).join(", ");
            push(
                "targetPort",
                "unknownPort",
                format!("the new node has no input port `{}`; it has: {ports}", edge.target_port),
            );
        }
        issues
    }

    /// The validator's new issues about the node and edge once added, and unknown references.
    fn validated(&self, node: &Node, edge: &Edge, at: &str) -> Vec<GraphIssue> {
        let mut graph = self.graph.clone();
        let (node_path, edge_path) =
            (format!("nodes[{}]", graph.nodes.len()), format!("edges[{}]", graph.edges.len()));
        graph.nodes.push(node.clone());
        graph.edges.push(edge.clone());
        let report = validate(&graph, &self.limits);
        let mut issues: Vec<GraphIssue> = report
            .issues
            .into_iter()
            .chain(context_issues(&graph, self.context))
            .filter(|issue| !self.baseline.contains(issue))
            .filter(|issue| {
                issue.node_id.as_ref() == Some(&node.id)
                    || is_under(&issue.path, &node_path)
                    || is_under(&issue.path, &edge_path)
            })
            .collect();
        for issue in &mut issues {
            issue.path = rebase(&issue.path, &node_path, &format!("{at}.node"));
            issue.path = rebase(&issue.path, &edge_path, &format!("{at}.edge"));
        }
        issues
    }
}

/// Whether `path` is `prefix` or inside it (`nodes[1]` holds `nodes[1].name`, not `nodes[10]`).
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// `path` with its `prefix` replaced by `by`, when it is under it.
fn rebase(path: &str, prefix: &str, by: &str) -> String {
    if is_under(path, prefix) { format!("{by}{}", &path[prefix.len()..]) } else { path.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_rebased_only_under_their_prefix() {
        assert_eq!(
            rebase("nodes[1].config.url", "nodes[1]", "suggestions[0].node"),
            "suggestions[0].node.config.url"
        );
        assert_eq!(rebase("nodes[1]", "nodes[1]", "s.node"), "s.node");
        assert_eq!(rebase("nodes[10].name", "nodes[1]", "s.node"), "nodes[10].name");
    }
}
