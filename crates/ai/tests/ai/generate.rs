//! Text to workflow and next-node suggestions against the test provider: answers checked by
//! the core's parser and validator, repair turns quoting the issues, bounded repairs.

use serde_json::{Value, json};
use weft_ai::testing::Reply;
use weft_ai::{
    AiError, CredentialSummary, GenerateWorkflowRequest, ModelChoice, NoBudget, SuggestNextRequest,
    TaskClass, WorkflowContext,
};
use weft_core::workflow::{GraphLimits, NodeId, NodeType, parse_graph};

use crate::helpers::{model, setup};

fn node(id: &str, name: &str, node_type: &str, x: i32, y: i32, config: Value) -> Value {
    json!({"id": id, "name": name, "type": node_type, "position": {"x": x, "y": y}, "config": config})
}

fn edge(source: &str, source_port: &str, target: &str) -> Value {
    json!({"source": source, "sourcePort": source_port, "target": target, "targetPort": "in"})
}

/// start → fetch the ticket (http) → summarise (transform) → end.
fn ticket_graph() -> Value {
    json!({
        "nodes": [
            node("start", "Start", "start", 0, 0, json!({})),
            node("fetch", "Fetch ticket", "http", 240, 0, json!({
                "url": "https://tickets.example/api/{{ input.ticketId }}", "credentialId": "cred_tickets"
            })),
            node("summary", "Summarise", "transform", 480, 0, json!({
                "output": {"title": "{{ nodes.fetch.output.body.title }}", "status": "{{ nodes.fetch.output.status }}"}
            })),
            node("done", "Done", "end", 720, 0, json!({"output": "{{ nodes.summary.output }}"}))
        ],
        "edges": [edge("start", "out", "fetch"), edge("fetch", "out", "summary"), edge("summary", "out", "done")]
    })
}

/// A refund: large amounts need an editor's approval, small ones pass; the branches meet in a join.
fn refund_graph() -> Value {
    json!({
        "nodes": [
            node("start", "Start", "start", 0, 0, json!({})),
            node("is_large", "Large refund?", "decision", 240, 0, json!({"condition": "input.amount > 100"})),
            node("review", "Manager review", "approval", 480, -80, json!({
                "role": "EDITOR", "instructions": "Refund of {{ input.amount }} requested"
            })),
            node("auto", "Approve small refund", "transform", 480, 80, json!({
                "output": {"decision": "approved", "amount": "{{ input.amount }}"}
            })),
            node("merge", "Merge", "join", 720, 0, json!({"policy": "any"})),
            node("done", "Done", "end", 960, 0, json!({"output": "{{ nodes.merge.output }}"}))
        ],
        "edges": [
            edge("start", "out", "is_large"),
            edge("is_large", "true", "review"),
            edge("is_large", "false", "auto"),
            edge("review", "approved", "merge"),
            edge("auto", "out", "merge"),
            edge("merge", "out", "done")
        ]
    })
}

fn answer(graph: Value) -> Reply {
    Reply::json(&json!({"graph": graph, "explanation": "Fetches the ticket and summarises it."}))
}

fn tickets_credential() -> WorkflowContext {
    WorkflowContext {
        credentials: vec![CredentialSummary::from((
            "cred_tickets".to_owned(),
            "Tickets API".to_owned(),
            "bearerToken".to_owned(),
        ))],
        existing_workflows: vec![
            ("Daily digest".to_owned(), "Mails open tickets every morning".to_owned()).into(),
        ],
    }
}

fn generate(description: &str, max_repairs: u32) -> GenerateWorkflowRequest {
    GenerateWorkflowRequest {
        description: description.to_owned(),
        choice: ModelChoice::model("m"),
        context: tickets_credential(),
        max_repairs,
        ..GenerateWorkflowRequest::default()
    }
}

/// The last message of chat request `idx`.
fn last_message(setup: &crate::helpers::Setup, idx: usize) -> String {
    let requests = setup.provider.chat_requests();
    let messages = requests[idx].body["messages"].as_array().unwrap();
    messages.last().unwrap()["content"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_valid_first_answer_is_parsed_and_validated() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    setup.provider.enqueue(answer(ticket_graph()));
    let description = "When a ticket id arrives, fetch the ticket and return its title and status.";
    let generated = setup.client.generate_workflow(generate(description, 2), &NoBudget).await.unwrap();

    assert_eq!(generated.graph.nodes.len(), 4);
    assert!(generated.report.valid && generated.report.issues.is_empty());
    assert_eq!(generated.explanation, "Fetches the ticket and summarises it.");
    assert_eq!((generated.n_repairs, generated.attempts.len()), (0, 1));
    assert_eq!(generated.total_cost_micro_usd, generated.attempts[0].cost_micro_usd);
    assert!(generated.total_cost_micro_usd > 0);
    let reparsed = parse_graph(&generated.graph_json, &GraphLimits::default()).unwrap();
    assert_eq!(reparsed, generated.graph);

    let body = &setup.provider.chat_requests()[0].body;
    let system = body["messages"][0]["content"].as_str().unwrap();
    for node_type in NodeType::ALL {
        assert!(system.contains(&format!("## `{node_type}`")), "{node_type} is not in the prompt");
    }
    assert!(system.contains(r#""url":{"type":"string""#), "config schemas are in the prompt");
    assert!(
        system.contains(r#"{"id":"cred_tickets","name":"Tickets API","kind":"bearerToken"}"#),
        "{system}"
    );
    assert!(system.contains("Daily digest"));
    // Without response_format support, the answer's schema is in the system prompt, its node
    // types restricted to the catalogue.
    assert!(system.contains(r#""enum":["start","end","transform","decision""#), "{system}");
    assert!(body["messages"][1]["content"].as_str().unwrap().ends_with(description));
    assert_eq!(body["max_tokens"], 4096);
}

#[tokio::test]
async fn models_with_json_schema_support_get_the_answer_schema_natively() {
    let mut native = model("m", 1.0, 2.0, &[TaskClass::Generate]);
    native.supports_json_schema = true;
    let setup = setup(vec![native]).await;
    setup.provider.enqueue(answer(refund_graph()));
    let generated = setup
        .client
        .generate_workflow(generate("Refunds over 100 need an editor's approval.", 0), &NoBudget)
        .await
        .unwrap();
    assert_eq!(generated.graph.nodes.len(), 6);
    let body = &setup.provider.chat_requests()[0].body;
    let schema = &body["response_format"]["json_schema"]["schema"];
    assert_eq!(schema["required"], json!(["graph", "explanation"]));
    let types = &schema["properties"]["graph"]["properties"]["nodes"]["items"]["properties"]["type"]["enum"];
    assert_eq!(types.as_array().unwrap().len(), NodeType::ALL.len());
}

#[tokio::test]
async fn an_invalid_graph_is_repaired_quoting_the_validator_issues() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    // A dangling edge, and an end node reading a node that runs on one branch only.
    let mut broken = refund_graph();
    broken["edges"].as_array_mut().unwrap().push(edge("review", "rejected", "notify_customer"));
    broken["nodes"][5]["config"]["output"] = json!("{{ nodes.review.output.decision }}");
    setup.provider.enqueue(answer(broken.clone()));
    setup.provider.enqueue(answer(refund_graph()));
    let generated = setup
        .client
        .generate_workflow(generate("Refunds over 100 need an editor's approval.", 2), &NoBudget)
        .await
        .unwrap();
    assert_eq!((generated.n_repairs, generated.attempts.len()), (1, 2));
    assert!(generated.report.valid);

    let requests = setup.provider.chat_requests();
    assert_eq!(requests.len(), 2);
    let messages = requests[1].body["messages"].as_array().unwrap();
    let previous: Value =
        serde_json::from_str(messages[messages.len() - 2]["content"].as_str().unwrap()).unwrap();
    assert_eq!(previous["graph"], broken, "the repair turn quotes the invalid answer");
    let repair = last_message(&setup, 1);
    assert!(
        repair.contains("- edges[6].target [danglingEdge] no node has the id `notify_customer`"),
        "{repair}"
    );
    assert!(repair.contains("nodes[5].config.output [templateReference]"), "{repair}");
    assert!(repair.contains("(node `done`)"), "{repair}");
}

#[tokio::test]
async fn unknown_node_types_and_made_up_credentials_are_repaired() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    let mut shell = ticket_graph();
    shell["nodes"][2] = node("summary", "Summarise", "shell", 480, 0, json!({"command": "jq .title"}));
    let mut invented = ticket_graph();
    invented["nodes"][1]["config"]["credentialId"] = json!("cred_github");
    setup.provider.enqueue(answer(shell));
    setup.provider.enqueue(answer(invented));
    setup.provider.enqueue(answer(ticket_graph()));
    let generated =
        setup.client.generate_workflow(generate("Summarise a ticket.", 2), &NoBudget).await.unwrap();
    assert_eq!(generated.n_repairs, 2);
    let first_repair = last_message(&setup, 1);
    assert!(
        first_repair.contains("- nodes[2].type [unknownType] `shell` is not a node type"),
        "{first_repair}"
    );
    assert!(first_repair.contains("(node `summary`)"), "{first_repair}");
    let second_repair = last_message(&setup, 2);
    assert!(second_repair.contains("nodes[1].config.credentialId [unknownReference]"), "{second_repair}");
}

#[tokio::test]
async fn generation_gives_up_after_max_repairs_with_the_last_issues() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    let mut no_start = ticket_graph();
    no_start["nodes"].as_array_mut().unwrap().remove(0);
    no_start["edges"].as_array_mut().unwrap().remove(0);
    setup.provider.enqueue(Reply::text("Sure! I would use an http node and a transform node."));
    setup.provider.set_default(answer(no_start));
    let error =
        setup.client.generate_workflow(generate("Summarise a ticket.", 2), &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "invalidWorkflow");
    assert_eq!(error.attempts().len(), 3);
    let AiError::InvalidWorkflow { issues, n_repairs, .. } = &error else { panic!("{error:?}") };
    assert_eq!(*n_repairs, 2);
    let codes: Vec<&str> = issues.iter().map(|issue| issue.code.as_str()).collect();
    assert!(codes.contains(&"noEntry"), "{issues:?}");
    assert!(error.to_string().contains("add a start node"), "{error}");
    assert!(last_message(&setup, 1).contains("[invalidAnswer] the answer is not valid json"));
    assert_eq!(setup.provider.chat_requests().len(), 3);
}

#[tokio::test]
async fn an_empty_description_is_refused_before_any_request() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    let error = setup.client.generate_workflow(generate("  ", 2), &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "invalidRequest");
    assert!(setup.provider.requests().is_empty());
}

/// The ticket graph without its summary and end: start → fetch.
fn partial_graph() -> weft_core::workflow::Graph {
    let mut graph = ticket_graph();
    graph["nodes"].as_array_mut().unwrap().truncate(2);
    graph["edges"].as_array_mut().unwrap().truncate(1);
    parse_graph(&graph, &GraphLimits::default()).unwrap()
}

fn suggestion(node: Value, source_port: &str, reason: &str) -> Value {
    let edge =
        json!({"source": "fetch", "sourcePort": source_port, "target": node["id"], "targetPort": "in"});
    json!({"node": node, "edge": edge, "reason": reason})
}

fn suggest(max_repairs: u32) -> SuggestNextRequest {
    SuggestNextRequest {
        graph: partial_graph(),
        selected: Some(NodeId::new("fetch").unwrap()),
        choice: ModelChoice::model("m"),
        context: tickets_credential(),
        max_repairs,
        ..SuggestNextRequest::default()
    }
}

#[tokio::test]
async fn suggestions_are_checked_and_invalid_ones_dropped() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    let summarise = node(
        "summarise",
        "Summarise",
        "transform",
        480,
        0,
        json!({
            "output": {"title": "{{ nodes.fetch.output.body.title }}"}
        }),
    );
    let is_open = node(
        "is_open",
        "Still open?",
        "decision",
        480,
        160,
        json!({
            "condition": "nodes.fetch.output.body.status == 'open'"
        }),
    );
    let wrong_port = node("notify", "Notify", "http", 480, 320, json!({"url": "https://chat.example/hook"}));
    let taken_id =
        node("fetch", "Fetch again", "http", 480, 480, json!({"url": "https://tickets.example/api"}));
    let bad_config = node("wait", "Wait", "delay", 480, 640, json!({"seconds": 30}));
    setup.provider.enqueue(Reply::json(&json!({"suggestions": [
        suggestion(summarise, "out", "Extract the fields you need."),
        suggestion(wrong_port, "done", "Tell the team."),
        suggestion(is_open, "out", "Branch on the ticket's status."),
        suggestion(taken_id, "out", "Retry."),
        suggestion(bad_config, "error", "Wait before retrying."),
    ]})));
    let outcome = setup.client.suggest_next(suggest(1), &NoBudget).await.unwrap();

    let ids: Vec<&str> = outcome.suggestions.iter().map(|suggestion| suggestion.node.id.as_str()).collect();
    assert_eq!(ids, ["summarise", "is_open"]);
    assert_eq!(outcome.suggestions[1].reason, "Branch on the ticket's status.");
    assert_eq!(outcome.suggestions[0].edge.source.as_str(), "fetch");
    assert_eq!((outcome.n_repairs, outcome.attempts.len()), (0, 1));
    let dropped: Vec<(&str, &str)> =
        outcome.dropped.iter().map(|issue| (issue.path.as_str(), issue.code.as_str())).collect();
    assert_eq!(
        dropped,
        [
            ("suggestions[1].edge.sourcePort", "unknownPort"),
            ("suggestions[3].node.id", "duplicateId"),
            ("suggestions[4].node.config.seconds", "unknownField"),
        ]
    );

    let body = &setup.provider.chat_requests()[0].body;
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("Continue from the selected node"), "{user}");
    assert!(user.contains("(output ports: out, error)"), "{user}");
    assert!(user.contains("\"id\":\"start\""), "the graph is shown: {user}");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Give 1 to 3 alternative suggestions"), "{system}");
}

#[tokio::test]
async fn a_repair_turn_follows_when_no_suggestion_is_valid() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    // Reads a node that does not exist, and leaves a node other than the selected one.
    let unknown_reference =
        node("summarise", "Summarise", "transform", 480, 0, json!({"output": "{{ nodes.ticket.output }}"}));
    let mut from_start =
        suggestion(node("log", "Log", "transform", 480, 160, json!({"output": "x"})), "out", "");
    from_start["edge"]["source"] = json!("start");
    setup.provider.enqueue(Reply::json(&json!({"suggestions": [
        suggestion(unknown_reference, "out", "Summarise."), from_start
    ]})));
    let mut fixed =
        node("summarise", "Summarise", "transform", 0, 0, json!({"output": "{{ nodes.fetch.output.body }}"}));
    fixed.as_object_mut().unwrap().remove("position");
    setup.provider.enqueue(Reply::json(&json!({"suggestions": [suggestion(fixed, "out", "Summarise.")]})));
    let outcome = setup.client.suggest_next(suggest(1), &NoBudget).await.unwrap();
    assert_eq!(outcome.suggestions.len(), 1);
    // Placed right of the node it follows.
    assert_eq!(outcome.suggestions[0].node.position.x, 480.0);
    assert_eq!((outcome.n_repairs, outcome.attempts.len()), (1, 2));
    assert!(outcome.dropped.is_empty());
    let repair = last_message(&setup, 1);
    assert!(repair.contains("suggestions[0].node.config.output [templateReference]"), "{repair}");
    assert!(
        repair.contains("suggestions[1].edge.source [invalidEdge] must leave the selected node `fetch`"),
        "{repair}"
    );

    // A selected node outside the graph, an end node, or a graph with nothing to continue
    // from is refused before any request.
    let ghost = SuggestNextRequest { selected: Some(NodeId::new("ghost").unwrap()), ..suggest(0) };
    let mut ended = suggest(0);
    ended.graph = parse_graph(&ticket_graph(), &GraphLimits::default()).unwrap();
    ended.selected = Some(NodeId::new("done").unwrap());
    let empty = SuggestNextRequest { graph: Default::default(), selected: None, ..suggest(0) };
    for request in [ghost, ended, empty] {
        let error = setup.client.suggest_next(request, &NoBudget).await.unwrap_err();
        assert_eq!(error.kind(), "invalidRequest", "{error}");
    }
    assert_eq!(setup.provider.chat_requests().len(), 2);
}
