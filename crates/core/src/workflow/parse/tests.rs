use serde_json::json;

use super::*;
use crate::workflow::testing::sample_graph;

fn minimal() -> Value {
    json!({
        "nodes": [
            {"id": "s", "name": "Start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "h", "name": "Fetch", "type": "http", "position": {"x": 1, "y": 0}, "config": {"url": "https://a.example"}},
            {"id": "e", "name": "End", "type": "end", "position": {"x": 2, "y": 0}, "config": {}}
        ],
        "edges": [
            {"source": "s", "sourcePort": "out", "target": "h", "targetPort": "in"},
            {"source": "h", "sourcePort": "out", "target": "e", "targetPort": "in"}
        ]
    })
}

fn errors_with(value: &Value, limits: &GraphLimits) -> Vec<(String, String)> {
    let errors = parse_graph(value, limits).expect_err("should be refused");
    errors.0.into_iter().map(|e| (e.path, e.code)).collect()
}

fn errors(value: &Value) -> Vec<(String, String)> {
    errors_with(value, &GraphLimits::default())
}

fn pair(path: &str, code: &str) -> (String, String) {
    (path.to_owned(), code.to_owned())
}

#[test]
fn a_minimal_graph_parses() {
    let graph = parse_graph(&minimal(), &GraphLimits::default()).unwrap();
    assert_eq!(graph.nodes.len(), 3);
    assert_eq!(graph.nodes[1].spec.node_type(), NodeType::Http);
    assert_eq!(graph.edges[1].target.as_str(), "e");
}

#[test]
fn graphs_round_trip_through_json() {
    let graph = sample_graph(120);
    let value = serde_json::to_value(&graph).unwrap();
    assert_eq!(parse_graph(&value, &GraphLimits::default()).unwrap(), graph);
    // The serde path agrees with the hand-written one.
    assert_eq!(serde_json::from_value::<Graph>(value.clone()).unwrap(), graph);
    let node = &value["nodes"][1];
    let keys: Vec<&str> = node.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "name", "position", "type", "config"]);
}

#[test]
fn unknown_types_and_fields_are_refused_with_their_paths() {
    let mut value = minimal();
    value["nodes"][1]["type"] = json!("email");
    assert_eq!(errors(&value), [pair("nodes[1].type", "unknownType")]);

    let mut value = minimal();
    value["nodes"][1]["config"]["verb"] = json!("GET");
    assert_eq!(errors(&value), [pair("nodes[1].config.verb", "unknownField")]);

    let mut value = minimal();
    value["nodes"][0]["colour"] = json!("red");
    value["extra"] = json!(1);
    assert_eq!(errors(&value), [pair("extra", "unknownField"), pair("nodes[0].colour", "unknownField")]);
}

#[test]
fn wrong_and_missing_config_fields_name_their_paths() {
    let mut value = minimal();
    value["nodes"][1]["config"] = json!({"url": 5});
    assert_eq!(errors(&value), [pair("nodes[1].config.url", "invalidType")]);

    let mut value = minimal();
    value["nodes"][1]["config"] =
        json!({"url": "u", "headers": [{"name": "A", "value": "1"}, {"name": "B"}]});
    assert_eq!(errors(&value), [pair("nodes[1].config.headers[1].value", "required")]);

    let mut value = minimal();
    value["nodes"][1]["config"] = json!({"url": "u", "body": {"kind": "text", "content": 5}});
    assert_eq!(errors(&value), [pair("nodes[1].config.body.content", "invalidType")]);

    let mut value = minimal();
    value["nodes"][1]["config"] = json!({"url": "u", "method": "FETCH"});
    assert_eq!(errors(&value), [pair("nodes[1].config.method", "invalidValue")]);

    // A missing config is an empty one: the required fields say what is missing.
    let mut value = minimal();
    value["nodes"][1].as_object_mut().unwrap().remove("config");
    assert_eq!(errors(&value), [pair("nodes[1].config.url", "required")]);

    let mut value = minimal();
    value["nodes"][1]["settings"] =
        json!({"retry": {"maxAttempts": "3", "initialDelayMs": 1, "maxDelayMs": 2}});
    assert_eq!(errors(&value), [pair("nodes[1].settings.retry.maxAttempts", "invalidType")]);
}

#[test]
fn node_and_edge_members_are_checked() {
    let mut value = minimal();
    value["nodes"][0]["id"] = json!("no spaces");
    value["nodes"][2].as_object_mut().unwrap().remove("position");
    value["edges"][0]["source"] = json!("a.b");
    value["edges"][1].as_object_mut().unwrap().remove("sourcePort");
    assert_eq!(
        errors(&value),
        [
            pair("nodes[0].id", "invalid"),
            pair("nodes[2].position", "required"),
            pair("edges[0].source", "invalid"),
            pair("edges[1].sourcePort", "required"),
        ]
    );
    let mut value = minimal();
    value["edges"][1]["weight"] = json!(1);
    assert_eq!(errors(&value), [pair("edges[1].weight", "unknownField")]);
}

#[test]
fn errors_of_every_node_are_collected() {
    let mut value = minimal();
    value["nodes"][0]["type"] = json!("begin");
    value["nodes"][1]["config"]["timeoutMs"] = json!(-1);
    value["nodes"][2]["name"] = json!(" ");
    assert_eq!(
        errors(&value),
        [
            pair("nodes[0].type", "unknownType"),
            pair("nodes[1].config.timeoutMs", "invalidValue"),
            pair("nodes[2].name", "required"),
        ]
    );
}

#[test]
fn limits_are_enforced() {
    let limits = GraphLimits { max_nodes: 2, max_edges: 1, max_config_bytes: 40, max_name_chars: 4 };
    assert_eq!(errors_with(&minimal(), &limits), [pair("nodes", "tooMany"), pair("edges", "tooMany")]);

    let limits = GraphLimits { max_config_bytes: 40, max_name_chars: 4, ..GraphLimits::default() };
    let mut value = minimal();
    value["nodes"][1]["config"]["url"] = json!(format!("https://a.example/{}", "x".repeat(30)));
    assert_eq!(
        errors_with(&value, &limits),
        [
            pair("nodes[0].name", "tooLong"),
            pair("nodes[1].name", "tooLong"),
            pair("nodes[1].config", "tooLarge"),
        ]
    );
}

#[test]
fn the_shape_of_the_graph_itself_is_checked() {
    assert_eq!(errors(&json!([])), [pair("", "invalidType")]);
    assert_eq!(errors(&json!({"nodes": []})), [pair("edges", "required")]);
    assert_eq!(errors(&json!({"nodes": {}, "edges": []})), [pair("nodes", "invalidType")]);
    assert_eq!(errors(&json!({"nodes": [5], "edges": []})), [pair("nodes[0]", "invalidType")]);
}

#[test]
fn the_number_of_reported_errors_is_bounded() {
    let nodes: Vec<Value> = (0..300).map(|idx| json!({"id": format!("n{idx}"), "type": "nope"})).collect();
    let value = json!({"nodes": nodes, "edges": []});
    assert_eq!(errors(&value).len(), MAX_REPORTED_ERRORS);
}
