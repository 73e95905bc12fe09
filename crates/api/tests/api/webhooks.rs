//! Webhooks over real HTTP: HMAC signatures (good, bad, replayed, stale, missing), static
//! tokens, async and sync modes, body limits, rate limits, secret rotation and access.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;
use crate::schedules::{Flow, published};

async fn webhook(app: &TestApp, f: &Flow, params: Value) -> (String, String) {
    let mut params = params;
    params["workflowId"] = json!(f.workflow_id);
    let created: Value = app.call("webhook.create", params, Some(&f.token)).await.unwrap();
    let url = format!("{}{}", app.base, created["webhook"]["url"].as_str().unwrap());
    (url, created["secret"].as_str().unwrap().to_owned())
}

fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn post(
    app: &TestApp,
    url: &str,
    body: &str,
    signature: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = app.http.post(url).header("content-type", "application/json").body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-weft-signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

both!(hmac_signatures_and_async_mode, |app| {
    let f = published(
        &app,
        None,
        None,
        json!("{{ input.body.name }} via {{ input.method }} {{ input.query.q }}"),
    )
    .await;
    let (url, secret) = webhook(&app, &f, json!({"name": "orders"})).await;
    let url = format!("{url}?q=1");
    let body = r#"{"name":"ada"}"#;
    let now = chrono::Utc::now().timestamp();

    let good = sign(&secret, now, body);
    let (status, _, answer) = post(&app, &url, body, Some(&good)).await;
    assert_eq!(status, 202, "{answer}");
    let run_id = answer["runId"].clone();
    let run: Value = app.call("run.get", json!({"runId": run_id}), Some(&f.token)).await.unwrap();
    assert_eq!(run["run"]["trigger"], "webhook");
    let input = &run["run"]["input"];
    assert_eq!(
        (&input["trigger"], &input["method"], &input["query"]),
        (&json!("webhook"), &json!("POST"), &json!({"q": "1"}))
    );
    assert!(input["headers"].get("x-weft-signature").is_none(), "{input}");
    assert_eq!(input["body"], json!({"name": "ada"}));

    // The same signed request again is a replay.
    let (status, _, answer) = post(&app, &url, body, Some(&good)).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("replay"));
    // A wrong secret, a changed body, a stale timestamp, no signature.
    let (status, _, _) = post(&app, &url, body, Some(&sign("whsec_wrong", now, body))).await;
    assert_eq!(status, 401);
    let (status, _, _) = post(&app, &url, r#"{"name":"eve"}"#, Some(&sign(&secret, now + 1, body))).await;
    assert_eq!(status, 401);
    let (status, _, answer) = post(&app, &url, body, Some(&sign(&secret, now - 3600, body))).await;
    assert_eq!(status, 401);
    assert!(answer["message"].as_str().unwrap().contains("tolerance"));
    let (status, _, answer) = post(&app, &url, body, None).await;
    assert_eq!((status, answer["message"].as_str().unwrap()), (401, "missing signature"));
    // Unknown webhooks.
    let (status, _, _) =
        post(&app, &format!("{}/hooks/{}", app.base, uuid::Uuid::now_v7()), body, None).await;
    assert_eq!(status, 404);
    let (status, _, _) = post(&app, &format!("{}/hooks/nope", app.base), body, None).await;
    assert_eq!(status, 404);

    // Rotation: the old secret stops working.
    let listed: Value =
        app.call("webhook.list", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    let webhook_id = listed["items"][0]["id"].clone();
    assert!(listed["items"][0].get("secret").is_none());
    let rotated: Value =
        app.call("webhook.rotateSecret", json!({"webhookId": webhook_id}), Some(&f.token)).await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let (status, _, _) = post(&app, &url, body, Some(&sign(&secret, now + 2, body))).await;
    assert_eq!(status, 401);
    let (status, _, _) = post(&app, &url, body, Some(&sign(new_secret, now + 2, body))).await;
    assert_eq!(status, 202);

    // Another user's webhook is not found.
    let stranger = app.register(&email("stranger")).await.access_token;
    let result =
        app.call::<Value>("webhook.rotateSecret", json!({"webhookId": webhook_id}), Some(&stranger)).await;
    expect_error(result, -32004, "notFound");
    let _: Value =
        app.call("webhook.delete", json!({"webhookId": webhook_id}), Some(&f.token)).await.unwrap();
    let (status, _, _) = post(&app, &url, body, Some(&sign(new_secret, now + 3, body))).await;
    assert_eq!(status, 404);
});

both!(a_signature_is_accepted_once_across_instances, |app| {
    let f = published(&app, None, None, json!("{{ input.body.n }}")).await;
    let (url, secret) = webhook(&app, &f, json!({"name": "shared"})).await;
    // A second instance on the same database, serving HTTP.
    let other = app.another_instance(test_config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_base = format!("http://{}", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(weft_api::http::serve(listener, other.clone(), async move { stopped.cancelled().await }));
    let other_url = url.replace(&app.base, &other_base);

    let body = r#"{"n":1}"#;
    let signed = sign(&secret, chrono::Utc::now().timestamp(), body);
    // The same signed call at both instances at once: one run, one replay.
    let (a, b) =
        tokio::join!(post(&app, &url, body, Some(&signed)), post(&app, &other_url, body, Some(&signed)));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [202, 401], "{a:?} {b:?}");
    let replayed = if a.0 == 401 { &a.2 } else { &b.2 };
    assert!(replayed["message"].as_str().unwrap().contains("replay"));
    // Again later, at either: still a replay.
    for target in [&url, &other_url] {
        let (status, _, answer) = post(&app, target, body, Some(&signed)).await;
        assert_eq!(status, 401, "{answer}");
    }
    let page: Value =
        app.call("run.list", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "one run");
    // A new signature of the same body is a new call.
    let again = sign(&secret, chrono::Utc::now().timestamp() + 1, body);
    assert_eq!(post(&app, &other_url, body, Some(&again)).await.0, 202);

    // Claims older than the tolerance are purged (such calls are refused by their timestamp).
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(app.state.store().purge_webhook_claims(later).await.unwrap(), 2);
    assert_eq!(app.state.store().purge_webhook_claims(later).await.unwrap(), 0);
    stop.cancel();
});

both!(sync_mode_answers_the_result, |app| {
    let f = published(&app, None, None, json!({"hello": "{{ input.body.name }}"})).await;
    let (url, token) =
        webhook(&app, &f, json!({"auth": "token", "mode": "sync", "syncTimeoutMs": 10000})).await;
    let response = app
        .http
        .put(&url)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(r#"{"name":"ada"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["output"], json!({"hello": "ada"}), "{answer}");
    assert_eq!(answer["status"], "succeeded");
    let wrong = app.http.post(&url).header("x-weft-token", "nope").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let missing = app.http.post(&url).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 401);

    // A slow run answers 202 with its id when the wait runs out.
    let slow = published(&app, Some(f.token.clone()), Some(3000), json!("late")).await;
    let (url, token) =
        webhook(&app, &slow, json!({"auth": "token", "mode": "sync", "syncTimeoutMs": 300})).await;
    let response = app.http.post(&url).header("x-weft-token", token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let answer: Value = response.json().await.unwrap();
    assert!(answer["runId"].is_string(), "{answer}");
});

both!(body_and_rate_limits, |app| {
    let f = published(&app, None, None, json!("ok")).await;
    let (url, token) =
        webhook(&app, &f, json!({"auth": "token", "maxBodyBytes": 1024, "ratePerMinute": 3})).await;
    let big = "x".repeat(2048);
    let response = app.http.post(&url).header("x-weft-token", &token).body(big).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    // A body streamed without a length is cut off at the limit too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![b'y'; 800]), Ok(vec![b'y'; 800])];
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = app.http.post(&url).header("x-weft-token", &token).body(stream).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    // Two went through the limiter already; the third is admitted, the fourth is not.
    let response = app.http.post(&url).header("x-weft-token", &token).body("{}").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let response = app.http.post(&url).header("x-weft-token", &token).body("{}").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
});
