//! Start-up, structured logs, the development secret, PostgreSQL, and graceful shutdown.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn serves_health_and_keeps_one_dev_secret() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(weft(dir.path()));
    weft_engine::install_tls_provider();
    let health: Value = reqwest::get(format!("{}/health", server.url)).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = reqwest::get(format!("{}/ready", server.url)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let secret_file = dir.path().join("jwt_secret");
    let secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(secret.len() >= 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let session = server
        .rpc(
            "auth.register",
            json!({"email": "a@example.com", "password": PASSWORD, "displayName": "A"}),
            None,
        )
        .await;
    let token = session["result"]["accessToken"].as_str().unwrap().to_owned();
    drop(server);

    // A restart reuses the secret: tokens stay valid.
    let server = Server::start(weft(dir.path()));
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);
    let me = server.rpc("auth.me", json!({}), Some(&token)).await;
    assert_eq!(me["result"]["email"], "a@example.com", "{me}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_closes_streams_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = weft(dir.path());
    command.env("WEFT_LOG", "info").env("WEFT_LOG_FORMAT", "json");
    let mut server = Server::start(command);
    let session = server
        .rpc(
            "auth.register",
            json!({"email": "s@example.com", "password": PASSWORD, "displayName": "S"}),
            None,
        )
        .await;
    let token = session["result"]["accessToken"].as_str().unwrap().to_owned();
    weft_engine::install_tls_provider();
    let response = reqwest::Client::new()
        .get(format!("{}/events", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), body.next()).await.unwrap().unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: heartbeat"));

    server.terminate();
    // The stream ends instead of holding shutdown open.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "event stream stayed open after SIGTERM");
    let (code, output) = server.wait();
    assert_eq!(code, 0, "{output}");

    // Logs are JSON lines, and RPC calls carry their request id.
    let rpc_line = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "rpc call" || line["fields"]["message"] == "rpc call")
        .unwrap_or_else(|| panic!("no JSON rpc log line in:\n{output}"));
    let text = rpc_line.to_string();
    assert!(text.contains("request_id") && text.contains("auth.register"), "{text}");
    assert!(output.contains("shutting down"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_on_postgres() {
    let Some(db) = weft_store::testing::TestDatabase::postgres("server::runs_on_postgres").await.unwrap()
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut command = weft(dir.path());
    command.env("WEFT_DATABASE_URL", db.url());
    let server = Server::start(command);
    weft_engine::install_tls_provider();
    let ready = reqwest::get(format!("{}/ready", server.url)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let session = server
        .rpc(
            "auth.register",
            json!({"email": "pg@example.com", "password": PASSWORD, "displayName": "P"}),
            None,
        )
        .await;
    assert_eq!(session["result"]["user"]["email"], "pg@example.com", "{session}");
    assert!(!dir.path().join("weft.db").exists(), "no SQLite file when PostgreSQL is configured");
    drop(server);
}
