//! Collaboration on a workflow, seen from another editor's event stream: presence (join,
//! cursor, leave, expiry), live edits broadcast as `workflow.patched` with conflicts for
//! stale ones, and comments on nodes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::realtime::{Events, Seen, live, stream, workflow};

/// The next event of the workflow's topic. Personal events reach the stream too: Ada's "member
/// joined" notification, published before her stream opened, may still reach it (on
/// PostgreSQL it goes through the event log's reader, so it can arrive after the stream's
/// start position was read).
async fn next_event(events: &mut Events) -> Option<Seen> {
    loop {
        let event = crate::realtime::next_event(events).await?;
        if event.kind != "notification.created" {
            return Some(event);
        }
    }
}

both!(editors_see_each_other_and_each_others_edits, |app| {
    let ada = app.register(&email("ada")).await;
    let bob = app.register(&email("bob")).await;
    let eve = app.register(&email("eve")).await;
    let (project, workflow_id) = workflow(&app, &ada.access_token).await;
    add_member(&app, &ada, &project, &bob, "EDITOR").await;
    let mut ada_sees =
        stream(&app, &ada.access_token, &format!("?topics=workflow:{workflow_id}"), None).await.unwrap();
    live(&mut ada_sees).await;

    // Bob opens the workflow.
    let joined: Value =
        app.call("collab.join", json!({"workflowId": workflow_id}), Some(&bob.access_token)).await.unwrap();
    let client = joined["clientId"].as_str().unwrap().to_owned();
    assert_eq!(joined["version"], 1);
    assert_eq!(joined["presence"].as_array().unwrap().len(), 1);
    assert!(joined["heartbeatMs"].as_u64().unwrap() > 0);
    let event = next_event(&mut ada_sees).await.unwrap();
    assert_eq!(event.kind, "collab.joined");
    assert_eq!(event.data["presence"]["userId"], bob.user["id"]);
    assert_eq!(event.data["presence"]["clientId"], client);
    let joined_id = event.id;
    assert!(joined_id.is_some());

    // His cursor and selection move (live only: no id of its own, so the last one stays).
    let _: Value = app
        .call(
            "collab.cursor",
            json!({"workflowId": workflow_id, "clientId": client, "cursor": {"x": 3, "y": 4}, "selection": ["shape"]}),
            Some(&bob.access_token),
        )
        .await
        .unwrap();
    let event = next_event(&mut ada_sees).await.unwrap();
    assert_eq!(event.kind, "collab.cursor");
    assert_eq!(
        (event.data["cursor"].clone(), event.data["selection"].clone()),
        (json!({"x": 3, "y": 4}), json!(["shape"]))
    );
    assert_eq!(event.id, joined_id);
    let presence: Value = app
        .call("collab.presence", json!({"workflowId": workflow_id}), Some(&ada.access_token))
        .await
        .unwrap();
    assert_eq!(presence["items"][0]["selection"], json!(["shape"]));
    assert_eq!(presence["items"][0]["displayName"], bob.user["displayName"]);

    // His edit reaches Ada as a patch she can apply; her edit on the old version conflicts.
    let patch = json!([{"op": "replace", "path": "/nodes/1/name", "value": "Shape it"}]);
    let saved: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": workflow_id, "expectedVersion": 1, "patch": patch, "clientId": client}),
            Some(&bob.access_token),
        )
        .await
        .unwrap();
    assert_eq!(saved["workflow"]["currentVersion"], 2);
    let event = next_event(&mut ada_sees).await.unwrap();
    assert_eq!(event.kind, "workflow.patched");
    assert_eq!(event.data["version"], 2);
    assert_eq!(event.data["authorId"], bob.user["id"]);
    assert_eq!(event.data["clientId"], client);
    // The patch is the server's delta between the normalised versions: applied to version 1
    // it gives exactly version 2.
    let ops = event.data["patch"].as_array().unwrap();
    assert_eq!((ops.len(), &ops[0]["op"], &ops[0]["path"]), (1, &json!("replace"), &json!("/nodes/1")));
    assert_eq!(ops[0]["value"]["name"], "Shape it");
    let stale = app
        .call::<Value>(
            "workflow.patchGraph",
            json!({"workflowId": workflow_id, "expectedVersion": 1, "patch": [{"op": "replace", "path": "/nodes/1/name", "value": "Mine"}]}),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(expect_error(stale, -32009, "conflict")["currentVersion"], 2);

    // Comments on nodes, answered and resolved.
    let comment: Value = app
        .call(
            "collab.comment",
            json!({"workflowId": workflow_id, "nodeId": "shape", "body": "Is 1 right?"}),
            Some(&bob.access_token),
        )
        .await
        .unwrap();
    assert_eq!(comment["authorName"], bob.user["displayName"]);
    let event = next_event(&mut ada_sees).await.unwrap();
    assert_eq!((event.kind.as_str(), &event.data["comment"]["id"]), ("comment.created", &comment["id"]));
    let reply: Value = app
        .call(
            "collab.comment",
            json!({"workflowId": workflow_id, "nodeId": "shape", "body": "Yes", "parentId": comment["id"]}),
            Some(&ada.access_token),
        )
        .await
        .unwrap();
    assert_eq!(reply["parentId"], comment["id"]);
    next_event(&mut ada_sees).await.unwrap();
    let resolved: Value = app
        .call("collab.resolveComment", json!({"commentId": comment["id"]}), Some(&ada.access_token))
        .await
        .unwrap();
    assert_eq!(resolved["resolvedBy"], ada.user["id"]);
    let event = next_event(&mut ada_sees).await.unwrap();
    assert_eq!(
        (event.kind.as_str(), &event.data["comment"]["resolvedBy"]),
        ("comment.resolved", &ada.user["id"])
    );
    let open: Value = app
        .call("collab.listComments", json!({"workflowId": workflow_id}), Some(&bob.access_token))
        .await
        .unwrap();
    assert_eq!(open["items"].as_array().unwrap().len(), 1, "the resolved one is hidden");
    let all: Value = app
        .call(
            "collab.listComments",
            json!({"workflowId": workflow_id, "nodeId": "shape", "includeResolved": true, "limit": 1}),
            Some(&bob.access_token),
        )
        .await
        .unwrap();
    assert_eq!(all["items"][0]["id"], comment["id"]);
    let rest: Value = app
        .call(
            "collab.listComments",
            json!({"workflowId": workflow_id, "includeResolved": true, "cursor": all["nextCursor"]}),
            Some(&bob.access_token),
        )
        .await
        .unwrap();
    assert_eq!(rest["items"][0]["id"], reply["id"]);

    // Bad input changes nothing.
    for (params, path) in [
        (json!({"workflowId": workflow_id, "nodeId": "nope", "body": "?"}), "nodeId"),
        (json!({"workflowId": workflow_id, "nodeId": "shape", "body": "  "}), "body"),
        (
            json!({"workflowId": workflow_id, "nodeId": "shape", "body": "x", "parentId": uuid::Uuid::now_v7()}),
            "parentId",
        ),
    ] {
        let error = app.call::<Value>("collab.comment", params, Some(&bob.access_token)).await;
        assert_eq!(expect_error(error, -32022, "validation")["fields"][0]["path"], path);
    }
    let big = app
        .call::<Value>(
            "collab.cursor",
            json!({"workflowId": workflow_id, "clientId": client, "cursor": "x".repeat(2000)}),
            Some(&bob.access_token),
        )
        .await;
    assert_eq!(expect_error(big, -32022, "validation")["fields"][0]["path"], "cursor");

    // Someone outside the project sees none of it.
    let wid = json!({"workflowId": workflow_id});
    for (method, params) in [
        ("collab.join", wid.clone()),
        ("collab.presence", wid.clone()),
        ("collab.listComments", wid.clone()),
        ("collab.heartbeat", json!({"workflowId": workflow_id, "clientId": client})),
        ("collab.resolveComment", json!({"commentId": comment["id"]})),
    ] {
        let error = app.call::<Value>(method, params, Some(&eve.access_token)).await;
        expect_error(error, -32004, "notFound");
    }
    // Another user cannot move or end Bob's presence.
    let error = app
        .call::<Value>(
            "collab.heartbeat",
            json!({"workflowId": workflow_id, "clientId": client}),
            Some(&ada.access_token),
        )
        .await;
    expect_error(error, -32004, "notFound");
    // Client ids are each user's own: Ada joining with Bob's is answered exactly as with a
    // fresh id (a new editor of hers, under that id), and Bob's editor is untouched.
    let mut answers = Vec::new();
    for id in [json!(client), json!(uuid::Uuid::now_v7())] {
        let joined: Value = app
            .call("collab.join", json!({"workflowId": workflow_id, "clientId": id}), Some(&ada.access_token))
            .await
            .unwrap();
        assert_eq!(joined["clientId"], id);
        let mut users: Vec<_> =
            joined["presence"].as_array().unwrap().iter().map(|p| p["userId"].clone()).collect();
        users.sort_by_key(|u| u.to_string());
        answers.push((users, joined["version"].clone(), joined["heartbeatMs"].clone()));
        let event = next_event(&mut ada_sees).await.unwrap();
        assert_eq!(
            (event.kind.as_str(), &event.data["presence"]["userId"]),
            ("collab.joined", &ada.user["id"])
        );
        let left: Value = app
            .call("collab.leave", json!({"workflowId": workflow_id, "clientId": id}), Some(&ada.access_token))
            .await
            .unwrap();
        assert_eq!(left["left"], true);
        let event = next_event(&mut ada_sees).await.unwrap();
        assert_eq!((event.kind.as_str(), &event.data["clientId"]), ("collab.left", &id));
    }
    assert_eq!(answers[0], answers[1]);
    let _: Value = app
        .call(
            "collab.heartbeat",
            json!({"workflowId": workflow_id, "clientId": client}),
            Some(&bob.access_token),
        )
        .await
        .unwrap();

    // Bob leaves.
    let left: Value = app
        .call("collab.leave", json!({"workflowId": workflow_id, "clientId": client}), Some(&bob.access_token))
        .await
        .unwrap();
    assert_eq!(left["left"], true);
    let event = next_event(&mut ada_sees).await.unwrap();
    assert_eq!((event.kind.as_str(), &event.data["expired"]), ("collab.left", &json!(false)));
});

#[tokio::test]
async fn a_vanished_editor_expires() {
    let mut config = test_config();
    config.realtime.presence_ttl = Duration::from_millis(600);
    let app = TestApp::start(weft_store::testing::TestDatabase::sqlite().unwrap(), config).await;
    let ada = app.register(&email("ada")).await;
    let (_, workflow_id) = workflow(&app, &ada.access_token).await;
    let mut events =
        stream(&app, &ada.access_token, &format!("?topics=workflow:{workflow_id}"), None).await.unwrap();
    live(&mut events).await;
    let joined: Value =
        app.call("collab.join", json!({"workflowId": workflow_id}), Some(&ada.access_token)).await.unwrap();
    assert_eq!(next_event(&mut events).await.unwrap().kind, "collab.joined");
    // No heartbeat: within a few lifetimes the presence is gone and announced.
    let event = next_event(&mut events).await.unwrap();
    assert_eq!(event.kind, "collab.left");
    assert_eq!(
        (event.data["clientId"].clone(), event.data["expired"].clone()),
        (joined["clientId"].clone(), json!(true))
    );
    let presence: Value = app
        .call("collab.presence", json!({"workflowId": workflow_id}), Some(&ada.access_token))
        .await
        .unwrap();
    assert_eq!(presence["items"], json!([]));
    let error = app
        .call::<Value>(
            "collab.heartbeat",
            json!({"workflowId": workflow_id, "clientId": joined["clientId"]}),
            Some(&ada.access_token),
        )
        .await;
    expect_error(error, -32004, "notFound");
    // Joining again with the same id brings it back.
    let again: Value = app
        .call(
            "collab.join",
            json!({"workflowId": workflow_id, "clientId": joined["clientId"]}),
            Some(&ada.access_token),
        )
        .await
        .unwrap();
    assert_eq!(again["clientId"], joined["clientId"]);
    assert_eq!(next_event(&mut events).await.unwrap().kind, "collab.joined");
}
