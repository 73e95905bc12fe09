//! The prompts of workflow generation: the graph format, the template language, the node
//! catalogue (each type's ports and config JSON Schema, from `weft_core`), the project's
//! credentials and workflows, and the JSON Schemas asked of the answers.
//!
//! Everything about node types comes from [`weft_core::workflow::catalogue`], so a type or
//! field added to the core reaches the prompt without a change here.

use serde_json::{Value, json};
use weft_core::workflow::{GraphIssue, GraphLimits, NodeSettings, NodeTypeInfo, catalogue};

use super::WorkflowContext;
use crate::sanitize::truncate;

/// Most issues quoted in one repair turn.
const MAX_QUOTED_ISSUES: usize = 25;
/// Longest quoted issue message, in characters.
const MAX_ISSUE_CHARS: usize = 240;

/// The graph format, the template language and the catalogue: what both generation and
/// suggestion prompts share.
pub(crate) fn reference(limits: &GraphLimits, context: &WorkflowContext) -> String {
    let mut text = format!(
        "# Graph format\n\
         - A node is {{\"id\", \"name\", \"type\", \"position\": {{\"x\", \"y\"}}, \"config\": {{…}}}} with an \
         optional \"settings\"; no other members.\n\
         - id: 1 to 64 of `A-Z a-z 0-9 _ -`, unique in the graph, short and meaningful (`fetch_ticket`).\n\
         - name: 1 to {max_name} characters, shown in the editor.\n\
         - type: one of the catalogue's types, nothing else. config: that type's config, matching its JSON \
         Schema exactly (no other fields; `{{}}` when nothing is required).\n\
         - position: canvas coordinates; lay the flow out left to right, 240 apart in x, branches 160 apart in y.\n\
         - settings (optional, any type) JSON Schema: {settings}\n\
         - An edge is {{\"source\", \"sourcePort\", \"target\", \"targetPort\"}}: from an output port of node \
         `source` to an input port of node `target` (`in`, or `continue` on a loop). Use only the ports the \
         catalogue lists; a port in angle brackets is named by the config (a switch case, a parallel branch, \
         a branch of an `ai` node in `decide` mode).\n\
         - Exactly one `start` node, and every other node reachable from it; paths end at `end` nodes. No \
         edge enters `start` or leaves `end`.\n\
         - No cycles, except a loop body: the loop's `body` port leads to the body's nodes, whose last edge \
         enters the same loop's `continue` port; the loop's `done` port continues after the loop.\n\
         - Where branches of a decision, switch, approval or parallel meet again, put a `join` node.\n\
         - At most {max_nodes} nodes and {max_edges} edges, each config at most {max_config} bytes of JSON; \
         keep the graph as small as the task allows.\n\n\
         # Templates and expressions\n\
         Strings the schemas call templates are minijinja templates (`Hello {{{{ input.name }}}}`); \
         expressions are minijinja expressions without braces (`nodes.score.output.value > 0.8`). A template \
         value is any JSON whose strings are templates; a string that is exactly one `{{{{ expression }}}}` \
         keeps the expression's type. They may read only `input` (the run input), `vars` (workflow \
         variables), `nodes.<id>.output` of a node that runs before on every path from the start (not a node \
         on one branch when read after the branches meet: read the join's output instead), and inside a \
         loop body `item` and `index`.\n\
         Outputs: `start` the run input; `transform` its `output`; `http` `{{status, headers, body}}`; \
         `approval` `{{decision, decidedBy, comment, decidedAt}}`; `join` `{{<node id>: output}}` of the \
         branches that arrived; `loop` the list of the iterations' outputs; `ai` the answer; `decision`, \
         `switch`, `parallel` and `delay` their input.\n\n\
         # Node catalogue (the only types there are)\n",
        max_name = limits.max_name_chars,
        settings = compact_schema(schemars::schema_for!(NodeSettings).to_value()),
        max_nodes = limits.max_nodes,
        max_edges = limits.max_edges,
        max_config = limits.max_config_bytes,
    );
    for info in catalogue() {
        text.push_str(&node_type_section(&info));
    }
    text.push_str("\n# This project\n");
    text.push_str(&project_section(context));
    text
}

/// One catalogue entry: description, ports, config schema.
fn node_type_section(info: &NodeTypeInfo) -> String {
    let ports = |ports: &[weft_core::workflow::PortInfo]| {
        if ports.is_empty() {
            return "none".to_owned();
        }
        ports
            .iter()
            .map(|port| format!("`{}` ({})", port.name, port.description))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "## `{}`: {}\nInputs: {}. Outputs: {}.\nConfig JSON Schema: {}\n",
        info.node_type,
        info.description,
        ports(&info.input_ports),
        ports(&info.output_ports),
        compact_schema(info.config_schema.clone()),
    )
}

/// A schema without the members a model does not need (`$schema`, `title`), as compact JSON.
fn compact_schema(mut schema: Value) -> String {
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema.to_string()
}

/// What the project offers: credentials and workflows (quoted as JSON, since their names are
/// user text), and the rules that follow from them.
fn project_section(context: &WorkflowContext) -> String {
    let mut text = String::new();
    if context.credentials.is_empty() {
        text.push_str("- No credentials are stored: leave `credentialId` out everywhere.\n");
    } else {
        let listed: Vec<Value> = context
            .credentials
            .iter()
            .map(|credential| json!({"id": credential.id, "name": credential.name, "kind": credential.kind}))
            .collect();
        text.push_str(&format!(
            "- Stored credentials, usable as `credentialId` by their id (no other id): {}\n",
            Value::Array(listed)
        ));
    }
    let runnable: Vec<Value> = context
        .existing_workflows
        .iter()
        .filter_map(|workflow| {
            let id = workflow.id.as_ref()?;
            Some(json!({"workflowId": id.to_string(), "name": workflow.name}))
        })
        .collect();
    if runnable.is_empty() {
        text.push_str("- Do not use `subWorkflow`: no workflow can be chosen here.\n");
    } else {
        text.push_str(&format!(
            "- `subWorkflow` may run only these workflows, by `workflowId`: {}\n",
            Value::Array(runnable)
        ));
    }
    if !context.existing_workflows.is_empty() {
        let listed: Vec<Value> = context
            .existing_workflows
            .iter()
            .map(|workflow| json!({"name": workflow.name, "description": workflow.description}))
            .collect();
        text.push_str(&format!(
            "- The project's existing workflows, for context and naming: {}\n",
            Value::Array(listed)
        ));
    }
    text.push_str(
        "- `approval`: no user ids are known here: give a `role` (`OWNER`, `EDITOR` or `VIEWER`), not \
         `assignees`.\n\
         - `ai`: choose the model with `taskClass`, not `model`.\n",
    );
    text
}

/// The system prompt of [`crate::AiClient::generate_workflow`].
pub(crate) fn generate_system(limits: &GraphLimits, context: &WorkflowContext) -> String {
    format!(
        "You design workflows for Weft, a workflow automation server. From the user's description, build \
         one workflow graph that uses only the node types of the catalogue below.\n\n\
         Answer with one JSON object and nothing else (no prose, no code fences):\n\
         {{\"graph\": {{\"nodes\": [<node>, …], \"edges\": [<edge>, …]}}, \"explanation\": \"<a few sentences: \
         what the workflow does and what the user must still fill in>\"}}\n\n\
         Example answer (to \"greet the caller by name\"):\n{example}\n\n{reference}",
        example = example_answer(),
        reference = reference(limits, context),
    )
}

/// A small valid answer: start → transform → end.
pub(crate) fn example_answer() -> Value {
    json!({
        "graph": {
            "nodes": [
                {"id": "start", "name": "Start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}},
                {"id": "greet", "name": "Build greeting", "type": "transform", "position": {"x": 240, "y": 0},
                 "config": {"output": {"message": "Hello {{ input.name }}!"}}},
                {"id": "done", "name": "Done", "type": "end", "position": {"x": 480, "y": 0},
                 "config": {"output": "{{ nodes.greet.output }}"}}
            ],
            "edges": [
                {"source": "start", "sourcePort": "out", "target": "greet", "targetPort": "in"},
                {"source": "greet", "sourcePort": "out", "target": "done", "targetPort": "in"}
            ]
        },
        "explanation": "Builds a greeting from the run input's `name` and returns it."
    })
}

/// The JSON Schema of one node, its `type` restricted to the catalogue.
pub(crate) fn node_schema() -> Value {
    let types: Vec<String> = catalogue().iter().map(|info| info.node_type.to_string()).collect();
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "name": {"type": "string", "minLength": 1},
            "type": {"type": "string", "enum": types},
            "position": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"]
            },
            "config": {"type": "object"},
            "settings": {"type": "object"}
        },
        "required": ["id", "name", "type", "position", "config"]
    })
}

/// The JSON Schema of one edge.
pub(crate) fn edge_schema() -> Value {
    let name = json!({"type": "string", "minLength": 1});
    json!({
        "type": "object",
        "properties": {"source": name, "sourcePort": name, "target": name, "targetPort": name},
        "required": ["source", "sourcePort", "target", "targetPort"]
    })
}

/// The JSON Schema of a generation answer (the graph's details are checked by the parser).
pub(crate) fn generate_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "graph": {
                "type": "object",
                "properties": {
                    "nodes": {"type": "array", "items": node_schema()},
                    "edges": {"type": "array", "items": edge_schema()}
                },
                "required": ["nodes", "edges"]
            },
            "explanation": {"type": "string"}
        },
        "required": ["graph", "explanation"]
    })
}

/// The issues as a list for a repair turn: `path [code] message (node `id`)`.
pub(crate) fn quote_issues(issues: &[GraphIssue]) -> String {
    let mut lines: Vec<String> = issues
        .iter()
        .take(MAX_QUOTED_ISSUES)
        .map(|issue| {
            let path = if issue.path.is_empty() { "(the answer)" } else { issue.path.as_str() };
            let node = issue.node_id.as_ref().map(|id| format!(" (node `{id}`)")).unwrap_or_default();
            let message = truncate(&issue.message, MAX_ISSUE_CHARS);
            format!("- {path} [{}] {message}{node}", issue.code)
        })
        .collect();
    if issues.len() > MAX_QUOTED_ISSUES {
        lines.push(format!("- … and {} more", issues.len() - MAX_QUOTED_ISSUES));
    }
    lines.join("\n")
}

/// The repair turn of [`crate::AiClient::generate_workflow`].
pub(crate) fn generate_repair(issues: &[GraphIssue]) -> String {
    format!(
        "The workflow is not valid yet. Fix every issue (path inside `graph`, [code], message):\n{}\n\
         Answer again with the whole corrected JSON object {{\"graph\": …, \"explanation\": …}}: no prose, \
         no code fences.",
        quote_issues(issues)
    )
}

#[cfg(test)]
mod tests {
    use weft_core::workflow::NodeType;

    use super::*;
    use crate::generate::WorkflowSummary;

    #[test]
    fn the_prompt_lists_every_catalogue_type_with_its_config_schema() {
        let system = generate_system(&GraphLimits::default(), &WorkflowContext::default());
        for node_type in NodeType::ALL {
            assert!(system.contains(&format!("## `{node_type}`: ")), "{node_type} missing");
        }
        assert!(system.contains(r#""url":{"type":"string""#), "the http config schema is missing");
        assert!(
            system.contains("Outputs: `true` (the condition was truthy), `false`"),
            "decision ports missing"
        );
        assert!(system.contains("leave `credentialId` out everywhere"));
        assert!(system.contains("Do not use `subWorkflow`"));
        assert!(!system.contains("$schema"));
        // About 8k tokens: affordable for an occasional call, worth watching.
        assert!(system.len() < 40_000, "{} bytes", system.len());
        if std::env::var_os("WEFT_PRINT_PROMPT").is_some() {
            println!("{system}");
        }
    }

    #[test]
    fn the_project_section_quotes_names_as_json() {
        let workflow_id = weft_core::WorkflowId::new();
        let context = WorkflowContext {
            existing_workflows: vec![
                WorkflowSummary {
                    id: Some(workflow_id),
                    name: "Refund \"fast\"".into(),
                    description: "d".into(),
                },
                ("Digest".to_owned(), "Daily digest".to_owned()).into(),
            ],
            credentials: vec![
                ("cred_1".to_owned(), "Tickets API".to_owned(), "bearerToken".to_owned()).into(),
            ],
        };
        let section = project_section(&context);
        assert!(
            section.contains(r#"[{"id":"cred_1","name":"Tickets API","kind":"bearerToken"}]"#),
            "{section}"
        );
        assert!(
            section.contains(&format!(r#"{{"workflowId":"{workflow_id}","name":"Refund \"fast\""}}"#)),
            "{section}"
        );
        assert!(section.contains(r#"{"name":"Digest","description":"Daily digest"}"#), "{section}");
    }
}
