//! Rendering templates and evaluating expressions of node configs at run time.
//!
//! minijinja runs sandboxed: no loader (no file access), no functions that reach the network
//! or the environment, strict undefined variables, and a fuel budget per evaluation that
//! bounds the work a template can do (loops, recursion through macros).

use minijinja::{Environment, UndefinedBehavior, Value as JinjaValue};
use serde_json::Value;

/// Why a template or expression failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What failed, with minijinja's explanation.
    pub message: String,
}

impl TemplateError {
    fn new(what: &str, err: &minijinja::Error) -> Self {
        let mut message = format!("{what}: {}", err.kind());
        if let Some(detail) = err.detail() {
            message.push_str(": ");
            message.push_str(detail);
        }
        Self { message }
    }
}

/// The sandboxed template environment.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

/// Most bytes one rendered string may have.
const MAX_RENDERED_BYTES: usize = 16 * 1024 * 1024;

impl Templates {
    /// An environment where each evaluation may spend at most `fuel` instructions.
    pub fn new(fuel: u64) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(fuel));
        Self { env }
    }

    /// Renders a template to text.
    pub fn render_str(&self, text: &str, ctx: &JinjaValue) -> Result<String, TemplateError> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_owned());
        }
        let rendered =
            self.env.render_str(text, ctx).map_err(|e| TemplateError::new("template failed", &e))?;
        if rendered.len() > MAX_RENDERED_BYTES {
            return Err(TemplateError { message: "template output is too large".to_owned() });
        }
        Ok(rendered)
    }

    /// Evaluates an expression.
    pub fn eval(&self, expression: &str, ctx: &JinjaValue) -> Result<JinjaValue, TemplateError> {
        let compiled = self
            .env
            .compile_expression(expression)
            .map_err(|e| TemplateError::new("expression is invalid", &e))?;
        compiled.eval(ctx).map_err(|e| TemplateError::new("expression failed", &e))
    }

    /// Evaluates an expression to JSON.
    pub fn eval_json(&self, expression: &str, ctx: &JinjaValue) -> Result<Value, TemplateError> {
        to_json(&self.eval(expression, ctx)?)
    }

    /// Whether an expression is truthy.
    pub fn eval_truthy(&self, expression: &str, ctx: &JinjaValue) -> Result<bool, TemplateError> {
        Ok(self.eval(expression, ctx)?.is_true())
    }

    /// Renders a template value: every string in it is a template, and a string that is
    /// exactly one `{{ expression }}` keeps the expression's type.
    pub fn render_value(&self, value: &Value, ctx: &JinjaValue) -> Result<Value, TemplateError> {
        Ok(match value {
            Value::String(text) => match single_expression(text) {
                Some(expression) => self.eval_json(expression, ctx)?,
                None => Value::String(self.render_str(text, ctx)?),
            },
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.render_value(item, ctx)).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| Ok((key.clone(), self.render_value(item, ctx)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// The expression of a string that is exactly one `{{ … }}` tag.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner.trim())
}

/// Converts a template value to JSON (undefined and none become `null`).
pub fn to_json(value: &JinjaValue) -> Result<Value, TemplateError> {
    if value.is_undefined() || value.is_none() {
        return Ok(Value::Null);
    }
    serde_json::to_value(value).map_err(|e| TemplateError { message: format!("value is not JSON: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> JinjaValue {
        JinjaValue::from(minijinja::value::Serde(json!({
            "input": {"name": "ada", "n": 3, "items": [1, 2, 3]},
            "nodes": {"a": {"output": {"score": 0.9}}},
        })))
    }

    #[test]
    fn strings_render_and_single_expressions_keep_their_type() {
        let t = Templates::new(100_000);
        let out = t
            .render_value(
                &json!({"greeting": "Hello {{ input.name | title }}", "n": "{{ input.n }}", "list": "{{ input.items }}", "plain": 1}),
                &ctx(),
            )
            .unwrap();
        assert_eq!(out, json!({"greeting": "Hello Ada", "n": 3, "list": [1, 2, 3], "plain": 1}));
        assert!(t.eval_truthy("nodes.a.output.score > 0.8", &ctx()).unwrap());
        assert!(!t.eval_truthy("input.n > 5", &ctx()).unwrap());
    }

    #[test]
    fn unknown_variables_and_runaway_loops_fail() {
        let t = Templates::new(10_000);
        assert!(t.render_str("{{ missing.value }}", &ctx()).is_err());
        let err = t.render_str("{% for i in range(100000) %}{{ i }}{% endfor %}", &ctx()).unwrap_err();
        assert!(err.message.contains("fuel"), "{err}");
        assert!(t.eval("1 +", &ctx()).is_err());
    }
}
