//! The Server-Sent Events stream, read with eventsource-stream as a browser would.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::helpers::*;

type Events = std::pin::Pin<
    Box<
        dyn Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<reqwest::Error>,
                >,
            > + Send,
    >,
>;

async fn open(app: &TestApp, url: String, token: Option<&str>) -> Result<Events, (u16, Value)> {
    let mut request = app.http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    if response.status().as_u16() != 200 {
        let status = response.status().as_u16();
        return Err((status, response.json().await.unwrap()));
    }
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    Ok(Box::pin(response.bytes_stream().eventsource()))
}

/// Next event that is not a heartbeat (or a heartbeat if `heartbeats`), bounded in time.
async fn next(events: &mut Events, heartbeats: bool) -> Option<(String, Value)> {
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            let event = event.unwrap();
            if event.event == "heartbeat" && !heartbeats {
                continue;
            }
            return Some((event.event, serde_json::from_str(&event.data).unwrap()));
        }
        None
    })
    .await
    .expect("no event within 10 s")
}

/// The next event other than a heartbeat and the `session.created` of `own` (registration's
/// own event goes through the event log, so it may reach a stream opened right after).
async fn next_besides_own(events: &mut Events, own: &str) -> Option<(String, Value)> {
    loop {
        let event = next(events, false).await?;
        if event.0 != "session.created" || event.1["sessionId"] != own {
            return Some(event);
        }
    }
}

both!(streams_require_credentials, |app| {
    let url = format!("{}/events", app.base);
    let (status, body) = open(&app, url.clone(), None).await.err().unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["data"]["reason"], "missingToken");
    let (status, body) = open(&app, url.clone(), Some("garbage")).await.err().unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], -32001);
    let (status, _) = open(&app, format!("{url}?ticket=wst_forged"), None).await.err().unwrap();
    assert_eq!(status, 401);
});

both!(heartbeat_then_session_events_then_close_on_logout, |app| {
    let address = email("sse");
    let session = app.register(&address).await;
    let mut events = open(&app, format!("{}/events", app.base), Some(&session.access_token)).await.unwrap();
    let (kind, heartbeat) = next(&mut events, true).await.unwrap();
    assert_eq!(kind, "heartbeat");
    assert!(heartbeat["at"].is_string());

    let other = app.login(&address, PASSWORD).await.unwrap();
    let (kind, created) = next_besides_own(&mut events, &session.session_id).await.unwrap();
    assert_eq!(kind, "session.created");
    assert_eq!(created["sessionId"], other.session_id.as_str());

    // Another session ending is reported, and the stream stays open.
    app.call::<Value>("auth.logout", json!({}), Some(&other.access_token)).await.unwrap();
    let (kind, revoked) = next(&mut events, false).await.unwrap();
    assert_eq!(
        (kind.as_str(), revoked["sessionId"].as_str().unwrap()),
        ("session.revoked", other.session_id.as_str())
    );

    // Its own session ending is the last event.
    app.call::<Value>("auth.logout", json!({}), Some(&session.access_token)).await.unwrap();
    let (kind, revoked) = next(&mut events, false).await.unwrap();
    assert_eq!(kind, "session.revoked");
    assert_eq!(
        revoked,
        json!({"type": "session.revoked", "sessionId": session.session_id, "reason": "logout"})
    );
    assert!(next(&mut events, true).await.is_none(), "stream closes after its session is revoked");
});

both!(browsers_open_the_stream_with_a_single_use_ticket, |app| {
    let session = app.register(&email("eventsource")).await;
    let ticket: Value = app.call("auth.streamTicket", json!({}), Some(&session.access_token)).await.unwrap();
    let url = format!("{}/events?ticket={}", app.base, ticket["ticket"].as_str().unwrap());
    let mut events = open(&app, url.clone(), None).await.unwrap();
    assert_eq!(next(&mut events, true).await.unwrap().0, "heartbeat");
    let (status, body) = open(&app, url, None).await.err().unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["data"]["reason"], "invalidTicket");
});

both!(sessions_ended_elsewhere_close_the_stream_at_the_next_heartbeat, |app| {
    let session = app.register(&email("elsewhere")).await;
    let mut events = open(&app, format!("{}/events", app.base), Some(&session.access_token)).await.unwrap();
    assert_eq!(next(&mut events, true).await.unwrap().0, "heartbeat");
    // Revoked straight in the database, as another instance would: no in-process event.
    let user_id: weft_core::UserId = session.user["id"].as_str().unwrap().parse().unwrap();
    let session_id: weft_core::SessionId = session.session_id.parse().unwrap();
    assert!(
        app.state.store().revoke_session(user_id, session_id, "revoked", chrono::Utc::now()).await.unwrap()
    );
    let (kind, revoked) = next_besides_own(&mut events, &session.session_id).await.unwrap();
    assert_eq!(kind, "session.revoked");
    assert_eq!(revoked["reason"], "revoked");
    assert!(next(&mut events, true).await.is_none());
});

both!(shutdown_closes_streams, |app| {
    let session = app.register(&email("shutdown")).await;
    let mut events = open(&app, format!("{}/events", app.base), Some(&session.access_token)).await.unwrap();
    assert_eq!(next(&mut events, true).await.unwrap().0, "heartbeat");
    app.state.shutdown_token().cancel();
    // Frames already queued (session.created from the log) may still arrive; then the end,
    // within `next`'s 10 s bound.
    while next(&mut events, true).await.is_some() {}
});

both!(run_events_reach_project_members_only, |app| {
    let owner = app.register(&email("owner")).await;
    let stranger = app.register(&email("stranger")).await;
    let token = owner.access_token.as_str();
    let project: Value = app.call("project.create", json!({"name": "Live"}), Some(token)).await.unwrap();
    let node = |id: &str, kind: &str, config: Value| json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config});
    let graph = json!({
        "nodes": [node("start", "start", json!({})), node("shape", "transform", json!({"output": 1})), node("done", "end", json!({}))],
        "edges": [
            {"source": "start", "sourcePort": "out", "target": "shape", "targetPort": "in"},
            {"source": "shape", "sourcePort": "out", "target": "done", "targetPort": "in"}
        ]
    });
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "W", "graph": graph}),
            Some(token),
        )
        .await
        .unwrap();
    let url = format!("{}/events", app.base);
    let mut mine = open(&app, url.clone(), Some(token)).await.unwrap();
    let mut theirs = open(&app, url, Some(&stranger.access_token)).await.unwrap();
    // Both streams are live (a heartbeat arrives) before the run starts.
    next(&mut mine, true).await.unwrap();
    next(&mut theirs, true).await.unwrap();
    let result: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": created["workflow"]["id"], "version": 1, "wait": true}),
            Some(token),
        )
        .await
        .unwrap();
    let run_id = result["run"]["id"].clone();
    let mut seen = Vec::new();
    while let Some((kind, data)) = next(&mut mine, false).await {
        if kind == "session.created" && data["sessionId"] == owner.session_id.as_str() {
            // The registration's own event may reach a stream opened right after (the log).
            continue;
        }
        assert_eq!(data["runId"], run_id);
        seen.push(format!("{kind}:{}", data["nodeId"].as_str().unwrap_or("")));
        if kind == "run.succeeded" {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "run.started:",
            "node.started:start",
            "node.succeeded:start",
            "node.started:shape",
            "node.succeeded:shape",
            "node.started:done",
            "node.succeeded:done",
            "run.succeeded:"
        ]
    );
    // The stranger's stream carries heartbeats only (and, perhaps, their own registration's
    // `session.created`, which may reach a stream opened right after).
    let mut heartbeats = 0;
    while heartbeats < 2 {
        let (kind, data) = next(&mut theirs, true).await.unwrap();
        if kind == "session.created" && data["sessionId"] == stranger.session_id.as_str() {
            continue;
        }
        assert_eq!(kind, "heartbeat");
        heartbeats += 1;
    }
});

both!(each_node_start_is_announced_once, |app| {
    // A delay sleeps and is claimed again to finish; a loop is claimed again after each
    // iteration: neither announces its start again (issue 16: the delay said it twice).
    let owner = app.register(&email("once")).await;
    let token = owner.access_token.as_str();
    let project: Value = app.call("project.create", json!({"name": "Once"}), Some(token)).await.unwrap();
    let node = |id: &str, kind: &str, config: Value| json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config});
    let edge = |source: &str, port: &str, target: &str, target_port: &str| json!({"source": source, "sourcePort": port, "target": target, "targetPort": target_port});
    let graph = json!({
        "nodes": [
            node("start", "start", json!({})),
            node("wait", "delay", json!({"durationMs": 50})),
            node("each", "loop", json!({"kind": "forEach", "items": "[1, 2, 3]"})),
            node("body", "transform", json!({"output": "{{ item }}"})),
            node("done", "end", json!({})),
        ],
        "edges": [
            edge("start", "out", "wait", "in"),
            edge("wait", "out", "each", "in"),
            edge("each", "body", "body", "in"),
            edge("body", "out", "each", "continue"),
            edge("each", "done", "done", "in"),
        ],
    });
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "W", "graph": graph}),
            Some(token),
        )
        .await
        .unwrap();
    let mut events = open(&app, format!("{}/events", app.base), Some(token)).await.unwrap();
    next(&mut events, true).await.unwrap();
    let result: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": created["workflow"]["id"], "version": 1, "wait": true}),
            Some(token),
        )
        .await
        .unwrap();
    assert_eq!(result["run"]["status"], "succeeded", "{result}");
    let mut starts = std::collections::BTreeMap::<String, usize>::new();
    while let Some((kind, data)) = next_besides_own(&mut events, &owner.session_id).await {
        if kind == "node.started" {
            let key = format!("{}@{}", data["nodeId"].as_str().unwrap(), data["scope"].as_str().unwrap());
            *starts.entry(key).or_default() += 1;
        }
        if kind == "run.succeeded" {
            break;
        }
    }
    let nodes: Vec<&str> = starts.keys().map(|k| k.split('@').next().unwrap()).collect();
    assert_eq!(nodes.iter().filter(|n| **n == "body").count(), 3, "{starts:?}");
    for node in ["start", "wait", "each", "done"] {
        assert_eq!(starts.get(&format!("{node}@")), Some(&1), "{node}: {starts:?}");
    }
    assert!(starts.values().all(|n| *n == 1), "{starts:?}");
});
