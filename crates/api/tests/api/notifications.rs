//! Notifications: created by the system (a failed run, an approval, an invitation, a member
//! joining), pushed on the bus to the receiver, listed, read, deleted, and turned off per kind.

use std::time::Duration;

use serde_json::{Value, json};
use weft_events::{Audience, WeftEvent};

use crate::helpers::*;

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

fn chain(nodes: Vec<Value>) -> Value {
    let edges: Vec<Value> = nodes
        .windows(2)
        .map(|pair| json!({"source": pair[0]["id"], "sourcePort": "out", "target": pair[1]["id"], "targetPort": "in"}))
        .collect();
    json!({"nodes": nodes, "edges": edges})
}

/// Polls `notification.list` until it holds `n` notifications (they are created just after
/// the event that causes them).
async fn notifications(app: &TestApp, token: &str, n: usize) -> Value {
    for _ in 0..100 {
        let page: Value = app.call("notification.list", json!({}), Some(token)).await.unwrap();
        if page["items"].as_array().map(Vec::len) >= Some(n) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} notifications arrived");
}

both!(the_system_notifies_and_each_person_manages_their_own, |app| {
    let owner = app.register(&email("owner")).await;
    let token = owner.access_token.clone();
    let me: Value = app.call("auth.me", json!({}), Some(&token)).await.unwrap();
    let project: Value = app.call("project.create", json!({"name": "Alerts"}), Some(&token)).await.unwrap();
    let mut events = app.state.bus().subscribe();
    let failing = chain(vec![
        node("start", "start", json!({})),
        node("boom", "transform", json!({"output": "{{ input.missing.deeper }}"})),
        node("done", "end", json!({})),
    ]);
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "Fragile", "graph": failing}),
            Some(&token),
        )
        .await
        .unwrap();
    let workflow_id = created["workflow"]["id"].clone();
    let execute = json!({"workflowId": workflow_id, "version": 1, "wait": true, "waitTimeoutMs": 20000});
    let run: Value = app.call("workflow.execute", execute.clone(), Some(&token)).await.unwrap();
    assert_eq!(run["run"]["status"], "failed", "{run}");
    let page = notifications(&app, &token, 1).await;
    let first = &page["items"][0];
    assert_eq!(
        (first["kind"].as_str(), first["priority"].as_str()),
        (Some("runFailed"), Some("high")),
        "{first}"
    );
    assert_eq!(first["data"]["runId"], run["run"]["id"]);
    assert!(first["title"].as_str().unwrap().contains("Fragile"));
    assert_eq!(page["unread"], 1);
    let pushed = loop {
        let envelope = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
        if let WeftEvent::NotificationCreated { notification } = &envelope.event {
            break (envelope.audience, notification.id.to_string());
        }
    };
    let user_id: weft_core::UserId = serde_json::from_value(me["id"].clone()).unwrap();
    assert_eq!(
        pushed,
        (Audience::User { user: user_id }, first["id"].as_str().unwrap().to_owned()),
        "pushed to the receiver only"
    );

    // An approval assigned to the owner.
    let mut approval = chain(vec![
        node("start", "start", json!({})),
        node("ask", "approval", json!({"assignees": [me["id"]], "instructions": "Ship it?"})),
        node("done", "end", json!({})),
    ]);
    approval["edges"][1]["sourcePort"] = json!("approved");
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "Gate", "graph": approval}),
            Some(&token),
        )
        .await
        .unwrap();
    app.call::<Value>(
        "workflow.execute",
        json!({"workflowId": created["workflow"]["id"], "version": 1}),
        Some(&token),
    )
    .await
    .unwrap();
    let page = notifications(&app, &token, 2).await;
    assert_eq!(page["items"][0]["kind"], "approvalRequested", "{page}");
    assert_eq!(page["items"][0]["body"], "Ship it?");

    // Invitations reach an invitee with an account; accepting tells the owner.
    let guest_email = email("guest");
    let guest = app.register(&guest_email).await;
    let invitation: Value = app
        .call(
            "project.invite",
            json!({"projectId": project["id"], "email": guest_email, "role": "VIEWER"}),
            Some(&token),
        )
        .await
        .unwrap();
    let guest_page = notifications(&app, &guest.access_token, 1).await;
    assert_eq!(guest_page["items"][0]["kind"], "invitationReceived", "{guest_page}");
    app.call::<Value>(
        "project.acceptInvitation",
        json!({"invitationId": invitation["id"]}),
        Some(&guest.access_token),
    )
    .await
    .unwrap();
    let page = notifications(&app, &token, 3).await;
    assert_eq!(page["items"][0]["kind"], "memberJoined", "{page}");

    // Reading, deleting: only one's own.
    let ids: Vec<Value> = page["items"].as_array().unwrap().iter().map(|n| n["id"].clone()).collect();
    let marked: Value =
        app.call("notification.markRead", json!({"notificationIds": [ids[0]]}), Some(&token)).await.unwrap();
    assert_eq!(marked["updated"], 1);
    let others: Value = app
        .call("notification.markRead", json!({"notificationIds": [ids[1]]}), Some(&guest.access_token))
        .await
        .unwrap();
    assert_eq!(others["updated"], 0, "another's notification is untouched");
    let unread: Value =
        app.call("notification.list", json!({"unreadOnly": true}), Some(&token)).await.unwrap();
    assert_eq!(unread["items"].as_array().map(Vec::len), Some(2));
    let denied = app
        .call::<Value>("notification.delete", json!({"notificationId": ids[1]}), Some(&guest.access_token))
        .await;
    expect_error(denied, -32004, "notFound");
    app.call::<Value>("notification.delete", json!({"notificationId": ids[1]}), Some(&token)).await.unwrap();
    let all: Value = app.call("notification.markAllRead", json!({}), Some(&token)).await.unwrap();
    assert_eq!(all["updated"], 1);
    let page: Value = app.call("notification.list", json!({"limit": 1}), Some(&token)).await.unwrap();
    assert_eq!((page["unread"].as_u64(), page["items"].as_array().map(Vec::len)), (Some(0), Some(1)));
    assert!(page["nextCursor"].is_string(), "{page}");

    // A kind turned off is neither stored nor pushed.
    let prefs: Value = app
        .call("notification.setPreference", json!({"kind": "runFailed", "inApp": false}), Some(&token))
        .await
        .unwrap();
    let run_failed = prefs["items"].as_array().unwrap().iter().find(|p| p["kind"] == "runFailed").cloned();
    assert_eq!(run_failed.unwrap()["inApp"], false);
    let run: Value = app.call("workflow.execute", execute, Some(&token)).await.unwrap();
    assert_eq!(run["run"]["status"], "failed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let page: Value = app.call("notification.list", json!({}), Some(&token)).await.unwrap();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page}");
    let bad = app
        .call::<Value>("notification.setPreference", json!({"kind": "nope", "inApp": false}), Some(&token))
        .await;
    expect_error(bad, -32602, "invalidParams");
});
