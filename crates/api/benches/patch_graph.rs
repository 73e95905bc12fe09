//! End-to-end `workflow.patchGraph` of one node on a 2,000-node graph, on SQLite, over
//! HTTP against the real router (`cargo xtask bench`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use serde_json::{Value, json};
use weft_api::auth::TokenConfig;
use weft_api::{ApiConfig, AppState};
use weft_core::workflow::testing::sample_graph;
use weft_events::EventBus;
use weft_store::testing::TestDatabase;

struct Bench {
    base: String,
    token: String,
    workflow_id: String,
    http: reqwest::Client,
}

async fn call(bench: &Bench, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value = bench
        .http
        .post(format!("{}/rpc", bench.base))
        .bearer_auth(&bench.token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

async fn start(db: &TestDatabase, n_nodes: usize) -> Bench {
    let store = db.store().await.unwrap();
    let mut config = ApiConfig::with_tokens(TokenConfig {
        secret: SecretString::from("bench-secret-bench-secret-bench-secret".to_owned()),
        issuer: "weft".into(),
        audience: "weft-api".into(),
        access_ttl: Duration::from_secs(3600),
        leeway: Duration::from_secs(5),
    });
    config.limits.max_body_bytes = 64 * 1024 * 1024;
    let state = AppState::new(store, EventBus::new(64), config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = weft_api::http::router(state);
    tokio::spawn(async move {
        let listener = listener.tap_io(|tcp| tcp.set_nodelay(true).unwrap());
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    let mut bench = Bench {
        base: format!("http://{addr}"),
        token: String::new(),
        workflow_id: String::new(),
        http: {
            weft_engine::install_tls_provider();
            reqwest::Client::new()
        },
    };
    let session = call(&bench, "auth.register", json!({"email": "bench@example.com", "password": "violet-Tangerine-88-harbour", "displayName": "Bench"})).await;
    bench.token = session["accessToken"].as_str().unwrap().to_owned();
    let project = call(&bench, "project.create", json!({"name": "Bench"})).await;
    let graph = serde_json::to_value(sample_graph(n_nodes)).unwrap();
    let created =
        call(&bench, "workflow.create", json!({"projectId": project["id"], "name": "Big", "graph": graph}))
            .await;
    assert_eq!(created["validation"]["valid"], true);
    bench.workflow_id = created["workflow"]["id"].as_str().unwrap().to_owned();
    bench
}

fn patch_graph(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let db = TestDatabase::sqlite().unwrap();
    let bench = runtime.block_on(start(&db, 2_000));
    let version = AtomicI64::new(1);
    let mut group = c.benchmark_group("workflow");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    group.bench_function("patchGraph/one_node_of_2000/sqlite", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let expected = version.load(Ordering::Relaxed);
                    let patch = json!([{"op": "replace", "path": "/nodes/5/name", "value": format!("renamed {expected}")}]);
                    let saved = call(&bench, "workflow.patchGraph", json!({"workflowId": bench.workflow_id, "expectedVersion": expected, "patch": patch})).await;
                    version.store(saved["workflow"]["currentVersion"].as_i64().unwrap(), Ordering::Relaxed);
                }
                started.elapsed()
            })
        })
    });
    group.bench_function("validate_rpc/2000/sqlite", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    call(&bench, "workflow.validate", json!({"workflowId": bench.workflow_id})).await;
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, patch_graph);
criterion_main!(benches);
