//! Event streams on the wire, read by hand: a connection whose first request is
//! `GET /events` is served without hyper (response head, then frames written straight into
//! the socket, the body ending with the connection); one that served other requests first is
//! served by hyper (chunked). Both carry the same events; refusals and malformed requests get
//! whole answers; a client that leaves releases its stream; one event reaches hundreds of
//! streams, its delivery split between the runtime's workers, in order.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::realtime::bulky;

/// A raw HTTP/1.1 connection to the app.
struct Wire {
    socket: TcpStream,
    /// Bytes read and not yet consumed.
    read: Vec<u8>,
}

impl Wire {
    async fn open(app: &TestApp) -> Wire {
        Wire { socket: TcpStream::connect(app.addr).await.unwrap(), read: Vec::new() }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.unwrap();
    }

    /// Reads until `done` holds for what was read (10 s at most); `false` at the end of the
    /// connection.
    async fn fill_until(&mut self, done: impl Fn(&[u8]) -> bool) -> bool {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut chunk = [0u8; 8192];
            while !done(&self.read) {
                match self.socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => self.read.extend_from_slice(&chunk[..n]),
                }
            }
            true
        })
        .await
        .expect("nothing within 10 s")
    }

    /// The response head: status and lower-cased header fields.
    async fn head(&mut self) -> (u16, Vec<(String, String)>) {
        assert!(self.fill_until(|read| find(read, b"\r\n\r\n").is_some()).await, "no response head");
        let end = find(&self.read, b"\r\n\r\n").unwrap();
        let head = String::from_utf8(self.read.drain(..end + 4).collect()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let fields = lines
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        (status, fields)
    }

    /// The next SSE frame's (event type, id, data) whose type is not a heartbeat (with
    /// `heartbeats`, heartbeats too), from a body either raw or chunked (`chunked`).
    async fn frame(&mut self, chunked: bool, heartbeats: bool) -> Option<(String, Option<i64>, String)> {
        loop {
            if chunked {
                self.dechunk().await?;
            } else if !self.fill_until(|read| find(read, b"\n\n").is_some()).await {
                return None;
            }
            let end = find(&self.read, b"\n\n").unwrap();
            let frame = String::from_utf8(self.read.drain(..end + 2).collect()).unwrap();
            let (mut kind, mut id, mut data) = (String::new(), None, String::new());
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    kind = value.to_owned();
                } else if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.parse().unwrap());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                }
            }
            if heartbeats || kind != "heartbeat" {
                return Some((kind, id, data));
            }
        }
    }

    /// Reads chunks (replacing the chunked body read so far with its content) until a whole
    /// SSE frame is there; `None` at the end.
    async fn dechunk(&mut self) -> Option<()> {
        let mut content = Vec::new();
        loop {
            if find(&content, b"\n\n").is_some() {
                content.extend_from_slice(&self.read);
                self.read = content;
                return Some(());
            }
            if !self.fill_until(|read| find(read, b"\r\n").is_some()).await {
                return None;
            }
            let line_end = find(&self.read, b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&self.read[..line_end]).unwrap(), 16).unwrap();
            if size == 0 {
                return None;
            }
            let needed = line_end + 2 + size + 2;
            if !self.fill_until(|read| read.len() >= needed).await {
                return None;
            }
            content.extend_from_slice(&self.read[line_end + 2..line_end + 2 + size]);
            self.read.drain(..needed);
        }
    }

    /// The body of the response whose head had `fields` (`content-length` bytes), taken.
    async fn body(&mut self, fields: &[(String, String)]) -> Vec<u8> {
        let length: usize = field(fields, "content-length").unwrap().parse().unwrap();
        assert!(self.fill_until(|read| read.len() >= length).await);
        self.read.drain(..length).collect()
    }

    /// Whether the server closed the connection (within 10 s).
    async fn ended(&mut self) -> bool {
        !self.fill_until(|_| false).await
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn request(path: &str, token: Option<&str>, extra: &str) -> Vec<u8> {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: weft.test\r\n{auth}{extra}\r\n").into_bytes()
}

fn user_of(session: &Session) -> weft_core::UserId {
    weft_core::UserId(uuid::Uuid::parse_str(session.user["id"].as_str().unwrap()).unwrap())
}

/// Waits until the hub holds `n` streams (10 s at most).
async fn registered(app: &TestApp, n: usize) {
    registered_within(app, n, Duration::from_secs(10)).await;
}

async fn registered_within(app: &TestApp, n: usize, within: Duration) {
    let hub = app.state.hub();
    let done = wait_until(within, || hub.registered() == n).await;
    assert!(done, "{} streams registered, not {n}", hub.registered());
}

/// Heartbeats far apart: a stream is only released early if its client's leaving is noticed.
fn rare_heartbeats() -> weft_api::ApiConfig {
    let mut config = test_config();
    config.heartbeat_interval = Duration::from_secs(60);
    config
}

both!(
    a_connection_opened_for_events_is_written_directly_and_released_when_the_client_leaves,
    config = rare_heartbeats(),
    |app| {
        let session = app.register(&email("wire")).await;
        let token = session.access_token.as_str();
        let mut wire = Wire::open(&app).await;
        wire.send(&request("/events", Some(token), "Origin: http://localhost:5173\r\n")).await;
        let (status, fields) = wire.head().await;
        assert_eq!(status, 200);
        assert_eq!(field(&fields, "content-type"), Some("text/event-stream"));
        assert_eq!(field(&fields, "cache-control"), Some("no-cache"));
        assert_eq!(
            field(&fields, "connection"),
            Some("close"),
            "served directly: the body ends with the connection"
        );
        assert_eq!(field(&fields, "transfer-encoding"), None);
        assert_eq!(field(&fields, "content-length"), None);
        assert!(field(&fields, "x-request-id").is_some(), "the router's layers apply");
        assert_eq!(field(&fields, "access-control-allow-origin"), Some("http://localhost:5173"));
        let (kind, _, _) = wire.frame(false, true).await.unwrap();
        assert_eq!(kind, "heartbeat", "the first frame");
        registered(&app, 1).await;

        // Durable events with their ids, in order.
        for n in 0..3 {
            let (audience, event) = bulky(user_of(&session), n);
            app.state.bus().publish(audience, event);
        }
        let mut last = 0;
        for n in 0..3 {
            let (kind, id, data) = loop {
                let frame = wire.frame(false, false).await.unwrap();
                if frame.0 != "session.created" {
                    break frame;
                }
            };
            assert_eq!(kind, "notification.created");
            let data: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(data["notification"]["title"], format!("n{n}"));
            let id = id.expect("a durable event has an id");
            assert!(id > last);
            last = id;
        }

        // The client leaves: its stream is released at once, not at the next write (the next
        // heartbeat is a minute away).
        drop(wire);
        registered_within(&app, 0, Duration::from_secs(2)).await;
        assert!(field(&fields, "date").is_some());
    }
);

both!(a_stream_requested_after_other_requests_on_a_connection_is_served_by_hyper, |app| {
    let session = app.register(&email("keepalive")).await;
    let token = session.access_token.as_str();
    let mut wire = Wire::open(&app).await;
    wire.send(&request("/health", None, "")).await;
    let (status, fields) = wire.head().await;
    assert_eq!(status, 200);
    wire.body(&fields).await;
    // The same connection, kept alive.
    wire.send(&request("/events", Some(token), "")).await;
    let (status, fields) = wire.head().await;
    assert_eq!(status, 200);
    assert_eq!(field(&fields, "content-type"), Some("text/event-stream"));
    assert_eq!(field(&fields, "transfer-encoding"), Some("chunked"));
    let (kind, _, _) = wire.frame(true, true).await.unwrap();
    assert_eq!(kind, "heartbeat");
    let (audience, event) = bulky(user_of(&session), 7);
    app.state.bus().publish(audience, event);
    let (kind, id, data) = loop {
        let frame = wire.frame(true, false).await.unwrap();
        if frame.0 != "session.created" {
            break frame;
        }
    };
    assert_eq!(kind, "notification.created");
    assert!(id.is_some());
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap()["notification"]["title"], "n7");
});

#[tokio::test]
async fn refused_and_malformed_event_requests_get_a_whole_answer_and_the_connection_closes() {
    let app = TestApp::sqlite().await;
    let session = app.register(&email("refused")).await;
    let token = session.access_token.as_str();
    let answer = |path: String, token: Option<&str>| {
        let app = &app;
        let request = request(&path, token, "");
        async move {
            let mut wire = Wire::open(app).await;
            wire.send(&request).await;
            let (status, fields) = wire.head().await;
            assert_eq!(field(&fields, "connection"), Some("close"));
            let body = wire.body(&fields).await;
            let body: Value =
                if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap() };
            assert!(wire.ended().await, "the connection closes after the answer");
            (status, body)
        }
    };
    let (status, body) = answer("/events".into(), None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["data"]["reason"], "missingToken");
    let (status, body) = answer("/events?topics=run:not-an-id".into(), Some(token)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["data"]["fields"][0]["path"], "topics[0]");
    let missing = uuid::Uuid::now_v7();
    let (status, _) = answer(format!("/events?topics=workflow:{missing}"), Some(token)).await;
    assert_eq!(status, 404, "a topic the caller may not see");
    let (status, body) = answer("/events?lastEventId=-3".into(), Some(token)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["data"]["fields"][0]["path"], "lastEventId");
    assert_eq!(app.state.hub().registered(), 0, "nothing was opened");

    // Malformed heads.
    let raw = |bytes: Vec<u8>| {
        let app = &app;
        async move {
            let mut wire = Wire::open(app).await;
            wire.send(&bytes).await;
            let (status, _) = wire.head().await;
            assert!(wire.ended().await);
            status
        }
    };
    assert_eq!(raw(b"GET /events HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".to_vec()).await, 400);
    let huge = format!("GET /events HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n", "f".repeat(70_000));
    assert_eq!(raw(huge.into_bytes()).await, 431, "a head over 64 KiB");
    let many: String = (0..101).map(|n| format!("X-Field-{n}: {n}\r\n")).collect();
    assert_eq!(raw(format!("GET /events HTTP/1.1\r\n{many}\r\n").into_bytes()).await, 431, "101 fields");
    assert_eq!(raw(b"GET /events HTTP/2.0\r\nHost: x\r\n\r\n".to_vec()).await, 400, "HTTP/1.x only");
    // A path that only starts like the stream's goes to hyper as usual (its first bytes,
    // already read, replayed): the connection stays open for another request.
    let mut wire = Wire::open(&app).await;
    wire.send(&request("/eventsx", None, "")).await;
    let (status, fields) = wire.head().await;
    assert_eq!(status, 404);
    wire.body(&fields).await;
    wire.send(&request("/health", None, "")).await;
    assert_eq!(wire.head().await.0, 200, "kept alive");

    // A head that comes in pieces, from an HTTP/1.0 client, still opens the stream.
    let mut wire = Wire::open(&app).await;
    let whole = format!("GET /events HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n");
    for piece in [&whole[..2], &whole[2..9], &whole[9..30], &whole[30..]] {
        wire.send(piece.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let (status, fields) = wire.head().await;
    assert_eq!(status, 200);
    assert_eq!(field(&fields, "connection"), Some("close"));
    assert_eq!(wire.frame(false, true).await.unwrap().0, "heartbeat");
    // A client that sends anything more ends its stream.
    wire.send(b"unexpected").await;
    assert!(wire.ended().await);
}

/// A client that stops reading while large events keep coming: the socket fills, frames are
/// refused or written in part and the stream's pump finishes them and catches up from the
/// log; when the client reads again, every frame is whole, in order, none missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_gets_whole_frames_in_order_when_it_reads_again() {
    let mut config = test_config();
    config.realtime.slow_consumer_grace = Duration::from_secs(20);
    config.realtime.max_replay = 100_000;
    let app = TestApp::start(weft_store::testing::TestDatabase::sqlite().unwrap(), config).await;
    let session = app.register(&email("stalled")).await;
    let mut wire = Wire::open(&app).await;
    wire.send(&request("/events", Some(&session.access_token), "")).await;
    assert_eq!(wire.head().await.0, 200);
    assert_eq!(wire.frame(false, true).await.unwrap().0, "heartbeat");
    // 2,000 events of 4 KiB: more than the socket buffers hold while nobody reads.
    const N: usize = 2000;
    let user = user_of(&session);
    for n in 0..N {
        let (audience, event) = bulky(user, n);
        app.state.bus().publish(audience, event);
        if n % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut last_id = 0;
    for n in 0..N {
        let (kind, id, data) = loop {
            let frame = wire.frame(false, false).await.expect("the stream stays open");
            if frame.0 == "notification.created" {
                break frame;
            }
        };
        assert_eq!(kind, "notification.created");
        let data: Value = serde_json::from_str(&data).expect("a whole frame");
        assert_eq!(data["notification"]["title"], format!("n{n}"), "no gap, no repeat");
        let id = id.unwrap();
        assert!(id > last_id);
        last_id = id;
    }
    assert!(app.state.hub().paused() > 0, "the socket filled and the pump took the stream back");
}

both!(an_event_reaches_hundreds_of_streams_split_between_workers_in_order, |app| {
    let session = app.register(&email("many")).await;
    let token = session.access_token.as_str();
    const STREAMS: usize = 300;
    let mut wires = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        let mut wire = Wire::open(&app).await;
        wire.send(&request("/events", Some(token), "")).await;
        let (status, _) = wire.head().await;
        assert_eq!(status, 200);
        wires.push(wire);
    }
    registered(&app, STREAMS).await;
    for wire in &mut wires {
        let (kind, _, _) = wire.frame(false, true).await.unwrap();
        assert_eq!(kind, "heartbeat");
    }
    // Every stream is live before the events go out (the first heartbeat precedes going live).
    tokio::time::sleep(Duration::from_millis(200)).await;
    for n in 0..5 {
        let (audience, event) = bulky(user_of(&session), n);
        app.state.bus().publish(audience, event);
    }
    for wire in &mut wires {
        let mut titles = Vec::new();
        while titles.len() < 5 {
            let (kind, _, data) = wire.frame(false, false).await.unwrap();
            if kind == "notification.created" {
                let data: Value = serde_json::from_str(&data).unwrap();
                titles.push(data["notification"]["title"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(titles, ["n0", "n1", "n2", "n3", "n4"]);
    }
});
