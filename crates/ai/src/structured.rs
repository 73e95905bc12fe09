//! Structured output: [`AiClient::complete_json`] asks for JSON matching a schema, validates
//! the answer and, while it is invalid, sends a bounded number of repair turns quoting the
//! errors. The turn loop itself ([`AiClient::complete_checked`]) takes any [`AnswerCheck`],
//! so workflow generation reuses it with the graph parser and validator as the check.

use serde_json::Value;

use crate::attempt::{Attempt, total_cost_micro_usd};
use crate::budget::BudgetGuard;
use crate::client::AiClient;
use crate::error::AiError;
use crate::request::{ChatMessage, ChatOutcome, ChatRequest};
use crate::sanitize::truncate;

/// Repair turns the decide and moderate helpers allow by default.
pub const DEFAULT_MAX_REPAIRS: u32 = 2;
/// Most validation errors quoted in a repair turn or an error.
const MAX_ERRORS: usize = 10;
/// Longest quoted validation error, in characters.
const MAX_ERROR_CHARS: usize = 200;

/// A valid structured answer.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonOutcome {
    /// The answer, valid against the schema.
    pub value: Value,
    /// Repair turns it took (0: the first answer was valid).
    pub n_repairs: u32,
    /// The last turn's outcome (its model, provider, text and attempts).
    pub last: ChatOutcome,
    /// Every attempt of every turn, for usage rows.
    pub attempts: Vec<Attempt>,
    /// Cost of every attempt of every turn, micro-USD.
    pub total_cost_micro_usd: u64,
}

/// How a multi-turn structured call judges each answer and asks for a repair.
pub(crate) trait AnswerCheck {
    /// What a valid answer yields.
    type Output: Send;
    /// One problem of an invalid answer.
    type Issue: Send;
    /// The answer's value, or its issues (never empty).
    fn check(&mut self, text: &str) -> Result<Self::Output, Vec<Self::Issue>>;
    /// The user turn that quotes `issues` and asks for a corrected answer.
    fn repair_prompt(&self, issues: &[Self::Issue]) -> String;
}

/// A valid answer after `n_repairs` repair turns.
pub(crate) struct Checked<T> {
    pub value: T,
    pub n_repairs: u32,
    pub last: ChatOutcome,
    pub attempts: Vec<Attempt>,
}

/// Why [`AiClient::complete_checked`] gave up.
pub(crate) enum CheckFailed<I> {
    /// A turn's call failed (its error carries the attempts of every turn).
    Call(AiError),
    /// The last answer was still invalid after every repair turn.
    Invalid { issues: Vec<I>, n_repairs: u32, attempts: Vec<Attempt> },
}

/// The schema check of [`AiClient::complete_json`].
struct SchemaCheck {
    validator: jsonschema::Validator,
}

impl AnswerCheck for SchemaCheck {
    type Output = Value;
    type Issue = String;

    fn check(&mut self, text: &str) -> Result<Value, Vec<String>> {
        let value = parse_json(text).map_err(|error| vec![error])?;
        let errors = validation_errors(&self.validator, &value);
        if errors.is_empty() { Ok(value) } else { Err(errors) }
    }

    fn repair_prompt(&self, errors: &[String]) -> String {
        repair_prompt(errors)
    }
}

impl AiClient {
    /// Asks for JSON matching `json_schema` (with `response_format: json_schema` when the
    /// model supports it, otherwise in the system prompt), validates the answer, and on
    /// invalid JSON or schema errors sends up to `max_repairs` repair turns. Streaming, if
    /// asked for, covers the first turn only.
    ///
    /// Fails with [`AiError::InvalidRequest`] when the schema does not compile and with
    /// [`AiError::InvalidOutput`] (carrying the last errors) when no turn was valid.
    pub async fn complete_json(
        &self,
        call: ChatRequest,
        json_schema: Value,
        max_repairs: u32,
        budget: &dyn BudgetGuard,
    ) -> Result<JsonOutcome, AiError> {
        let validator = jsonschema::validator_for(&json_schema)
            .map_err(|error| AiError::InvalidRequest { reason: format!("invalid json schema: {error}") })?;
        let request = ChatRequest { json_schema: Some(json_schema), ..call };
        let mut check = SchemaCheck { validator };
        match self.complete_checked(request, max_repairs, budget, &mut check).await {
            Ok(Checked { value, n_repairs, last, attempts }) => {
                let total_cost_micro_usd = total_cost_micro_usd(&attempts);
                Ok(JsonOutcome { value, n_repairs, last, attempts, total_cost_micro_usd })
            }
            Err(CheckFailed::Call(error)) => Err(error),
            Err(CheckFailed::Invalid { issues, n_repairs, attempts }) => {
                Err(AiError::InvalidOutput { errors: issues, n_repairs, attempts })
            }
        }
    }

    /// Sends `request`, judges the answer with `check` and, while it is invalid, sends up to
    /// `max_repairs` repair turns (the invalid answer, then `check`'s repair prompt).
    /// Streaming, if asked for, covers the first turn only.
    pub(crate) async fn complete_checked<C: AnswerCheck + Send>(
        &self,
        mut request: ChatRequest,
        max_repairs: u32,
        budget: &dyn BudgetGuard,
        check: &mut C,
    ) -> Result<Checked<C::Output>, CheckFailed<C::Issue>> {
        let mut attempts = Vec::new();
        let mut n_repairs = 0;
        loop {
            let outcome = self
                .chat(request.clone(), budget)
                .await
                .map_err(|error| CheckFailed::Call(error.with_earlier_attempts(attempts.clone())))?;
            attempts.extend(outcome.attempts.iter().cloned());
            let issues = match check.check(&outcome.text) {
                Ok(value) => return Ok(Checked { value, n_repairs, last: outcome, attempts }),
                Err(issues) => issues,
            };
            if n_repairs >= max_repairs {
                return Err(CheckFailed::Invalid { issues, n_repairs, attempts });
            }
            n_repairs += 1;
            tracing::debug!(n_repairs, n_issues = issues.len(), "structured output invalid; repairing");
            request.stream = None;
            request.messages.push(ChatMessage::assistant(outcome.text));
            request.messages.push(ChatMessage::user(check.repair_prompt(&issues)));
        }
    }
}

/// The repair turn: the errors, and the demand for a corrected answer only.
fn repair_prompt(errors: &[String]) -> String {
    let listed = errors.iter().map(|error| format!("- {error}")).collect::<Vec<_>>().join("\n");
    format!(
        "Your answer is not valid:\n{listed}\nAnswer again with only the corrected JSON value, matching the \
         JSON Schema: no prose, no code fences."
    )
}

/// The JSON in a model's answer: the whole text, or the inside of a Markdown code fence.
pub(crate) fn parse_json(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map(|inner| {
            // Drop the info string (```json).
            inner
                .split_once('\n')
                .map_or(inner, |(info, body)| if info.trim().contains(' ') { inner } else { body })
        })
        .unwrap_or(trimmed);
    serde_json::from_str(unfenced.trim())
        .map_err(|error| truncate(&format!("the answer is not valid json: {error}"), MAX_ERROR_CHARS))
}

/// The schema errors of `value` (at most [`MAX_ERRORS`]), each with its JSON Pointer.
pub(crate) fn validation_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .take(MAX_ERRORS)
        .map(|error| {
            let path = error.instance_path().to_string();
            let at = if path.is_empty() { "/".to_owned() } else { path };
            truncate(&format!("at `{at}`: {error}"), MAX_ERROR_CHARS)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_bare_and_fenced_json() {
        assert_eq!(parse_json(" {\"a\": 1} ").unwrap(), json!({"a": 1}));
        assert_eq!(parse_json("```json\n{\"a\": 1}\n```").unwrap(), json!({"a": 1}));
        assert_eq!(parse_json("```\n[1]\n```").unwrap(), json!([1]));
        assert!(parse_json("sure! {\"a\": 1}").unwrap_err().starts_with("the answer is not valid json"));
    }

    #[test]
    fn reports_errors_with_their_paths() {
        let schema =
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n", "m"]});
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors = validation_errors(&validator, &json!({"n": "x"}));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|error| error.starts_with("at `/n`:")), "{errors:?}");
        assert!(
            errors.iter().any(|error| error.starts_with("at `/`:") && error.contains("\"m\"")),
            "{errors:?}"
        );
        assert!(validation_errors(&validator, &json!({"n": 1, "m": 2})).is_empty());
    }
}
