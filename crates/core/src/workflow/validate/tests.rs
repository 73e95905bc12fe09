//! One minimal valid graph, then one mutation per rule with the exact issue code and path.

use serde_json::json;

use super::*;
use crate::workflow::graph::Graph;
use crate::workflow::testing::{edge, node};

/// start `s` → http `h` → end `e`.
fn base() -> Graph {
    Graph {
        nodes: vec![
            node("s", json!({"type": "start", "config": {}})),
            node("h", json!({"type": "http", "config": {"url": "https://api.example/{{ input.id }}"}})),
            node("e", json!({"type": "end", "config": {"output": "{{ nodes.h.output.body }}"}})),
        ],
        edges: vec![edge("s", "out", "h", "in"), edge("h", "out", "e", "in")],
    }
}

fn issues(graph: &Graph) -> Vec<(String, String)> {
    validate(graph, &GraphLimits::default()).issues.into_iter().map(|i| (i.code, i.path)).collect()
}

#[track_caller]
fn assert_only(graph: &Graph, code: &str, path: &str) {
    assert_eq!(issues(graph), [(code.to_owned(), path.to_owned())]);
}

/// Replaces node `idx` by a node of the same id.
fn set(graph: &mut Graph, idx: usize, value: serde_json::Value) {
    let id = graph.nodes[idx].id.to_string();
    graph.nodes[idx] = node(&id, value);
}

#[test]
fn the_minimal_graph_is_valid() {
    let report = validate(&base(), &GraphLimits::default());
    assert!(report.valid);
    assert_eq!(report.issues, []);
}

#[test]
fn node_ids_must_be_unique() {
    let mut graph = base();
    graph.nodes[2].id = graph.nodes[1].id.clone();
    let report = validate(&graph, &GraphLimits::default());
    assert_eq!(report.issues[0].code, "duplicateId");
    assert_eq!(report.issues[0].path, "nodes[2].id");
    assert_eq!(report.issues[0].node_id.as_ref().map(|id| id.as_str()), Some("h"));
}

#[test]
fn exactly_one_start_node() {
    let mut graph = base();
    graph.nodes.remove(0);
    graph.edges.remove(0);
    let found = issues(&graph);
    assert_eq!(found[0], ("noEntry".to_owned(), "nodes".to_owned()));

    let mut graph = base();
    graph.nodes.push(node("s2", json!({"type": "start", "config": {}})));
    graph.edges.push(edge("s2", "out", "h", "in"));
    assert_only(&graph, "multipleEntries", "nodes[3].type");
}

#[test]
fn edges_must_connect_existing_nodes_once() {
    let mut graph = base();
    graph.edges.push(edge("h", "out", "ghost", "in"));
    assert_only(&graph, "danglingEdge", "edges[2].target");

    let mut graph = base();
    graph.edges.push(edge("h", "out", "e", "in"));
    assert_only(&graph, "duplicateEdge", "edges[2]");
}

#[test]
fn ports_must_exist() {
    let mut graph = base();
    graph.edges[1].source_port = "body".into();
    assert_only(&graph, "unknownPort", "edges[1].sourcePort");

    let mut graph = base();
    graph.edges[1].target_port = "continue".into();
    assert_only(&graph, "unknownPort", "edges[1].targetPort");

    // Every node but `end` has an `error` output.
    let mut graph = base();
    graph.nodes.push(node("e2", json!({"type": "end", "config": {}})));
    graph.edges.push(edge("h", "error", "e2", "in"));
    assert_eq!(issues(&graph), []);
}

#[test]
fn nothing_enters_start_and_nothing_leaves_end() {
    let mut graph = base();
    graph.nodes.push(node("t", json!({"type": "transform", "config": {"output": 1}})));
    graph.edges.push(edge("t", "out", "s", "in"));
    graph.edges.push(edge("h", "out", "t", "in"));
    assert_only(&graph, "invalidEdge", "edges[2].target");

    let mut graph = base();
    graph.nodes.push(node("t", json!({"type": "transform", "config": {"output": 1}})));
    graph.edges.push(edge("e", "out", "t", "in"));
    graph.edges.push(edge("h", "out", "t", "in"));
    assert_only(&graph, "invalidEdge", "edges[2].source");
}

#[test]
fn cycles_are_refused_and_named() {
    let mut graph = base();
    graph.nodes.push(node("a", json!({"type": "transform", "config": {"output": 1}})));
    graph.edges.push(edge("h", "out", "a", "in"));
    graph.edges.push(edge("a", "out", "h", "in"));
    let report = validate(&graph, &GraphLimits::default());
    assert_eq!(report.issues.len(), 1, "{:?}", report.issues);
    let issue = &report.issues[0];
    assert_eq!((issue.code.as_str(), issue.path.as_str()), ("cycle", "nodes[1]"));
    assert!(issue.message.contains("`h`, `a`"), "{}", issue.message);
}

/// start → loop `l` (body: `b` → back into `continue`) → done → end.
fn looped(kind: serde_json::Value) -> Graph {
    Graph {
        nodes: vec![
            node("s", json!({"type": "start", "config": {}})),
            node("l", json!({"type": "loop", "config": kind})),
            node("b", json!({"type": "transform", "config": {"output": "{{ item }} #{{ index }}"}})),
            node("e", json!({"type": "end", "config": {"output": "{{ nodes.l.output }}"}})),
        ],
        edges: vec![
            edge("s", "out", "l", "in"),
            edge("l", "body", "b", "in"),
            edge("b", "out", "l", "continue"),
            edge("l", "done", "e", "in"),
        ],
    }
}

#[test]
fn only_a_loop_continue_edge_may_close_a_cycle() {
    let graph = looped(json!({"kind": "forEach", "items": "input.rows", "concurrency": 4}));
    assert_eq!(issues(&graph), []);

    // A loop-back edge from outside the body.
    let mut graph = looped(json!({"kind": "forEach", "items": "input.rows"}));
    graph.nodes.push(node("x", json!({"type": "transform", "config": {"output": 1}})));
    graph.edges.push(edge("s", "out", "x", "in"));
    graph.edges.push(edge("x", "out", "l", "continue"));
    assert_only(&graph, "invalidEdge", "edges[5]");
}

#[test]
fn every_node_must_be_reachable() {
    let mut graph = base();
    graph.nodes.push(node("lost", json!({"type": "transform", "config": {"output": 1}})));
    assert_only(&graph, "unreachable", "nodes[3]");
}

#[test]
fn required_config_is_checked() {
    let cases = [
        (json!({"type": "http", "config": {"url": " "}}), "required", "nodes[1].config.url"),
        (json!({"type": "http", "config": {"url": "ftp://x"}}), "invalid", "nodes[1].config.url"),
        (json!({"type": "switch", "config": {"cases": []}}), "required", "nodes[1].config.cases"),
        (json!({"type": "decision", "config": {"condition": ""}}), "required", "nodes[1].config.condition"),
        (json!({"type": "join", "config": {"policy": "firstN", "n": 0}}), "invalid", "nodes[1].config.n"),
        (json!({"type": "join", "config": {"policy": "firstN"}}), "required", "nodes[1].config.n"),
        (json!({"type": "join", "config": {"policy": "firstN", "n": 2}}), "invalid", "nodes[1].config.n"),
        (json!({"type": "delay", "config": {"durationMs": 0}}), "invalid", "nodes[1].config.durationMs"),
        (json!({"type": "delay", "config": {}}), "required", "nodes[1].config.durationMs"),
        (json!({"type": "approval", "config": {}}), "required", "nodes[1].config.assignees"),
        (json!({"type": "subWorkflow", "config": {}}), "required", "nodes[1].config.workflowId"),
        (json!({"type": "ai", "config": {"prompt": "hi"}}), "required", "nodes[1].config.model"),
        (
            json!({"type": "ai", "config": {"prompt": "hi", "model": "m", "temperature": 3.0}}),
            "invalid",
            "nodes[1].config.temperature",
        ),
        (
            json!({"type": "vectorSearch", "config": {"collection": "docs", "query": "q", "topK": 0}}),
            "invalid",
            "nodes[1].config.topK",
        ),
        (
            json!({"type": "transform", "config": {"output": 1}, "settings": {"retry": {"maxAttempts": 0, "initialDelayMs": 1, "maxDelayMs": 2}}}),
            "invalid",
            "nodes[1].settings.retry.maxAttempts",
        ),
    ];
    for (value, code, path) in cases {
        let mut graph = base();
        set(&mut graph, 1, value.clone());
        // Leave through the node's first output port.
        graph.edges[1].source_port = crate::workflow::output_ports(&graph.nodes[1].spec)[0].to_string();
        assert_eq!(issues(&graph), [(code.to_owned(), path.to_owned())], "{value}");
    }
}

#[test]
fn switch_case_names_are_unique_ports() {
    let mut graph = base();
    set(
        &mut graph,
        1,
        json!({"type": "switch", "config": {"cases": [
            {"name": "big", "condition": "input.n > 10"},
            {"name": "big", "condition": "input.n > 5"},
            {"name": "default", "condition": "true"}
        ]}}),
    );
    graph.edges[1].source_port = "big".into();
    assert_eq!(
        issues(&graph),
        [
            ("invalid".to_owned(), "nodes[1].config.cases[1].name".to_owned()),
            ("invalid".to_owned(), "nodes[1].config.cases[2].name".to_owned()),
        ]
    );
}

#[test]
fn while_loops_need_a_bounded_number_of_iterations() {
    let graph = looped(json!({"kind": "while", "condition": "index < 3"}));
    let found = issues(&graph);
    assert!(
        found.contains(&("required".to_owned(), "nodes[1].config.maxIterations".to_owned())),
        "{found:?}"
    );
    let graph = looped(json!({"kind": "while", "condition": "index < 3", "maxIterations": 1_000_000}));
    assert!(issues(&graph).contains(&("invalid".to_owned(), "nodes[1].config.maxIterations".to_owned())));
}

#[test]
fn names_and_limits_are_checked() {
    let mut graph = base();
    graph.nodes[1].name = " ".into();
    graph.nodes[2].name = "x".repeat(201);
    assert_eq!(
        issues(&graph),
        [
            ("required".to_owned(), "nodes[1].name".to_owned()),
            ("tooLong".to_owned(), "nodes[2].name".to_owned()),
        ]
    );
    let limits = GraphLimits { max_nodes: 2, max_edges: 1, ..GraphLimits::default() };
    let codes: Vec<_> = validate(&base(), &limits).issues.into_iter().map(|i| (i.code, i.path)).collect();
    assert_eq!(
        codes,
        [("tooMany".to_owned(), "nodes".to_owned()), ("tooMany".to_owned(), "edges".to_owned())]
    );
}

#[test]
fn templates_must_parse() {
    let mut graph = base();
    set(&mut graph, 1, json!({"type": "http", "config": {"url": "https://x/{{ input.id "}}));
    assert_only(&graph, "templateSyntax", "nodes[1].config.url");
    let mut graph = base();
    set(&mut graph, 1, json!({"type": "decision", "config": {"condition": "input.n >"}}));
    graph.edges[1].source_port = "true".into();
    assert_only(&graph, "templateSyntax", "nodes[1].config.condition");
}

#[test]
fn templates_may_only_read_nodes_that_run_before_on_every_path() {
    // A later node.
    let mut graph = base();
    set(&mut graph, 1, json!({"type": "http", "config": {"url": "https://x/{{ nodes.e.output }}"}}));
    assert_only(&graph, "templateReference", "nodes[1].config.url");
    // An unknown node, through the subscript form, deep inside a JSON body.
    let mut graph = base();
    set(
        &mut graph,
        1,
        json!({"type": "http", "config": {
            "url": "https://x", "body": {"kind": "json", "content": {"a": ["{{ nodes['nope'].output }}"]}}
        }}),
    );
    assert_only(&graph, "templateReference", "nodes[1].config.body.content.a[0]");
    // Its own output.
    let mut graph = base();
    set(&mut graph, 1, json!({"type": "http", "config": {"url": "https://x/{{ nodes.h.output }}"}}));
    assert_only(&graph, "templateReference", "nodes[1].config.url");
    // An unknown variable, and a lookup by computed name (checked at run time).
    let mut graph = base();
    set(
        &mut graph,
        1,
        json!({"type": "http", "config": {"url": "https://x/{{ inptu.id }}{{ nodes[vars.which] }}"}}),
    );
    assert_only(&graph, "templateReference", "nodes[1].config.url");
}

/// start → decision `d` → (`a` | `b`) → join `j` → end `e`.
fn diamond(end_output: &str) -> Graph {
    Graph {
        nodes: vec![
            node("s", json!({"type": "start", "config": {}})),
            node("d", json!({"type": "decision", "config": {"condition": "input.n > 1"}})),
            node("a", json!({"type": "transform", "config": {"output": "{{ nodes.d.output }}"}})),
            node("b", json!({"type": "transform", "config": {"output": 2}})),
            node("j", json!({"type": "join", "config": {"policy": "any"}})),
            node("e", json!({"type": "end", "config": {"output": end_output}})),
        ],
        edges: vec![
            edge("s", "out", "d", "in"),
            edge("d", "true", "a", "in"),
            edge("d", "false", "b", "in"),
            edge("a", "out", "j", "in"),
            edge("b", "out", "j", "in"),
            edge("j", "out", "e", "in"),
        ],
    }
}

#[test]
fn a_node_on_one_branch_does_not_precede_the_join() {
    assert_eq!(issues(&diamond("{{ nodes.j.output }} {{ nodes.d.output }} {{ input }}")), []);
    assert_only(&diamond("{{ nodes.a.output }}"), "templateReference", "nodes[5].config.output");
}

#[test]
fn item_and_index_exist_only_inside_a_loop_body() {
    let graph = looped(json!({"kind": "forEach", "items": "input.rows"}));
    assert_eq!(issues(&graph), []);
    let mut graph = looped(json!({"kind": "forEach", "items": "input.rows"}));
    set(&mut graph, 3, json!({"type": "end", "config": {"output": "{{ item }}"}}));
    assert_only(&graph, "templateReference", "nodes[3].config.output");
    // The body's output is not available after the loop: read the loop's output instead.
    let mut graph = looped(json!({"kind": "forEach", "items": "input.rows"}));
    set(&mut graph, 3, json!({"type": "end", "config": {"output": "{{ nodes.b.output }}"}}));
    assert_only(&graph, "templateReference", "nodes[3].config.output");
}

#[test]
fn a_while_condition_reads_its_index_and_the_previous_iteration() {
    let graph = looped(
        json!({"kind": "while", "condition": "index < 3 and not nodes.b.output.done", "maxIterations": 10}),
    );
    assert_eq!(issues(&graph), []);
    let graph = looped(json!({"kind": "forEach", "items": "nodes.b.output"}));
    assert_only(&graph, "templateReference", "nodes[1].config.items");
}

#[test]
fn ai_decisions_route_through_their_branches() {
    let mut graph = base();
    set(
        &mut graph,
        1,
        json!({"type": "ai", "config": {
            "mode": "decide", "taskClass": "decide", "prompt": "Refund {{ input.order }}?",
            "branches": [{"name": "refund", "description": "give the money back"}, {"name": "refuse"}]
        }}),
    );
    graph.edges[1].source_port = "refund".into();
    assert_eq!(issues(&graph), []);
    graph.edges[1].source_port = "out".into();
    assert_only(&graph, "unknownPort", "edges[1].sourcePort");
}
