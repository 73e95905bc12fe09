//! The closed catalogue of node types: [`NodeType`], [`NodeSpec`] (a type with its typed
//! config) and one config struct per type. Each config knows its semantic checks and where
//! its template strings are; ports and descriptions live in [`super::ports`].

mod ai;
mod approval;
mod basic;
mod control;
mod http;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use ai::{AiBranch, AiConfig, AiMode, TaskClass, VectorSearchConfig};
pub use approval::{ApprovalConfig, CommentPolicy, EscalationAction, EscalationRule, SubWorkflowConfig};
pub use basic::{DelayConfig, EndConfig, StartConfig, TransformConfig};
pub use control::{
    DecisionConfig, JoinConfig, JoinPolicy, LoopConfig, LoopKind, ParallelConfig, SwitchCase, SwitchConfig,
};
pub use http::{
    DEFAULT_HTTP_MAX_BYTES, DEFAULT_HTTP_TIMEOUT_MS, HttpBody, HttpConfig, HttpMethod, HttpResponseConfig,
    MAX_HTTP_MAX_BYTES, MAX_HTTP_TIMEOUT_MS, NameValue, ResponseFormat,
};

use super::graph::is_id_like;
use super::templates::{TemplateKind, TemplateVisitor, walk_value_mut};

/// The type of a node. The list is closed: anything else is refused.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ts_rs::TS,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum NodeType {
    /// The single entry: receives the run input.
    Start,
    /// Ends a path; its output is the run's result.
    End,
    /// Builds a value from templates.
    Transform,
    /// Routes to `true` or `false`.
    Decision,
    /// Routes to the first matching case.
    Switch,
    /// For-each or while loop.
    Loop,
    /// Starts branches that run concurrently.
    Parallel,
    /// Waits for branches.
    Join,
    /// Calls an HTTP endpoint.
    Http,
    /// Waits for a duration or until a time (durable timer).
    Delay,
    /// Waits for a person's decision.
    Approval,
    /// Runs another workflow.
    SubWorkflow,
    /// Calls a language model.
    Ai,
    /// Searches a vector index.
    VectorSearch,
}

impl NodeType {
    /// Every type, in catalogue order.
    pub const ALL: [NodeType; 14] = [
        NodeType::Start,
        NodeType::End,
        NodeType::Transform,
        NodeType::Decision,
        NodeType::Switch,
        NodeType::Loop,
        NodeType::Parallel,
        NodeType::Join,
        NodeType::Http,
        NodeType::Delay,
        NodeType::Approval,
        NodeType::SubWorkflow,
        NodeType::Ai,
        NodeType::VectorSearch,
    ];

    /// The wire spelling (`subWorkflow`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Start => "start",
            NodeType::End => "end",
            NodeType::Transform => "transform",
            NodeType::Decision => "decision",
            NodeType::Switch => "switch",
            NodeType::Loop => "loop",
            NodeType::Parallel => "parallel",
            NodeType::Join => "join",
            NodeType::Http => "http",
            NodeType::Delay => "delay",
            NodeType::Approval => "approval",
            NodeType::SubWorkflow => "subWorkflow",
            NodeType::Ai => "ai",
            NodeType::VectorSearch => "vectorSearch",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(value: &str) -> Option<NodeType> {
        NodeType::ALL.into_iter().find(|ty| ty.as_str() == value)
    }
}

impl std::fmt::Display for NodeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's type together with its config: on the wire the two members `type` and `config`
/// of the node object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(tag = "type", content = "config", rename_all = "camelCase")]
pub enum NodeSpec {
    /// See [`StartConfig`].
    Start(StartConfig),
    /// See [`EndConfig`].
    End(EndConfig),
    /// See [`TransformConfig`].
    Transform(TransformConfig),
    /// See [`DecisionConfig`].
    Decision(DecisionConfig),
    /// See [`SwitchConfig`].
    Switch(SwitchConfig),
    /// See [`LoopConfig`].
    Loop(LoopConfig),
    /// See [`ParallelConfig`].
    Parallel(ParallelConfig),
    /// See [`JoinConfig`].
    Join(JoinConfig),
    /// See [`HttpConfig`].
    Http(HttpConfig),
    /// See [`DelayConfig`].
    Delay(DelayConfig),
    /// See [`ApprovalConfig`].
    Approval(ApprovalConfig),
    /// See [`SubWorkflowConfig`].
    SubWorkflow(SubWorkflowConfig),
    /// See [`AiConfig`].
    Ai(AiConfig),
    /// See [`VectorSearchConfig`].
    VectorSearch(VectorSearchConfig),
}

/// Runs `$body` with `$config` bound to the config of whichever variant `$spec` is.
macro_rules! with_config {
    ($spec:expr, $config:ident => $body:expr) => {
        match $spec {
            NodeSpec::Start($config) => $body,
            NodeSpec::End($config) => $body,
            NodeSpec::Transform($config) => $body,
            NodeSpec::Decision($config) => $body,
            NodeSpec::Switch($config) => $body,
            NodeSpec::Loop($config) => $body,
            NodeSpec::Parallel($config) => $body,
            NodeSpec::Join($config) => $body,
            NodeSpec::Http($config) => $body,
            NodeSpec::Delay($config) => $body,
            NodeSpec::Approval($config) => $body,
            NodeSpec::SubWorkflow($config) => $body,
            NodeSpec::Ai($config) => $body,
            NodeSpec::VectorSearch($config) => $body,
        }
    };
}

/// The error of deserialising a config, with the path inside the config.
pub type ConfigError = serde_path_to_error::Error<serde_json::Error>;

fn parse<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value)
}

impl NodeSpec {
    /// The node's type.
    pub fn node_type(&self) -> NodeType {
        match self {
            NodeSpec::Start(_) => NodeType::Start,
            NodeSpec::End(_) => NodeType::End,
            NodeSpec::Transform(_) => NodeType::Transform,
            NodeSpec::Decision(_) => NodeType::Decision,
            NodeSpec::Switch(_) => NodeType::Switch,
            NodeSpec::Loop(_) => NodeType::Loop,
            NodeSpec::Parallel(_) => NodeType::Parallel,
            NodeSpec::Join(_) => NodeType::Join,
            NodeSpec::Http(_) => NodeType::Http,
            NodeSpec::Delay(_) => NodeType::Delay,
            NodeSpec::Approval(_) => NodeType::Approval,
            NodeSpec::SubWorkflow(_) => NodeType::SubWorkflow,
            NodeSpec::Ai(_) => NodeType::Ai,
            NodeSpec::VectorSearch(_) => NodeType::VectorSearch,
        }
    }

    /// Deserialises `config` as the config of `node_type`; the error carries the path
    /// inside the config (`headers[0].name`).
    pub fn parse_config(node_type: NodeType, config: &Value) -> Result<NodeSpec, ConfigError> {
        Ok(match node_type {
            NodeType::Start => NodeSpec::Start(parse(config)?),
            NodeType::End => NodeSpec::End(parse(config)?),
            NodeType::Transform => NodeSpec::Transform(parse(config)?),
            NodeType::Decision => NodeSpec::Decision(parse(config)?),
            NodeType::Switch => NodeSpec::Switch(parse(config)?),
            NodeType::Loop => NodeSpec::Loop(parse(config)?),
            NodeType::Parallel => NodeSpec::Parallel(parse(config)?),
            NodeType::Join => NodeSpec::Join(parse(config)?),
            NodeType::Http => NodeSpec::Http(parse(config)?),
            NodeType::Delay => NodeSpec::Delay(parse(config)?),
            NodeType::Approval => NodeSpec::Approval(parse(config)?),
            NodeType::SubWorkflow => NodeSpec::SubWorkflow(parse(config)?),
            NodeType::Ai => NodeSpec::Ai(parse(config)?),
            NodeType::VectorSearch => NodeSpec::VectorSearch(parse(config)?),
        })
    }

    /// The config as JSON (what the node's `config` member holds).
    pub fn config_json(&self) -> Value {
        with_config!(self, config => serde_json::to_value(config).unwrap_or(Value::Null))
    }

    /// The credential reference of types that have one (`http`, `ai`, `vectorSearch`).
    pub fn credential_id_mut(&mut self) -> Option<&mut Option<String>> {
        match self {
            NodeSpec::Http(config) => Some(&mut config.credential_id),
            NodeSpec::Ai(config) => Some(&mut config.credential_id),
            NodeSpec::VectorSearch(config) => Some(&mut config.credential_id),
            _ => None,
        }
    }

    /// Calls `visit(path, kind, text)` for every template or expression string of the config;
    /// `path` is relative to the config (`url`, `headers[1].value`, `output.user.name`).
    pub fn visit_templates<'a>(&'a self, mut visit: impl FnMut(&str, TemplateKind, &'a str)) {
        let mut visitor = TemplateVisitor::new(&mut visit);
        with_config!(self, config => config.templates(&mut visitor));
    }

    /// Calls `visit(kind, text)` for every template or expression string, mutably.
    pub fn visit_templates_mut(&mut self, mut visit: impl FnMut(TemplateKind, &mut String)) {
        with_config!(self, config => config.templates_mut(&mut visit));
    }

    /// Semantic checks of the config (what deserialising cannot say); paths are relative
    /// to the config.
    pub(crate) fn check(&self, issues: &mut ConfigIssues) {
        with_config!(self, config => config.check(issues));
    }
}

/// What every config struct provides to validation and import.
pub(crate) trait NodeConfig {
    /// Records semantic problems.
    fn check(&self, issues: &mut ConfigIssues);
    /// Visits the template strings with their paths.
    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>);
    /// Visits the template strings mutably.
    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String));
}

/// Visits an optional template value mutably.
pub(crate) fn value_mut(value: Option<&mut Value>, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
    if let Some(value) = value {
        walk_value_mut(value, visit);
    }
}

/// One semantic problem of a config, with a path relative to the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConfigIssue {
    pub(crate) path: String,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// Collects [`ConfigIssue`]s.
#[derive(Debug, Default)]
pub(crate) struct ConfigIssues {
    pub(crate) items: Vec<ConfigIssue>,
}

impl ConfigIssues {
    pub(crate) fn push(&mut self, path: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.items.push(ConfigIssue { path: path.into(), code, message: message.into() });
    }

    pub(crate) fn required(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path, "required", message);
    }

    pub(crate) fn invalid(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(path, "invalid", message);
    }

    /// `required` when the text is blank.
    pub(crate) fn non_blank(&mut self, path: &str, text: &str) {
        if text.trim().is_empty() {
            self.required(path, "must not be empty");
        }
    }

    pub(crate) fn range_u64(&mut self, path: &str, value: u64, min: u64, max: u64) {
        if value < min || value > max {
            self.invalid(path, format!("must be between {min} and {max}"));
        }
    }

    pub(crate) fn range_f64(&mut self, path: &str, value: f64, min: f64, max: f64) {
        if !value.is_finite() || value < min || value > max {
            self.invalid(path, format!("must be between {min} and {max}"));
        }
    }

    /// A credential reference, when present, must be a plausible id.
    pub(crate) fn credential(&mut self, credential_id: Option<&String>) {
        if let Some(id) = credential_id
            && !is_id_like(id)
        {
            self.invalid("credentialId", "must be the id of a stored credential");
        }
    }

    /// Names that become output ports: valid port names, unique, not reserved.
    pub(crate) fn port_names<'a>(
        &mut self,
        path_of: impl Fn(usize) -> String,
        names: impl Iterator<Item = &'a str>,
        reserved: &[&str],
    ) {
        let mut seen = std::collections::HashSet::new();
        for (idx, name) in names.enumerate() {
            if name.is_empty() {
                self.required(path_of(idx), "must not be empty");
            } else if !is_id_like(name) {
                self.invalid(path_of(idx), "must be 1 to 64 letters, digits, `_` or `-`");
            } else if reserved.contains(&name) {
                self.invalid(path_of(idx), format!("`{name}` is reserved"));
            } else if !seen.insert(name) {
                self.invalid(path_of(idx), format!("`{name}` is used twice"));
            }
        }
    }
}

/// `skip_serializing_if` helper: the value equals its type's default.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
