//! Text to workflow: [`AiClient::generate_workflow`] turns a description into a Weft graph,
//! and [`AiClient::suggest_next`] proposes the next nodes of a graph being edited.
//!
//! The model is told the graph format and Weft's node catalogue (each type's ports and config
//! JSON Schema, from [`weft_core::workflow::catalogue`]), and answers in JSON. Each answer goes
//! through the same checks as the editor's input: [`parse_graph`] (field paths such as
//! `nodes[2].config.url`), then [`validate`]; on issues, repair turns quote them (path, code,
//! message), within the caller's `max_repairs`. The project's credentials and workflows are
//! offered by id and name only, and an id the model makes up is an issue too.

mod answer;
mod outline;
mod prompt;
mod suggest;
mod suggest_check;

use serde_json::Value;
use weft_core::WorkflowId;
use weft_core::workflow::{Graph, GraphIssue, GraphLimits, ValidationReport, parse_graph, validate};

use crate::attempt::{Attempt, total_cost_micro_usd};
use crate::budget::BudgetGuard;
use crate::catalogue::TaskClass;
use crate::client::AiClient;
use crate::decide::default_task;
use crate::error::AiError;
use crate::request::{ChatMessage, ChatOutcome, ChatRequest};
use crate::router::ModelChoice;
use crate::structured::{CheckFailed, Checked, DEFAULT_MAX_REPAIRS};

pub use suggest::{MAX_SUGGESTIONS, NodeSuggestion, NodeSuggestions, SuggestNextRequest};

/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Completion tokens asked for a graph when the request sets none.
pub const DEFAULT_GENERATE_MAX_TOKENS: u32 = 4096;
/// Most workflows and credentials offered to the model; the rest are left out.
const MAX_CONTEXT_ITEMS: usize = 100;
/// Longest workflow description offered to the model, in characters.
const MAX_CONTEXT_DESCRIPTION_CHARS: usize = 300;

/// A workflow of the project, offered to the model as context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkflowSummary {
    /// When given, `subWorkflow` nodes may run it.
    pub id: Option<WorkflowId>,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
}

impl From<(String, String)> for WorkflowSummary {
    /// From `(name, description)`.
    fn from((name, description): (String, String)) -> Self {
        Self { id: None, name, description }
    }
}

/// A stored credential that generated nodes may name in `credentialId`: its id, name and
/// kind only, never its secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialSummary {
    /// The id nodes reference.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// What it is for (`bearerToken`, `openai`, ...).
    pub kind: String,
}

impl From<(String, String, String)> for CredentialSummary {
    /// From `(id, name, kind)`.
    fn from((id, name, kind): (String, String, String)) -> Self {
        Self { id, name, kind }
    }
}

/// What the model may build on besides the request itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkflowContext {
    /// The project's workflows (at most 100 are offered).
    pub existing_workflows: Vec<WorkflowSummary>,
    /// The project's credentials (at most 100 are offered).
    pub credentials: Vec<CredentialSummary>,
}

impl WorkflowContext {
    /// The context as offered: bounded lists, long descriptions cut.
    fn bounded(&self) -> Self {
        let existing_workflows = self
            .existing_workflows
            .iter()
            .take(MAX_CONTEXT_ITEMS)
            .map(|workflow| WorkflowSummary {
                description: crate::sanitize::truncate(&workflow.description, MAX_CONTEXT_DESCRIPTION_CHARS),
                ..workflow.clone()
            })
            .collect();
        let credentials = self.credentials.iter().take(MAX_CONTEXT_ITEMS).cloned().collect();
        Self { existing_workflows, credentials }
    }
}

/// A description to turn into a workflow.
#[derive(Clone, Debug)]
pub struct GenerateWorkflowRequest {
    /// What the workflow should do, in the user's words.
    pub description: String,
    /// The model; the cheapest `generate` model when neither a model nor a task is named.
    pub choice: ModelChoice,
    /// The project's workflows and credentials.
    pub context: WorkflowContext,
    /// Repair turns allowed after an invalid graph.
    pub max_repairs: u32,
    /// The limits the graph is parsed and validated with (the server's).
    pub limits: GraphLimits,
    /// Most completion tokens per turn; [`DEFAULT_GENERATE_MAX_TOKENS`] when `None`.
    pub max_tokens: Option<u32>,
    /// Sampling temperature; the provider's default when `None`.
    pub temperature: Option<f32>,
}

impl Default for GenerateWorkflowRequest {
    fn default() -> Self {
        Self {
            description: String::new(),
            choice: ModelChoice::default(),
            context: WorkflowContext::default(),
            max_repairs: DEFAULT_MAX_REPAIRS,
            limits: GraphLimits::default(),
            max_tokens: None,
            temperature: None,
        }
    }
}

/// A generated workflow that parses and validates.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedWorkflow {
    /// The graph.
    pub graph: Graph,
    /// The graph as JSON, in the format the editor and `parse_graph` read.
    pub graph_json: Value,
    /// The model's explanation of the workflow.
    pub explanation: String,
    /// The validator's report on the graph (valid, no issues).
    pub report: ValidationReport,
    /// Repair turns it took (0: the first answer was valid).
    pub n_repairs: u32,
    /// The last turn's outcome (its model, provider and text).
    pub last: ChatOutcome,
    /// Every attempt of every turn, for usage rows.
    pub attempts: Vec<Attempt>,
    /// Cost of every attempt of every turn, micro-USD.
    pub total_cost_micro_usd: u64,
}

impl AiClient {
    /// Asks the model for a workflow doing what `request.description` says, built only from
    /// Weft's node catalogue; parses and validates each answer like the editor's input and
    /// sends up to `request.max_repairs` repair turns quoting the issues.
    ///
    /// Fails with [`AiError::InvalidRequest`] on an empty or overlong description, and with
    /// [`AiError::InvalidWorkflow`] (the last issues, every attempt) when no answer was valid.
    pub async fn generate_workflow(
        &self,
        request: GenerateWorkflowRequest,
        budget: &dyn BudgetGuard,
    ) -> Result<GeneratedWorkflow, AiError> {
        let description = request.description.trim();
        if description.is_empty() {
            return Err(AiError::InvalidRequest { reason: "describe the workflow to generate".to_owned() });
        }
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(AiError::InvalidRequest {
                reason: format!("the description may have at most {MAX_DESCRIPTION_CHARS} characters"),
            });
        }
        let context = request.context.bounded();
        let system = prompt::generate_system(&request.limits, &context);
        let user = format!("Build a workflow for this description:\n\n{description}");
        let call = ChatRequest {
            temperature: request.temperature,
            max_tokens: Some(request.max_tokens.unwrap_or(DEFAULT_GENERATE_MAX_TOKENS)),
            choice: default_task(request.choice, TaskClass::Generate),
            json_schema: Some(prompt::generate_schema()),
            ..ChatRequest::new(vec![ChatMessage::system(system), ChatMessage::user(user)])
        };
        let mut check = answer::WorkflowCheck { limits: request.limits, context: &context };
        match self.complete_checked(call, request.max_repairs, budget, &mut check).await {
            Ok(Checked { value, n_repairs, last, attempts }) => {
                let answer::ValidAnswer { graph, explanation, report } = value;
                let graph_json = serde_json::to_value(&graph).unwrap_or(Value::Null);
                let total_cost_micro_usd = total_cost_micro_usd(&attempts);
                Ok(GeneratedWorkflow {
                    graph,
                    graph_json,
                    explanation,
                    report,
                    n_repairs,
                    last,
                    attempts,
                    total_cost_micro_usd,
                })
            }
            Err(failed) => Err(into_error(failed)),
        }
    }
}

/// The error of a failed multi-turn graph call.
fn into_error(failed: CheckFailed<GraphIssue>) -> AiError {
    match failed {
        CheckFailed::Call(error) => error,
        CheckFailed::Invalid { issues, n_repairs, attempts } => {
            AiError::InvalidWorkflow { issues, n_repairs, attempts }
        }
    }
}

/// Parses and validates `value` as a graph: the parser's field errors, else the validator's
/// issues and the context checks; `Ok` with the report when there is none.
pub(crate) fn check_graph(
    value: &Value,
    limits: &GraphLimits,
    context: &WorkflowContext,
) -> Result<(Graph, ValidationReport), Vec<GraphIssue>> {
    let graph = parse_graph(value, limits).map_err(|errors| answer::field_issues(value, errors))?;
    let report = validate(&graph, limits);
    let mut issues = report.issues.clone();
    issues.extend(answer::context_issues(&graph, context));
    if issues.is_empty() { Ok((graph, report)) } else { Err(issues) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::NoBudget;

    /// Compiles only if the calls can run on a multi-threaded runtime (axum handlers, workers).
    #[allow(dead_code)]
    fn calls_are_send(client: &AiClient) {
        fn send<T: Send>(_: T) {}
        send(client.generate_workflow(GenerateWorkflowRequest::default(), &NoBudget));
        send(client.suggest_next(SuggestNextRequest::default(), &NoBudget));
    }
}
