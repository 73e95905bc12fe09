//! Event streams with topics, ids and resume: the topic access matrix, `Last-Event-ID`
//! replay after a dropped connection, `resync` beyond the log's retention, a slow consumer
//! that neither slows others nor loses events, and WebSocket subscriptions.

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::ws_client::WsClientBuilder;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use weft_events::{Audience, Envelope, NotificationKind, NotificationPriority, NotificationView, WeftEvent};

use crate::helpers::*;

/// An SSE stream read with eventsource-stream from a body whose reads fail with `E`.
pub type EventsOf<E> = std::pin::Pin<
    Box<dyn Stream<Item = Result<eventsource_stream::Event, eventsource_stream::EventStreamError<E>>> + Send>,
>;

/// An SSE stream read through reqwest.
pub type Events = EventsOf<reqwest::Error>;

/// One SSE event: its id (durable events), type and payload.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: Option<i64>,
    pub kind: String,
    pub data: Value,
}

/// Opens `GET /events` with `query` and an optional `Last-Event-ID`.
pub async fn stream(
    app: &TestApp,
    token: &str,
    query: &str,
    last: Option<i64>,
) -> Result<Events, (u16, Value)> {
    let mut request = app.http.get(format!("{}/events{query}", app.base)).bearer_auth(token);
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.unwrap();
    if response.status().as_u16() != 200 {
        let status = response.status().as_u16();
        return Err((status, response.json().await.unwrap()));
    }
    Ok(Box::pin(response.bytes_stream().eventsource()))
}

/// The next event other than a heartbeat or `session.created` (a registration's own event goes
/// through the event log, so it may reach a stream opened right after), or `None` when the
/// stream ended; panics after 10 s.
pub async fn next_event<E>(events: &mut EventsOf<E>) -> Option<Seen> {
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            let Ok(event) = event else { return None };
            if event.event == "heartbeat" || event.event == "session.created" {
                continue;
            }
            let id = (!event.id.is_empty()).then(|| event.id.parse().unwrap());
            return Some(Seen { id, kind: event.event, data: serde_json::from_str(&event.data).unwrap() });
        }
        None
    })
    .await
    .expect("no event within 10 s")
}

/// A heartbeat arrived: the stream is subscribed.
pub async fn live<E: std::fmt::Debug>(events: &mut EventsOf<E>) {
    let event = tokio::time::timeout(Duration::from_secs(10), events.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(event.event, "heartbeat");
}

/// A project with a three-node workflow; answers (project id, workflow id).
pub async fn workflow(app: &TestApp, token: &str) -> (String, String) {
    let project: Value = app.call("project.create", json!({"name": "Live"}), Some(token)).await.unwrap();
    let node = |id: &str, kind: &str, config: Value| json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config});
    let graph = json!({
        "nodes": [node("start", "start", json!({})), node("shape", "transform", json!({"output": 1})), node("done", "end", json!({}))],
        "edges": [
            {"source": "start", "sourcePort": "out", "target": "shape", "targetPort": "in"},
            {"source": "shape", "sourcePort": "out", "target": "done", "targetPort": "in"}
        ]
    });
    let created: Value = app
        .call(
            "workflow.create",
            json!({"projectId": project["id"], "name": "W", "graph": graph}),
            Some(token),
        )
        .await
        .unwrap();
    (project["id"].as_str().unwrap().to_owned(), created["workflow"]["id"].as_str().unwrap().to_owned())
}

/// Runs the workflow to its end; answers the run id.
pub async fn run(app: &TestApp, token: &str, workflow_id: &str) -> String {
    let result: Value = app
        .call("workflow.execute", json!({"workflowId": workflow_id, "version": 1, "wait": true}), Some(token))
        .await
        .unwrap();
    assert_eq!(result["run"]["status"], "succeeded");
    result["run"]["id"].as_str().unwrap().to_owned()
}

/// Events up to and including the run's `run.succeeded`.
async fn until_succeeded(events: &mut Events, run_id: &str) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(events).await.expect("stream ended early");
        let done = event.kind == "run.succeeded" && event.data["runId"] == run_id;
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn assert_increasing(seen: &[Seen]) {
    let ids: Vec<i64> = seen.iter().map(|e| e.id.expect("durable events carry ids")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
}

both!(topics_are_checked_when_a_stream_opens, |app| {
    let owner = app.register(&email("owner")).await;
    let stranger = app.register(&email("stranger")).await;
    let (project, workflow_id) = workflow(&app, &owner.access_token).await;
    let run_id = run(&app, &owner.access_token, &workflow_id).await;
    let topics = [format!("project:{project}"), format!("workflow:{workflow_id}"), format!("run:{run_id}")];
    for topic in &topics {
        assert!(
            stream(&app, &owner.access_token, &format!("?topics={topic}"), None).await.is_ok(),
            "{topic}"
        );
        let (status, body) =
            stream(&app, &stranger.access_token, &format!("?topics={topic}"), None).await.err().unwrap();
        assert_eq!(status, 404, "{topic}");
        assert_eq!(body["error"]["code"], -32004);
    }
    // One topic the caller may not see refuses the whole stream.
    let mixed = format!("?topics=project:{project},run:{}", uuid::Uuid::now_v7());
    assert_eq!(stream(&app, &owner.access_token, &mixed, None).await.err().unwrap().0, 404);
    for bad in ["?topics=run:nope", "?topics=job:1", "?topics=project"] {
        let (status, body) = stream(&app, &owner.access_token, bad, None).await.err().unwrap();
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"]["data"]["fields"][0]["path"], "topics[0]");
    }
    let (status, _) = stream(&app, &owner.access_token, "", Some(-1)).await.err().unwrap();
    assert_eq!(status, 400);
});

both!(a_run_topic_carries_that_run_and_a_workflow_topic_all_its_runs, |app| {
    let owner = app.register(&email("owner")).await;
    let token = owner.access_token.as_str();
    let (_, workflow_id) = workflow(&app, token).await;
    let first = run(&app, token, &workflow_id).await;
    let mut by_run = stream(&app, token, &format!("?topics=run:{first}"), None).await.unwrap();
    let mut by_workflow =
        stream(&app, token, &format!("?topics=workflow:{workflow_id}"), None).await.unwrap();
    live(&mut by_run).await;
    live(&mut by_workflow).await;
    let second = run(&app, token, &workflow_id).await;
    let seen = until_succeeded(&mut by_workflow, &second).await;
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|e| e.data["runId"] == second));
    assert_increasing(&seen);
    // The first run is over: its topic got nothing of the second.
    let notification =
        WeftEvent::RunCancelled { run_id: weft_core::RunId(uuid::Uuid::parse_str(&first).unwrap()) };
    let user = weft_core::UserId(uuid::Uuid::parse_str(owner.user["id"].as_str().unwrap()).unwrap());
    app.state.bus().publish(Audience::User { user }, notification);
    let event = next_event(&mut by_run).await.unwrap();
    assert_eq!(event.kind, "run.cancelled", "personal events arrive, the other run's do not: {event:?}");
});

both!(a_dropped_stream_resumes_from_its_last_event_id, |app| {
    let owner = app.register(&email("owner")).await;
    let token = owner.access_token.as_str();
    let (project, workflow_id) = workflow(&app, token).await;
    let query = format!("?topics=project:{project}");
    let mut events = stream(&app, token, &query, None).await.unwrap();
    live(&mut events).await;
    let first = run(&app, token, &workflow_id).await;
    let mut before = Vec::new();
    for _ in 0..3 {
        before.push(next_event(&mut events).await.unwrap());
    }
    drop(events);
    let last = before.last().unwrap().id.unwrap();
    let second = run(&app, token, &workflow_id).await;

    let mut resumed = stream(&app, token, &query, Some(last)).await.unwrap();
    let mut after = until_succeeded(&mut resumed, &first).await;
    after.extend(until_succeeded(&mut resumed, &second).await);
    assert_eq!(before.len() + after.len(), 16, "every event of both runs once");
    let all: Vec<Seen> = before.into_iter().chain(after).collect();
    assert_increasing(&all);
    assert_eq!(all[0].kind, "run.started");
    assert_eq!(all[8].kind, "run.started");
    assert_eq!(all[8].data["runId"], second);

    // The same position as a query parameter (clients that cannot set headers).
    let mut again = stream(&app, token, &format!("{query}&lastEventId={last}"), None).await.unwrap();
    assert_eq!(next_event(&mut again).await.unwrap().id, all[3].id);
});

both!(a_position_the_log_no_longer_holds_gets_resync, |app| {
    let owner = app.register(&email("owner")).await;
    let token = owner.access_token.as_str();
    let (project, workflow_id) = workflow(&app, token).await;
    let query = format!("?topics=project:{project}");
    let mut events = stream(&app, token, &query, None).await.unwrap();
    live(&mut events).await;
    run(&app, token, &workflow_id).await;
    let first = next_event(&mut events).await.unwrap().id.unwrap();
    drop(events);
    // Retention passed: everything so far is pruned.
    let pruned =
        app.state.store().prune_events(chrono::Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
    assert!(pruned >= 8);
    let mut resumed = stream(&app, token, &query, Some(first)).await.unwrap();
    let resync = next_event(&mut resumed).await.unwrap();
    assert_eq!((resync.kind.as_str(), &resync.data["reason"]), ("resync", &json!("retention")));
    let (_, newest) = app.state.store().event_log_bounds().await.unwrap();
    assert_eq!(resync.id, Some(newest), "resync carries the position to continue from");
    // Live events follow.
    let next_run = run(&app, token, &workflow_id).await;
    let seen = until_succeeded(&mut resumed, &next_run).await;
    assert!(seen[0].id.unwrap() > newest);

    let mut future = stream(&app, token, &query, Some(newest + 1_000_000)).await.unwrap();
    let resync = next_event(&mut future).await.unwrap();
    assert_eq!((resync.kind.as_str(), &resync.data["reason"]), ("resync", &json!("unknownPosition")));
});

/// A 4 KiB personal notification.
pub fn bulky(user: weft_core::UserId, n: usize) -> (Audience, WeftEvent) {
    let notification = NotificationView {
        id: uuid::Uuid::now_v7(),
        kind: NotificationKind::RunFailed,
        priority: NotificationPriority::Low,
        title: format!("n{n}"),
        body: "x".repeat(4096),
        data: json!({}),
        read: false,
        created_at: chrono::Utc::now(),
    };
    (Audience::User { user }, WeftEvent::NotificationCreated { notification })
}

#[tokio::test]
async fn a_slow_consumer_is_cut_off_without_slowing_others_and_resumes() {
    let mut config = test_config();
    config.realtime.stream_buffer = 8;
    config.realtime.slow_consumer_grace = Duration::from_millis(500);
    config.realtime.max_replay = 100_000;
    let app = TestApp::start(weft_store::testing::TestDatabase::sqlite().unwrap(), config).await;
    let session = app.register(&email("slow")).await;
    let token = session.access_token.as_str();
    let user = weft_core::UserId(uuid::Uuid::parse_str(session.user["id"].as_str().unwrap()).unwrap());
    let mut fast = stream(&app, token, "", None).await.unwrap();
    let mut slow = stream(&app, token, "", None).await.unwrap();
    live(&mut fast).await;
    live(&mut slow).await;
    // 20 MB: more than the socket buffers between the server and a client that stops reading.
    const N: usize = 5000;
    for n in 0..N {
        let (audience, event) = bulky(user, n);
        app.state.bus().publish(audience, event);
    }
    let mut fast_seen = Vec::new();
    while fast_seen.len() < N {
        let event = next_event(&mut fast).await.expect("the fast stream stays open");
        assert_eq!(event.data["notification"]["title"], format!("n{}", fast_seen.len()));
        fast_seen.push(event);
    }
    assert_increasing(&fast_seen);
    // The slow stream was closed once its buffer stayed full past the grace period; what it
    // had buffered still arrives, then the end.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut slow_seen = Vec::new();
    while let Some(event) = next_event(&mut slow).await {
        slow_seen.push(event);
    }
    assert!(slow_seen.len() < N, "the slow stream was cut off ({} events)", slow_seen.len());
    assert!(!slow_seen.is_empty());
    for (n, event) in slow_seen.iter().enumerate() {
        assert_eq!(event.data["notification"]["title"], format!("n{n}"));
    }
    // Reconnecting with its last id delivers exactly the rest.
    let mut resumed = stream(&app, token, "", slow_seen.last().unwrap().id).await.unwrap();
    for n in slow_seen.len()..N {
        let event = next_event(&mut resumed).await.unwrap();
        assert_eq!(event.data["notification"]["title"], format!("n{n}"));
    }
}

/// The receive buffer of [`stream_with_small_window`]'s socket.
const RECEIVE_BUFFER: u32 = 32 * 1024;

/// Opens `GET /events` on a connection of its own (served straight into the socket) whose
/// receive buffer is fixed at [`RECEIVE_BUFFER`], which turns the kernel's autotuning off, and
/// reads it with eventsource-stream. Autotuned, a client's receive buffer grows while it reads
/// fast, up to `net.ipv4.tcp_rmem`'s maximum (tens of MiB on loopback), so how much a client
/// that then stops reading takes in before its stream is paused would depend on how it read
/// before; fixed, only the server's send buffer (up to `net.ipv4.tcp_wmem`'s maximum) is
/// added to it.
async fn stream_with_small_window(app: &TestApp, token: &str) -> EventsOf<std::io::Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(RECEIVE_BUFFER).unwrap();
    let mut socket = socket.connect(app.addr).await.unwrap();
    let request = format!("GET /events HTTP/1.1\r\nHost: weft.test\r\nAuthorization: Bearer {token}\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    // The response head; the body is what follows, up to the connection's end.
    let mut read = Vec::new();
    let body_start = loop {
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "no response head");
        read.extend_from_slice(&chunk[..n]);
    };
    assert!(read.starts_with(b"HTTP/1.1 200 "), "{}", String::from_utf8_lossy(&read[..body_start]));
    let first = read.split_off(body_start);
    let rest = futures::stream::unfold(Some(socket), |socket| async move {
        let mut socket = socket?;
        let mut chunk = vec![0u8; 16 * 1024];
        match socket.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(chunk), Some(socket)))
            }
            Err(err) => Some((Err(err), None)),
        }
    });
    Box::pin(futures::stream::once(async { Ok(first) }).chain(rest).eventsource())
}

/// Waits until the notification titled `n{n}` has come out of the event log to this
/// instance's subscribers (the dispatcher among them).
async fn out_of_the_log(log: &mut tokio::sync::broadcast::Receiver<Arc<Envelope>>, n: usize) {
    let title = format!("n{n}");
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let envelope = log.recv().await.expect("the test keeps up with the bus");
            if let WeftEvent::NotificationCreated { notification } = &envelope.event
                && notification.title == title
            {
                return;
            }
        }
    })
    .await
    .expect("the event left the log within 10 s");
}

/// A client stalls only until its stream is paused, far less than this grace period.
fn patient() -> weft_api::ApiConfig {
    let mut config = test_config();
    config.realtime.slow_consumer_grace = Duration::from_secs(30);
    config.realtime.max_replay = 100_000;
    config
}

/// A stream whose client stops reading now and then while events keep coming. Each round,
/// the client stops reading and events are published until its socket is full and the
/// stream is handed back to its pump (the hub counts it: the test waits for that, not for
/// time). Then the client reads again while more events are published: the dispatcher passes
/// over them while the stream is paused, its pump delivers them from the log, and once
/// everything is read the stream is live again (a stream is paused only while live, so each
/// round's pause shows the previous hand-over). With `joined_later`, the events are of a
/// project the caller joined after the stream opened.
async fn falls_behind_and_catches_up(app: &TestApp, joined_later: bool) {
    const ROUNDS: u64 = 3;
    /// Events published while the client reads again after a pause.
    const WHILE_CATCHING_UP: usize = 100;
    let session = app.register(&email("behind")).await;
    let token = session.access_token.as_str();
    let user = weft_core::UserId(uuid::Uuid::parse_str(session.user["id"].as_str().unwrap()).unwrap());
    let hub = app.state.hub();
    let mut events = stream_with_small_window(app, token).await;
    live(&mut events).await;
    assert!(wait_until(Duration::from_secs(10), || hub.live() == 1).await, "the stream goes live");
    let audience = if joined_later {
        let project: Value = app.call("project.create", json!({"name": "Later"}), Some(token)).await.unwrap();
        Audience::Project { project: project["id"].as_str().unwrap().parse().unwrap() }
    } else {
        Audience::User { user }
    };
    let bus = app.state.bus();
    let publish = |n| {
        let (_, event) = bulky(user, n);
        bus.publish(audience, event);
    };
    let mut published = 0;
    let mut seen = Vec::new();
    for round in 1..=ROUNDS {
        // The client stops reading: events come until its socket is full and the dispatcher
        // (or the stream's heartbeat) hands the stream back to its pump.
        let paused = hub.paused();
        let mut log = bus.subscribe();
        let filling = async {
            while hub.paused() == paused {
                // A few at a time, each batch out of the log before the next, so that the
                // socket fills with little to spare.
                for _ in 0..8 {
                    publish(published);
                    published += 1;
                }
                out_of_the_log(&mut log, published - 1).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), filling)
            .await
            .expect("the socket filled and the stream was handed back to its pump");
        drop(log);
        // It reads again while more events are written: its pump catches up from the log
        // meanwhile, and hands the stream over again once it has caught up.
        let target = published + WHILE_CATCHING_UP;
        while seen.len() < target {
            if published < target {
                publish(published);
                published += 1;
            }
            next_notification(&mut events, &mut seen).await;
        }
        let live_again = wait_until(Duration::from_secs(10), || hub.live() == 1).await;
        assert!(live_again, "the stream is live again after round {round}");
    }
    // Live: later events arrive as they are published.
    for _ in 0..3 {
        publish(published);
        published += 1;
    }
    while seen.len() < published {
        next_notification(&mut events, &mut seen).await;
    }
    assert_increasing(&seen);
    assert!(hub.paused() >= ROUNDS, "the stream was handed back to its pump in every round");
}

/// Reads the next notification, which must be the one after those `seen`.
async fn next_notification<E>(events: &mut EventsOf<E>, seen: &mut Vec<Seen>) {
    loop {
        let event = next_event(events).await.expect("the stream stays open");
        if event.kind == "notification.created" {
            assert_eq!(event.data["notification"]["title"], format!("n{}", seen.len()), "no gap, no repeat");
            seen.push(event);
            return;
        }
    }
}

both!(a_stream_that_falls_behind_catches_up_and_goes_live_again_without_gaps, config = patient(), |app| {
    falls_behind_and_catches_up(&app, false).await;
});

both!(a_stream_of_every_project_catches_up_on_projects_joined_since_it_opened, config = patient(), |app| {
    falls_behind_and_catches_up(&app, true).await;
});

both!(websocket_subscriptions_follow_topics_with_the_same_checks, |app| {
    let owner = app.register(&email("owner")).await;
    let stranger = app.register(&email("stranger")).await;
    let token = owner.access_token.as_str();
    let (_, workflow_id) = workflow(&app, token).await;
    let ws_url = format!("ws://{}/rpc", app.addr);
    let socket = |token: String| {
        let ws_url = ws_url.clone();
        async move {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
            WsClientBuilder::default().set_headers(headers).build(&ws_url).await.unwrap()
        }
    };
    let client = socket(owner.access_token.clone()).await;
    let mut params = ObjectParams::new();
    params.insert("topics", vec![format!("workflow:{workflow_id}")]).unwrap();
    let mut subscription =
        client.subscribe::<Value, _>("events.subscribe", params.clone(), "events.unsubscribe").await.unwrap();
    let run_id = run(&app, token, &workflow_id).await;
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    while kinds.last().map(String::as_str) != Some("run.succeeded") {
        let item = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(item["event"]["runId"], run_id);
        kinds.push(item["event"]["type"].as_str().unwrap().to_owned());
        ids.push(item["id"].as_i64().unwrap());
    }
    assert_eq!(kinds.len(), 8);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // Resuming on a new subscription replays after the given id.
    let mut resume = params.clone();
    resume.insert("lastEventId", ids[5]).unwrap();
    let mut replay =
        client.subscribe::<Value, _>("events.subscribe", resume, "events.unsubscribe").await.unwrap();
    for expected in &ids[6..] {
        let item =
            tokio::time::timeout(Duration::from_secs(10), replay.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(item["id"].as_i64(), Some(*expected));
    }

    // The stranger's socket is refused the topic; over HTTP the procedure names the transport.
    let theirs = socket(stranger.access_token.clone()).await;
    let error = theirs
        .subscribe::<Value, _>("events.subscribe", params.clone(), "events.unsubscribe")
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("-32004"), "{error}");
    let error = app
        .call::<Value>(
            "events.subscribe",
            json!({"topics": [format!("workflow:{workflow_id}")]}),
            Some(token),
        )
        .await
        .unwrap_err();
    assert_eq!(data(&error)["fields"][0]["code"], "webSocketOnly");
    let mut unsubscribe = ObjectParams::new();
    unsubscribe.insert("subscription", "nope").unwrap();
    let answer: Value = client.request("events.unsubscribe", unsubscribe).await.unwrap();
    assert_eq!(answer["unsubscribed"], false);
});
