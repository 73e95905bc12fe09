//! Structured output: [`AiClient::complete_json`] asks for JSON matching a schema, validates
//! the answer and, while it is invalid, sends a bounded number of repair turns quoting the
//! errors.

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
        let mut request = ChatRequest { json_schema: Some(json_schema), ..call };
        let mut attempts = Vec::new();
        let mut n_repairs = 0;
        loop {
            let outcome = self
                .chat(request.clone(), budget)
                .await
                .map_err(|error| error.with_earlier_attempts(attempts.clone()))?;
            attempts.extend(outcome.attempts.iter().cloned());
            let errors = match parse_json(&outcome.text) {
                Ok(value) => {
                    let errors = validation_errors(&validator, &value);
                    if errors.is_empty() {
                        let total_cost_micro_usd = total_cost_micro_usd(&attempts);
                        return Ok(JsonOutcome {
                            value,
                            n_repairs,
                            last: outcome,
                            attempts,
                            total_cost_micro_usd,
                        });
                    }
                    errors
                }
                Err(error) => vec![error],
            };
            if n_repairs >= max_repairs {
                return Err(AiError::InvalidOutput { errors, n_repairs, attempts });
            }
            n_repairs += 1;
            tracing::debug!(n_repairs, n_errors = errors.len(), "structured output invalid; repairing");
            request.stream = None;
            request.messages.push(ChatMessage::assistant(outcome.text));
            request.messages.push(ChatMessage::user(repair_prompt(&errors)));
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
