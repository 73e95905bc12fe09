//! Ports: which named inputs and outputs each node has (some depend on the config: switch
//! cases, parallel branches, AI decisions), and the catalogue the API serves to editors.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::nodes::{AiMode, NodeSpec, NodeType};

/// The regular input.
pub const IN_PORT: &str = "in";
/// The regular output.
pub const OUT_PORT: &str = "out";
/// The output taken when a node gives up (see [`super::NodeSettings`]); every type but
/// `end` has it.
pub const ERROR_PORT: &str = "error";
/// A decision's truthy branch.
pub const TRUE_PORT: &str = "true";
/// A decision's falsy branch.
pub const FALSE_PORT: &str = "false";
/// A switch's branch when no case matched.
pub const DEFAULT_PORT: &str = "default";
/// A loop's input closing the body (the loop-back edge).
pub const CONTINUE_PORT: &str = "continue";
/// A loop's output starting each iteration.
pub const BODY_PORT: &str = "body";
/// A loop's output once every iteration is over.
pub const DONE_PORT: &str = "done";
/// An approval's branch when approved.
pub const APPROVED_PORT: &str = "approved";
/// An approval's branch when rejected.
pub const REJECTED_PORT: &str = "rejected";

/// The input ports of a node.
pub fn input_ports(spec: &NodeSpec) -> Vec<Cow<'static, str>> {
    match spec {
        NodeSpec::Start(_) => vec![],
        NodeSpec::Loop(_) => vec![IN_PORT.into(), CONTINUE_PORT.into()],
        _ => vec![IN_PORT.into()],
    }
}

/// Whether `port` is an input port of the node.
pub fn has_input_port(spec: &NodeSpec, port: &str) -> bool {
    match spec {
        NodeSpec::Start(_) => false,
        NodeSpec::Loop(_) => port == IN_PORT || port == CONTINUE_PORT,
        _ => port == IN_PORT,
    }
}

/// The output ports of a node, `error` last (except on `end`, which has none).
pub fn output_ports(spec: &NodeSpec) -> Vec<Cow<'_, str>> {
    let mut ports: Vec<Cow<'_, str>> = match spec {
        NodeSpec::End(_) => return vec![],
        NodeSpec::Decision(_) => vec![TRUE_PORT.into(), FALSE_PORT.into()],
        NodeSpec::Switch(config) => config
            .cases
            .iter()
            .map(|case| Cow::Borrowed(case.name.as_str()))
            .chain([DEFAULT_PORT.into()])
            .collect(),
        NodeSpec::Loop(_) => vec![BODY_PORT.into(), DONE_PORT.into()],
        NodeSpec::Parallel(config) if !config.branches.is_empty() => {
            config.branches.iter().map(|name| Cow::Borrowed(name.as_str())).collect()
        }
        NodeSpec::Approval(_) => vec![APPROVED_PORT.into(), REJECTED_PORT.into()],
        NodeSpec::Ai(config) if config.mode == AiMode::Decide => {
            config.branches.iter().map(|branch| Cow::Borrowed(branch.name.as_str())).collect()
        }
        _ => vec![OUT_PORT.into()],
    };
    ports.push(ERROR_PORT.into());
    ports
}

/// Whether `port` is an output port of the node (without allocating).
pub fn has_output_port(spec: &NodeSpec, port: &str) -> bool {
    match spec {
        NodeSpec::End(_) => return false,
        _ if port == ERROR_PORT => return true,
        _ => {}
    }
    match spec {
        NodeSpec::Decision(_) => port == TRUE_PORT || port == FALSE_PORT,
        NodeSpec::Switch(config) => port == DEFAULT_PORT || config.cases.iter().any(|case| case.name == port),
        NodeSpec::Loop(_) => port == BODY_PORT || port == DONE_PORT,
        NodeSpec::Parallel(config) if !config.branches.is_empty() => {
            config.branches.iter().any(|b| b == port)
        }
        NodeSpec::Approval(_) => port == APPROVED_PORT || port == REJECTED_PORT,
        NodeSpec::Ai(config) if config.mode == AiMode::Decide => {
            config.branches.iter().any(|b| b.name == port)
        }
        _ => port == OUT_PORT,
    }
}

/// One port in the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortInfo {
    /// The port's name, or a placeholder in angle brackets for config-dependent ports
    /// (`<case name>`).
    pub name: String,
    /// What flows through it.
    pub description: String,
    /// Whether the config decides this port's name and number.
    pub dynamic: bool,
}

/// One node type in the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeTypeInfo {
    /// The type.
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// What it does.
    pub description: String,
    /// Its inputs.
    pub input_ports: Vec<PortInfo>,
    /// Its outputs.
    pub output_ports: Vec<PortInfo>,
    /// JSON Schema of its config.
    #[ts(type = "unknown")]
    pub config_schema: serde_json::Value,
}

fn port(name: &str, description: &str) -> PortInfo {
    PortInfo { name: name.to_owned(), description: description.to_owned(), dynamic: false }
}

fn dynamic(name: &str, description: &str) -> PortInfo {
    PortInfo { name: name.to_owned(), description: description.to_owned(), dynamic: true }
}

fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    schemars::schema_for!(T).to_value()
}

/// Description, ports and config schema of every node type.
pub fn catalogue() -> Vec<NodeTypeInfo> {
    use super::nodes::*;
    let input = || vec![port(IN_PORT, "the previous node's output")];
    let out = || port(OUT_PORT, "the node's output");
    let error = port(ERROR_PORT, "the error, when the node gave up; the other outputs are skipped");
    let entry = |node_type, description: &str, inputs, mut outputs: Vec<PortInfo>, schema| {
        if node_type != NodeType::End {
            outputs.push(error.clone());
        }
        NodeTypeInfo {
            node_type,
            description: description.to_owned(),
            input_ports: inputs,
            output_ports: outputs,
            config_schema: schema,
        }
    };
    vec![
        entry(
            NodeType::Start,
            "The single entry: outputs the run input.",
            vec![],
            vec![out()],
            schema_of::<StartConfig>(),
        ),
        entry(
            NodeType::End,
            "Ends a path; its output is the run's result.",
            input(),
            vec![],
            schema_of::<EndConfig>(),
        ),
        entry(
            NodeType::Transform,
            "Builds a value from templates over the run context.",
            input(),
            vec![out()],
            schema_of::<TransformConfig>(),
        ),
        entry(
            NodeType::Decision,
            "Evaluates a condition and continues on `true` or `false`; the other branch is skipped.",
            input(),
            vec![port(TRUE_PORT, "the condition was truthy"), port(FALSE_PORT, "the condition was falsy")],
            schema_of::<DecisionConfig>(),
        ),
        entry(
            NodeType::Switch,
            "Continues on the first case whose condition is truthy, or on `default`.",
            input(),
            vec![dynamic("<case name>", "one per case"), port(DEFAULT_PORT, "no case matched")],
            schema_of::<SwitchConfig>(),
        ),
        entry(
            NodeType::Loop,
            "For-each over a list (with a concurrency limit) or while a condition holds (with a maximum).",
            vec![
                port(IN_PORT, "starts the loop"),
                port(CONTINUE_PORT, "closes the body: the only edge allowed to close a cycle"),
            ],
            vec![
                port(BODY_PORT, "starts each iteration (`item`, `index`)"),
                port(DONE_PORT, "the list of the iterations' outputs"),
            ],
            schema_of::<LoopConfig>(),
        ),
        entry(
            NodeType::Parallel,
            "Starts branches that run concurrently.",
            input(),
            vec![dynamic("<branch name>", "one per named branch; `out` when none is named")],
            schema_of::<ParallelConfig>(),
        ),
        entry(
            NodeType::Join,
            "Waits for the branches entering `in`: all, any, or the first n.",
            vec![port(IN_PORT, "every branch to wait for (many edges)")],
            vec![port(OUT_PORT, "the arrived branches' outputs, keyed by node id")],
            schema_of::<JoinConfig>(),
        ),
        entry(
            NodeType::Http,
            "Sends an HTTP request; outputs `{ status, headers, body }`.",
            input(),
            vec![out()],
            schema_of::<HttpConfig>(),
        ),
        entry(
            NodeType::Delay,
            "Waits for a duration or until a time (durable timer).",
            input(),
            vec![out()],
            schema_of::<DelayConfig>(),
        ),
        entry(
            NodeType::Approval,
            "Waits for a person to approve or reject, with a timeout and an escalation rule.",
            input(),
            vec![port(APPROVED_PORT, "approved"), port(REJECTED_PORT, "rejected, or timed out")],
            schema_of::<ApprovalConfig>(),
        ),
        entry(
            NodeType::SubWorkflow,
            "Runs another workflow and outputs its result.",
            input(),
            vec![out()],
            schema_of::<SubWorkflowConfig>(),
        ),
        entry(
            NodeType::Ai,
            "Calls a language model: generate text or JSON, decide among branches, or moderate.",
            input(),
            vec![out(), dynamic("<branch name>", "in `decide` mode, one per branch instead of `out`")],
            schema_of::<AiConfig>(),
        ),
        entry(
            NodeType::VectorSearch,
            "Finds the nearest entries of a vector collection.",
            input(),
            vec![out()],
            schema_of::<VectorSearchConfig>(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::nodes::*;

    fn names(ports: Vec<Cow<'_, str>>) -> Vec<String> {
        ports.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn ports_follow_the_config() {
        let switch = NodeSpec::Switch(SwitchConfig {
            cases: vec![
                SwitchCase { name: "big".into(), condition: "x > 10".into() },
                SwitchCase { name: "small".into(), condition: "x < 3".into() },
            ],
        });
        assert_eq!(names(output_ports(&switch)), ["big", "small", "default", "error"]);
        assert!(has_output_port(&switch, "small") && !has_output_port(&switch, "medium"));
        assert_eq!(names(input_ports(&switch)), ["in"]);

        let start = NodeSpec::Start(StartConfig::default());
        assert!(input_ports(&start).is_empty());
        assert_eq!(names(output_ports(&start)), ["out", "error"]);
        let end = NodeSpec::End(EndConfig::default());
        assert!(output_ports(&end).is_empty() && !has_output_port(&end, "error"));

        let parallel = NodeSpec::Parallel(ParallelConfig::default());
        assert_eq!(names(output_ports(&parallel)), ["out", "error"]);
        let parallel = NodeSpec::Parallel(ParallelConfig { branches: vec!["a".into(), "b".into()] });
        assert_eq!(names(output_ports(&parallel)), ["a", "b", "error"]);
        assert!(!has_output_port(&parallel, "out"));

        let ai: AiConfig = serde_json::from_value(serde_json::json!({
            "mode": "decide", "taskClass": "decide", "prompt": "p",
            "branches": [{"name": "refund"}, {"name": "escalate"}]
        }))
        .unwrap();
        let ai = NodeSpec::Ai(ai);
        assert_eq!(names(output_ports(&ai)), ["refund", "escalate", "error"]);

        let l = NodeSpec::Loop(LoopConfig {
            kind: LoopKind::ForEach,
            items: Some("input".into()),
            concurrency: 1,
            condition: None,
            max_iterations: None,
        });
        assert_eq!(names(input_ports(&l)), ["in", "continue"]);
        assert_eq!(names(output_ports(&l)), ["body", "done", "error"]);
        let approval =
            NodeSpec::Approval(serde_json::from_value(serde_json::json!({"role": "EDITOR"})).unwrap());
        assert_eq!(names(output_ports(&approval)), ["approved", "rejected", "error"]);
    }

    #[test]
    fn catalogue_covers_every_type_with_a_schema() {
        let catalogue = catalogue();
        let types: Vec<_> = catalogue.iter().map(|info| info.node_type).collect();
        assert_eq!(types, NodeType::ALL);
        let http = &catalogue[8];
        assert_eq!(http.config_schema["properties"]["url"]["type"], "string");
        assert_eq!(http.config_schema["additionalProperties"], false);
        assert!(catalogue[1].output_ports.is_empty());
        assert_eq!(catalogue[0].output_ports.last().map(|p| p.name.as_str()), Some("error"));
        serde_json::to_string(&catalogue).unwrap();
    }
}
