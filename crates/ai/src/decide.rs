//! Decide mode: the model picks exactly one of a workflow's branches, answering
//! `{"branch": <one of the names>, "reason": "..."}`, validated like any structured output.

use serde_json::{Value, json};
pub use weft_core::workflow::nodes::AiBranch;

use crate::budget::BudgetGuard;
use crate::catalogue::TaskClass;
use crate::client::AiClient;
use crate::error::AiError;
use crate::request::{ChatMessage, ChatRequest};
use crate::router::ModelChoice;
use crate::structured::{DEFAULT_MAX_REPAIRS, JsonOutcome};

/// A choice among branches.
#[derive(Clone, Debug)]
pub struct DecideRequest {
    /// The options (at least one; names unique), with what each means.
    pub branches: Vec<AiBranch>,
    /// What is to be decided.
    pub question: String,
    /// What the decision is based on (may be empty).
    pub context: String,
    /// The model; the cheapest `decide` model when neither a model nor a task is named.
    pub choice: ModelChoice,
    /// Repair turns allowed after an invalid answer.
    pub max_repairs: u32,
}

impl Default for DecideRequest {
    fn default() -> Self {
        Self {
            branches: Vec::new(),
            question: String::new(),
            context: String::new(),
            choice: ModelChoice::default(),
            max_repairs: DEFAULT_MAX_REPAIRS,
        }
    }
}

/// The branch picked.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// One of the branch names.
    pub branch: String,
    /// The model's reason.
    pub reason: String,
    /// The structured call behind it (attempts, cost).
    pub json: JsonOutcome,
}

impl AiClient {
    /// Asks the model to pick exactly one branch; see [`DecideRequest`].
    pub async fn decide(
        &self,
        request: DecideRequest,
        budget: &dyn BudgetGuard,
    ) -> Result<Decision, AiError> {
        let names: Vec<&str> = request.branches.iter().map(|branch| branch.name.as_str()).collect();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        if names.is_empty() || unique.len() != names.len() {
            return Err(AiError::InvalidRequest {
                reason: "decide needs branches with unique names".to_owned(),
            });
        }
        let schema = json!({
            "type": "object",
            "properties": {
                "branch": {"type": "string", "enum": names},
                "reason": {"type": "string"}
            },
            "required": ["branch", "reason"],
            "additionalProperties": false
        });
        let options = request
            .branches
            .iter()
            .map(|branch| match branch.description.trim() {
                "" => format!("- {}", branch.name),
                description => format!("- {}: {description}", branch.name),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let system = format!(
            "You choose how a workflow continues. Pick exactly one of these branches:\n{options}\n\
             Answer with JSON: {{\"branch\": <the branch name>, \"reason\": <one short sentence>}}."
        );
        let mut user = request.question.clone();
        if !request.context.trim().is_empty() {
            user.push_str("\n\nContext:\n");
            user.push_str(&request.context);
        }
        let call = ChatRequest {
            temperature: Some(0.0),
            choice: default_task(request.choice, TaskClass::Decide),
            ..ChatRequest::new(vec![ChatMessage::system(system), ChatMessage::user(user)])
        };
        let json = self.complete_json(call, schema, request.max_repairs, budget).await?;
        let field = |name: &str| json.value.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        Ok(Decision { branch: field("branch"), reason: field("reason"), json })
    }
}

/// `choice`, or `task` when it names neither a model nor a task.
pub(crate) fn default_task(choice: ModelChoice, task: TaskClass) -> ModelChoice {
    if choice.model.is_none() && choice.task.is_none() {
        ModelChoice { task: Some(task), ..choice }
    } else {
        choice
    }
}
