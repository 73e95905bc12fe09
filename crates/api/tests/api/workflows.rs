//! The workflow router: graphs, optimistic concurrency, JSON Patch, versions, publication,
//! export/import, and the access matrix.

use serde_json::{Value, json};

use crate::helpers::*;

pub fn sample_graph() -> Value {
    json!({
        "nodes": [
            {"id": "start", "name": "Start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "shape", "name": "Shape", "type": "transform", "position": {"x": 200, "y": 0},
             "config": {"output": {"greeting": "Hello {{ input.name }}"}}},
            {"id": "done", "name": "Done", "type": "end", "position": {"x": 400, "y": 0},
             "config": {"output": "{{ nodes.shape.output }}"}}
        ],
        "edges": [
            {"source": "start", "sourcePort": "out", "target": "shape", "targetPort": "in"},
            {"source": "shape", "sourcePort": "out", "target": "done", "targetPort": "in"}
        ]
    })
}

pub struct Setup {
    pub owner: Session,
    pub project_id: String,
    pub workflow_id: String,
}

pub async fn setup(app: &TestApp) -> Setup {
    let owner = app.register(&email("owner")).await;
    let project: Value =
        app.call("project.create", json!({"name": "P"}), Some(&owner.access_token)).await.unwrap();
    let project_id = project["id"].as_str().unwrap().to_owned();
    let created: Value = app
        .call("workflow.create", json!({"projectId": project_id, "name": "Greeter", "tags": ["b", "a", "a"], "graph": sample_graph()}), Some(&owner.access_token))
        .await
        .unwrap();
    let workflow_id = created["workflow"]["id"].as_str().unwrap().to_owned();
    Setup { owner, project_id, workflow_id }
}

both!(create_get_and_save_with_optimistic_concurrency, |app| {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let got: Value = app.call("workflow.get", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(got["workflow"]["currentVersion"], 1);
    assert_eq!(got["workflow"]["status"], "draft");
    assert_eq!(got["workflow"]["tags"], json!(["a", "b"]));
    assert_eq!(got["validation"]["valid"], true, "{}", got["validation"]);
    assert_eq!(got["graph"]["nodes"][1]["config"]["output"]["greeting"], "Hello {{ input.name }}");

    let mut graph = sample_graph();
    graph["nodes"][1]["name"] = json!("Shape it");
    let saved: Value = app
        .call(
            "workflow.saveGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 1, "graph": graph, "message": "rename"}),
            token,
        )
        .await
        .unwrap();
    assert_eq!(saved["workflow"]["currentVersion"], 2);
    // A second editor still on version 1 gets a conflict naming the current version.
    let stale = app
        .call::<Value>(
            "workflow.saveGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 1, "graph": sample_graph()}),
            token,
        )
        .await;
    let data = expect_error(stale, -32009, "conflict");
    assert_eq!(data["currentVersion"], 2);
    let versions: Value =
        app.call("workflow.versions", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(versions["items"].as_array().unwrap().len(), 2, "the stale save wrote nothing");
    assert_eq!(versions["items"][0]["message"], "rename");

    // Drafts may be incomplete: saved, with issues reported.
    let mut broken = sample_graph();
    broken["edges"].as_array_mut().unwrap().pop();
    let saved: Value = app
        .call(
            "workflow.saveGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 2, "graph": broken}),
            token,
        )
        .await
        .unwrap();
    assert_eq!(saved["validation"]["valid"], false);
    let codes: Vec<&str> = saved["validation"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"unreachable"), "{codes:?}");
});

both!(shape_errors_are_refused_with_field_paths, |app| {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let cases = [
        (json!({"type": "teleport"}), "graph.nodes[1].type", "unknownType"),
        (json!({"config": {"output": 1, "extra": true}}), "graph.nodes[1].config.extra", ""),
        (json!({"colour": "red"}), "graph.nodes[1].colour", ""),
    ];
    for (patch, path, code) in cases {
        let mut graph = sample_graph();
        for (k, v) in patch.as_object().unwrap() {
            graph["nodes"][1][k] = v.clone();
        }
        let refused = app
            .call::<Value>(
                "workflow.saveGraph",
                json!({"workflowId": s.workflow_id, "expectedVersion": 1, "graph": graph}),
                token,
            )
            .await;
        let data = expect_error(refused, -32022, "validation");
        let fields = data["fields"].as_array().unwrap();
        assert!(
            fields.iter().any(|f| f["path"] == path && (code.is_empty() || f["code"] == code)),
            "{path}: {fields:?}"
        );
    }
    let got: Value = app.call("workflow.get", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(got["workflow"]["currentVersion"], 1, "refused saves changed nothing");
});

both!(json_patch_edits_and_bad_patches, |app| {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let patch = json!([
        {"op": "test", "path": "/nodes/1/id", "value": "shape"},
        {"op": "replace", "path": "/nodes/1/config/output/greeting", "value": "Hi {{ input.name }}"},
        {"op": "add", "path": "/nodes/1/position/x", "value": 250}
    ]);
    let saved: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 1, "patch": patch}),
            token,
        )
        .await
        .unwrap();
    assert_eq!(saved["workflow"]["currentVersion"], 2);
    let diff: Value = app
        .call("workflow.diff", json!({"workflowId": s.workflow_id, "from": 1, "to": 2}), token)
        .await
        .unwrap();
    let changed = diff["diff"]["nodesChanged"].as_array().unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["id"], "shape");
    let fields: Vec<&str> =
        changed[0]["fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(fields.contains(&"position") && fields.iter().any(|f| f.starts_with("config")), "{fields:?}");

    let bad = [
        (json!([{"op": "frobnicate", "path": "/nodes"}]), "patch[0]", "invalid"),
        (json!([{"op": "remove", "path": "/nodes/1/config/nothing"}]), "patch[0]", "patchFailed"),
        (
            json!([{"op": "replace", "path": "/nodes/0/id", "value": "x"}, {"op": "test", "path": "/nodes/0/id", "value": "start"}]),
            "patch[1]",
            "patchFailed",
        ),
        (
            json!([{"op": "replace", "path": "/nodes/1/type", "value": "bogus"}]),
            "graph.nodes[1].type",
            "unknownType",
        ),
    ];
    for (patch, path, code) in bad {
        let refused = app
            .call::<Value>(
                "workflow.patchGraph",
                json!({"workflowId": s.workflow_id, "expectedVersion": 2, "patch": patch}),
                token,
            )
            .await;
        let data = expect_error(refused, -32022, "validation");
        assert_eq!(
            (data["fields"][0]["path"].as_str().unwrap(), data["fields"][0]["code"].as_str().unwrap()),
            (path, code),
            "{data}"
        );
    }
    let stale = app
        .call::<Value>(
            "workflow.patchGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 1, "patch": []}),
            token,
        )
        .await;
    assert_eq!(expect_error(stale, -32009, "conflict")["currentVersion"], 2);
    let bad_edge = json!([{"op": "add", "path": "/edges/-", "value": {"source": "start", "sourcePort": "out", "target": "done", "targetPort": "in", "weight": 3}}]);
    let refused = app
        .call::<Value>(
            "workflow.patchGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 2, "patch": bad_edge}),
            token,
        )
        .await;
    assert_eq!(expect_error(refused, -32022, "validation")["fields"][0]["path"], "graph.edges[2].weight");

    // After refused patches, later ones still apply to the right document: adding a node
    // (the whole graph is parsed again) and then editing it (only that node is).
    let new_node = json!({"id": "extra", "name": "Extra", "type": "transform", "position": {"x": 1, "y": 1}, "config": {"output": "{{ input }}"}});
    let add = json!([{"op": "add", "path": "/nodes/-", "value": new_node}, {"op": "add", "path": "/edges/-", "value": {"source": "shape", "sourcePort": "out", "target": "extra", "targetPort": "in"}}]);
    let saved: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 2, "patch": add}),
            token,
        )
        .await
        .unwrap();
    assert_eq!(saved["workflow"]["currentVersion"], 3);
    let edit =
        json!([{"op": "replace", "path": "/nodes/3/config/output", "value": "{{ nodes.shape.output }}"}]);
    let saved: Value = app
        .call(
            "workflow.patchGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 3, "patch": edit}),
            token,
        )
        .await
        .unwrap();
    assert_eq!(saved["validation"]["valid"], true, "{}", saved["validation"]);
    let got: Value = app
        .call("workflow.getVersion", json!({"workflowId": s.workflow_id, "version": 4}), token)
        .await
        .unwrap();
    assert_eq!(got["graph"]["nodes"][3]["config"]["output"], "{{ nodes.shape.output }}");
    assert_eq!(got["graph"]["nodes"][1]["config"]["output"]["greeting"], "Hi {{ input.name }}");
    assert_eq!(got["graph"]["edges"].as_array().unwrap().len(), 3);
    let got: Value = app.call("workflow.get", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(got["workflow"]["currentVersion"], 4);
});

both!(versions_restore_publish_and_filters, |app| {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let mut broken = sample_graph();
    broken["nodes"][2]["config"]["output"] = json!("{{ nodes.nowhere.output }}");
    app.call::<Value>(
        "workflow.saveGraph",
        json!({"workflowId": s.workflow_id, "expectedVersion": 1, "graph": broken}),
        token,
    )
    .await
    .unwrap();

    let refused = app.call::<Value>("workflow.publish", json!({"workflowId": s.workflow_id}), token).await;
    let data = expect_error(refused, -32022, "validation");
    assert_eq!(data["fields"][0]["code"], "templateReference", "{data}");
    assert!(data["fields"][0]["path"].as_str().unwrap().starts_with("graph.nodes[2]"), "{data}");

    let v1: Value = app
        .call("workflow.getVersion", json!({"workflowId": s.workflow_id, "version": 1}), token)
        .await
        .unwrap();
    assert_eq!(v1["graph"]["nodes"][2]["config"], sample_graph()["nodes"][2]["config"]);
    assert_eq!(v1["graph"]["edges"], sample_graph()["edges"]);
    let restored: Value = app
        .call("workflow.restore", json!({"workflowId": s.workflow_id, "version": 1}), token)
        .await
        .unwrap();
    assert_eq!(restored["workflow"]["currentVersion"], 3);
    assert_eq!(restored["validation"]["valid"], true);
    let published: Value =
        app.call("workflow.publish", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(
        (published["status"].as_str().unwrap(), published["publishedVersion"].as_i64().unwrap()),
        ("published", 3)
    );
    let versions: Value =
        app.call("workflow.versions", json!({"workflowId": s.workflow_id, "limit": 2}), token).await.unwrap();
    let listed: Vec<(i64, bool)> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["published"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [(3, true), (2, false)]);
    // The cursor round-trips: the next page has the rest, and then there is none.
    let older: Value = app
        .call(
            "workflow.versions",
            json!({"workflowId": s.workflow_id, "cursor": versions["nextCursor"]}),
            token,
        )
        .await
        .unwrap();
    assert_eq!(older["items"][0]["message"], "created");
    assert_eq!(older["items"].as_array().unwrap().len(), 1);
    assert_eq!(older["nextCursor"], Value::Null);
    // `null` is the first page; anything else than a cursor from a page is refused.
    let first: Value = app
        .call("workflow.versions", json!({"workflowId": s.workflow_id, "cursor": null, "limit": 1}), token)
        .await
        .unwrap();
    assert_eq!((first["items"][0]["version"].as_i64(), first["nextCursor"].as_str()), (Some(3), Some("3")));
    for cursor in ["x", "0", "-1", ""] {
        let refused = app
            .call::<Value>("workflow.versions", json!({"workflowId": s.workflow_id, "cursor": cursor}), token)
            .await;
        expect_error(refused, -32022, "validation");
    }
    let missing = app
        .call::<Value>("workflow.getVersion", json!({"workflowId": s.workflow_id, "version": 99}), token)
        .await;
    assert_eq!(expect_error(missing, -32004, "notFound")["resource"], "version");

    // A second, draft workflow with another tag.
    app.call::<Value>(
        "workflow.create",
        json!({"projectId": s.project_id, "name": "Other", "tags": ["ops"]}),
        token,
    )
    .await
    .unwrap();
    let page: Value = app.call("workflow.list", json!({"projectId": s.project_id}), token).await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    for (filter, expected) in [
        (json!({"status": "published"}), "Greeter"),
        (json!({"status": "draft"}), "Other"),
        (json!({"tag": "ops"}), "Other"),
        (json!({"tag": "a"}), "Greeter"),
        (json!({"search": "greet"}), "Greeter"),
    ] {
        let mut params = filter.clone();
        params["projectId"] = json!(s.project_id);
        let page: Value = app.call("workflow.list", params, token).await.unwrap();
        let names: Vec<&str> =
            page["items"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
        assert_eq!(names, [expected], "{filter}");
    }
    let updated: Value = app
        .call(
            "workflow.update",
            json!({"workflowId": s.workflow_id, "tags": ["x"], "description": "d"}),
            token,
        )
        .await
        .unwrap();
    assert_eq!((updated["tags"].clone(), updated["description"].clone()), (json!(["x"]), json!("d")));
});

both!(validate_reports_issues_without_saving, |app| {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let mut cyclic = sample_graph();
    cyclic["nodes"].as_array_mut().unwrap().insert(2, json!({"id": "again", "name": "Again", "type": "transform", "position": {"x": 0, "y": 0}, "config": {"output": 1}}));
    cyclic["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"source": "shape", "sourcePort": "out", "target": "again", "targetPort": "in"}));
    cyclic["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"source": "again", "sourcePort": "out", "target": "shape", "targetPort": "in"}));
    let report: Value = app
        .call("workflow.validate", json!({"workflowId": s.workflow_id, "graph": cyclic}), token)
        .await
        .unwrap();
    assert_eq!(report["valid"], false);
    assert!(report["issues"].as_array().unwrap().iter().any(|i| i["code"] == "cycle"), "{report}");
    let shape: Value = app
        .call("workflow.validate", json!({"workflowId": s.workflow_id, "graph": {"nodes": 5}}), token)
        .await
        .unwrap();
    assert_eq!(shape["valid"], false);
    let stored: Value =
        app.call("workflow.validate", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(stored["valid"], true);
    let types: Value = app.call("workflow.nodeTypes", json!({}), token).await.unwrap();
    assert!(types["items"].as_array().unwrap().len() >= 14);
});

both!(export_import_and_duplicate, |app| {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let mut graph = sample_graph();
    graph["nodes"].as_array_mut().unwrap().insert(2, json!({
        "id": "call", "name": "Call", "type": "http", "position": {"x": 0, "y": 0},
        "config": {"method": "GET", "url": "https://api.example.com/{{ nodes.shape.output.greeting }}", "credentialId": "cred_secret_1"}
    }));
    graph["edges"] = json!([
        {"source": "start", "sourcePort": "out", "target": "shape", "targetPort": "in"},
        {"source": "shape", "sourcePort": "out", "target": "call", "targetPort": "in"},
        {"source": "call", "sourcePort": "out", "target": "done", "targetPort": "in"}
    ]);
    app.call::<Value>(
        "workflow.saveGraph",
        json!({"workflowId": s.workflow_id, "expectedVersion": 1, "graph": graph}),
        token,
    )
    .await
    .unwrap();
    let document: Value =
        app.call("workflow.export", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(
        (document["format"].as_str().unwrap(), document["formatVersion"].as_i64().unwrap()),
        ("weft.workflow", 1)
    );
    assert!(!document.to_string().contains("cred_secret_1"), "credentials never leave in an export");

    let imported: Value = app
        .call(
            "workflow.import",
            json!({"projectId": s.project_id, "document": document, "name": "Imported"}),
            token,
        )
        .await
        .unwrap();
    assert_eq!(imported["workflow"]["name"], "Imported");
    assert_eq!(imported["workflow"]["currentVersion"], 1);
    let ids: Vec<&str> =
        imported["graph"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"shape"), "ids are reassigned: {ids:?}");
    let text = imported["graph"].to_string();
    assert!(!text.contains("nodes.shape."), "template references follow the new ids");
    assert_eq!(imported["validation"]["valid"], true, "{}", imported["validation"]);

    let mut other_version = document.clone();
    other_version["formatVersion"] = json!(2);
    let refused = app
        .call::<Value>(
            "workflow.import",
            json!({"projectId": s.project_id, "document": other_version}),
            token,
        )
        .await;
    let data = expect_error(refused, -32022, "validation");
    assert_eq!(
        (data["fields"][0]["path"].as_str().unwrap(), data["fields"][0]["code"].as_str().unwrap()),
        ("document.formatVersion", "unsupportedVersion")
    );

    let copy: Value =
        app.call("workflow.duplicate", json!({"workflowId": s.workflow_id}), token).await.unwrap();
    assert_eq!(copy["workflow"]["name"], "Greeter (copy)");
    assert!(!copy["graph"].to_string().contains("cred_secret_1"));
    let page: Value = app.call("workflow.list", json!({"projectId": s.project_id}), token).await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
});

fn roomy_config() -> weft_api::ApiConfig {
    let mut config = test_config();
    config.limits.max_body_bytes = 32 * 1024 * 1024;
    config.graph_limits.max_nodes = 2_000;
    config.graph_limits.max_edges = 8_000;
    config
}

both!(graph_limits_are_enforced, config = roomy_config(), |app| {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let limit = app.state.config().graph_limits.max_nodes;
    let mut nodes = vec![
        json!({"id": "start", "name": "Start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}}),
    ];
    for i in 0..limit {
        nodes.push(json!({"id": format!("n{i}"), "name": "T", "type": "transform", "position": {"x": 0, "y": 0}, "config": {"output": i}}));
    }
    let too_many = json!({"nodes": nodes, "edges": []});
    let refused = app
        .call::<Value>(
            "workflow.saveGraph",
            json!({"workflowId": s.workflow_id, "expectedVersion": 1, "graph": too_many}),
            token,
        )
        .await;
    assert_eq!(expect_error(refused, -32022, "validation")["fields"][0]["code"], "tooMany");
    let mut huge = sample_graph();
    huge["nodes"][1]["config"]["output"] = json!("x".repeat(70 * 1024));
    let body = json!({"workflowId": s.workflow_id, "expectedVersion": 1, "graph": huge});
    let refused = app.call::<Value>("workflow.saveGraph", body, token).await;
    assert_eq!(expect_error(refused, -32022, "validation")["fields"][0]["code"], "tooLarge");
});

/// Many small edits (node fields, edges added and removed from the middle, a node added)
/// across snapshot boundaries: every version read back from the database (deltas replayed
/// onto snapshots) is exactly the graph the edit answered with at the time.
async fn edits_read_back_exactly(app: TestApp) {
    let s = setup(&app).await;
    let token = Some(s.owner.access_token.as_str());
    let current = |version: i64| json!({"workflowId": s.workflow_id, "version": version});
    let mut expected = vec![Value::Null];
    let first: Value = app.call("workflow.getVersion", current(1), token).await.unwrap();
    expected.push(first["graph"].clone());
    let edge =
        |target: &str| json!({"source": "start", "sourcePort": "out", "target": target, "targetPort": "in"});
    let last = i64::from(weft_store::VERSIONS_PER_SNAPSHOT) + 8;
    for version in 2..=last {
        let patch = match version % 5 {
            0 => json!([{"op": "replace", "path": "/nodes/1/name", "value": format!("Shape {version}")}]),
            1 => json!([{"op": "add", "path": "/edges/0", "value": edge("done")}]),
            2 => json!([{"op": "remove", "path": "/edges/0"}]),
            3 => json!([{"op": "replace", "path": "/nodes/2/position", "value": {"x": version, "y": 1.5}}]),
            _ if version == 9 => json!([
                {"op": "add", "path": "/nodes/-", "value": {"id": "more", "name": "More", "type": "transform", "position": {"x": 1, "y": 1}, "config": {"output": "{{ input }}"}}},
                {"op": "add", "path": "/edges/-", "value": edge("more")}
            ]),
            _ => json!([{"op": "add", "path": "/nodes/1/config/output/n", "value": version}]),
        };
        let saved: Value = app
            .call(
                "workflow.patchGraph",
                json!({"workflowId": s.workflow_id, "expectedVersion": version - 1, "patch": patch}),
                token,
            )
            .await
            .unwrap();
        assert_eq!(saved["workflow"]["currentVersion"], version);
        let got: Value = app.call("workflow.getVersion", current(version), token).await.unwrap();
        expected.push(got["graph"].clone());
    }
    assert_eq!(expected[last as usize]["nodes"].as_array().unwrap().len(), 4);
    for version in 1..=last {
        let got: Value = app.call("workflow.getVersion", current(version), token).await.unwrap();
        assert_eq!(got["graph"], expected[version as usize], "version {version}");
    }
}

both!(delta_versions_read_back_exactly, |app| {
    edits_read_back_exactly(app).await;
});

fn uncached_config() -> weft_api::ApiConfig {
    let mut config = test_config();
    config.graph_cache_entries = 0;
    config
}

both!(delta_versions_read_back_exactly_without_cache, config = uncached_config(), |app| {
    edits_read_back_exactly(app).await;
});
