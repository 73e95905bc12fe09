//! The AI layer through the API: an `ai` node against a real local OpenAI-compatible
//! provider (streamed tokens as `node.token` events, cost in the output and in `ai.usage`),
//! budgets refusing before any spend, stored credentials (encrypted, never returned, project
//! scoped, provider URLs held to the outbound policy).

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};
use weft_ai::testing::{Reply, TestProvider};
use weft_ai::{ModelInfo, TaskClass};
use weft_store::testing::TestDatabase;

use crate::helpers::{TestApp, email, expect_error, test_config};

const INSTANCE_KEY: &str = "sk-instance-key-0123456789";
const CREDENTIAL_KEY: &str = "sk-credential-key-abcdefgh5678";

fn model(id: &str) -> ModelInfo {
    ModelInfo {
        id: id.to_owned(),
        provider: "local".to_owned(),
        context_length: 8_000,
        input_per_mtok_usd: 1.0,
        output_per_mtok_usd: 2.0,
        tasks: vec![TaskClass::Generate, TaskClass::CheapFast],
        supports_json_schema: false,
    }
}

async fn ai_app(db: TestDatabase, provider: &TestProvider) -> TestApp {
    let mut config = test_config();
    config.engine.ai.client.providers = vec![provider.provider_config("local", Some(INSTANCE_KEY))];
    config.engine.ai.client.attempt_timeout = Duration::from_secs(5);
    config.engine.ai.models = vec![model("m-small")];
    TestApp::start(db, config).await
}

/// Runs `body` on SQLite and, when it is reachable, on PostgreSQL.
async fn on_both<F, Fut>(name: &str, body: F)
where
    F: Fn(TestApp, TestProvider) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let provider = TestProvider::start().await.unwrap();
    body(ai_app(TestDatabase::sqlite().unwrap(), &provider).await, provider).await;
    if let Some(db) = TestDatabase::postgres(name).await.unwrap() {
        let provider = TestProvider::start().await.unwrap();
        body(ai_app(db, &provider).await, provider).await;
    }
}

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

fn ai_graph(ai_config: Value) -> Value {
    json!({
        "nodes": [node("start", "start", json!({})), node("ask", "ai", ai_config), node("done", "end", json!({}))],
        "edges": [
            {"source": "start", "sourcePort": "out", "target": "ask", "targetPort": "in"},
            {"source": "ask", "sourcePort": "out", "target": "done", "targetPort": "in"},
        ],
    })
}

struct Project {
    token: String,
    id: Value,
}

async fn project(app: &TestApp) -> Project {
    let owner = app.register(&email("owner")).await;
    let token = owner.access_token.clone();
    let project: Value = app.call("project.create", json!({"name": "AI"}), Some(&token)).await.unwrap();
    Project { token, id: project["id"].clone() }
}

async fn workflow(app: &TestApp, p: &Project, graph: Value) -> Value {
    let created: Value = app
        .call("workflow.create", json!({"projectId": p.id, "name": "W", "graph": graph}), Some(&p.token))
        .await
        .unwrap();
    assert_eq!(created["validation"]["valid"], true, "{}", created["validation"]);
    created["workflow"]["id"].clone()
}

async fn execute(app: &TestApp, p: &Project, workflow_id: &Value, input: Value) -> Value {
    let result: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": workflow_id, "version": 1, "input": input, "wait": true, "waitTimeoutMs": 20000}),
            Some(&p.token),
        )
        .await
        .unwrap();
    result["run"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ai_node_streams_tokens_reports_its_cost_and_budgets_refuse_before_spending() {
    on_both("api ai node", |app, provider| async move {
        provider.set_default(Reply::text("Hello Ada, nice to meet you").usage(12, 7));
        let p = project(&app).await;
        let prompt =
            json!({"model": "local/m-small", "prompt": "Greet {{ input.name }}", "systemPrompt": "Be brief"});
        let workflow_id = workflow(&app, &p, ai_graph(prompt)).await;
        // A browser-like SSE client of the project's member sees the tokens live.
        let response =
            app.http.get(format!("{}/events", app.base)).bearer_auth(&p.token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let mut sse = Box::pin(response.bytes_stream().eventsource());
        let run = execute(&app, &p, &workflow_id, json!({"name": "Ada"})).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let output = &run["output"];
        assert_eq!(output["text"], "Hello Ada, nice to meet you");
        assert_eq!(output["model"], "m-small");
        assert_eq!(
            (output["promptTokens"].as_u64(), output["completionTokens"].as_u64()),
            (Some(12), Some(7))
        );
        // 12 prompt tokens at $1/M and 7 completion tokens at $2/M: 26 micro-USD.
        assert_eq!(output["costUsd"].as_f64(), Some(0.000026));

        let chat = provider.chat_requests();
        assert_eq!(chat.len(), 1);
        assert_eq!(chat[0].header("authorization"), Some(format!("Bearer {INSTANCE_KEY}").as_str()));
        let sent = chat[0].body.to_string();
        assert!(sent.contains("Greet Ada") && sent.contains("Be brief"), "{sent}");

        let mut streamed = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(event) = sse.next().await {
                let event = event.unwrap();
                let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
                match event.event.as_str() {
                    "node.token" => {
                        assert_eq!(data["nodeId"], "ask");
                        streamed.push_str(data["text"].as_str().unwrap_or_default());
                    }
                    "run.succeeded" if data["runId"] == run["id"] => return,
                    _ => {}
                }
            }
        });
        read.await.expect("the run's events reach the SSE stream");
        assert_eq!(streamed, "Hello Ada, nice to meet you", "tokens arrive as node.token events, in order");

        let usage: Value = app
            .call("ai.usage", json!({"projectId": p.id, "groupBy": "model"}), Some(&p.token))
            .await
            .unwrap();
        assert_eq!(usage["rows"][0]["key"], "local/m-small", "{usage}");
        assert_eq!(usage["rows"][0]["calls"], 1);
        assert_eq!(usage["totalCostUsd"].as_f64(), Some(0.000026));
        let mine: Value = app.call("ai.usage", json!({"groupBy": "day"}), Some(&p.token)).await.unwrap();
        assert_eq!(mine["totalCostUsd"].as_f64(), Some(0.000026), "the starter's own usage");

        // A budget the next call could exceed refuses it before any request.
        let budget: Value = app
            .call(
                "ai.budgets.set",
                json!({"scope": "project", "projectId": p.id, "period": "day", "limitUsd": 0.0001}),
                Some(&p.token),
            )
            .await
            .unwrap();
        assert_eq!(budget["spentUsd"].as_f64(), Some(0.000026));
        let refused = execute(&app, &p, &workflow_id, json!({"name": "Bo"})).await;
        assert_eq!(refused["status"], "failed", "{refused}");
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("budget"), "{message}");
        assert_eq!(provider.chat_requests().len(), 1, "nothing was sent to the provider");
        let listed: Value =
            app.call("ai.budgets.list", json!({"projectId": p.id}), Some(&p.token)).await.unwrap();
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
        let models: Value = app.call("ai.models", json!({}), Some(&p.token)).await.unwrap();
        assert_eq!(models["models"][0]["id"], "m-small");
        assert_eq!(models["providers"], json!(["local"]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_sealed_scoped_to_their_project_and_used_by_ai_nodes() {
    on_both("api ai credentials", |app, provider| async move {
        provider.set_default(Reply::text("via credential").usage(3, 2));
        let p = project(&app).await;
        let created: Value = app
            .call(
                "ai.credentials.create",
                json!({
                    "projectId": p.id, "name": "team key", "kind": "aiProvider",
                    "baseUrl": format!("{}", provider.base_url()), "models": ["m-small"], "secret": CREDENTIAL_KEY,
                }),
                Some(&p.token),
            )
            .await
            .unwrap();
        assert_eq!(created["hint"], "…5678");
        let listed: Value =
            app.call("ai.credentials.list", json!({"projectId": p.id}), Some(&p.token)).await.unwrap();
        for shown in [created.to_string(), listed.to_string()] {
            assert!(!shown.contains(CREDENTIAL_KEY) && !shown.contains("abcdefgh"), "{shown}");
        }
        let stored = app.state.store().get_credential(serde_json::from_value(created["id"].clone()).unwrap());
        let stored = stored.await.unwrap().unwrap();
        assert!(stored.sealed.starts_with("v1.") && !stored.sealed.contains(CREDENTIAL_KEY), "encrypted at rest");

        let graph = ai_graph(json!({"model": "m-small", "prompt": "Hi", "credentialId": created["id"]}));
        let workflow_id = workflow(&app, &p, graph).await;
        let run = execute(&app, &p, &workflow_id, json!({})).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["output"]["text"], "via credential");
        let chat = provider.chat_requests();
        assert_eq!(chat.last().and_then(|r| r.header("authorization")), Some(format!("Bearer {CREDENTIAL_KEY}").as_str()));
        let detail: Value = app.call("run.get", json!({"runId": run["id"]}), Some(&p.token)).await.unwrap();
        assert!(!detail.to_string().contains(CREDENTIAL_KEY), "no key in the trace");

        // Another user's project cannot see or use it.
        let stranger = project(&app).await;
        let error = app
            .call::<Value>("ai.credentials.update", json!({"credentialId": created["id"], "name": "x"}), Some(&stranger.token))
            .await;
        expect_error(error, -32004, "notFound");
        let graph = ai_graph(json!({"model": "m-small", "prompt": "Hi", "credentialId": created["id"]}));
        let foreign = workflow(&app, &stranger, graph).await;
        let run = execute(&app, &stranger, &foreign, json!({})).await;
        assert_eq!(run["status"], "failed", "{run}");

        // Provider URLs are held to the outbound policy; a bad request changes nothing.
        let blocked = app
            .call::<Value>(
                "ai.credentials.create",
                json!({"projectId": p.id, "name": "meta", "kind": "aiProvider", "baseUrl": "http://169.254.169.254/v1", "secret": "k"}),
                Some(&p.token),
            )
            .await;
        let data = expect_error(blocked, -32022, "validation");
        assert!(data.to_string().contains("blockedAddress"), "{data}");
        let missing = app
            .call::<Value>(
                "ai.credentials.create",
                json!({"projectId": p.id, "name": "h", "kind": "header", "secret": ""}),
                Some(&p.token),
            )
            .await;
        let data = expect_error(missing, -32022, "validation");
        assert!(data.to_string().contains("headerName") && data.to_string().contains("secret"), "{data}");
        let listed: Value =
            app.call("ai.credentials.list", json!({"projectId": p.id}), Some(&p.token)).await.unwrap();
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));

        let moved = app
            .call::<Value>(
                "ai.credentials.update",
                json!({"credentialId": created["id"], "baseUrl": "http://127.0.0.1:9/v1"}),
                Some(&p.token),
            )
            .await;
        let data = expect_error(moved, -32022, "validation");
        assert!(data.to_string().contains("secret"), "moving the key's destination needs the key: {data}");
        let rotated: Value = app
            .call("ai.credentials.update", json!({"credentialId": created["id"], "secret": "sk-rotated-key-00009999"}), Some(&p.token))
            .await
            .unwrap();
        assert_eq!(rotated["hint"], "…9999");
        let run = execute(&app, &p, &workflow_id, json!({})).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let chat = provider.chat_requests();
        assert_eq!(chat.last().and_then(|r| r.header("authorization")), Some("Bearer sk-rotated-key-00009999"));
        let deleted: Value =
            app.call("ai.credentials.delete", json!({"credentialId": created["id"]}), Some(&p.token)).await.unwrap();
        assert_eq!(deleted["ok"], true);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_to_workflow_returns_a_valid_graph_saves_it_and_respects_budgets() {
    on_both("api ai generate", |app, provider| async move {
        let p = project(&app).await;
        let graph = json!({
            "nodes": [
                node("start", "start", json!({})),
                node("greet", "transform", json!({"output": "Hello {{ input.name }}"})),
                node("done", "end", json!({})),
            ],
            "edges": [
                {"source": "start", "sourcePort": "out", "target": "greet", "targetPort": "in"},
                {"source": "greet", "sourcePort": "out", "target": "done", "targetPort": "in"},
            ],
        });
        provider.enqueue(
            Reply::json(&json!({"graph": graph, "explanation": "Greets the caller"})).usage(900, 120),
        );
        let generated: Value = app
            .call(
                "ai.generateWorkflow",
                json!({"projectId": p.id, "description": "Greet whoever calls", "saveAs": "Greeter"}),
                Some(&p.token),
            )
            .await
            .unwrap();
        assert_eq!(generated["validation"]["valid"], true, "{generated}");
        assert_eq!(generated["explanation"], "Greets the caller");
        assert_eq!(generated["graph"]["nodes"].as_array().map(Vec::len), Some(3));
        assert!(generated["costUsd"].as_f64().unwrap() > 0.0, "{generated}");
        let prompt = provider.chat_requests()[0].body.to_string();
        assert!(
            prompt.contains("Greet whoever calls") && prompt.contains("transform"),
            "the catalogue is in the prompt"
        );
        let saved: Value = app
            .call("workflow.get", json!({"workflowId": generated["workflowId"]}), Some(&p.token))
            .await
            .unwrap();
        assert_eq!(saved["workflow"]["name"], "Greeter");
        assert_eq!(saved["validation"]["valid"], true);

        // The next version of an existing workflow; a stale version is refused before any spend.
        provider.enqueue(Reply::json(&json!({"graph": graph, "explanation": "Again"})).usage(10, 10));
        let target = json!({"workflowId": generated["workflowId"], "expectedVersion": 1});
        let again: Value = app
            .call(
                "ai.generateWorkflow",
                json!({"projectId": p.id, "description": "Greet again", "saveTo": target}),
                Some(&p.token),
            )
            .await
            .unwrap();
        assert_eq!(
            (again["workflowId"].clone(), again["version"].clone()),
            (generated["workflowId"].clone(), json!(2))
        );
        let stale = app
            .call::<Value>(
                "ai.generateWorkflow",
                json!({"projectId": p.id, "description": "Greet again", "saveTo": target}),
                Some(&p.token),
            )
            .await;
        let data = expect_error(stale, -32009, "conflict");
        assert_eq!(data["currentVersion"], 2);
        assert_eq!(provider.chat_requests().len(), 2, "nothing was asked for a stale target");

        let usage: Value = app
            .call("ai.usage", json!({"projectId": p.id, "groupBy": "model"}), Some(&p.token))
            .await
            .unwrap();
        assert_eq!(usage["rows"][0]["calls"], 2, "{usage}");

        let own = app
            .call::<Value>(
                "ai.budgets.set",
                json!({"scope": "user", "period": "month", "limitUsd": 9.0}),
                Some(&p.token),
            )
            .await;
        expect_error(own, -32003, "forbidden");
        app.call::<Value>(
            "ai.budgets.set",
            json!({"scope": "project", "projectId": p.id, "period": "month", "limitUsd": 0.0}),
            Some(&p.token),
        )
        .await
        .unwrap();
        let refused = app
            .call::<Value>(
                "ai.generateWorkflow",
                json!({"projectId": p.id, "description": "Anything"}),
                Some(&p.token),
            )
            .await;
        let data = expect_error(refused, -32042, "budgetExceeded");
        assert!(data["reason"].as_str().unwrap_or_default().contains("budget"), "{data}");
        assert_eq!(provider.chat_requests().len(), 2, "refused before any request");
        let bad = app
            .call::<Value>(
                "ai.generateWorkflow",
                json!({"projectId": p.id, "description": " "}),
                Some(&p.token),
            )
            .await;
        expect_error(bad, -32022, "validation");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_nodes_send_stored_credentials_without_showing_them() {
    use std::sync::{Arc, Mutex};
    on_both("api http credentials", |app, _provider| async move {
        type Seen = Vec<(Option<String>, Option<String>)>;
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let recorder = seen.clone();
        let target = axum::Router::new().route(
            "/hook",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let recorder = recorder.clone();
                async move {
                    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                    recorder.lock().unwrap().push((get("x-api-key"), get("authorization")));
                    axum::Json(json!({"ok": true}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, target).await.unwrap() });

        let p = project(&app).await;
        let mut ids = Vec::new();
        for (name, kind, header, secret) in [
            ("hook key", "header", Some("X-Api-Key"), "hdr-secret-value-1234"),
            ("hook token", "bearer", None, "bearer-secret-value-5678"),
        ] {
            let mut params = json!({"projectId": p.id, "name": name, "kind": kind, "secret": secret});
            if let Some(header) = header {
                params["headerName"] = json!(header);
            }
            let created: Value = app.call("ai.credentials.create", params, Some(&p.token)).await.unwrap();
            ids.push(created["id"].clone());
        }
        for (id, expected) in ids.iter().zip([
            (Some("hdr-secret-value-1234".to_owned()), None),
            (None, Some("Bearer bearer-secret-value-5678".to_owned())),
        ]) {
            let graph = json!({
                "nodes": [
                    node("start", "start", json!({})),
                    node("call", "http", json!({"url": format!("{base}/hook"), "credentialId": id})),
                    node("done", "end", json!({})),
                ],
                "edges": [
                    {"source": "start", "sourcePort": "out", "target": "call", "targetPort": "in"},
                    {"source": "call", "sourcePort": "out", "target": "done", "targetPort": "in"},
                ],
            });
            let workflow_id = workflow(&app, &p, graph).await;
            let run = execute(&app, &p, &workflow_id, json!({})).await;
            assert_eq!(run["status"], "succeeded", "{run}");
            assert_eq!(seen.lock().unwrap().last().cloned(), Some(expected));
            let detail: Value =
                app.call("run.get", json!({"runId": run["id"]}), Some(&p.token)).await.unwrap();
            assert!(!detail.to_string().contains("secret-value"), "no secret in the trace: {detail}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_nodes_decide_moderate_and_answer_in_json_with_repair() {
    on_both("api ai modes", |app, provider| async move {
        let p = project(&app).await;
        let graph = json!({
            "nodes": [
                node("start", "start", json!({})),
                node("route", "ai", json!({
                    "mode": "decide", "model": "m-small", "prompt": "Is {{ input.text }} a complaint?",
                    "branches": [{"name": "complaint", "description": "an unhappy customer"},
                                 {"name": "other", "description": "anything else"}],
                })),
                node("check", "ai", json!({"mode": "moderate", "model": "m-small", "prompt": "{{ input.text }}"})),
                node("extract", "ai", json!({
                    "model": "m-small", "prompt": "Extract the order number from {{ input.text }}",
                    "outputSchema": {"type": "object", "required": ["order"],
                                     "properties": {"order": {"type": "integer"}}},
                })),
                node("done", "end", json!({"output": "{{ nodes.extract.output.json.order }}"})),
                node("ignored", "end", json!({})),
            ],
            "edges": [
                {"source": "start", "sourcePort": "out", "target": "route", "targetPort": "in"},
                {"source": "route", "sourcePort": "complaint", "target": "check", "targetPort": "in"},
                {"source": "route", "sourcePort": "other", "target": "ignored", "targetPort": "in"},
                {"source": "check", "sourcePort": "out", "target": "extract", "targetPort": "in"},
                {"source": "extract", "sourcePort": "out", "target": "done", "targetPort": "in"},
            ],
        });
        let workflow_id = workflow(&app, &p, graph).await;
        provider.enqueue(Reply::json(&json!({"branch": "complaint", "reason": "angry tone"})));
        provider.enqueue(Reply::json(&json!({"flagged": false, "categories": [], "reason": "fine"})));
        // The first JSON answer breaks the schema; the repair turn quotes the error.
        provider.enqueue(Reply::json(&json!({"order": "forty-two"})));
        provider.enqueue(Reply::json(&json!({"order": 42})));
        let run = execute(&app, &p, &workflow_id, json!({"text": "order 42 arrived broken!"})).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["output"], 42);
        let detail: Value = app.call("run.get", json!({"runId": run["id"]}), Some(&p.token)).await.unwrap();
        let step = |id: &str| detail["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == id).cloned();
        assert_eq!(step("route").unwrap()["output"]["branch"], "complaint");
        assert_eq!(step("route").unwrap()["ports"], json!(["complaint"]));
        assert_eq!(step("check").unwrap()["output"]["flagged"], false);
        assert_eq!(step("ignored").unwrap()["status"], "skipped", "the untaken branch is skipped");
        let chats = provider.chat_requests();
        assert_eq!(chats.len(), 4);
        assert!(chats[3].body.to_string().contains("forty-two"), "the repair turn shows the invalid answer");

        // Next-node suggestions for the saved graph.
        let suggestion = json!({"suggestions": [{
            "node": node("notify", "transform", json!({"output": "done"})),
            "edge": {"source": "extract", "sourcePort": "out", "target": "notify", "targetPort": "in"},
            "reason": "tell someone",
        }]});
        provider.enqueue(Reply::json(&suggestion));
        let suggested: Value = app
            .call("ai.suggestNext", json!({"workflowId": workflow_id, "nodeId": "extract"}), Some(&p.token))
            .await
            .unwrap();
        assert_eq!(suggested["suggestions"][0]["node"]["id"], "notify", "{suggested}");
        let unknown = app
            .call::<Value>("ai.suggestNext", json!({"workflowId": workflow_id, "nodeId": "nope"}), Some(&p.token))
            .await;
        expect_error(unknown, -32022, "validation");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_refresh_the_catalogue_from_an_openrouter_style_listing() {
    on_both("api ai refresh", |app, provider| async move {
        provider.set_models(json!({"data": [{
            "id": "vendor/fresh-model", "name": "Fresh", "context_length": 32000,
            "pricing": {"prompt": "0.000002", "completion": "0.000004"},
        }]}));
        let user = app.register(&email("user")).await;
        let refused = app
            .call::<Value>("ai.refreshModels", json!({"provider": "local"}), Some(&user.access_token))
            .await;
        expect_error(refused, -32003, "forbidden");
        let admin = app.admin(&email("admin")).await;
        let refreshed: Value = app
            .call("ai.refreshModels", json!({"provider": "local"}), Some(&admin.access_token))
            .await
            .unwrap();
        assert_eq!(refreshed["models"], 1);
        let models: Value = app.call("ai.models", json!({}), Some(&user.access_token)).await.unwrap();
        let fresh =
            models["models"].as_array().unwrap().iter().find(|m| m["id"] == "vendor/fresh-model").cloned();
        let fresh = fresh.unwrap_or_else(|| panic!("{models}"));
        assert_eq!(
            (fresh["inputPerMtokUsd"].as_f64(), fresh["contextLength"].as_u64()),
            (Some(2.0), Some(32000))
        );
        let unknown = app
            .call::<Value>("ai.refreshModels", json!({"provider": "nope"}), Some(&admin.access_token))
            .await;
        expect_error(unknown, -32004, "notFound");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_of_a_call_cut_short_by_the_node_timeout_are_still_in_the_ledger() {
    on_both("api ai interrupted", |app, provider| async move {
        let p = project(&app).await;
        let mut ask = node(
            "ask",
            "ai",
            json!({"model": "m-small", "prompt": "JSON please",
                   "outputSchema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}),
        );
        ask["settings"] = json!({"timeoutMs": 1500});
        let graph = json!({
            "nodes": [node("start", "start", json!({})), ask, node("done", "end", json!({}))],
            "edges": [
                {"source": "start", "sourcePort": "out", "target": "ask", "targetPort": "in"},
                {"source": "ask", "sourcePort": "out", "target": "done", "targetPort": "in"},
            ],
        });
        let workflow_id = workflow(&app, &p, graph).await;
        // The first answer breaks the schema (billed); the repair answer comes too late.
        provider.enqueue(Reply::json(&json!({"n": "x"})).usage(10, 10));
        provider.enqueue(Reply::json(&json!({"n": 1})).delayed(Duration::from_secs(10)));
        let run = execute(&app, &p, &workflow_id, json!({})).await;
        assert_eq!(run["status"], "failed", "{run}");
        let mut recorded = Value::Null;
        for _ in 0..50 {
            recorded =
                app.call("ai.usage", json!({"projectId": p.id, "groupBy": "model"}), Some(&p.token)).await.unwrap();
            if recorded["rows"][0]["calls"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(recorded["rows"][0]["calls"], 1, "{recorded}");
        assert_eq!(recorded["totalCostUsd"].as_f64(), Some(0.00003));
    })
    .await;
}
