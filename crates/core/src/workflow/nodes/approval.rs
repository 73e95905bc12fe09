//! Configs of `approval` (a person decides) and `subWorkflow` (another workflow runs).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ConfigIssues, NodeConfig, is_default, value_mut};
use crate::ids::{UserId, WorkflowId};
use crate::project::ProjectRole;
use crate::workflow::templates::{TemplateKind, TemplateVisitor};

/// Longest approval timeout: 90 days, in milliseconds.
pub const MAX_APPROVAL_TIMEOUT_MS: u64 = 90 * 24 * 3600 * 1000;
/// Most users an approval may be assigned to.
pub const MAX_ASSIGNEES: usize = 100;

/// Whether the person deciding must write a comment.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum CommentPolicy {
    /// A comment may be given.
    #[default]
    Optional,
    /// Every decision needs a comment.
    Required,
    /// Rejections need a comment.
    RequiredOnReject,
}

/// What happens when an approval times out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EscalationAction {
    /// Assign the request to other people, with a new timeout after which it is rejected.
    Reassign,
    /// Decide `rejected`.
    AutoReject,
    /// Decide `approved`.
    AutoApprove,
}

/// The escalation rule of an approval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EscalationRule {
    /// What to do.
    pub action: EscalationAction,
    /// For `reassign`: the new assignees.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<UserId>,
    /// For `reassign`: members of the project with this role or higher may decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub role: Option<ProjectRole>,
    /// For `reassign`: how long the new assignees have before the request is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub timeout_ms: Option<u64>,
}

/// `approval`: waits until one of the assigned people approves or rejects (continuing on
/// `approved` or `rejected`), or the timeout escalates. The output is
/// `{ decision, decidedBy, comment, decidedAt }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApprovalConfig {
    /// Users who may decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignees: Vec<UserId>,
    /// Members of the project with this role or higher may decide. `assignees`, `role` or
    /// both must be set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub role: Option<ProjectRole>,
    /// Template shown to the people deciding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub instructions: Option<String>,
    /// How long to wait, in milliseconds (at most 90 days); absent means no timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub timeout_ms: Option<u64>,
    /// What the timeout does; `autoReject` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub on_timeout: Option<EscalationRule>,
    /// Whether a comment is needed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub comment: CommentPolicy,
}

fn check_assignees(issues: &mut ConfigIssues, path: &str, assignees: &[UserId]) {
    if assignees.len() > MAX_ASSIGNEES {
        issues.push(path, "tooMany", format!("at most {MAX_ASSIGNEES} assignees"));
    }
    let mut seen = std::collections::HashSet::new();
    for (idx, user) in assignees.iter().enumerate() {
        if !seen.insert(user) {
            issues.invalid(format!("{path}[{idx}]"), "is listed twice");
        }
    }
}

impl NodeConfig for ApprovalConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        if self.assignees.is_empty() && self.role.is_none() {
            issues.required("assignees", "set `assignees`, `role` or both");
        }
        check_assignees(issues, "assignees", &self.assignees);
        if let Some(timeout_ms) = self.timeout_ms {
            issues.range_u64("timeoutMs", timeout_ms, 1, MAX_APPROVAL_TIMEOUT_MS);
        }
        let Some(rule) = &self.on_timeout else { return };
        if self.timeout_ms.is_none() {
            issues.invalid("onTimeout", "needs `timeoutMs`");
        }
        match rule.action {
            EscalationAction::Reassign => {
                if rule.assignees.is_empty() && rule.role.is_none() {
                    issues.required("onTimeout.assignees", "reassigning needs `assignees`, `role` or both");
                }
                check_assignees(issues, "onTimeout.assignees", &rule.assignees);
                if let Some(timeout_ms) = rule.timeout_ms {
                    issues.range_u64("onTimeout.timeoutMs", timeout_ms, 1, MAX_APPROVAL_TIMEOUT_MS);
                }
            }
            EscalationAction::AutoReject | EscalationAction::AutoApprove => {
                if !rule.assignees.is_empty() || rule.role.is_some() || rule.timeout_ms.is_some() {
                    issues.invalid("onTimeout", "only `reassign` takes assignees, a role or a timeout");
                }
            }
        }
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.opt("instructions", TemplateKind::Template, self.instructions.as_ref());
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        if let Some(text) = &mut self.instructions {
            visit(TemplateKind::Template, text);
        }
    }
}

/// `subWorkflow`: runs another workflow of the same project as a child run and outputs its
/// result. Nesting depth is bounded by the engine; the node timeout (`settings.timeoutMs`)
/// bounds the child run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubWorkflowConfig {
    /// The workflow to run (required before publishing; may be unset in a draft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub workflow_id: Option<WorkflowId>,
    /// Which published version; absent means the version published when the child starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub version: Option<u32>,
    /// The child's input as a template value; absent means this node's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub input: Option<Value>,
}

impl NodeConfig for SubWorkflowConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        if self.workflow_id.is_none() {
            issues.required("workflowId", "choose the workflow to run");
        }
        if self.version == Some(0) {
            issues.invalid("version", "versions start at 1");
        }
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        if let Some(input) = &self.input {
            visitor.value("input", input);
        }
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        value_mut(self.input.as_mut(), visit);
    }
}
