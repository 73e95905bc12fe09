//! Crash recovery of the real binary: a process killed with SIGKILL in the middle of a
//! step loses its lease; another process (the restarted server, or a second worker) takes
//! the step over as attempt 2 and sends the same idempotency key, while steps already
//! completed are not run again. The HTTP target is a local server in the test process.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

use crate::helpers::*;

const JWT_SECRET: &str = "crash-tests-share-this-secret-between-processes";
/// How long the first `/slow` request hangs: far longer than the test waits for it.
const FIRST_SLOW_HIT: Duration = Duration::from_secs(30);

/// The HTTP target: every hit as `(path, Idempotency-Key)`, in arrival order.
#[derive(Clone, Default)]
struct Target {
    hits: Arc<Mutex<Vec<(&'static str, String)>>>,
}

impl Target {
    /// Records a hit; returns how many hits `path` had before.
    fn hit(&self, path: &'static str, headers: &HeaderMap) -> usize {
        let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let mut hits = self.hits.lock().unwrap();
        let before = hits.iter().filter(|(p, _)| *p == path).count();
        hits.push((path, key));
        before
    }

    /// The idempotency keys `path` was hit with.
    fn keys(&self, path: &str) -> Vec<String> {
        self.hits.lock().unwrap().iter().filter(|(p, _)| *p == path).map(|(_, k)| k.clone()).collect()
    }
}

/// Serves `/fast` (answers at once) and `/slow` (the first hit hangs, later hits answer at once).
async fn target() -> (String, Target) {
    let state = Target::default();
    let app = axum::Router::new()
        .route(
            "/fast",
            get(|State(t): State<Target>, headers: HeaderMap| async move {
                t.hit("/fast", &headers);
                axum::Json(json!({"ok": true}))
            }),
        )
        .route(
            "/slow",
            get(|State(t): State<Target>, headers: HeaderMap| async move {
                if t.hit("/slow", &headers) == 0 {
                    tokio::time::sleep(FIRST_SLOW_HIT).await;
                }
                axum::Json(json!({"slow": "done"}))
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

/// `weft` with short leases, fast polling and the target's host allowed.
fn crash_weft(data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut command = weft(data_dir);
    command
        .env("WEFT_LOG", "info")
        .env("WEFT_JWT_SECRET", JWT_SECRET)
        .env("WEFT_STEP_LEASE", "2s")
        .env("WEFT_WORKER_POLL_INTERVAL", "100ms")
        .env("WEFT_HTTP_ALLOW_HOSTS", "127.0.0.1");
    if let Some(url) = database_url {
        command.env("WEFT_DATABASE_URL", url);
    }
    command
}

/// Registers a user and creates start → fast → slow → end; answers the token and the
/// workflow id.
async fn create_flow(server: &Server, base: &str) -> (String, String) {
    let session = server
        .rpc(
            "auth.register",
            json!({"email": "crash@example.com", "password": PASSWORD, "displayName": "Crash"}),
            None,
        )
        .await;
    let token = session["result"]["accessToken"].as_str().unwrap_or_else(|| panic!("{session}")).to_owned();
    let project = call(server, "project.create", json!({"name": "Crashes"}), &token).await;
    let graph = json!({
        "nodes": [
            node("start", "start", json!({})),
            node("fast", "http", json!({"url": format!("{base}/fast"), "method": "GET"})),
            node("slow", "http", json!({"url": format!("{base}/slow"), "method": "GET", "timeoutMs": 60_000})),
            node("end", "end", json!({"output": "{{ nodes.slow.output.body }}"})),
        ],
        "edges": [edge("start", "fast"), edge("fast", "slow"), edge("slow", "end")],
    });
    let created = call(
        server,
        "workflow.create",
        json!({"projectId": project["id"], "name": "Crash", "graph": graph}),
        &token,
    )
    .await;
    assert_eq!(created["validation"]["valid"], true, "{}", created["validation"]);
    (token, created["workflow"]["id"].as_str().unwrap().to_owned())
}

/// Starts a run without waiting for it; answers its id.
async fn start_run(server: &Server, token: &str, workflow_id: &str) -> String {
    let started = call(
        server,
        "workflow.execute",
        json!({"workflowId": workflow_id, "version": 1, "input": {}}),
        token,
    )
    .await;
    started["run"]["id"].as_str().unwrap().to_owned()
}

/// Waits (up to `limit`) until `/slow` has been hit once.
async fn first_slow_hit(target: &Target, limit: Duration) {
    let deadline = Instant::now() + limit;
    while target.keys("/slow").is_empty() {
        assert!(Instant::now() < deadline, "/slow was not called within {limit:?}: {:?}", target.hits);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `run.get` until the run has ended (up to `limit`); answers the whole detail.
async fn finished_run(server: &Server, token: &str, run_id: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let detail = call(server, "run.get", json!({"runId": run_id}), token).await;
        if matches!(detail["run"]["status"].as_str(), Some("succeeded" | "failed" | "cancelled")) {
            return detail;
        }
        assert!(Instant::now() < deadline, "the run did not end within {limit:?}: {detail:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The run recovered: it succeeded with the slow output, `/fast` ran once, `/slow` twice
/// with the slow step's id as the key both times, and the slow step is on attempt 2.
fn assert_recovered(detail: &Value, target: &Target) {
    assert_eq!(detail["run"]["status"], "succeeded", "{detail:#}");
    assert_eq!(detail["run"]["output"], json!({"slow": "done"}), "{detail:#}");
    let step = |node_id: &str| {
        detail["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["nodeId"] == node_id)
            .unwrap_or_else(|| panic!("no {node_id} step in {detail:#}"))
            .clone()
    };
    let (fast, slow) = (step("fast"), step("slow"));
    assert_eq!(target.keys("/fast"), [fast["id"].as_str().unwrap()], "a completed step is not run again");
    assert_eq!(fast["attempt"], 1, "{fast:#}");
    let slow_id = slow["id"].as_str().unwrap();
    assert_eq!(target.keys("/slow"), [slow_id, slow_id], "the retry sends the same idempotency key");
    assert_eq!(slow["status"], "succeeded", "{slow:#}");
    assert_eq!(slow["attempt"], 2, "{slow:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_server_killed_mid_step_resumes_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let _logs = LogsOnFailure(vec![log.clone()]);
    let (base, target) = target().await;

    let mut server = Server::start_logged(crash_weft(dir.path(), None), &log);
    let (token, workflow_id) = create_flow(&server, &base).await;
    let run_id = start_run(&server, &token, &workflow_id).await;
    first_slow_hit(&target, Duration::from_secs(30)).await;
    server.kill();
    drop(server);

    let server = Server::start_logged(crash_weft(dir.path(), None), &log);
    let detail = finished_run(&server, &token, &run_id, Duration::from_secs(30)).await;
    assert_recovered(&detail, &target);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_worker_killed_mid_step_is_taken_over_by_another() {
    let Some(db) =
        weft_store::testing::TestDatabase::postgres("server::crash::postgres_worker_killed").await.unwrap()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = ["serve.log", "worker-a.log", "worker-b.log"].map(|name| dir.path().join(name));
    let _logs = LogsOnFailure(logs.to_vec());
    let (base, target) = target().await;

    let mut command = crash_weft(dir.path(), Some(db.url()));
    command.env("WEFT_EMBEDDED_WORKERS", "false");
    let server = Server::start_logged(command, &logs[0]);
    // Worker A runs alone until it holds the slow step, so killing it is what strands the step.
    let mut worker_a = Worker::start(crash_weft(dir.path(), Some(db.url())), &logs[1]);
    let (token, workflow_id) = create_flow(&server, &base).await;
    let run_id = start_run(&server, &token, &workflow_id).await;
    first_slow_hit(&target, Duration::from_secs(30)).await;
    let _worker_b = Worker::start(crash_weft(dir.path(), Some(db.url())), &logs[2]);
    worker_a.kill();

    let detail = finished_run(&server, &token, &run_id, Duration::from_secs(30)).await;
    assert_recovered(&detail, &target);
    // Dropped in reverse order: the processes end before their database is dropped.
}
