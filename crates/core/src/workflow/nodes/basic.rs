//! Configs of `start`, `end`, `transform` and `delay`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ConfigIssues, NodeConfig, value_mut};
use crate::workflow::templates::{TemplateKind, TemplateVisitor};

/// Longest delay: one year, in milliseconds.
pub const MAX_DELAY_MS: u64 = 366 * 24 * 3600 * 1000;

/// `start`: the single entry of a workflow. Its output is the run input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StartConfig {
    /// JSON Schema the run input must satisfy; absent means any input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub input_schema: Option<Value>,
}

impl NodeConfig for StartConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        if self.input_schema.as_ref().is_some_and(|schema| !schema.is_object() && !schema.is_boolean()) {
            issues.invalid("inputSchema", "must be a JSON Schema (an object or a boolean)");
        }
    }

    fn templates<'a>(&'a self, _: &mut TemplateVisitor<'_, 'a>) {}

    fn templates_mut(&mut self, _: &mut dyn FnMut(TemplateKind, &mut String)) {}
}

/// `end`: ends a path. When the run reaches an end node its output becomes the run's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndConfig {
    /// The result, as a template value (every string inside is a template); absent means the
    /// output of the node that led here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub output: Option<Value>,
}

impl NodeConfig for EndConfig {
    fn check(&self, _: &mut ConfigIssues) {}

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        if let Some(output) = &self.output {
            visitor.value("output", output);
        }
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        value_mut(self.output.as_mut(), visit);
    }
}

/// `transform`: builds its output from the run context.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TransformConfig {
    /// The output, as a template value: any JSON whose strings are templates. A string that
    /// is exactly one `{{ expression }}` keeps the expression's type (number, list, object).
    pub output: Value,
}

impl NodeConfig for TransformConfig {
    fn check(&self, _: &mut ConfigIssues) {}

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.value("output", &self.output);
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        value_mut(Some(&mut self.output), visit);
    }
}

/// `delay`: a durable timer. Exactly one of `durationMs` and `until` is set. Its output is
/// its input.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DelayConfig {
    /// How long to wait, in milliseconds (1 ms to one year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub duration_ms: Option<u64>,
    /// Template rendering an RFC 3339 time to wait for; a time in the past does not wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub until: Option<String>,
}

impl NodeConfig for DelayConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        match (self.duration_ms, &self.until) {
            (None, None) => issues.required("durationMs", "set `durationMs` or `until`"),
            (Some(_), Some(_)) => issues.invalid("until", "set either `durationMs` or `until`, not both"),
            (Some(duration_ms), None) => issues.range_u64("durationMs", duration_ms, 1, MAX_DELAY_MS),
            (None, Some(until)) => issues.non_blank("until", until),
        }
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.opt("until", TemplateKind::Template, self.until.as_ref());
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        if let Some(until) = &mut self.until {
            visit(TemplateKind::Template, until);
        }
    }
}
