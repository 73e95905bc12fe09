//! Configs of `ai` (a language-model call) and `vectorSearch`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ConfigIssues, NodeConfig, is_default, value_mut};
use crate::workflow::ports::ERROR_PORT;
use crate::workflow::templates::{TemplateKind, TemplateVisitor};

/// Largest `maxTokens`.
pub const MAX_AI_TOKENS: u32 = 1_000_000;
/// Largest `topK`.
pub const MAX_TOP_K: u32 = 1_000;

/// What an `ai` node does with the model's answer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum AiMode {
    /// Outputs the answer (text, or JSON matching `outputSchema`) on `out`.
    #[default]
    Generate,
    /// Picks one of `branches`; continues on the port of that name.
    Decide,
    /// Classifies the input against the provider's moderation categories; outputs
    /// `{ flagged, categories }` on `out`.
    Moderate,
}

/// The kind of work, when the router rather than the workflow picks the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TaskClass {
    /// Writing text.
    Generate,
    /// Reading and reasoning about input.
    Analyse,
    /// Choosing among options.
    Decide,
    /// Moderating content.
    Moderate,
    /// Anything, as cheaply and quickly as possible.
    CheapFast,
}

/// One option of an `ai` node in `decide` mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AiBranch {
    /// The output port's name: unique, 1 to 64 letters, digits, `_` or `-`; not `error`.
    pub name: String,
    /// What the option means, told to the model.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `ai`: calls a language model chosen by `model` or by `taskClass` (exactly one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AiConfig {
    /// `generate` (default), `decide` or `moderate`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: AiMode,
    /// A model from the catalogue (`provider/model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
    /// Let the router pick a model for this kind of work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub task_class: Option<TaskClass>,
    /// System prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub system_prompt: Option<String>,
    /// User prompt template (required; in `moderate` mode, the content to classify).
    pub prompt: String,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub temperature: Option<f64>,
    /// Most tokens in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub max_tokens: Option<u32>,
    /// Cost ceiling of one execution (all attempts), in US dollars; the call is refused or
    /// stopped beyond it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub max_cost_usd: Option<f64>,
    /// JSON Schema the answer must match (structured output, `generate` mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub output_schema: Option<Value>,
    /// For `decide`: the options, each an output port (at least two).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<AiBranch>,
    /// Stored provider credential; absent means the instance's provider settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub credential_id: Option<String>,
}

impl NodeConfig for AiConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        match (&self.model, self.task_class) {
            (None, None) => issues.required("model", "set `model` or `taskClass`"),
            (Some(_), Some(_)) => issues.invalid("taskClass", "set either `model` or `taskClass`, not both"),
            (Some(model), None) => issues.non_blank("model", model),
            (None, Some(_)) => {}
        }
        issues.non_blank("prompt", &self.prompt);
        if let Some(temperature) = self.temperature {
            issues.range_f64("temperature", temperature, 0.0, 2.0);
        }
        if let Some(max_tokens) = self.max_tokens {
            issues.range_u64("maxTokens", u64::from(max_tokens), 1, u64::from(MAX_AI_TOKENS));
        }
        if let Some(cost) = self.max_cost_usd
            && (!cost.is_finite() || cost <= 0.0)
        {
            issues.invalid("maxCostUsd", "must be a positive amount");
        }
        if let Some(schema) = &self.output_schema {
            if !schema.is_object() {
                issues.invalid("outputSchema", "must be a JSON Schema object");
            }
            if self.mode != AiMode::Generate {
                issues.invalid("outputSchema", "only `generate` mode takes an output schema");
            }
        }
        match self.mode {
            AiMode::Decide if self.branches.len() < 2 => {
                issues.required("branches", "`decide` mode needs at least two branches");
            }
            AiMode::Generate | AiMode::Moderate if !self.branches.is_empty() => {
                issues.invalid("branches", "only `decide` mode has branches");
            }
            _ => {}
        }
        issues.port_names(
            |idx| format!("branches[{idx}].name"),
            self.branches.iter().map(|branch| branch.name.as_str()),
            &[ERROR_PORT],
        );
        issues.credential(self.credential_id.as_ref());
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.opt("systemPrompt", TemplateKind::Template, self.system_prompt.as_ref());
        visitor.field("prompt", TemplateKind::Template, &self.prompt);
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        if let Some(text) = &mut self.system_prompt {
            visit(TemplateKind::Template, text);
        }
        visit(TemplateKind::Template, &mut self.prompt);
    }
}

/// `vectorSearch`: embeds the rendered query and returns the `topK` nearest entries of a
/// collection as `[{ id, score, metadata, text }]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VectorSearchConfig {
    /// Collection (index) name (required).
    pub collection: String,
    /// Query template (required).
    pub query: String,
    /// How many results (1 to 1,000).
    pub top_k: u32,
    /// Metadata filter as a template value (equality on each member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub filter: Option<Value>,
    /// Results scoring below are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub min_score: Option<f64>,
    /// Stored credential of the embedding provider; absent means the instance's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub credential_id: Option<String>,
}

impl NodeConfig for VectorSearchConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        issues.non_blank("collection", &self.collection);
        issues.non_blank("query", &self.query);
        issues.range_u64("topK", u64::from(self.top_k), 1, u64::from(MAX_TOP_K));
        if self.filter.as_ref().is_some_and(|filter| !filter.is_object()) {
            issues.invalid("filter", "must be an object");
        }
        if let Some(score) = self.min_score {
            issues.range_f64("minScore", score, -1.0, 1.0);
        }
        issues.credential(self.credential_id.as_ref());
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.field("query", TemplateKind::Template, &self.query);
        if let Some(filter) = &self.filter {
            visitor.value("filter", filter);
        }
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        visit(TemplateKind::Template, &mut self.query);
        value_mut(self.filter.as_mut(), visit);
    }
}
