//! Runs through the engine, end to end: `workflow.execute`, the node behaviours, retries,
//! failure handling, timers, cancellation, SSRF refusals and access checks. HTTP targets
//! are a real local server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::helpers::*;

/// A local HTTP target: `/echo` answers the request, `/flaky` fails with 500 twice per
/// key, `/slow` takes 10 s, `/status/<n>` answers status n.
#[derive(Clone, Default)]
struct Target {
    hits: Arc<AtomicUsize>,
    keys: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn target() -> (String, Target) {
    let state = Target::default();
    let app = axum::Router::new()
        .route(
            "/echo",
            post(|State(t): State<Target>, headers: HeaderMap, body: String| async move {
                t.hits.fetch_add(1, Ordering::SeqCst);
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                t.keys.lock().unwrap().push(key.clone());
                axum::Json(json!({"received": serde_json::from_str::<Value>(&body).unwrap_or(Value::Null), "key": key}))
            }),
        )
        .route(
            "/flaky",
            get(|State(t): State<Target>| async move {
                let n = t.hits.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "down".to_owned())
                } else {
                    (StatusCode::OK, "\"up\"".to_owned())
                }
            }),
        )
        .route(
            "/slow",
            get(|State(t): State<Target>| async move {
                t.hits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(10)).await;
                "{}"
            }),
        )
        .route(
            "/status/{code}",
            get(|axum::extract::Path(code): axum::extract::Path<u16>| async move {
                (StatusCode::from_u16(code).unwrap(), "{}")
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

fn edge(source: &str, port: &str, target: &str) -> Value {
    json!({"source": source, "sourcePort": port, "target": target, "targetPort": "in"})
}

struct Flow {
    token: String,
    workflow_id: String,
}

async fn flow(app: &TestApp, nodes: Vec<Value>, edges: Vec<Value>) -> Flow {
    let owner = app.register(&email("owner")).await;
    let token = owner.access_token.clone();
    let project: Value = app.call("project.create", json!({"name": "Runs"}), Some(&token)).await.unwrap();
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "W", "graph": {"nodes": nodes, "edges": edges}}),
            Some(&token),
        )
        .await
        .unwrap();
    assert_eq!(created["validation"]["valid"], true, "{}", created["validation"]);
    Flow { token, workflow_id: created["workflow"]["id"].as_str().unwrap().to_owned() }
}

async fn execute(app: &TestApp, f: &Flow, input: Value) -> Value {
    let result: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": f.workflow_id, "version": 1, "input": input, "wait": true, "waitTimeoutMs": 20000}),
            Some(&f.token),
        )
        .await
        .unwrap();
    result["run"].clone()
}

/// The run's trace: `(node, status, ports)` in creation order.
async fn trace(app: &TestApp, f: &Flow, run_id: &Value) -> Vec<(String, String, String)> {
    let detail: Value = app.call("run.get", json!({"runId": run_id}), Some(&f.token)).await.unwrap();
    detail["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let ports = n["ports"]
                .as_array()
                .map(|p| p.iter().map(|p| p.as_str().unwrap().to_owned()).collect::<Vec<_>>().join(","));
            (
                n["nodeId"].as_str().unwrap().to_owned(),
                n["status"].as_str().unwrap().to_owned(),
                ports.unwrap_or_else(|| "-".to_owned()),
            )
        })
        .collect()
}

fn t(node: &str, status: &str, ports: &str) -> (String, String, String) {
    (node.to_owned(), status.to_owned(), ports.to_owned())
}

both!(transform_decision_and_end, |app| {
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node(
                "score",
                "transform",
                json!({"output": {"value": "{{ input.n * 2 }}", "who": "{{ input.name | upper }}"}}),
            ),
            node("check", "decision", json!({"condition": "nodes.score.output.value > 5"})),
            node("big", "transform", json!({"output": "big {{ nodes.score.output.who }}"})),
            node("small", "transform", json!({"output": "small"})),
            node("done", "end", json!({})),
        ],
        vec![
            edge("start", "out", "score"),
            edge("score", "out", "check"),
            edge("check", "true", "big"),
            edge("check", "false", "small"),
            edge("big", "out", "done"),
            edge("small", "out", "done"),
        ],
    )
    .await;
    let run = execute(&app, &f, json!({"n": 4, "name": "ada"})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], "big ADA");
    assert_eq!(
        trace(&app, &f, &run["id"]).await,
        [
            t("start", "succeeded", "out"),
            t("score", "succeeded", "out"),
            t("check", "succeeded", "true"),
            t("big", "succeeded", "out"),
            t("small", "skipped", "-"),
            t("done", "succeeded", ""),
        ]
    );
    let run = execute(&app, &f, json!({"n": 1, "name": "bob"})).await;
    assert_eq!(run["output"], "small");
    let page: Value =
        app.call("run.list", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let failed: Value = app
        .call("run.list", json!({"workflowId": f.workflow_id, "status": "failed"}), Some(&f.token))
        .await
        .unwrap();
    assert!(failed["items"].as_array().unwrap().is_empty());
});

both!(parallel_fan_out_and_joins, |app| {
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("fan", "parallel", json!({"branches": ["a", "b", "c"]})),
            node("a", "transform", json!({"output": 1})),
            node("b", "transform", json!({"output": 2})),
            node("c", "transform", json!({"output": 3})),
            node("all", "join", json!({})),
            node("done", "end", json!({"output": "{{ nodes.all.output }}"})),
        ],
        vec![
            edge("start", "out", "fan"),
            edge("fan", "a", "a"),
            edge("fan", "b", "b"),
            edge("fan", "c", "c"),
            edge("a", "out", "all"),
            edge("b", "out", "all"),
            edge("c", "out", "all"),
            edge("all", "out", "done"),
        ],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], json!({"a": 1, "b": 2, "c": 3}));
});

both!(http_node_retries_and_sends_idempotency_keys, |app| {
    let (base, target) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node(
                "fetch",
                "http",
                json!({"url": format!("{base}/flaky"), "response": {"format": "json"}}),
            ),
            node(
                "post",
                "http",
                json!({"method": "POST", "url": format!("{base}/echo"), "body": {"kind": "json", "content": {"got": "{{ nodes.fetch.output.body }}"}}}),
            ),
            node("done", "end", json!({"output": "{{ nodes.post.output.body }}"})),
        ],
        vec![edge("start", "out", "fetch"), edge("fetch", "out", "post"), edge("post", "out", "done")],
    )
    .await;
    // Add a retry policy to the flaky node.
    let patch = json!([{"op": "add", "path": "/nodes/1/settings", "value": {"retry": {"maxAttempts": 3, "initialDelayMs": 10, "maxDelayMs": 50}}}]);
    let saved: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": f.workflow_id, "expectedVersion": 1, "patch": patch}),
            Some(&f.token),
        )
        .await
        .unwrap();
    assert_eq!(saved["validation"]["valid"], true, "{}", saved["validation"]);
    let result: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": f.workflow_id, "version": 2, "wait": true, "waitTimeoutMs": 20000}),
            Some(&f.token),
        )
        .await
        .unwrap();
    let run = &result["run"];
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["received"], json!({"got": "up"}));
    let detail: Value = app.call("run.get", json!({"runId": run["id"]}), Some(&f.token)).await.unwrap();
    let fetch = detail["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == "fetch").unwrap().clone();
    assert_eq!(fetch["attempt"], 3, "{fetch}");
    let post = detail["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == "post").unwrap().clone();
    assert_eq!(run["output"]["key"], post["id"], "the idempotency key is the step id");
    assert_eq!(target.keys.lock().unwrap().len(), 1);
});

both!(failures_take_the_error_port_or_continue_or_fail_the_run, |app| {
    let (base, _) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("bad", "http", json!({"url": format!("{base}/status/404")})),
            node("handled", "transform", json!({"output": "handled {{ nodes.bad.output.status }}"})),
            node("fine", "transform", json!({"output": "fine"})),
            node("done", "end", json!({})),
        ],
        vec![
            edge("start", "out", "bad"),
            edge("bad", "error", "handled"),
            edge("bad", "out", "fine"),
            edge("handled", "out", "done"),
            edge("fine", "out", "done"),
        ],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], "handled 404");
    assert_eq!(
        trace(&app, &f, &run["id"]).await,
        [
            t("start", "succeeded", "out"),
            t("bad", "failed", "error"),
            t("handled", "succeeded", "out"),
            t("fine", "skipped", "-"),
            t("done", "succeeded", ""),
        ]
    );

    // Without an error edge the run fails, naming the node.
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("bad", "http", json!({"url": format!("{base}/status/500")})),
            node("done", "end", json!({})),
        ],
        vec![edge("start", "out", "bad"), edge("bad", "out", "done")],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["nodeId"], "bad");
    assert_eq!(run["error"]["class"], "serverError");
    assert_eq!(run["error"]["status"], 500);

    // With continueOnFail the regular port carries the error.
    let patch = json!([{"op": "add", "path": "/nodes/1/settings", "value": {"continueOnFail": true}}]);
    let _: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": f.workflow_id, "expectedVersion": 1, "patch": patch}),
            Some(&f.token),
        )
        .await
        .unwrap();
    let result: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": f.workflow_id, "version": 2, "wait": true}),
            Some(&f.token),
        )
        .await
        .unwrap();
    assert_eq!(result["run"]["status"], "succeeded", "{}", result["run"]);
    assert_eq!(result["run"]["output"]["error"]["class"], "serverError");
});

both!(outbound_requests_to_private_addresses_are_refused, |app| {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9/",
        "http://10.0.0.1/",
        "http://2130706433/",
    ] {
        let f = flow(
            &app,
            vec![
                node("start", "start", json!({})),
                node("get", "http", json!({"url": url})),
                node("done", "end", json!({})),
            ],
            vec![edge("start", "out", "get"), edge("get", "out", "done")],
        )
        .await;
        let run = execute(&app, &f, json!({})).await;
        assert_eq!(run["status"], "failed", "{url}: {run}");
        let message = run["error"]["message"].as_str().unwrap();
        assert!(message.contains("refused"), "{url}: {message}");
    }
});

both!(delays_wait_durably_and_runs_can_be_cancelled, |app| {
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("wait", "delay", json!({"durationMs": 300})),
            node("done", "end", json!({"output": "{{ input.x }}"})),
        ],
        vec![edge("start", "out", "wait"), edge("wait", "out", "done")],
    )
    .await;
    let run = execute(&app, &f, json!({"x": 7})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], 7);
    let started = chrono::DateTime::parse_from_rfc3339(run["createdAt"].as_str().unwrap()).unwrap();
    let finished = chrono::DateTime::parse_from_rfc3339(run["finishedAt"].as_str().unwrap()).unwrap();
    assert!((finished - started).num_milliseconds() >= 300, "the timer held the run");

    let (base, target) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("slow", "http", json!({"url": format!("{base}/slow")})),
            node("done", "end", json!({})),
        ],
        vec![edge("start", "out", "slow"), edge("slow", "out", "done")],
    )
    .await;
    let started: Value = app
        .call("workflow.execute", json!({"workflowId": f.workflow_id, "version": 1}), Some(&f.token))
        .await
        .unwrap();
    let run_id = started["run"]["id"].clone();
    for _ in 0..200 {
        if target.hits.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled: Value = app.call("run.cancel", json!({"runId": run_id}), Some(&f.token)).await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let detail: Value = app.call("run.get", json!({"runId": run_id}), Some(&f.token)).await.unwrap();
    let slow = detail["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == "slow").unwrap().clone();
    assert_eq!(slow["status"], "cancelled");
    // Cancelling again answers the finished run unchanged.
    let again: Value = app.call("run.cancel", json!({"runId": run_id}), Some(&f.token)).await.unwrap();
    assert_eq!(again["status"], "cancelled");
});

both!(runs_are_checked_like_their_workflows, |app| {
    let f = flow(
        &app,
        vec![node("start", "start", json!({})), node("done", "end", json!({}))],
        vec![edge("start", "out", "done")],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    let stranger = app.register(&email("stranger")).await;
    let s = Some(stranger.access_token.as_str());
    for (method, params) in [
        ("run.get", json!({"runId": run["id"]})),
        ("run.cancel", json!({"runId": run["id"]})),
        ("workflow.execute", json!({"workflowId": f.workflow_id, "version": 1})),
        ("run.list", json!({"workflowId": f.workflow_id})),
    ] {
        let refused = app.call::<Value>(method, params, s).await;
        expect_error(refused, -32004, "notFound");
    }
    let unknown = app.call::<Value>("run.get", json!({"runId": uuid::Uuid::now_v7()}), s).await;
    expect_error(unknown, -32004, "notFound");
    // Unpublished without a version, and an unknown version, are refused.
    let refused =
        app.call::<Value>("workflow.execute", json!({"workflowId": f.workflow_id}), Some(&f.token)).await;
    assert_eq!(expect_error(refused, -32022, "validation")["fields"][0]["path"], "version");
    let refused = app
        .call::<Value>("workflow.execute", json!({"workflowId": f.workflow_id, "version": 9}), Some(&f.token))
        .await;
    expect_error(refused, -32004, "notFound");
});

fn to_continue(source: &str, port: &str, target: &str) -> Value {
    json!({"source": source, "sourcePort": port, "target": target, "targetPort": "continue"})
}

both!(loops_iterate_in_scopes_and_collect_outputs, |app| {
    // for-each, two at a time, with a decision inside the body
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("each", "loop", json!({"kind": "forEach", "items": "input.items", "concurrency": 2})),
            node("parity", "decision", json!({"condition": "item % 2 == 0"})),
            node("even", "transform", json!({"output": "{{ item }} even at {{ index }}"})),
            node("odd", "transform", json!({"output": {"odd": "{{ item * 10 }}"}})),
            node("done", "end", json!({"output": "{{ nodes.each.output }}"})),
        ],
        vec![
            edge("start", "out", "each"),
            edge("each", "body", "parity"),
            edge("parity", "true", "even"),
            edge("parity", "false", "odd"),
            to_continue("even", "out", "each"),
            to_continue("odd", "out", "each"),
            edge("each", "done", "done"),
        ],
    )
    .await;
    let run = execute(&app, &f, json!({"items": [1, 2, 3, 4, 5]})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], json!([{"odd": 10}, "2 even at 1", {"odd": 30}, "4 even at 3", {"odd": 50}]));
    let detail: Value = app.call("run.get", json!({"runId": run["id"]}), Some(&f.token)).await.unwrap();
    let scopes: Vec<&str> = detail["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["nodeId"] == "parity")
        .map(|n| n["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes.len(), 5);
    assert!(scopes.contains(&"each#0") && scopes.contains(&"each#4"), "{scopes:?}");
    let run = execute(&app, &f, json!({"items": []})).await;
    assert_eq!(run["output"], json!([]));
    let run = execute(&app, &f, json!({"items": "nope"})).await;
    assert_eq!(run["status"], "failed");
    assert!(run["error"]["message"].as_str().unwrap().contains("list"), "{run}");

    // while, reading the previous iteration's output, with its bound
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node(
                "again",
                "loop",
                json!({"kind": "while", "condition": "index < input.n", "maxIterations": 5}),
            ),
            node("step", "transform", json!({"output": "{{ index * index }}"})),
            node("done", "end", json!({"output": "{{ nodes.again.output }}"})),
        ],
        vec![
            edge("start", "out", "again"),
            edge("again", "body", "step"),
            to_continue("step", "out", "again"),
            edge("again", "done", "done"),
        ],
    )
    .await;
    let run = execute(&app, &f, json!({"n": 4})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], json!([0, 1, 4, 9]));
    let run = execute(&app, &f, json!({"n": 9})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["nodeId"], "again");
    assert!(run["error"]["message"].as_str().unwrap().contains("maxIterations"), "{run}");
});

async fn wait_for_run(app: &TestApp, token: &str, run_id: &Value) -> Value {
    for _ in 0..400 {
        let detail: Value = app.call("run.get", json!({"runId": run_id}), Some(token)).await.unwrap();
        let status = detail["run"]["status"].as_str().unwrap().to_owned();
        if ["succeeded", "failed", "cancelled"].contains(&status.as_str()) {
            return detail["run"].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {run_id} did not finish");
}

async fn pending_tasks(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let tasks: Value = app.call("run.tasks", json!({}), Some(token)).await.unwrap();
        let items = tasks["items"].as_array().unwrap().clone();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("fewer than {n} tasks appeared");
}

both!(approvals_inside_a_loop_with_a_decision, |app| {
    let owner = app.register(&email("owner")).await;
    let me: Value = app.call("auth.me", json!({}), Some(&owner.access_token)).await.unwrap();
    let f = {
        let token = owner.access_token.clone();
        let project: Value =
            app.call("project.create", json!({"name": "Approvals"}), Some(&token)).await.unwrap();
        let graph = json!({
            "nodes": [
                node("start", "start", json!({})),
                node("each", "loop", json!({"kind": "forEach", "items": "input.amounts"})),
                node("big", "decision", json!({"condition": "item > 100"})),
                node("ask", "approval", json!({"assignees": [me["id"]], "instructions": "Pay {{ item }}?", "comment": "requiredOnReject"})),
                node("paid", "transform", json!({"output": "paid {{ item }}"})),
                node("refused", "transform", json!({"output": "refused {{ item }}: {{ nodes.ask.output.comment }}"})),
                node("auto", "transform", json!({"output": "auto {{ item }}"})),
                node("done", "end", json!({"output": "{{ nodes.each.output }}"})),
            ],
            "edges": [
                edge("start", "out", "each"),
                edge("each", "body", "big"),
                edge("big", "true", "ask"),
                edge("big", "false", "auto"),
                edge("ask", "approved", "paid"),
                edge("ask", "rejected", "refused"),
                to_continue("paid", "out", "each"),
                to_continue("refused", "out", "each"),
                to_continue("auto", "out", "each"),
                edge("each", "done", "done"),
            ]
        });
        let created: Value = app
            .call(
                "workflow.create",
                json!({"projectId": project["id"], "name": "Pay", "graph": graph}),
                Some(&token),
            )
            .await
            .unwrap();
        assert_eq!(created["validation"]["valid"], true, "{}", created["validation"]);
        Flow { token, workflow_id: created["workflow"]["id"].as_str().unwrap().to_owned() }
    };
    let started: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": f.workflow_id, "version": 1, "input": {"amounts": [5, 500, 900]}}),
            Some(&f.token),
        )
        .await
        .unwrap();
    let run_id = started["run"]["id"].clone();
    let tasks = pending_tasks(&app, &f.token, 1).await;
    assert_eq!(tasks[0]["instructions"], "Pay 500?");
    assert_eq!(tasks[0]["scope"], "each#1");
    let detail: Value = app.call("run.get", json!({"runId": run_id}), Some(&f.token)).await.unwrap();
    assert_eq!(detail["run"]["status"], "waiting");

    // Someone who cannot see the task gets not-found; a comment is needed to reject.
    let stranger = app.register(&email("stranger")).await;
    let refused = app
        .call::<Value>("run.approve", json!({"taskId": tasks[0]["id"]}), Some(&stranger.access_token))
        .await;
    expect_error(refused, -32004, "notFound");
    let refused = app.call::<Value>("run.reject", json!({"taskId": tasks[0]["id"]}), Some(&f.token)).await;
    assert_eq!(expect_error(refused, -32022, "validation")["fields"][0]["path"], "comment");

    let approved: Value = app
        .call("run.approve", json!({"taskId": tasks[0]["id"], "comment": "ok"}), Some(&f.token))
        .await
        .unwrap();
    assert_eq!(approved["status"], "approved");
    let again = app.call::<Value>("run.approve", json!({"taskId": tasks[0]["id"]}), Some(&f.token)).await;
    expect_error(again, -32009, "conflict");
    let tasks = pending_tasks(&app, &f.token, 1).await;
    assert_eq!(tasks[0]["instructions"], "Pay 900?");
    let _: Value = app
        .call("run.reject", json!({"taskId": tasks[0]["id"], "comment": "too much"}), Some(&f.token))
        .await
        .unwrap();
    let run = wait_for_run(&app, &f.token, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], json!(["auto 5", "paid 500", "refused 900: too much"]));
});

both!(approvals_time_out_by_their_escalation_rule, |app| {
    let owner = app.register(&email("owner")).await;
    let me: Value = app.call("auth.me", json!({}), Some(&owner.access_token)).await.unwrap();
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node(
                "ask",
                "approval",
                json!({"assignees": [me["id"]], "timeoutMs": 200, "onTimeout": {"action": "autoApprove"}}),
            ),
            node("done", "end", json!({"output": "{{ nodes.ask.output }}"})),
        ],
        vec![edge("start", "out", "ask"), edge("ask", "approved", "done")],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["decision"], "approved");
    assert_eq!(run["output"]["decidedBy"], Value::Null);
    assert_eq!(run["output"]["comment"], "timed out");
});

both!(sub_workflows_return_their_result_and_nesting_is_bounded, |app| {
    let f = flow(
        &app,
        vec![node("start", "start", json!({})), node("done", "end", json!({"output": "{{ input.x * 2 }}"}))],
        vec![edge("start", "out", "done")],
    )
    .await;
    let _: Value =
        app.call("workflow.publish", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    let workflow: Value =
        app.call("workflow.get", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    let project_id = workflow["workflow"]["projectId"].clone();
    let graph = json!({
        "nodes": [
            node("start", "start", json!({})),
            node("child", "subWorkflow", json!({"workflowId": f.workflow_id, "input": {"x": "{{ input.n }}"}})),
            node("done", "end", json!({"output": "{{ nodes.child.output }}"})),
        ],
        "edges": [edge("start", "out", "child"), edge("child", "out", "done")]
    });
    let parent: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project_id, "name": "Parent", "graph": graph}),
            Some(&f.token),
        )
        .await
        .unwrap();
    let parent =
        Flow { token: f.token.clone(), workflow_id: parent["workflow"]["id"].as_str().unwrap().to_owned() };
    let run = execute(&app, &parent, json!({"n": 21})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], 42);
    let children: Value =
        app.call("run.list", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    assert_eq!(children["items"][0]["trigger"], "subWorkflow");

    // A workflow that calls itself stops at the depth bound.
    let patch = json!([{"op": "replace", "path": "/nodes/1/config/workflowId", "value": parent.workflow_id}]);
    let _: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": parent.workflow_id, "expectedVersion": 1, "patch": patch}),
            Some(&f.token),
        )
        .await
        .unwrap();
    let _: Value = app
        .call("workflow.publish", json!({"workflowId": parent.workflow_id}), Some(&f.token))
        .await
        .unwrap();
    let result: Value = app
        .call("workflow.execute", json!({"workflowId": parent.workflow_id, "input": {"n": 1}, "wait": true, "waitTimeoutMs": 30000}), Some(&f.token))
        .await
        .unwrap();
    assert_eq!(result["run"]["status"], "failed", "{}", result["run"]);
    assert!(
        result["run"]["error"]["message"].as_str().unwrap().contains("sub-workflow"),
        "{}",
        result["run"]
    );
});

both!(retry_goes_on_from_the_failed_node_or_starts_over, |app| {
    let (base, target) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("first", "http", json!({"method": "POST", "url": format!("{base}/echo"), "body": {"kind": "json", "content": 1}})),
            node("flaky", "http", json!({"url": format!("{base}/flaky")})),
            node("done", "end", json!({"output": "{{ nodes.flaky.output.body }}"})),
        ],
        vec![edge("start", "out", "first"), edge("first", "out", "flaky"), edge("flaky", "out", "done")],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    let not_failed =
        app.call::<Value>("run.retry", json!({"runId": uuid::Uuid::now_v7()}), Some(&f.token)).await;
    expect_error(not_failed, -32004, "notFound");
    // /echo and /flaky share the hit counter: echo 1, flaky 2 (500), flaky 3 (up).
    let retried: Value = app.call("run.retry", json!({"runId": run["id"]}), Some(&f.token)).await.unwrap();
    assert_eq!(retried["id"], run["id"]);
    let run = wait_for_run(&app, &f.token, &run["id"]).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], "up");
    assert_eq!(target.keys.lock().unwrap().len(), 1, "the completed step did not run again");
    let refused = app.call::<Value>("run.retry", json!({"runId": run["id"]}), Some(&f.token)).await;
    expect_error(refused, -32009, "conflict");
    let again: Value =
        app.call("run.retry", json!({"runId": run["id"], "fromStart": true}), Some(&f.token)).await.unwrap();
    assert_ne!(again["id"], run["id"]);
    assert_eq!(again["trigger"], "retry");
    let again = wait_for_run(&app, &f.token, &again["id"]).await;
    assert_eq!(again["status"], "succeeded", "{again}");
});

both!(a_failed_run_starts_the_error_handler_workflow, |app| {
    let (base, _) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("bad", "http", json!({"url": format!("{base}/status/503")})),
            node("done", "end", json!({})),
        ],
        vec![edge("start", "out", "bad"), edge("bad", "out", "done")],
    )
    .await;
    let workflow: Value =
        app.call("workflow.get", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    let graph = json!({
        "nodes": [
            node("start", "start", json!({})),
            node("done", "end", json!({"output": "{{ input.failedRun.error.nodeId }} {{ input.failedRun.error.class }}"})),
        ],
        "edges": [edge("start", "out", "done")]
    });
    let handler: Value = app
        .call(
            "workflow.create",
            json!({"projectId": workflow["workflow"]["projectId"], "name": "On failure", "graph": graph}),
            Some(&f.token),
        )
        .await
        .unwrap();
    let handler_id = handler["workflow"]["id"].clone();
    let _: Value =
        app.call("workflow.publish", json!({"workflowId": handler_id}), Some(&f.token)).await.unwrap();
    let refused = app
        .call::<Value>(
            "workflow.update",
            json!({"workflowId": f.workflow_id, "errorWorkflowId": f.workflow_id}),
            Some(&f.token),
        )
        .await;
    assert_eq!(expect_error(refused, -32022, "validation")["fields"][0]["path"], "errorWorkflowId");
    let updated: Value = app
        .call(
            "workflow.update",
            json!({"workflowId": f.workflow_id, "errorWorkflowId": handler_id}),
            Some(&f.token),
        )
        .await
        .unwrap();
    assert_eq!(updated["errorWorkflowId"], handler_id);
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "failed");
    let mut handled = Value::Null;
    for _ in 0..200 {
        let page: Value =
            app.call("run.list", json!({"workflowId": handler_id}), Some(&f.token)).await.unwrap();
        if let Some(first) = page["items"].as_array().unwrap().first() {
            handled = wait_for_run(&app, &f.token, &first["id"]).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(handled["trigger"], "errorHandler", "{handled}");
    assert_eq!(handled["output"], "bad serverError");
    let cleared: Value = app
        .call(
            "workflow.update",
            json!({"workflowId": f.workflow_id, "errorWorkflowId": null}),
            Some(&f.token),
        )
        .await
        .unwrap();
    assert_eq!(cleared["errorWorkflowId"], Value::Null);
});

both!(parallel_branches_with_one_failing_and_continue_on_fail, |app| {
    let (base, _) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("fan", "parallel", json!({"branches": ["a", "b", "c"]})),
            node("a", "transform", json!({"output": "a"})),
            json!({"id": "b", "name": "b", "type": "http", "position": {"x": 0, "y": 0},
                   "config": {"url": format!("{base}/status/500")}, "settings": {"continueOnFail": true}}),
            node("c", "transform", json!({"output": "c"})),
            node("all", "join", json!({})),
            node("done", "end", json!({"output": "{{ nodes.all.output }}"})),
        ],
        vec![
            edge("start", "out", "fan"),
            edge("fan", "a", "a"),
            edge("fan", "b", "b"),
            edge("fan", "c", "c"),
            edge("a", "out", "all"),
            edge("b", "out", "all"),
            edge("c", "out", "all"),
            edge("all", "out", "done"),
        ],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["a"], "a");
    assert_eq!(run["output"]["c"], "c");
    assert_eq!(run["output"]["b"]["error"]["class"], "serverError");
    let mut trace = trace(&app, &f, &run["id"]).await;
    trace.sort();
    assert_eq!(
        trace,
        [
            t("a", "succeeded", "out"),
            t("all", "succeeded", "out"),
            t("b", "failed", "out"),
            t("c", "succeeded", "out"),
            t("done", "succeeded", ""),
            t("fan", "succeeded", "a,b,c"),
            t("start", "succeeded", "out"),
        ]
    );
});

both!(node_and_run_time_limits, |app| {
    let (base, _) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            json!({"id": "slow", "name": "slow", "type": "http", "position": {"x": 0, "y": 0},
                   "config": {"url": format!("{base}/slow")}, "settings": {"timeoutMs": 200}}),
            node("done", "end", json!({})),
        ],
        vec![edge("start", "out", "slow"), edge("slow", "out", "done")],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["class"], "timeout");
    assert_eq!(run["error"]["nodeId"], "slow");

    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("wait", "delay", json!({"durationMs": 60000})),
            node("done", "end", json!({})),
        ],
        vec![edge("start", "out", "wait"), edge("wait", "out", "done")],
    )
    .await;
    let result: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": f.workflow_id, "version": 1, "timeoutMs": 300, "wait": true, "waitTimeoutMs": 20000}),
            Some(&f.token),
        )
        .await
        .unwrap();
    assert_eq!(result["run"]["status"], "failed", "{}", result["run"]);
    assert_eq!(result["run"]["error"]["class"], "timeout");
});

both!(a_join_of_any_continues_with_the_first_branch_and_cancels_the_others, |app| {
    let (base, target) = target().await;
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node("fan", "parallel", json!({})),
            node("quick", "transform", json!({"output": "quick"})),
            node("slow", "http", json!({"url": format!("{base}/slow")})),
            node("first", "join", json!({"policy": "any"})),
            node("done", "end", json!({"output": "{{ nodes.first.output }}"})),
        ],
        vec![
            edge("start", "out", "fan"),
            edge("fan", "out", "quick"),
            edge("fan", "out", "slow"),
            edge("quick", "out", "first"),
            edge("slow", "out", "first"),
            edge("first", "out", "done"),
        ],
    )
    .await;
    let run = execute(&app, &f, json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], json!({"quick": "quick"}));
    let detail: Value = app.call("run.get", json!({"runId": run["id"]}), Some(&f.token)).await.unwrap();
    let slow = detail["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == "slow").unwrap().clone();
    assert_eq!(slow["status"], "cancelled", "{slow}");
    let _ = target;
});

both!(approvals_escalate_to_other_deciders_and_check_who_decides, |app| {
    let owner = app.register(&email("owner")).await;
    let token = owner.access_token.clone();
    let me: Value = app.call("auth.me", json!({}), Some(&token)).await.unwrap();
    let deputy_email = email("deputy");
    let deputy = app.register(&deputy_email).await;
    let deputy_me: Value = app.call("auth.me", json!({}), Some(&deputy.access_token)).await.unwrap();
    let viewer_email = email("viewer");
    let viewer = app.register(&viewer_email).await;
    let project: Value =
        app.call("project.create", json!({"name": "Escalation"}), Some(&token)).await.unwrap();
    for (address, session, role) in [(&deputy_email, &deputy, "EDITOR"), (&viewer_email, &viewer, "VIEWER")] {
        let invitation: Value = app
            .call(
                "project.invite",
                json!({"projectId": project["id"], "email": address, "role": role}),
                Some(&token),
            )
            .await
            .unwrap();
        let _: Value = app
            .call(
                "project.acceptInvitation",
                json!({"invitationId": invitation["id"]}),
                Some(&session.access_token),
            )
            .await
            .unwrap();
    }
    let graph = json!({
        "nodes": [
            node("start", "start", json!({})),
            node("ask", "approval", json!({
                "assignees": [me["id"]], "timeoutMs": 150,
                "onTimeout": {"action": "reassign", "assignees": [deputy_me["id"]], "timeoutMs": 600000}
            })),
            node("yes", "end", json!({"output": "{{ nodes.ask.output.decidedBy }}"})),
        ],
        "edges": [edge("start", "out", "ask"), edge("ask", "approved", "yes")]
    });
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "Esc", "graph": graph}),
            Some(&token),
        )
        .await
        .unwrap();
    let started: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": created["workflow"]["id"], "version": 1}),
            Some(&token),
        )
        .await
        .unwrap();
    // After the timeout the task belongs to the deputy only.
    let mut task = Value::Null;
    for _ in 0..400 {
        let tasks: Value = app.call("run.tasks", json!({}), Some(&deputy.access_token)).await.unwrap();
        if let Some(first) = tasks["items"].as_array().unwrap().first() {
            task = first.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(task["escalated"], true, "{task}");
    let mine: Value = app.call("run.tasks", json!({}), Some(&token)).await.unwrap();
    assert!(mine["items"].as_array().unwrap().is_empty(), "{mine}");
    let refused = app.call::<Value>("run.approve", json!({"taskId": task["id"]}), Some(&token)).await;
    assert_eq!(expect_error(refused, -32003, "forbidden")["notAssignee"], true);
    let refused =
        app.call::<Value>("run.approve", json!({"taskId": task["id"]}), Some(&viewer.access_token)).await;
    expect_error(refused, -32003, "forbidden");
    let _: Value =
        app.call("run.approve", json!({"taskId": task["id"]}), Some(&deputy.access_token)).await.unwrap();
    let run = wait_for_run(&app, &token, &started["run"]["id"]).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"], deputy_me["id"]);
});

both!(switch_routes_to_the_first_matching_case, |app| {
    let f = flow(
        &app,
        vec![
            node("start", "start", json!({})),
            node(
                "route",
                "switch",
                json!({"cases": [
                    {"name": "gold", "condition": "input.points >= 1000"},
                    {"name": "silver", "condition": "input.points >= 100"}
                ]}),
            ),
            node("gold", "transform", json!({"output": "gold"})),
            node("silver", "transform", json!({"output": "silver"})),
            node("basic", "transform", json!({"output": "basic"})),
            node("done", "end", json!({})),
        ],
        vec![
            edge("start", "out", "route"),
            edge("route", "gold", "gold"),
            edge("route", "silver", "silver"),
            edge("route", "default", "basic"),
            edge("gold", "out", "done"),
            edge("silver", "out", "done"),
            edge("basic", "out", "done"),
        ],
    )
    .await;
    for (points, expected) in [(5000, "gold"), (150, "silver"), (3, "basic")] {
        let run = execute(&app, &f, json!({"points": points})).await;
        assert_eq!(run["output"], expected, "{run}");
    }
    let run = execute(&app, &f, json!({"points": 150})).await;
    let mut trace = trace(&app, &f, &run["id"]).await;
    trace.sort();
    assert_eq!(
        trace,
        [
            t("basic", "skipped", "-"),
            t("done", "succeeded", ""),
            t("gold", "skipped", "-"),
            t("route", "succeeded", "silver"),
            t("silver", "succeeded", "out"),
            t("start", "succeeded", "out"),
        ]
    );
});

both!(ai_and_vector_search_answer_not_configured, |app| {
    for (kind, config) in [
        ("ai", json!({"model": "openai/gpt-4o-mini", "prompt": "Summarise {{ input.text }}"})),
        ("vectorSearch", json!({"collection": "docs", "query": "{{ input.text }}", "topK": 3})),
    ] {
        let f = flow(
            &app,
            vec![node("start", "start", json!({})), node("n", kind, config), node("done", "end", json!({}))],
            vec![edge("start", "out", "n"), edge("n", "out", "done")],
        )
        .await;
        let run = execute(&app, &f, json!({"text": "hello"})).await;
        assert_eq!(run["status"], "failed", "{run}");
        assert!(run["error"]["message"].as_str().unwrap().contains("not configured"), "{run}");
    }
});
