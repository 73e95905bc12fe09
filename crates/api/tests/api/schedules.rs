//! Schedules through JSON-RPC, and the scheduler driven at simulated times: catch-up after
//! downtime, two instances ticking at once, a restart in the middle of a tick, overlap
//! policies, and real fires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weft_core::ScheduleId;

use crate::helpers::*;

/// A config whose scheduler loop is off: the tests drive ticks themselves.
fn manual_ticks() -> weft_api::ApiConfig {
    let mut config = test_config();
    config.engine.schedules.enabled = false;
    config
}

pub struct Flow {
    pub token: String,
    pub workflow_id: String,
    pub project_id: String,
}

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

/// A published workflow: start → (a delay of `delay_ms`) → end with `output`.
pub async fn published(app: &TestApp, token: Option<String>, delay_ms: Option<u64>, output: Value) -> Flow {
    let token = match token {
        Some(token) => token,
        None => app.register(&email("owner")).await.access_token,
    };
    let project: Value = app.call("project.create", json!({"name": "Triggers"}), Some(&token)).await.unwrap();
    let mut nodes = vec![node("start", "start", json!({})), node("done", "end", json!({"output": output}))];
    let mut edges = vec![];
    match delay_ms {
        Some(ms) => {
            nodes.push(node("wait", "delay", json!({"durationMs": ms})));
            edges.push(json!({"source": "start", "sourcePort": "out", "target": "wait", "targetPort": "in"}));
            edges.push(json!({"source": "wait", "sourcePort": "out", "target": "done", "targetPort": "in"}));
        }
        None => {
            edges.push(json!({"source": "start", "sourcePort": "out", "target": "done", "targetPort": "in"}))
        }
    }
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "W", "graph": {"nodes": nodes, "edges": edges}}),
            Some(&token),
        )
        .await
        .unwrap();
    let workflow_id = created["workflow"]["id"].as_str().unwrap().to_owned();
    let _: Value =
        app.call("workflow.publish", json!({"workflowId": workflow_id}), Some(&token)).await.unwrap();
    Flow { token, workflow_id, project_id: project["id"].as_str().unwrap().to_owned() }
}

async fn create(app: &TestApp, f: &Flow, params: Value) -> Value {
    let mut params = params;
    params["workflowId"] = json!(f.workflow_id);
    app.call("schedule.create", params, Some(&f.token)).await.unwrap()
}

fn at(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

fn id(schedule: &Value) -> ScheduleId {
    schedule["id"].as_str().unwrap().parse().unwrap()
}

async fn fires(app: &TestApp, f: &Flow, schedule: &Value) -> Vec<Value> {
    let page: Value =
        app.call("schedule.fires", json!({"scheduleId": schedule["id"]}), Some(&f.token)).await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// The fires' times of day, oldest first (sorted as times, not as text: a catch-up may cross
/// midnight).
fn hours(fires: &[Value]) -> Vec<String> {
    let mut times: Vec<_> = fires.iter().map(|f| at(&f["fireAt"])).collect();
    times.sort();
    times.into_iter().map(|t| t.format("%H:%M").to_string()).collect()
}

both!(crud_preview_and_access, |app| {
    let f = published(&app, None, None, json!("ok")).await;
    let created = create(
        &app,
        &f,
        json!({"name": "nightly", "cron": "30 2 * * *", "timeZone": "Europe/Berlin", "input": {"x": 1}}),
    )
    .await;
    assert_eq!(created["overlap"], "skip");
    assert_eq!(created["catchUp"], "none");
    assert!(created["nextFireAt"].is_string());
    let got: Value =
        app.call("schedule.get", json!({"scheduleId": created["id"]}), Some(&f.token)).await.unwrap();
    assert_eq!(got["input"], json!({"x": 1}));
    let listed: Value =
        app.call("schedule.list", json!({"workflowId": f.workflow_id}), Some(&f.token)).await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // The spring-forward night: 02:30 does not exist in Berlin, the fire comes at 03:00 CEST.
    let preview: Value = app
        .call(
            "schedule.preview",
            json!({"cron": "30 2 * * *", "timeZone": "Europe/Berlin", "after": "2026-03-28T12:00:00Z", "count": 2}),
            Some(&f.token),
        )
        .await
        .unwrap();
    assert_eq!(preview["fireTimes"], json!(["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]));

    let paused: Value =
        app.call("schedule.pause", json!({"scheduleId": created["id"]}), Some(&f.token)).await.unwrap();
    assert_eq!(paused["paused"], true);
    assert!(paused.get("nextFireAt").is_none());
    let resumed: Value =
        app.call("schedule.resume", json!({"scheduleId": created["id"]}), Some(&f.token)).await.unwrap();
    assert!(resumed["nextFireAt"].is_string());
    let updated: Value = app
        .call(
            "schedule.update",
            json!({"scheduleId": created["id"], "cron": "0 0 9 * * MON-FRI", "overlap": "queue"}),
            Some(&f.token),
        )
        .await
        .unwrap();
    assert_eq!(updated["overlap"], "queue");

    let invalid = app
        .call::<Value>(
            "schedule.create",
            json!({"workflowId": f.workflow_id, "cron": "61 * * * *"}),
            Some(&f.token),
        )
        .await;
    let data = expect_error(invalid, -32022, "validation");
    assert!(data.to_string().contains("\"cron\""), "{data}");
    let zone = app
        .call::<Value>(
            "schedule.create",
            json!({"workflowId": f.workflow_id, "cron": "* * * * *", "timeZone": "Mars/Base"}),
            Some(&f.token),
        )
        .await;
    let data = expect_error(zone, -32022, "validation");
    assert!(data.to_string().contains("\"timeZone\""), "{data}");

    // Another user's schedule is not found, never forbidden.
    let stranger = app.register(&email("stranger")).await.access_token;
    for method in ["schedule.get", "schedule.pause", "schedule.delete", "schedule.fires"] {
        let result = app.call::<Value>(method, json!({"scheduleId": created["id"]}), Some(&stranger)).await;
        assert_eq!(expect_error(result, -32004, "notFound")["resource"], "schedule", "{method}");
    }
    let deleted: Value =
        app.call("schedule.delete", json!({"scheduleId": created["id"]}), Some(&f.token)).await.unwrap();
    assert_eq!(deleted["deleted"], true);
});

both!(catch_up_policies_across_downtime, config = manual_ticks(), |app| {
    let f = published(&app, None, None, json!("ok")).await;
    let mut by_policy = Vec::new();
    for policy in ["none", "latest", "all"] {
        let schedule = create(
            &app,
            &f,
            json!({"cron": "0 * * * *", "catchUp": policy, "catchUpWindowSeconds": 3 * 3600, "overlap": "allowConcurrent"}),
        )
        .await;
        by_policy.push(schedule);
    }
    let next = at(&by_policy[0]["nextFireAt"]);
    // Every instance was down for five hours after the next fire time.
    let now = next + chrono::Duration::hours(5) + chrono::Duration::seconds(20);
    let report = app.state.engine().schedule_tick(now).await.unwrap();
    assert_eq!(report.started.len(), 1 + 2 + 3, "{report:?}");
    let hour = |h: i64| (next + chrono::Duration::hours(h)).format("%H:%M").to_string();
    assert_eq!(hours(&fires(&app, &f, &by_policy[0]).await), [hour(5)]);
    assert_eq!(hours(&fires(&app, &f, &by_policy[1]).await), [hour(4), hour(5)]);
    assert_eq!(hours(&fires(&app, &f, &by_policy[2]).await), [hour(3), hour(4), hour(5)]);
    for schedule in &by_policy {
        let got: Value =
            app.call("schedule.get", json!({"scheduleId": schedule["id"]}), Some(&f.token)).await.unwrap();
        assert_eq!(at(&got["nextFireAt"]), next + chrono::Duration::hours(6));
        for fire in fires(&app, &f, schedule).await {
            assert_eq!(fire["status"], "started");
            assert_eq!(fire["runStatus"], "succeeded", "{fire}");
        }
    }
    // A second tick at the same time finds nothing due.
    assert!(app.state.engine().schedule_tick(now).await.unwrap().started.is_empty());
});

both!(two_instances_never_fire_twice, config = manual_ticks(), |app| {
    let f = published(&app, None, None, json!("ok")).await;
    let mut schedules = Vec::new();
    for _ in 0..8 {
        let params = json!({"cron": "*/10 * * * *", "catchUp": "all", "overlap": "allowConcurrent", "catchUpWindowSeconds": 3600});
        schedules.push(create(&app, &f, params).await);
    }
    let other = app.another_instance(manual_ticks()).await;
    let next = at(&schedules[0]["nextFireAt"]);
    let mut total = 0;
    for round in 1..=3 {
        let now = next + chrono::Duration::minutes(30 * round) + chrono::Duration::seconds(5);
        let (a, b) = tokio::join!(app.state.engine().schedule_tick(now), other.engine().schedule_tick(now));
        let (a, b) = (a.unwrap(), b.unwrap());
        total += a.started.len() + b.started.len();
    }
    // Fire times within the hour's window up to next + 90 min, each once: 10 per schedule.
    let mut runs = std::collections::HashSet::new();
    for schedule in &schedules {
        let fired = fires(&app, &f, schedule).await;
        let mut times = hours(&fired);
        times.dedup();
        assert_eq!(times.len(), fired.len(), "a fire time ran twice");
        assert_eq!(fired.len(), 10, "{fired:?}");
        for fire in fired {
            assert!(runs.insert(fire["runId"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(total, 80);
    let page: Value = app
        .call("run.list", json!({"workflowId": f.workflow_id, "limit": 200}), Some(&f.token))
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 80);
});

both!(restart_in_the_middle_of_a_tick, config = manual_ticks(), |app| {
    let f = published(&app, None, None, json!("ok")).await;
    let schedule = create(
        &app,
        &f,
        json!({"cron": "0 * * * *", "catchUp": "all", "catchUpWindowSeconds": 3 * 3600, "overlap": "allowConcurrent"}),
    )
    .await;
    let next = at(&schedule["nextFireAt"]);
    let now = next + chrono::Duration::hours(5) + chrono::Duration::seconds(20);
    // The first instance claimed the 04:00-after fire with its run, then died before moving
    // the schedule on.
    let stored = app.state.store().get_schedule(id(&schedule)).await.unwrap().unwrap();
    let first = app.state.engine().fire_schedule(&stored, next + chrono::Duration::hours(4)).await.unwrap();
    assert!(matches!(first, weft_engine::scheduler::FireOutcome::Started(_)), "{first:?}");
    // A restarted instance repeats the tick: that fire is not run again.
    let restarted = app.another_instance(manual_ticks()).await;
    let report = restarted.engine().schedule_tick(now).await.unwrap();
    assert_eq!(report.started.len(), 2, "{report:?}");
    assert_eq!(report.already_claimed, 1);
    let fired = fires(&app, &f, &schedule).await;
    assert_eq!(fired.len(), 3);
    assert!(fired.iter().all(|fire| fire["runId"].is_string()));
});

both!(an_unusable_published_version_skips_fires_and_moves_the_schedule_on, config = manual_ticks(), |app| {
    let f = published(&app, None, None, json!("ok")).await;
    let schedule = create(&app, &f, json!({"cron": "0 * * * *", "catchUp": "all"})).await;
    // The stored graph of the published version no longer reads as a graph.
    app.execute_sql(r#"UPDATE workflow_versions SET graph = '{"nodes": 5}' WHERE graph IS NOT NULL"#).await;
    let next = at(&schedule["nextFireAt"]);
    let now = next + chrono::Duration::seconds(1);
    let report = app.state.engine().schedule_tick(now).await.unwrap();
    assert!(report.started.is_empty(), "{report:?}");
    assert_eq!((report.recorded, report.unreadable), (1, 0), "recorded, not left due: {report:?}");
    let fired = fires(&app, &f, &schedule).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["status"], "skipped");
    assert_eq!(at(&fired[0]["fireAt"]), next);
    let got: Value =
        app.call("schedule.get", json!({"scheduleId": schedule["id"]}), Some(&f.token)).await.unwrap();
    assert_eq!(at(&got["nextFireAt"]), next + chrono::Duration::hours(1), "moved on");
    // Nothing is left due to try again (the scheduler loop would otherwise spin on it).
    assert_eq!(app.state.engine().schedule_tick(now).await.unwrap(), Default::default());
});

both!(overlap_skip_and_queue, config = manual_ticks(), |app| {
    let f = published(&app, None, Some(1500), json!("slow")).await;
    let skip = create(&app, &f, json!({"cron": "0 * * * *", "catchUp": "all", "overlap": "skip"})).await;
    let queue = create(&app, &f, json!({"cron": "0 * * * *", "catchUp": "all", "overlap": "queue"})).await;
    let next = at(&skip["nextFireAt"]);
    // Two fire times in one tick: the first run is still waiting on its delay at the second.
    let now = next + chrono::Duration::hours(1) + chrono::Duration::seconds(1);
    app.state.engine().schedule_tick(now).await.unwrap();
    let statuses = |fires: Vec<Value>| {
        let mut s: Vec<String> = fires.iter().map(|f| f["status"].as_str().unwrap().to_owned()).collect();
        s.sort();
        s
    };
    assert_eq!(statuses(fires(&app, &f, &skip).await), ["skipped", "started"]);
    assert_eq!(statuses(fires(&app, &f, &queue).await), ["queued", "started"]);
    // When the first run ends, the queued fire starts.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let fired = fires(&app, &f, &queue).await;
        if fired.iter().all(|fire| fire["status"] == "started" && fire["runStatus"] == "succeeded") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the queued fire never ran: {fired:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
});

both!(real_fires_every_second, |app| {
    let f = published(&app, None, None, json!("{{ input.fireAt }}")).await;
    let schedule = create(&app, &f, json!({"cron": "* * * * * *", "input": {"k": "v"}})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let fired = loop {
        let fired = fires(&app, &f, &schedule).await;
        if fired.iter().filter(|fire| fire["runStatus"] == "succeeded").count() >= 2 {
            break fired;
        }
        assert!(tokio::time::Instant::now() < deadline, "no fires: {fired:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let fire = fired.iter().find(|fire| fire["runStatus"] == "succeeded").unwrap();
    let run: Value = app.call("run.get", json!({"runId": fire["runId"]}), Some(&f.token)).await.unwrap();
    assert_eq!(run["run"]["trigger"], "schedule");
    assert_eq!(run["run"]["output"], fire["fireAt"], "{run}");
    let _: Value =
        app.call("schedule.pause", json!({"scheduleId": schedule["id"]}), Some(&f.token)).await.unwrap();
});
