//! Event triggers: a workflow started by another's runs ending or being started by hand.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::schedules::{Flow, published};

async fn runs_of(app: &TestApp, token: &str, workflow_id: &str) -> Vec<Value> {
    let page: Value = app.call("run.list", json!({"workflowId": workflow_id}), Some(token)).await.unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn eventually(app: &TestApp, token: &str, workflow_id: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let runs = runs_of(app, token, workflow_id).await;
        if runs.len() >= count && runs.iter().all(|r| r["status"] == "succeeded") {
            return runs;
        }
        assert!(tokio::time::Instant::now() < deadline, "expected {count} runs: {runs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

both!(runs_ending_and_manual_starts_trigger_workflows, |app| {
    let source = published(&app, None, None, json!("{{ input.n }}")).await;
    let token = source.token.clone();
    let project: Value = app.call("project.list", json!({}), Some(&token)).await.unwrap();
    let _ = project;
    // Targets in the same project as the source.
    let target = |output: Value| {
        let graph = json!({"nodes": [
            {"id": "start", "name": "start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}},
            {"id": "done", "name": "done", "type": "end", "position": {"x": 0, "y": 0}, "config": {"output": output}}
        ], "edges": [{"source": "start", "sourcePort": "out", "target": "done", "targetPort": "in"}]});
        json!({"projectId": source.project_id, "name": "T", "graph": graph})
    };
    let mut targets = Vec::new();
    for on in ["succeeded", "manual", "failed"] {
        let created: Value = app
            .call(
                "workflow.create",
                target(json!("{{ input.sourceRun.status }} {{ input.sourceRun.output }}")),
                Some(&token),
            )
            .await
            .unwrap();
        let id = created["workflow"]["id"].as_str().unwrap().to_owned();
        let _: Value = app.call("workflow.publish", json!({"workflowId": id}), Some(&token)).await.unwrap();
        let trigger: Value = app
            .call(
                "trigger.create",
                json!({"workflowId": id, "sourceWorkflowId": source.workflow_id, "on": on}),
                Some(&token),
            )
            .await
            .unwrap();
        assert_eq!(trigger["on"], on);
        targets.push(id);
    }
    let _: Value = app
        .call(
            "workflow.execute",
            json!({"workflowId": source.workflow_id, "input": {"n": 7}, "wait": true}),
            Some(&token),
        )
        .await
        .unwrap();
    let on_success = eventually(&app, &token, &targets[0], 1).await;
    assert_eq!(on_success[0]["trigger"], "event");
    assert_eq!(on_success[0]["output"], "succeeded 7");
    let on_manual = eventually(&app, &token, &targets[1], 1).await;
    assert_eq!(on_manual.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(runs_of(&app, &token, &targets[2]).await.is_empty(), "nothing failed");
    assert_eq!(runs_of(&app, &token, &targets[0]).await.len(), 1, "one run per triggering run");

    // Loops are refused; another user's triggers are not found.
    let cycle = app
        .call::<Value>(
            "trigger.create",
            json!({"workflowId": source.workflow_id, "sourceWorkflowId": targets[0], "on": "succeeded"}),
            Some(&token),
        )
        .await;
    expect_error(cycle, -32022, "validation");
    let listed: Value =
        app.call("trigger.list", json!({"workflowId": targets[0]}), Some(&token)).await.unwrap();
    let trigger_id = listed["items"][0]["id"].clone();
    let stranger = app.register(&email("stranger")).await.access_token;
    let result = app.call::<Value>("trigger.delete", json!({"triggerId": trigger_id}), Some(&stranger)).await;
    expect_error(result, -32004, "notFound");
    let _: Value = app.call("trigger.delete", json!({"triggerId": trigger_id}), Some(&token)).await.unwrap();
});

/// What a process that died between committing a run and reacting to it leaves behind: a run
/// of `source` started by hand at `started` and succeeded at `ended`, written straight to the
/// store. Its signals were never sent, so no live path reacts to it (a run started through
/// `workflow.execute` would be reacted to by this very process, which is alive: it fired the
/// trigger under the sweep's feet now and then). Its times are the test's, an hour ago, so the
/// instance's own sweep, on the wall clock, never sees it either.
async fn run_left_by_a_dead_process(
    app: &TestApp,
    source: &Flow,
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
) -> weft_store::Run {
    let store = app.state.store();
    let workflow_id: weft_core::WorkflowId = source.workflow_id.parse().unwrap();
    let version = store.find_workflow(workflow_id).await.unwrap().unwrap().published_version.unwrap();
    let new = weft_store::NewRun {
        workflow_id,
        project_id: source.project_id.parse().unwrap(),
        version,
        input: "{}".to_owned(),
        trigger: "manual".to_owned(),
        started_by: None,
        parent: None,
        depth: 0,
        deadline_at: None,
        entry_node: "start".to_owned(),
    };
    let mut txn = store.begin_steps().await.unwrap();
    let (run, _) = txn.create_run(new, started).await.unwrap();
    txn.start_run(run.id, started).await.unwrap();
    txn.set_run_output(run.id, "\"done\"".to_owned()).await.unwrap();
    assert!(txn.finish_run(run.id, weft_store::RunStatus::Succeeded, None, ended).await.unwrap());
    txn.commit().await.unwrap();
    store.get_run(run.id).await.unwrap().unwrap()
}

/// A trigger watching `on` ("succeeded" or "manual") whose reaction to a run was lost (the
/// process died between the run's end, or start, and reacting): the sweep reacts once, to
/// what happened 10 s to 15 min before the `now` it is given, and never again.
async fn missed_reaction_is_swept_once(app: &TestApp, on: &str) {
    let source = published(app, None, None, json!("done")).await;
    let token = source.token.clone();
    let graph = json!({"nodes": [
        {"id": "start", "name": "start", "type": "start", "position": {"x": 0, "y": 0}, "config": {}},
        {"id": "done", "name": "done", "type": "end", "position": {"x": 0, "y": 0}, "config": {"output": "{{ input.sourceRun.id }}"}}
    ], "edges": [{"source": "start", "sourcePort": "out", "target": "done", "targetPort": "in"}]});
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": source.project_id, "name": "T", "graph": graph}),
            Some(&token),
        )
        .await
        .unwrap();
    let target = created["workflow"]["id"].as_str().unwrap().to_owned();
    let _: Value = app.call("workflow.publish", json!({"workflowId": target}), Some(&token)).await.unwrap();
    // Started and ended apart, so a sweep looking at the wrong one of the two is caught at the
    // window's edges.
    let started = Utc::now().trunc_subsecs(0) - chrono::Duration::hours(1);
    let ended = started + chrono::Duration::seconds(5);
    let run = run_left_by_a_dead_process(app, &source, started, ended).await;
    assert_eq!((run.created_at, run.finished_at), (started, Some(ended)), "times read back exactly");
    // When what the trigger watches happened.
    let happened = if on == "manual" { started } else { ended };
    // The trigger was there when it happened; nothing fired.
    let trigger = weft_store::EventTrigger {
        id: weft_core::EventTriggerId(uuid::Uuid::now_v7()),
        project_id: run.project_id,
        workflow_id: target.parse().unwrap(),
        source_workflow_id: run.workflow_id,
        on: on.to_owned(),
        input: "{}".to_owned(),
        created_by: None,
        created_at: happened - chrono::Duration::minutes(1),
    };
    app.state.store().create_event_trigger(&trigger).await.unwrap();
    assert!(runs_of(app, &token, &target).await.is_empty());

    // Too recent for the sweep (still the live path's business), then too old; swept once at
    // the oldest it looks at, never twice.
    let engine = app.state.engine();
    let sweep = |after: chrono::Duration| engine.recover_triggers(happened + after);
    assert_eq!(sweep(chrono::Duration::seconds(10)).await.unwrap(), 0, "within the grace");
    assert_eq!(sweep(chrono::Duration::seconds(15 * 60 + 1)).await.unwrap(), 0, "beyond the window");
    assert_eq!(sweep(chrono::Duration::minutes(15)).await.unwrap(), 1, "at the window's start");
    let started_runs = eventually(app, &token, &target, 1).await;
    assert_eq!(started_runs[0]["trigger"], "event");
    assert_eq!(started_runs[0]["output"], run.id.to_string());
    assert_eq!(sweep(chrono::Duration::seconds(11)).await.unwrap(), 0, "fired already");
    // Nothing else knows of the run: no signal was sent, and the sweeps that answered 0 started
    // nothing.
    assert_eq!(runs_of(app, &token, &target).await.len(), 1);
}

both!(a_run_end_missed_by_a_dead_process_is_reacted_to_once_by_the_sweep, |app| {
    missed_reaction_is_swept_once(&app, "succeeded").await;
});

both!(a_start_by_hand_missed_by_a_dead_process_is_reacted_to_once_by_the_sweep, |app| {
    missed_reaction_is_swept_once(&app, "manual").await;
});
