use serde_json::json;

use super::*;
use crate::workflow::nodes::NodeSpec;
use crate::workflow::testing::{edge, node, sample_graph};
use crate::workflow::validate;

fn graph_with_credentials() -> Graph {
    Graph {
        nodes: vec![
            node("start", json!({"type": "start", "config": {}})),
            node(
                "fetch",
                json!({"type": "http", "config": {
                    "url": "https://api.example/{{ input.id }}", "credentialId": "cred-1"
                }}),
            ),
            node(
                "ask",
                json!({"type": "ai", "config": {
                    "model": "openai/gpt-4o-mini", "credentialId": "cred-2",
                    "prompt": "Summarise {{ nodes.fetch.output.body }} and {{ nodes['fetch'].output.status }}"
                }}),
            ),
            node("done", json!({"type": "end", "config": {"output": {"summary": "{{ nodes.ask.output }}"}}})),
        ],
        edges: vec![
            edge("start", "out", "fetch", "in"),
            edge("fetch", "out", "ask", "in"),
            edge("ask", "out", "done", "in"),
        ],
    }
}

fn document() -> Value {
    let export =
        WorkflowExport::new("Summaries", "Fetch and summarise", vec!["ai".into()], graph_with_credentials());
    serde_json::to_value(export).unwrap()
}

fn credential_ids(graph: &mut Graph) -> Vec<Option<String>> {
    graph.nodes.iter_mut().filter_map(|n| n.spec.credential_id_mut().map(|c| c.clone())).collect()
}

#[test]
fn exports_carry_the_format_and_no_credentials() {
    let value = document();
    assert_eq!(value["format"], "weft.workflow");
    assert_eq!(value["formatVersion"], 1);
    assert_eq!(value["tags"], json!(["ai"]));
    assert_eq!(value["graph"]["nodes"][1]["id"], "fetch");
    assert!(!value.to_string().contains("credentialId"));
}

#[test]
fn import_assigns_new_ids_and_rewrites_edges_and_references() {
    let mut original = graph_with_credentials();
    let mut value =
        serde_json::to_value(WorkflowExport::new("Summaries", "", vec![], original.clone())).unwrap();
    // A hand-edited file may still carry credentials: they are dropped on import as well.
    value["graph"]["nodes"][1]["config"]["credentialId"] = json!("cred-1");
    let mut imported = prepare_import(&value, &GraphLimits::default()).unwrap();
    assert_eq!(imported.name, "Summaries");
    let ids: Vec<&str> = imported.graph.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["n1", "n2", "n3", "n4"]);
    assert_eq!(imported.graph.edges[1], edge("n2", "out", "n3", "in"));
    let NodeSpec::Ai(ai) = &imported.graph.nodes[2].spec else { panic!("not an ai node") };
    assert_eq!(ai.prompt, "Summarise {{ nodes.n2.output.body }} and {{ nodes['n2'].output.status }}");
    let NodeSpec::End(end) = &imported.graph.nodes[3].spec else { panic!("not an end node") };
    assert_eq!(end.output, Some(json!({"summary": "{{ nodes.n3.output }}"})));
    assert_eq!(credential_ids(&mut imported.graph), [None, None]);
    assert!(validate(&imported.graph, &GraphLimits::default()).valid);
    // Everything else is unchanged.
    strip_credentials(&mut original);
    assert_eq!(imported.graph, reassign_ids(&original));
    assert_eq!(imported.graph.nodes[1].name, original.nodes[1].name);
}

#[test]
fn large_graphs_survive_export_and_import() {
    let graph = sample_graph(500);
    let value = serde_json::to_value(WorkflowExport::new("Big", "", vec![], graph)).unwrap();
    let imported = prepare_import(&value, &GraphLimits::default()).unwrap();
    assert_eq!(imported.graph.nodes.len(), 500);
    assert!(validate(&imported.graph, &GraphLimits::default()).valid);
}

#[test]
fn another_format_or_version_is_refused_precisely() {
    let mut value = document();
    value["formatVersion"] = json!(2);
    let errors = prepare_import(&value, &GraphLimits::default()).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(
        (errors.0[0].path.as_str(), errors.0[0].code.as_str()),
        ("formatVersion", "unsupportedVersion")
    );

    let mut value = document();
    value["format"] = json!("n8n");
    value["nodes"] = json!([]);
    let errors = prepare_import(&value, &GraphLimits::default()).unwrap_err();
    assert_eq!((errors.0[0].path.as_str(), errors.0[0].code.as_str()), ("format", "unsupportedFormat"));
    assert_eq!(errors.0.len(), 1);

    let mut value = document();
    value.as_object_mut().unwrap().remove("formatVersion");
    let errors = prepare_import(&value, &GraphLimits::default()).unwrap_err();
    assert_eq!((errors.0[0].path.as_str(), errors.0[0].code.as_str()), ("formatVersion", "required"));
}

#[test]
fn import_errors_name_their_paths() {
    let mut value = document();
    value["name"] = json!("  ");
    value["tags"] = json!(["ok", ""]);
    value["graph"]["nodes"][1]["config"]["url"] = json!(5);
    value["graph"]["edges"][0]["sourcePort"] = json!(null);
    value["owner"] = json!("me");
    let errors = prepare_import(&value, &GraphLimits::default()).unwrap_err();
    let found: Vec<(&str, &str)> = errors.0.iter().map(|e| (e.path.as_str(), e.code.as_str())).collect();
    assert_eq!(
        found,
        [
            ("owner", "unknownField"),
            ("name", "required"),
            ("tags[1]", "required"),
            ("graph.nodes[1].config.url", "invalidType"),
            ("graph.edges[0].sourcePort", "invalidType"),
        ]
    );
}

#[test]
fn reassigning_drops_dangling_edges_and_keeps_unknown_references() {
    let mut graph = graph_with_credentials();
    graph.edges.push(edge("ask", "out", "n2", "in"));
    graph.nodes[3] =
        node("done", json!({"type": "end", "config": {"output": "{{ nodes.ghost }} {{ nodes.ask }}"}}));
    let reassigned = reassign_ids(&graph);
    assert_eq!(reassigned.edges.len(), 3);
    let NodeSpec::End(end) = &reassigned.nodes[3].spec else { panic!("not an end node") };
    assert_eq!(end.output, Some(json!("{{ nodes.ghost }} {{ nodes.n3 }}")));
}

#[test]
fn json_schemas_of_the_wire_types_can_be_generated() {
    let schema = schemars::schema_for!(WorkflowExport).to_value();
    assert_eq!(schema["$defs"]["ExportFormat"]["oneOf"][0]["const"], "weft.workflow");
    assert_eq!(schema["$defs"]["Node"]["oneOf"].as_array().map(Vec::len), Some(14));
    assert!(schema["$defs"]["Node"].is_object());
    let report = schemars::schema_for!(crate::workflow::ValidationReport).to_value();
    assert!(report["$defs"]["GraphIssue"].is_object());
}
