//! Configs of the nodes that shape control flow: `decision`, `switch`, `loop`, `parallel`
//! and `join`.

use serde::{Deserialize, Serialize};

use super::{ConfigIssues, NodeConfig};
use crate::workflow::ports::{DEFAULT_PORT, ERROR_PORT};
use crate::workflow::templates::{TemplateKind, TemplateVisitor};

/// Most iterations of any loop.
pub const MAX_LOOP_ITERATIONS: u32 = 100_000;
/// Most concurrent iterations of a for-each loop.
pub const MAX_LOOP_CONCURRENCY: u32 = 100;

/// `decision`: evaluates `condition` and continues on `true` or `false`; the other branch
/// is skipped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DecisionConfig {
    /// Expression; truthy continues on `true`.
    pub condition: String,
}

impl NodeConfig for DecisionConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        issues.non_blank("condition", &self.condition);
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.field("condition", TemplateKind::Expression, &self.condition);
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        visit(TemplateKind::Expression, &mut self.condition);
    }
}

/// One branch of a `switch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SwitchCase {
    /// The output port's name: unique, 1 to 64 letters, digits, `_` or `-`; not `default`
    /// or `error`.
    pub name: String,
    /// Expression; the first truthy case wins.
    pub condition: String,
}

/// `switch`: continues on the first case whose condition is truthy, or on `default`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SwitchConfig {
    /// The cases, in evaluation order (at least one).
    pub cases: Vec<SwitchCase>,
}

impl NodeConfig for SwitchConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        if self.cases.is_empty() {
            issues.required("cases", "needs at least one case");
        }
        issues.port_names(
            |idx| format!("cases[{idx}].name"),
            self.cases.iter().map(|case| case.name.as_str()),
            &[DEFAULT_PORT, ERROR_PORT],
        );
        for (idx, case) in self.cases.iter().enumerate() {
            issues.non_blank(&format!("cases[{idx}].condition"), &case.condition);
        }
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        for (idx, case) in self.cases.iter().enumerate() {
            visitor.scoped(&format!("cases[{idx}]"), |visitor| {
                visitor.field("condition", TemplateKind::Expression, &case.condition);
            });
        }
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        for case in &mut self.cases {
            visit(TemplateKind::Expression, &mut case.condition);
        }
    }
}

/// Which kind of loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LoopKind {
    /// Runs the body once per element of `items`.
    ForEach,
    /// Runs the body while `condition` is truthy, at most `maxIterations` times.
    While,
}

fn one() -> u32 {
    1
}

fn is_one(value: &u32) -> bool {
    *value == 1
}

/// `loop`: runs the nodes behind its `body` port repeatedly. The body ends with an edge into
/// the loop's `continue` input (the only edge allowed to close a cycle); when the loop is
/// over, `done` fires with the list of the iterations' outputs. Inside the body, templates
/// see `item` (the element, for-each only) and `index` (from 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoopConfig {
    /// `forEach` or `while`.
    pub kind: LoopKind,
    /// For-each: expression evaluating to the list to iterate over (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub items: Option<String>,
    /// For-each: how many iterations may run at once (1 to 100, default 1: one after
    /// another). A while loop always runs one at a time.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub concurrency: u32,
    /// While: expression checked before every iteration (required); it may read `index` and
    /// the previous iteration's body outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub condition: Option<String>,
    /// Most iterations (1 to 100,000): required for while loops; for for-each loops a longer
    /// list fails the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub max_iterations: Option<u32>,
}

impl NodeConfig for LoopConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        match self.kind {
            LoopKind::ForEach => {
                match &self.items {
                    None => issues.required("items", "a for-each loop needs `items`"),
                    Some(items) => issues.non_blank("items", items),
                }
                if self.condition.is_some() {
                    issues.invalid("condition", "only a while loop has a condition");
                }
                let concurrency = u64::from(self.concurrency);
                issues.range_u64("concurrency", concurrency, 1, u64::from(MAX_LOOP_CONCURRENCY));
            }
            LoopKind::While => {
                match &self.condition {
                    None => issues.required("condition", "a while loop needs a `condition`"),
                    Some(condition) => issues.non_blank("condition", condition),
                }
                if self.max_iterations.is_none() {
                    issues.required("maxIterations", "a while loop needs `maxIterations`");
                }
                if self.items.is_some() {
                    issues.invalid("items", "only a for-each loop has items");
                }
                if self.concurrency != 1 {
                    issues.invalid("concurrency", "a while loop runs one iteration at a time");
                }
            }
        }
        if let Some(max) = self.max_iterations {
            issues.range_u64("maxIterations", u64::from(max), 1, u64::from(MAX_LOOP_ITERATIONS));
        }
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.opt("items", TemplateKind::Expression, self.items.as_ref());
        visitor.opt("condition", TemplateKind::Expression, self.condition.as_ref());
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        for text in [&mut self.items, &mut self.condition].into_iter().flatten() {
            visit(TemplateKind::Expression, text);
        }
    }
}

/// `parallel`: starts branches that run concurrently. With named `branches`, each name is an
/// output port; without, the single `out` port fans out to every edge leaving it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParallelConfig {
    /// Branch names (output ports); unique, not `error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<String>,
}

impl NodeConfig for ParallelConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        issues.port_names(
            |idx| format!("branches[{idx}]"),
            self.branches.iter().map(String::as_str),
            &[ERROR_PORT],
        );
    }

    fn templates<'a>(&'a self, _: &mut TemplateVisitor<'_, 'a>) {}

    fn templates_mut(&mut self, _: &mut dyn FnMut(TemplateKind, &mut String)) {}
}

/// When a `join` continues.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum JoinPolicy {
    /// When every incoming branch has arrived or was skipped.
    #[default]
    All,
    /// When the first branch arrives; the others are cancelled.
    Any,
    /// When `n` branches have arrived; the others are cancelled.
    FirstN,
}

/// `join`: waits for the branches entering its `in` port. Its output is an object keyed by
/// the id of each arrived branch's last node, holding that node's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JoinConfig {
    /// `all` (the default), `any` or `firstN`.
    #[serde(default, skip_serializing_if = "super::is_default")]
    pub policy: JoinPolicy,
    /// For `firstN`: how many branches (at least 1, at most the number of incoming edges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub n: Option<u32>,
}

impl NodeConfig for JoinConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        match (self.policy, self.n) {
            (JoinPolicy::FirstN, None) => issues.required("n", "`firstN` needs `n`"),
            (JoinPolicy::FirstN, Some(0)) => issues.invalid("n", "must be at least 1"),
            (JoinPolicy::All | JoinPolicy::Any, Some(_)) => issues.invalid("n", "only `firstN` takes `n`"),
            _ => {}
        }
    }

    fn templates<'a>(&'a self, _: &mut TemplateVisitor<'_, 'a>) {}

    fn templates_mut(&mut self, _: &mut dyn FnMut(TemplateKind, &mut String)) {}
}
