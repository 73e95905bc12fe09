//! No key ever leaves the server: the real binary with JSON debug logs, an instance provider
//! and a project credential whose provider answers errors that quote the key back; neither
//! key may appear in any log line, in the run's trace, in an export, or in a credential
//! listing.

use serde_json::{Value, json};
use weft_ai::testing::{Reply, TestProvider};

use crate::helpers::*;

const INSTANCE_KEY: &str = "sk-instance-NEVER-LOGGED-111111";
const PROJECT_KEY: &str = "sk-project-NEVER-LOGGED-222222";

async fn call(server: &Server, method: &str, params: Value, token: &str) -> Value {
    let answer = server.rpc(method, params, Some(token)).await;
    assert!(answer.get("error").is_none(), "{method} failed: {answer}");
    answer["result"].clone()
}

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_never_appear_in_logs_responses_or_exports() {
    // Providers that echo the key they were sent, as some do in their error messages.
    let provider = TestProvider::start().await.unwrap();
    provider.set_default(Reply::status(401, format!("invalid api key {INSTANCE_KEY}")));
    let project_provider = TestProvider::start().await.unwrap();
    project_provider.set_default(Reply::status(401, format!("invalid api key {PROJECT_KEY}")));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let _logs = LogsOnFailure(vec![log.clone()]);
    let providers = json!([{"id": "local", "baseUrl": provider.base_url(), "apiKey": INSTANCE_KEY}]);
    let models = json!([{"id": "m", "provider": "local", "contextLength": 1000, "inputPerMtokUsd": 1.0,
        "outputPerMtokUsd": 1.0, "tasks": ["generate"], "supportsJsonSchema": false}]);
    let mut command = weft(dir.path());
    command
        .env("WEFT_LOG", "debug")
        .env("WEFT_LOG_FORMAT", "json")
        .env("WEFT_HTTP_ALLOW_HOSTS", "127.0.0.1")
        .env("WEFT_AI_PROVIDERS", providers.to_string())
        .env("WEFT_AI_MODELS", models.to_string());
    let mut server = Server::start_logged(command, &log);

    let session = server
        .rpc(
            "auth.register",
            json!({"email": "keys@example.com", "password": PASSWORD, "displayName": "K"}),
            None,
        )
        .await;
    let token = session["result"]["accessToken"].as_str().unwrap_or_else(|| panic!("{session}")).to_owned();
    let project = call(&server, "project.create", json!({"name": "Keys"}), &token).await;
    let credential = call(
        &server,
        "ai.credentials.create",
        json!({"projectId": project["id"], "name": "p", "kind": "aiProvider", "baseUrl": project_provider.base_url(),
            "models": ["m"], "secret": PROJECT_KEY}),
        &token,
    )
    .await;
    let mut answers = vec![credential.clone()];
    for credential_id in [Value::Null, credential["id"].clone()] {
        let mut config = json!({"model": "m", "prompt": "hi"});
        if !credential_id.is_null() {
            config["credentialId"] = credential_id;
        }
        let graph = json!({
            "nodes": [node("start", "start", json!({})), node("ask", "ai", config), node("done", "end", json!({}))],
            "edges": [
                {"source": "start", "sourcePort": "out", "target": "ask", "targetPort": "in"},
                {"source": "ask", "sourcePort": "out", "target": "done", "targetPort": "in"},
            ],
        });
        let created = call(
            &server,
            "workflow.create",
            json!({"projectId": project["id"], "name": "W", "graph": graph}),
            &token,
        )
        .await;
        let workflow_id = created["workflow"]["id"].clone();
        let run = call(
            &server,
            "workflow.execute",
            json!({"workflowId": workflow_id, "version": 1, "wait": true, "waitTimeoutMs": 20000}),
            &token,
        )
        .await;
        assert_eq!(run["run"]["status"], "failed", "the provider refuses: {run}");
        answers.push(run.clone());
        answers.push(call(&server, "run.get", json!({"runId": run["run"]["id"]}), &token).await);
        answers.push(call(&server, "workflow.export", json!({"workflowId": workflow_id}), &token).await);
    }
    answers.push(call(&server, "ai.credentials.list", json!({"projectId": project["id"]}), &token).await);
    assert!(
        !provider.chat_requests().is_empty() && !project_provider.chat_requests().is_empty(),
        "both keys were used"
    );
    server.terminate();
    let _ = server.wait();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("rpc call"), "the log was written");
    for key in [INSTANCE_KEY, PROJECT_KEY] {
        assert!(!logged.contains(key), "{key} in the log");
        for answer in &answers {
            assert!(!answer.to_string().contains(key), "{key} in an answer: {answer}");
        }
    }
}
