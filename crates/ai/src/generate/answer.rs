//! Judging a generation answer: the envelope (`{"graph", "explanation"}`), the graph through
//! the core's parser and validator, and references to the project's credentials and
//! workflows (an id the model made up is an issue, `unknownReference`).
//!
//! Every problem becomes a [`GraphIssue`] with a path inside the graph, so the repair turns
//! and the final error speak the editor's language.

use serde_json::{Value, json};
use weft_core::ValidationErrors;
use weft_core::workflow::{Graph, GraphIssue, GraphLimits, NodeId, NodeSpec, ValidationReport};

use super::{WorkflowContext, check_graph, prompt};
use crate::structured::{AnswerCheck, parse_json};

/// The code of an issue about the answer's shape rather than the graph.
const INVALID_ANSWER: &str = "invalidAnswer";
/// The code of a credential or workflow id the project does not have.
pub(crate) const UNKNOWN_REFERENCE: &str = "unknownReference";

/// A valid answer of [`crate::AiClient::generate_workflow`].
pub(crate) struct ValidAnswer {
    pub graph: Graph,
    pub explanation: String,
    pub report: ValidationReport,
}

/// The [`AnswerCheck`] of workflow generation.
pub(crate) struct WorkflowCheck<'a> {
    pub limits: GraphLimits,
    pub context: &'a WorkflowContext,
}

impl AnswerCheck for WorkflowCheck<'_> {
    type Output = ValidAnswer;
    type Issue = GraphIssue;

    fn check(&mut self, text: &str) -> Result<ValidAnswer, Vec<GraphIssue>> {
        let mut answer = parse_json(text).map_err(|error| vec![answer_issue(error)])?;
        let explanation =
            answer.get("explanation").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
        // A bare graph is accepted too: a repair turn would cost more than it fixes.
        let graph = if let Some(graph) = answer.get_mut("graph") {
            graph.take()
        } else if answer.get("nodes").is_some() {
            answer
        } else {
            return Err(vec![answer_issue("the answer has no `graph` object".to_owned())]);
        };
        let graph = with_positions(graph);
        let (graph, report) = check_graph(&graph, &self.limits, self.context)?;
        Ok(ValidAnswer { graph, explanation, report })
    }

    fn repair_prompt(&self, issues: &[GraphIssue]) -> String {
        prompt::generate_repair(issues)
    }
}

/// The graph with a position for every node object that has none, left to right: placement
/// is cosmetic, not worth a repair turn.
fn with_positions(mut graph: Value) -> Value {
    if let Some(nodes) = graph.get_mut("nodes").and_then(Value::as_array_mut) {
        for (idx, node) in nodes.iter_mut().enumerate() {
            if let Some(object) = node.as_object_mut() {
                object.entry("position").or_insert_with(|| json!({"x": 240 * idx, "y": 0}));
            }
        }
    }
    graph
}

/// An issue with the answer as a whole.
pub(crate) fn answer_issue(message: String) -> GraphIssue {
    GraphIssue { code: INVALID_ANSWER.to_owned(), message, path: String::new(), node_id: None }
}

/// The parser's field errors as graph issues, each naming its node when the raw node has a
/// usable id.
pub(crate) fn field_issues(raw_graph: &Value, errors: ValidationErrors) -> Vec<GraphIssue> {
    errors
        .0
        .into_iter()
        .map(|error| GraphIssue {
            node_id: node_of_path(raw_graph, &error.path),
            code: error.code,
            message: error.message,
            path: error.path,
        })
        .collect()
}

/// The id of the raw node a path (`nodes[3].config.url`) is inside.
fn node_of_path(raw_graph: &Value, path: &str) -> Option<NodeId> {
    let rest = path.strip_prefix("nodes[")?;
    let idx: usize = rest[..rest.find(']')?].parse().ok()?;
    let id = raw_graph.get("nodes")?.get(idx)?.get("id")?.as_str()?;
    NodeId::new(id).ok()
}

/// Credential and workflow ids the context does not list.
pub(crate) fn context_issues(graph: &Graph, context: &WorkflowContext) -> Vec<GraphIssue> {
    let mut issues = Vec::new();
    for (idx, node) in graph.nodes.iter().enumerate() {
        let mut refuse = |field: &str, message: String| {
            issues.push(GraphIssue {
                code: UNKNOWN_REFERENCE.to_owned(),
                message,
                path: format!("nodes[{idx}].config.{field}"),
                node_id: Some(node.id.clone()),
            });
        };
        if let Some(id) = credential_id(&node.spec)
            && !context.credentials.iter().any(|credential| credential.id == *id)
        {
            refuse("credentialId", format!("`{id}` is not a stored credential; use a listed id or none"));
        }
        if let NodeSpec::SubWorkflow(config) = &node.spec
            && let Some(workflow_id) = config.workflow_id
            && !context.existing_workflows.iter().any(|workflow| workflow.id == Some(workflow_id))
        {
            refuse("workflowId", format!("`{workflow_id}` is not one of the listed workflows"));
        }
    }
    issues
}

fn credential_id(spec: &NodeSpec) -> Option<&String> {
    match spec {
        NodeSpec::Http(config) => config.credential_id.as_ref(),
        NodeSpec::Ai(config) => config.credential_id.as_ref(),
        NodeSpec::VectorSearch(config) => config.credential_id.as_ref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::CredentialSummary;

    fn check(text: &str, context: &WorkflowContext) -> Result<ValidAnswer, Vec<GraphIssue>> {
        WorkflowCheck { limits: GraphLimits::default(), context }.check(text)
    }

    #[test]
    fn the_prompt_example_is_a_valid_answer() {
        let example = prompt::example_answer().to_string();
        let answer =
            check(&example, &WorkflowContext::default()).unwrap_or_else(|issues| panic!("{issues:?}"));
        assert_eq!(answer.graph.nodes.len(), 3);
        assert!(answer.report.valid);
        assert!(answer.explanation.starts_with("Builds a greeting"));
    }

    #[test]
    fn a_bare_graph_is_accepted_and_prose_is_not() {
        let example = prompt::example_answer();
        let answer = check(&example["graph"].to_string(), &WorkflowContext::default()).unwrap();
        assert_eq!(answer.explanation, "");
        let issues = check("Here is your workflow!", &WorkflowContext::default()).err().unwrap();
        assert_eq!(issues[0].code, INVALID_ANSWER);
        let issues = check("{\"workflow\": {}}", &WorkflowContext::default()).err().unwrap();
        assert!(issues[0].message.contains("no `graph`"), "{issues:?}");
    }

    #[test]
    fn missing_positions_are_filled_in() {
        let mut answer = prompt::example_answer();
        answer["graph"]["nodes"][2].as_object_mut().unwrap().remove("position");
        let valid = check(&answer.to_string(), &WorkflowContext::default()).unwrap();
        assert_eq!((valid.graph.nodes[2].position.x, valid.graph.nodes[2].position.y), (480.0, 0.0));
    }

    #[test]
    fn parse_errors_name_their_node() {
        let mut answer = prompt::example_answer();
        answer["graph"]["nodes"][1]["type"] = json!("shell");
        let issues = check(&answer.to_string(), &WorkflowContext::default()).err().unwrap();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!((issues[0].path.as_str(), issues[0].code.as_str()), ("nodes[1].type", "unknownType"));
        assert_eq!(issues[0].node_id.as_ref().map(NodeId::as_str), Some("greet"));
    }

    #[test]
    fn made_up_credentials_are_issues() {
        let mut answer = prompt::example_answer();
        answer["graph"]["nodes"][1] = json!({
            "id": "greet", "name": "Call", "type": "http", "position": {"x": 240, "y": 0},
            "config": {"url": "https://api.example/hello", "credentialId": "cred_api"}
        });
        let issues = check(&answer.to_string(), &WorkflowContext::default()).err().unwrap();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].code, UNKNOWN_REFERENCE);
        assert_eq!(issues[0].path, "nodes[1].config.credentialId");
        let context = WorkflowContext {
            credentials: vec![CredentialSummary::from((
                "cred_api".into(),
                "API".into(),
                "bearerToken".into(),
            ))],
            ..WorkflowContext::default()
        };
        assert!(check(&answer.to_string(), &context).is_ok());
    }
}
