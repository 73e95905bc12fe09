//! Events cross instances on PostgreSQL: two `weft serve` processes share one database; a
//! client streaming from instance B sees, in order and with the same ids, the events of a
//! run executed by instance A's workers, and ephemeral events published on A.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::*;

const JWT_SECRET: &str = "fanout-tests-share-this-secret-between-processes";

fn instance(data_dir: &std::path::Path, database_url: &str, workers: bool) -> std::process::Command {
    let mut command = weft(data_dir);
    command
        .env("WEFT_LOG", "info")
        .env("WEFT_JWT_SECRET", JWT_SECRET)
        .env("WEFT_DATABASE_URL", database_url)
        .env("WEFT_HEARTBEAT_INTERVAL", "500ms")
        .env("WEFT_EMBEDDED_WORKERS", if workers { "true" } else { "false" });
    command
}

type Stream = std::pin::Pin<Box<dyn futures::Stream<Item = (Option<i64>, String, Value)> + Send>>;

async fn events(server: &Server, token: &str, query: &str, last: Option<i64>) -> Stream {
    let mut request = reqwest::Client::new().get(format!("{}/events{query}", server.url)).bearer_auth(token);
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    Box::pin(response.bytes_stream().eventsource().filter_map(|event| async move {
        let event = event.ok()?;
        if event.event == "heartbeat" {
            return None;
        }
        let id = event.id.parse().ok();
        Some((id, event.event, serde_json::from_str(&event.data).unwrap()))
    }))
}

async fn next(stream: &mut Stream) -> (Option<i64>, String, Value) {
    tokio::time::timeout(Duration::from_secs(15), stream.next()).await.expect("no event within 15 s").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_on_one_instance_follows_a_run_executed_by_another() {
    let Some(db) =
        weft_store::testing::TestDatabase::postgres("server::fanout::two_instances").await.unwrap()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = ["a.log", "b.log"].map(|name| dir.path().join(name));
    let _logs = LogsOnFailure(logs.to_vec());
    let a = Server::start_logged(instance(dir.path(), db.url(), true), &logs[0]);
    let b = Server::start_logged(instance(dir.path(), db.url(), false), &logs[1]);

    let session = a
        .rpc(
            "auth.register",
            json!({"email": "fanout@example.com", "password": PASSWORD, "displayName": "Fan"}),
            None,
        )
        .await;
    let token = session["result"]["accessToken"].as_str().unwrap_or_else(|| panic!("{session}")).to_owned();
    let project = call(&a, "project.create", json!({"name": "Fan-out"}), &token).await;
    let graph = json!({
        "nodes": [node("start", "start", json!({})), node("shape", "transform", json!({"output": 1})), node("done", "end", json!({}))],
        "edges": [edge("start", "shape"), edge("shape", "done")],
    });
    let created =
        call(&a, "workflow.create", json!({"projectId": project["id"], "name": "W", "graph": graph}), &token)
            .await;
    let workflow_id = created["workflow"]["id"].as_str().unwrap().to_owned();
    let query = format!("?topics=workflow:{workflow_id}");

    let mut on_b = events(&b, &token, &query, None).await;
    // B's stream is subscribed once its first heartbeat went out; give it a moment.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let executed =
        call(&a, "workflow.execute", json!({"workflowId": workflow_id, "version": 1, "wait": true}), &token)
            .await;
    assert_eq!(executed["run"]["status"], "succeeded", "{executed}");
    let run_id = executed["run"]["id"].clone();
    let mut seen = Vec::new();
    loop {
        let (id, kind, data) = next(&mut on_b).await;
        assert_eq!(data["runId"], run_id);
        seen.push((id.expect("durable events carry ids"), kind.clone()));
        if kind == "run.succeeded" {
            break;
        }
    }
    let kinds: Vec<&str> = seen.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"run.started"));
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "ids increase: {seen:?}");

    // Ephemeral events (not in the log) are relayed too.
    let joined = call(&a, "collab.join", json!({"workflowId": workflow_id}), &token).await;
    let (_, kind, _) = next(&mut on_b).await;
    assert_eq!(kind, "collab.joined");
    call(
        &a,
        "collab.cursor",
        json!({"workflowId": workflow_id, "clientId": joined["clientId"], "cursor": {"x": 1}}),
        &token,
    )
    .await;
    let (_, kind, data) = next(&mut on_b).await;
    assert_eq!((kind.as_str(), &data["cursor"]), ("collab.cursor", &json!({"x": 1})));

    // Ids are the shared log's: resuming on A from an id B delivered replays the rest.
    let mut on_a = events(&a, &token, &query, Some(seen[3].0)).await;
    for (id, kind) in &seen[4..] {
        let (got, got_kind, _) = next(&mut on_a).await;
        assert_eq!((got, got_kind.as_str()), (Some(*id), kind.as_str()));
    }
    drop(on_a);
    drop(on_b);
    drop(b);
    drop(a);
}
