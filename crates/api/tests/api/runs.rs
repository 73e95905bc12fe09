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
