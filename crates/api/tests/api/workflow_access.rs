//! Every workflow procedure that takes an id, called by a stranger, a viewer and an editor.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::workflows::{sample_graph, setup};

both!(workflow_access_matrix, |app| {
    let s = setup(&app).await;
    let viewer = app.register(&email("viewer")).await;
    let editor = app.register(&email("editor")).await;
    let stranger = app.register(&email("stranger")).await;
    for (who, role) in [(&viewer, "VIEWER"), (&editor, "EDITOR")] {
        let inv: Value = app
            .call(
                "project.invite",
                json!({"projectId": s.project_id, "email": who.user["email"], "role": role}),
                Some(&s.owner.access_token),
            )
            .await
            .unwrap();
        app.call::<Value>(
            "project.acceptInvitation",
            json!({"invitationId": inv["id"]}),
            Some(&who.access_token),
        )
        .await
        .unwrap();
    }
    let w = &s.workflow_id;
    let document: Value =
        app.call("workflow.export", json!({"workflowId": w}), Some(&s.owner.access_token)).await.unwrap();
    // (method, params, least project role)
    let calls: Vec<(&str, Value, &str)> = vec![
        ("workflow.get", json!({"workflowId": w}), "VIEWER"),
        ("workflow.validate", json!({"workflowId": w}), "VIEWER"),
        ("workflow.versions", json!({"workflowId": w}), "VIEWER"),
        ("workflow.getVersion", json!({"workflowId": w, "version": 1}), "VIEWER"),
        ("workflow.diff", json!({"workflowId": w, "from": 1, "to": 1}), "VIEWER"),
        ("workflow.export", json!({"workflowId": w}), "VIEWER"),
        ("workflow.list", json!({"projectId": s.project_id}), "VIEWER"),
        ("workflow.update", json!({"workflowId": w, "name": "n"}), "EDITOR"),
        (
            "workflow.saveGraph",
            json!({"workflowId": w, "expectedVersion": 1, "graph": sample_graph()}),
            "EDITOR",
        ),
        ("workflow.patchGraph", json!({"workflowId": w, "expectedVersion": 1, "patch": []}), "EDITOR"),
        ("workflow.restore", json!({"workflowId": w, "version": 1}), "EDITOR"),
        ("workflow.publish", json!({"workflowId": w}), "EDITOR"),
        ("workflow.duplicate", json!({"workflowId": w}), "EDITOR"),
        ("workflow.create", json!({"projectId": s.project_id, "name": "x"}), "EDITOR"),
        ("workflow.import", json!({"projectId": s.project_id, "document": document}), "EDITOR"),
        ("workflow.delete", json!({"workflowId": w}), "OWNER"),
    ];
    for (method, params, _) in &calls {
        let data = expect_error(
            app.call::<Value>(method, params.clone(), Some(&stranger.access_token)).await,
            -32004,
            "notFound",
        );
        let resource = if params.get("workflowId").is_some() { "workflow" } else { "project" };
        assert_eq!(data["resource"], resource, "{method}");
    }
    for (method, params, least) in &calls {
        let viewer_result = app.call::<Value>(method, params.clone(), Some(&viewer.access_token)).await;
        if *least == "VIEWER" {
            assert!(viewer_result.is_ok(), "{method}: {viewer_result:?}");
        } else {
            assert_eq!(
                expect_error(viewer_result, -32003, "forbidden")["requiredProjectRole"],
                *least,
                "{method}"
            );
        }
    }
    let refused =
        app.call::<Value>("workflow.delete", json!({"workflowId": w}), Some(&editor.access_token)).await;
    assert_eq!(expect_error(refused, -32003, "forbidden")["requiredProjectRole"], "OWNER");
    let saved: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": w, "expectedVersion": 1, "patch": []}),
            Some(&editor.access_token),
        )
        .await
        .unwrap();
    assert_eq!(saved["workflow"]["currentVersion"], 2);
    // Unknown ids answer like foreign ones.
    let unknown = app
        .call::<Value>(
            "workflow.get",
            json!({"workflowId": uuid::Uuid::now_v7()}),
            Some(&s.owner.access_token),
        )
        .await;
    assert_eq!(expect_error(unknown, -32004, "notFound")["resource"], "workflow");
    let deleted: Value =
        app.call("workflow.delete", json!({"workflowId": w}), Some(&s.owner.access_token)).await.unwrap();
    assert_eq!(deleted["workflowId"], w.as_str());
});
