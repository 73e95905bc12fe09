//! Loops: each iteration runs the loop's body in a scope of its own (`loop#3`, nested
//! `outer#1/inner#0`), so a node of the body has one step per iteration. The loop's step
//! waits while iterations run and keeps their count in its state; an iteration ends when
//! every edge into the loop's `continue` input has arrived or been skipped (a collector
//! step of the loop node in the iteration's scope counts them, like any node's inputs).
//! When the last iteration has ended, the loop's `done` port fires with the list of the
//! iterations' outputs, in order.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use weft_core::workflow::nodes::{LoopConfig, LoopKind};

use crate::runner::NodeError;
use crate::template::Evaluation;

/// A loop's progress, kept in its waiting step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoopState {
    /// For-each: the items (their count is the number of iterations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    /// Iterations started.
    pub started: usize,
    /// Iterations ended.
    pub finished: usize,
}

/// How a loop begins.
pub enum LoopStart {
    /// Nothing to iterate: `done` fires at once with `[]`.
    Empty,
    /// Start these first iterations.
    Iterate(LoopState),
}

/// The scope of iteration `index` of `loop_id` inside `parent`.
pub fn iteration_scope(parent: &str, loop_id: &str, index: usize) -> String {
    if parent.is_empty() { format!("{loop_id}#{index}") } else { format!("{parent}/{loop_id}#{index}") }
}

/// The innermost iteration of a scope: `(parent scope, loop id, index)`.
pub fn innermost(scope: &str) -> Option<(&str, &str, usize)> {
    if scope.is_empty() {
        return None;
    }
    let (parent, last) = match scope.rfind('/') {
        Some(at) => (&scope[..at], &scope[at + 1..]),
        None => ("", scope),
    };
    let (loop_id, index) = last.rsplit_once('#')?;
    Some((parent, loop_id, index.parse().ok()?))
}

/// A scope and all the scopes around it, innermost first, ending with the top level `""`.
pub fn scope_chain(scope: &str) -> Vec<String> {
    let mut chain = vec![scope.to_owned()];
    let mut current = scope;
    while let Some((parent, _, _)) = innermost(current) {
        chain.push(parent.to_owned());
        current = parent;
    }
    chain
}

/// Evaluates how a loop begins.
pub fn begin(
    t: &Evaluation<'_>,
    config: &LoopConfig,
    data: &minijinja::Value,
) -> Result<LoopStart, NodeError> {
    match config.kind {
        LoopKind::ForEach => {
            let expression = config.items.as_deref().unwrap_or("[]");
            let items = match t.eval_json(expression, data)? {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                other => {
                    return Err(NodeError::other(format!(
                        "items must evaluate to a list, not {}",
                        json_kind(&other)
                    )));
                }
            };
            if let Some(max) = config.max_iterations
                && items.len() > max as usize
            {
                return Err(NodeError::other(format!(
                    "items has {} elements, more than maxIterations ({max})",
                    items.len()
                )));
            }
            if items.is_empty() {
                return Ok(LoopStart::Empty);
            }
            let started = items.len().min(config.concurrency.max(1) as usize);
            Ok(LoopStart::Iterate(LoopState { items: Some(items), started, finished: 0 }))
        }
        LoopKind::While => {
            if !while_condition(t, config, data, 0)? {
                return Ok(LoopStart::Empty);
            }
            Ok(LoopStart::Iterate(LoopState { items: None, started: 1, finished: 0 }))
        }
    }
}

/// Whether a while loop runs iteration `index`.
pub fn while_condition(
    t: &Evaluation<'_>,
    config: &LoopConfig,
    data: &minijinja::Value,
    index: usize,
) -> Result<bool, NodeError> {
    let condition = config.condition.as_deref().unwrap_or("false");
    let data = minijinja::context! { index => index, ..data.clone() };
    Ok(t.eval_truthy(condition, &data)?)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_unwind() {
        let inner = iteration_scope(&iteration_scope("", "outer", 1), "inner", 0);
        assert_eq!(inner, "outer#1/inner#0");
        assert_eq!(innermost(&inner), Some(("outer#1", "inner", 0)));
        assert_eq!(innermost("outer#1"), Some(("", "outer", 1)));
        assert_eq!(innermost(""), None);
        assert_eq!(scope_chain(&inner), ["outer#1/inner#0", "outer#1", ""]);
        assert_eq!(scope_chain(""), [""]);
    }
}
