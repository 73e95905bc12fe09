//! Realtime benchmark (issue 6, `cargo xtask bench sse`): one `weft serve` process (the
//! binary of this package, built in the bench profile) on a fresh SQLite database, and on
//! PostgreSQL when `WEFT_TEST_POSTGRES_URL` is set, holding `WEFT_BENCH_SSE_CONNECTIONS`
//! (10,000) `GET /events?topics=workflow:<id>` streams opened from this process.
//!
//! Once every stream has seen its first heartbeat, one editor publishes
//! `WEFT_BENCH_SSE_EVENTS` (24) events on the workflow's topic, `WEFT_BENCH_SSE_SPACING_MS`
//! (200) apart: ephemeral `collab.cursor` updates whose cursor carries a sequence number and
//! the send time, and every sixth a durable `collab.comment` whose body carries them. Each
//! stream is a bare HTTP/1.1 client on a `TcpStream` that reads its frames by hand (no JSON
//! parsing; the generator shares the server's cores, so it is kept as cheap per delivery as
//! it can be: once open, every stream is read by one thread from one `epoll` set) and
//! records receive time − send time (one clock, this process's). The CPU time
//! of the server and of this process during the fan-out is printed per delivery. Meanwhile
//! `WEFT_BENCH_SSE_RPC_LOOPS` (2) loops call `project.list` back to back, or
//! `WEFT_BENCH_SSE_RPC_RATE` calls per second in all when set; their latency is also taken
//! with the streams idle.
//!
//! Printed: the time to open the streams, the server's RSS and high-water mark from
//! `/proc/<pid>/status` (started, 10,000 idle streams, after the fan-out), delivery latency
//! over all deliveries and per event, how many streams got every event, and JSON-RPC latency
//! idle and during the fan-out, each against the targets of issue 6. Figures go to
//! `docs/benchmarks.md`. The server's own heartbeat interval is its default unless
//! `WEFT_HEARTBEAT_INTERVAL` is set.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

mod support;

use support::{Latencies, Memory, PASSWORD, Rpc, Server, cpu_time, env_number, mib, rand_suffix, verdict};

const MEMORY_TARGET_KIB: u64 = 1024 * 1024;
const P99_TARGET: Duration = Duration::from_millis(100);
/// Streams being opened at once (the server's accept backlog is 1,024).
const OPENING_AT_ONCE: usize = 256;

struct Config {
    connections: usize,
    events: usize,
    spacing: Duration,
    rpc_loops: usize,
    /// Calls per second of all loops together; 0: back to back.
    rpc_rate: usize,
    sessions: usize,
}

impl Config {
    fn from_env() -> Config {
        Config {
            connections: env_number("WEFT_BENCH_SSE_CONNECTIONS", 10_000),
            events: env_number("WEFT_BENCH_SSE_EVENTS", 24),
            spacing: Duration::from_millis(env_number("WEFT_BENCH_SSE_SPACING_MS", 200) as u64),
            rpc_loops: env_number("WEFT_BENCH_SSE_RPC_LOOPS", 2),
            rpc_rate: env_number("WEFT_BENCH_SSE_RPC_RATE", 0),
            sessions: env_number("WEFT_BENCH_SSE_SESSIONS", 10).max(1),
        }
    }

    fn is_comment(seq: usize) -> bool {
        seq % 6 == 5
    }
}

fn main() {
    let config = Config::from_env();
    // reqwest is built without a TLS provider of its own.
    weft_engine::install_tls_provider();
    raise_fd_limit(config.connections as u64 + 1_024);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut databases = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("WEFT_TEST_POSTGRES_URL") {
        databases.push(("postgres", Some(url)));
    }
    for (name, url) in databases {
        runtime.block_on(bench(&config, name, url.as_deref()));
    }
}

/// The streams and this process's sockets need one descriptor each; the server started
/// from here inherits the limit.
fn raise_fd_limit(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < needed {
        setrlimit(Resource::RLIMIT_NOFILE, hard.min(needed.max(soft)), hard).unwrap();
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        soft >= needed,
        "the open-files limit is {soft} (hard {hard}); {needed} are needed: raise `ulimit -Hn`"
    );
}

/// What every stream reports to.
struct Shared {
    clock: Instant,
    ready: AtomicUsize,
    refused: AtomicUsize,
    ended: AtomicUsize,
    /// Bench events received, per stream.
    received: Vec<AtomicU32>,
    /// (event sequence number, latency in µs) of every delivery, per stream.
    deliveries: Vec<Mutex<Vec<(u32, u32)>>>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.clock.elapsed().as_micros() as u64
    }

    /// Records stream `index` receiving a bench event now.
    fn record(&self, index: usize, frame: Frame) {
        let latency = self.now_us().saturating_sub(frame.sent_us).min(u64::from(u32::MAX)) as u32;
        self.received[index].fetch_add(1, Ordering::Relaxed);
        self.deliveries[index].lock().unwrap().push((frame.seq, latency));
    }
}

/// A bench event as received.
struct Frame {
    seq: u32,
    sent_us: u64,
}

/// Reads SSE lines by hand: `event:` names the frame, its `data:` line carries the bench
/// marker (`"benchSeq":N,"sentUs":T` in a cursor, `bench:N:T` in a comment's body).
#[derive(Default)]
struct Lines {
    pending: Vec<u8>,
    kind: Kind,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum Kind {
    #[default]
    Other,
    Heartbeat,
    Cursor,
    Comment,
}

impl Lines {
    /// Parses `bytes`; whether they held a heartbeat.
    fn feed(&mut self, bytes: &[u8], mut on_frame: impl FnMut(Frame)) -> bool {
        let mut heartbeat = false;
        self.pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let line = &self.pending[start..start + end];
            if let Some(kind) = line.strip_prefix(b"event: ") {
                self.kind = match kind {
                    b"heartbeat" => Kind::Heartbeat,
                    b"collab.cursor" => Kind::Cursor,
                    b"comment.created" => Kind::Comment,
                    _ => Kind::Other,
                };
                if self.kind == Kind::Heartbeat {
                    heartbeat = true;
                }
            } else if let Some(data) = line.strip_prefix(b"data: ") {
                let marker = match self.kind {
                    Kind::Cursor => marked(data, b"\"benchSeq\":", b",\"sentUs\":"),
                    Kind::Comment => marked(data, b"\"bench:", b":"),
                    _ => None,
                };
                if let Some((seq, sent_us)) = marker {
                    on_frame(Frame { seq: seq as u32, sent_us });
                }
            } else if line.is_empty() {
                self.kind = Kind::Other;
            }
            start += end + 1;
        }
        self.pending.drain(..start);
        heartbeat
    }
}

/// The two numbers after `first` and `second` in `data`.
fn marked(data: &[u8], first: &[u8], second: &[u8]) -> Option<(u64, u64)> {
    let at = data.windows(first.len()).position(|w| w == first)? + first.len();
    let (seq, rest) = digits(&data[at..]);
    let rest = rest.strip_prefix(second)?;
    let (sent, _) = digits(rest);
    Some((seq?, sent?))
}

fn digits(bytes: &[u8]) -> (Option<u64>, &[u8]) {
    let len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let number = std::str::from_utf8(&bytes[..len]).ok().and_then(|t| t.parse().ok());
    (number, &bytes[len..])
}

/// One stream: open it, count it ready at its first heartbeat (releasing its opening
/// permit), then hand it to the [`Reader`], which records every bench event until the end.
///
/// A bare HTTP/1.1 client on a `TcpStream` (request written by hand, response read line by
/// line: the status line, headers, and the body, whose chunk-size lines, if any, the SSE
/// parser passes over), so that the load generator, which shares the server's cores, costs
/// as little per delivery as it can.
async fn listen(
    index: usize,
    request: Arc<StreamRequest>,
    shared: Arc<Shared>,
    permit: OwnedSemaphorePermit,
    reader: Arc<Reader>,
) {
    let refused = || {
        shared.refused.fetch_add(1, Ordering::Relaxed);
    };
    let Ok(mut socket) = TcpStream::connect(request.addr).await else { return refused() };
    let _ = socket.set_nodelay(true);
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        request.path,
        request.addr,
        request.tokens[index % request.tokens.len()]
    );
    if socket.write_all(head.as_bytes()).await.is_err() {
        return refused();
    }
    let mut buffer = vec![0u8; 16 * 1024];
    let mut received = Vec::new();
    // Until the end of the response head.
    let body_from = loop {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return refused(),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    if !received.starts_with(b"HTTP/1.1 200") {
        return refused();
    }
    let mut lines = Lines::default();
    let mut heartbeat = lines.feed(&received[body_from..], |frame| shared.record(index, frame));
    while !heartbeat {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return refused(),
            Ok(n) => heartbeat = lines.feed(&buffer[..n], |frame| shared.record(index, frame)),
        }
    }
    drop(permit);
    shared.ready.fetch_add(1, Ordering::Relaxed);
    match socket.into_std() {
        Ok(socket) => reader.hand_over(index, socket, lines),
        Err(_) => {
            shared.ended.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads every open stream on one thread from one edge-triggered `epoll` set: a delivery
/// costs the generator one readiness event and one `read`, and no task wake-up, so it takes
/// as little as it can of the cores it shares with the server.
struct Reader {
    arrivals: std::sync::mpsc::Sender<(usize, std::net::TcpStream, Lines)>,
    waker: mio::Waker,
    stop: AtomicBool,
}

/// The token of the reader's waker (streams' tokens are their indexes).
const WAKE: mio::Token = mio::Token(usize::MAX);

impl Reader {
    /// Starts the reading thread.
    fn start(shared: Arc<Shared>) -> (Arc<Reader>, std::thread::JoinHandle<()>) {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), WAKE).unwrap();
        let (arrivals, queued) = std::sync::mpsc::channel();
        let reader = Arc::new(Reader { arrivals, waker, stop: AtomicBool::new(false) });
        let handle = reader.clone();
        let thread = std::thread::Builder::new()
            .name("sse-reader".into())
            .spawn(move || handle.run(poll, queued, &shared))
            .unwrap();
        (reader, thread)
    }

    /// Gives an open stream (non-blocking, its parser's state with it) to the thread.
    fn hand_over(&self, index: usize, socket: std::net::TcpStream, lines: Lines) {
        if self.arrivals.send((index, socket, lines)).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// Ends the thread, closing every stream.
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    fn run(
        &self,
        mut poll: mio::Poll,
        queued: std::sync::mpsc::Receiver<(usize, std::net::TcpStream, Lines)>,
        shared: &Shared,
    ) {
        let mut events = mio::Events::with_capacity(4096);
        let mut streams: Vec<Option<(mio::net::TcpStream, Lines)>> = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        while !self.stop.load(Ordering::SeqCst) {
            match poll.poll(&mut events, Some(Duration::from_millis(100))) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => panic!("epoll failed: {err}"),
            }
            for event in events.iter() {
                let index = event.token().0;
                let Some(Some((socket, lines))) = streams.get_mut(index) else { continue };
                if !drain(socket, lines, &mut buffer, |frame| shared.record(index, frame)) {
                    let _ = poll.registry().deregister(socket);
                    streams[index] = None;
                    shared.ended.fetch_add(1, Ordering::Relaxed);
                }
            }
            while let Ok((index, socket, lines)) = queued.try_recv() {
                let mut socket = mio::net::TcpStream::from_std(socket);
                // Bytes already waiting are reported by the first poll after registering.
                poll.registry().register(&mut socket, mio::Token(index), mio::Interest::READABLE).unwrap();
                if streams.len() <= index {
                    streams.resize_with(index + 1, || None);
                }
                streams[index] = Some((socket, lines));
            }
        }
    }
}

/// Reads a ready stream until it would block; `false` when it ended.
fn drain(
    socket: &mut mio::net::TcpStream,
    lines: &mut Lines,
    buffer: &mut [u8],
    mut on_frame: impl FnMut(Frame),
) -> bool {
    use std::io::Read as _;
    loop {
        match socket.read(buffer) {
            Ok(0) => return false,
            Ok(n) => {
                lines.feed(&buffer[..n], &mut on_frame);
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// What every stream asks for.
struct StreamRequest {
    addr: std::net::SocketAddr,
    path: String,
    tokens: Vec<Arc<str>>,
}

/// Calls `project.list` back to back, or one call per `every`, until told to stop; answers
/// (latencies, failures).
async fn rpc_loop(
    rpc: Arc<Rpc>,
    token: String,
    every: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut next = Instant::now();
    while !*stop.borrow_and_update() {
        if let Some(every) = every {
            tokio::time::sleep_until(next.into()).await;
            next += every;
        }
        let started = Instant::now();
        match rpc.call(Some(&token), "project.list", json!({})).await {
            Ok(_) => latencies.push(started.elapsed()),
            Err(err) => {
                failures += 1;
                if failures == 1 {
                    eprintln!("JSON-RPC call failed: {err}");
                }
            }
        }
    }
    (latencies, failures)
}

/// A JSON-RPC loop: its latencies and failures.
type RpcLoop = tokio::task::JoinHandle<(Vec<Duration>, usize)>;

/// Runs `loops` JSON-RPC loops until `stop` is sent.
fn rpc_load(rpc: &Arc<Rpc>, token: &str, config: &Config) -> (watch::Sender<bool>, Vec<RpcLoop>) {
    let (stop, stopped) = watch::channel(false);
    let loops = config.rpc_loops;
    let every = (config.rpc_rate > 0).then(|| Duration::from_secs_f64(loops as f64 / config.rpc_rate as f64));
    let tasks = (0..loops)
        .map(|_| tokio::spawn(rpc_loop(rpc.clone(), token.to_owned(), every, stopped.clone())))
        .collect();
    (stop, tasks)
}

async fn rpc_results(stop: watch::Sender<bool>, tasks: Vec<RpcLoop>) -> Latencies {
    let _ = stop.send(true);
    let mut all = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (latencies, failed) = task.await.unwrap();
        all.extend(latencies);
        failures += failed;
    }
    Latencies::new(all.into_iter().map(|d| d.as_micros() as u32).collect(), failures)
}

async fn bench(config: &Config, db_name: &str, database_url: Option<&str>) {
    println!(
        "\n== realtime/{db_name}: {} SSE streams, {} events {:?} apart",
        config.connections, config.events, config.spacing
    );
    let server = Server::start(database_url).await;
    let rpc = Arc::new(Rpc { http: reqwest::Client::new(), url: format!("{}/rpc", server.base) });

    // One editor owns the project and publishes; the streams use a few sessions of theirs.
    let email = format!("bench-{}-{}@example.com", std::process::id(), rand_suffix());
    let owner = rpc
        .call(None, "auth.register", json!({"email": email, "password": PASSWORD, "displayName": "Bench"}))
        .await
        .unwrap();
    let token = owner["accessToken"].as_str().unwrap().to_owned();
    let project = rpc.call(Some(&token), "project.create", json!({"name": "Bench"})).await.unwrap();
    let node = |id: &str, kind: &str, config: Value| json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config});
    let graph = json!({
        "nodes": [node("start", "start", json!({})), node("shape", "transform", json!({"output": 1})), node("done", "end", json!({}))],
        "edges": [
            {"source": "start", "sourcePort": "out", "target": "shape", "targetPort": "in"},
            {"source": "shape", "sourcePort": "out", "target": "done", "targetPort": "in"}
        ]
    });
    let created = rpc
        .call(
            Some(&token),
            "workflow.create",
            json!({"projectId": project["id"], "name": "W", "graph": graph}),
        )
        .await
        .unwrap();
    let workflow_id = created["workflow"]["id"].as_str().unwrap().to_owned();
    let joined = rpc.call(Some(&token), "collab.join", json!({"workflowId": workflow_id})).await.unwrap();
    let client_id = joined["clientId"].clone();
    let mut tokens: Vec<Arc<str>> = Vec::new();
    for _ in 0..config.sessions {
        let session =
            rpc.call(None, "auth.login", json!({"email": email, "password": PASSWORD})).await.unwrap();
        tokens.push(Arc::from(session["accessToken"].as_str().unwrap()));
    }
    let started = server.memory();

    // Open the streams.
    let shared = Arc::new(Shared {
        clock: Instant::now(),
        ready: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        ended: AtomicUsize::new(0),
        received: (0..config.connections).map(|_| AtomicU32::new(0)).collect(),
        deliveries: (0..config.connections).map(|_| Mutex::new(Vec::with_capacity(config.events))).collect(),
    });
    let request = Arc::new(StreamRequest {
        addr: server.base.trim_start_matches("http://").parse().unwrap(),
        path: format!("/events?topics=workflow:{workflow_id}"),
        tokens,
    });
    let opening = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let opened_at = Instant::now();
    let (reader, reading) = Reader::start(shared.clone());
    let mut streams = Vec::with_capacity(config.connections);
    for index in 0..config.connections {
        let permit = opening.clone().acquire_owned().await.unwrap();
        streams.push(tokio::spawn(listen(index, request.clone(), shared.clone(), permit, reader.clone())));
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while shared.ready.load(Ordering::Relaxed) + shared.refused.load(Ordering::Relaxed) < config.connections {
        assert!(
            Instant::now() < deadline,
            "streams not open after 300 s: {} ready",
            shared.ready.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let open_time = opened_at.elapsed();
    let ready = shared.ready.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = server.memory();

    // JSON-RPC latency with the streams idle.
    let (stop, tasks) = rpc_load(&rpc, &token, config);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rpc_idle = rpc_results(stop, tasks).await;

    // The fan-out, with JSON-RPC calls going on.
    let (stop, tasks) = rpc_load(&rpc, &token, config);
    let mut publish = Vec::with_capacity(config.events);
    let mut publish_failures = 0;
    let fan_out_started = Instant::now();
    let (server_cpu, client_cpu) = (server.cpu(), cpu_time("/proc/self/stat"));
    for seq in 0..config.events {
        let sent_us = shared.now_us();
        let started = Instant::now();
        let result = if Config::is_comment(seq) {
            let body = format!("bench:{seq}:{sent_us}");
            rpc.call(
                Some(&token),
                "collab.comment",
                json!({"workflowId": workflow_id, "nodeId": "shape", "body": body}),
            )
            .await
        } else {
            let cursor = json!({"benchSeq": seq, "sentUs": sent_us});
            rpc.call(
                Some(&token),
                "collab.cursor",
                json!({"workflowId": workflow_id, "clientId": client_id, "cursor": cursor}),
            )
            .await
        };
        match result {
            Ok(_) => publish.push(started.elapsed().as_micros() as u32),
            Err(err) => {
                publish_failures += 1;
                eprintln!("publishing event {seq} failed: {err}");
            }
        }
        tokio::time::sleep_until((fan_out_started + config.spacing * (seq as u32 + 1)).into()).await;
    }
    // Stragglers: wait until every stream has every event, at most 10 s.
    let expected = (config.events - publish_failures) as u32;
    let settle = Instant::now() + Duration::from_secs(10);
    let complete = || shared.received.iter().filter(|n| n.load(Ordering::Relaxed) >= expected).count();
    while Instant::now() < settle && complete() < ready.saturating_sub(shared.ended.load(Ordering::Relaxed)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fan_out_wall = fan_out_started.elapsed();
    let (server_cpu, client_cpu) = (server.cpu() - server_cpu, cpu_time("/proc/self/stat") - client_cpu);
    let rpc_busy = rpc_results(stop, tasks).await;
    let after = server.memory();
    let client = Memory::of("/proc/self/status");

    let deliveries: Vec<(u32, u32)> =
        shared.deliveries.iter().flat_map(|log| std::mem::take(&mut *log.lock().unwrap())).collect();
    let complete = complete();
    let mut per_event: Vec<Vec<u32>> = vec![Vec::new(); config.events];
    for &(seq, latency) in &deliveries {
        if let Some(list) = per_event.get_mut(seq as usize) {
            list.push(latency);
        }
    }
    let all = Latencies::new(deliveries.iter().map(|&(_, l)| l).collect(), 0);
    let publish = Latencies::new(publish, publish_failures);

    println!("\n  event  kind             delivered    p50        p99        max");
    for (seq, latencies) in per_event.into_iter().enumerate() {
        let latencies = Latencies::new(latencies, 0);
        println!(
            "  {seq:>5}  {:<15}  {:>9}  {:>9.1?}  {:>9.1?}  {:>9.1?}",
            if Config::is_comment(seq) { "comment.created" } else { "collab.cursor" },
            latencies.sorted.len(),
            latencies.quantile(0.5),
            latencies.quantile(0.99),
            latencies.quantile(1.0),
        );
    }
    let p99 = all.quantile(0.99);
    let peak = after.hwm.max(idle.hwm);
    println!("\n  realtime/{db_name} summary");
    println!(
        "  streams open (first heartbeat)   {ready} of {} in {open_time:.1?} ({} refused)",
        config.connections,
        shared.refused.load(Ordering::Relaxed)
    );
    println!("  server RSS started               {} (peak {})", mib(started.rss), mib(started.hwm));
    println!("  server RSS, streams idle         {} (peak {})", mib(idle.rss), mib(idle.hwm));
    println!("  server RSS after the fan-out     {} (peak {})", mib(after.rss), mib(after.hwm));
    println!(
        "  per stream (idle − started)      {:.1} KiB",
        (idle.rss.saturating_sub(started.rss)) as f64 / config.connections as f64
    );
    println!("  publishing calls                 {}", publish.summary());
    println!(
        "  deliveries                       {} of {}",
        deliveries.len(),
        u64::from(expected) * config.connections as u64
    );
    println!("  delivery latency                 {}", all.summary());
    println!("  streams with every event         {complete} of {}", config.connections);
    println!("  streams ended by the server      {}", shared.ended.load(Ordering::Relaxed));
    println!("  project.list, streams idle       {}", rpc_idle.summary());
    println!("  project.list during the fan-out  {}", rpc_busy.summary());
    println!("  load generator RSS               {} (peak {})", mib(client.rss), mib(client.hwm));
    let per_delivery = |cpu: Duration| cpu.as_secs_f64() * 1e6 / deliveries.len().max(1) as f64;
    println!(
        "  CPU during the fan-out ({:.1?})   server {:.2?} ({:.1} µs per delivery), load generator {:.2?} ({:.1} µs), both incl. the project.list loops",
        fan_out_wall,
        server_cpu,
        per_delivery(server_cpu),
        client_cpu,
        per_delivery(client_cpu)
    );
    println!(
        "  targets: memory ≤ 1 GiB {} ({}), delivery p99 < 100 ms {} ({p99:.1?}), every stream every event {}",
        verdict(peak <= MEMORY_TARGET_KIB),
        mib(peak),
        verdict(p99 < P99_TARGET),
        verdict(complete == config.connections),
    );

    for stream in streams {
        stream.abort();
    }
    reader.stop();
    reading.join().unwrap();
    drop(server);
}
