//! Engine benchmarks (issue 4), on SQLite and, when `WEFT_TEST_POSTGRES_URL` is set, on
//! PostgreSQL (`cargo xtask bench engine`):
//!
//! - `engine/chain_40/<db>`: one run of start → 40 transforms → end, from `start_run` until
//!   its `RunSucceeded` event (per-step overhead);
//! - `engine/throughput/<shape>/<db>`: `WEFT_BENCH_RUNS` (2,000) runs of start → end or
//!   start → transform → end started at once, until all have succeeded; criterion prints
//!   runs/s as `thrpt`;
//! - `engine/fan_out_1000/<db>`: start → parallel → 1,000 transforms → join → end.
//!
//! With `WEFT_BENCH_ENGINE_MEMORY=sqlite|postgres` the binary runs no criterion bench but
//! 100,000 runs of start → transform → end in batches and prints the process RSS every
//! 10,000 runs (`cargo xtask bench engine-memory`).
//!
//! With `WEFT_BENCH_ENGINE_PROFILE=sqlite|postgres` it runs each shape a few times with every
//! SQL statement recorded (sqlx's `sqlx::query` events) and prints, per run, the statements
//! by kind with their count and database time: where a step's time goes; first it times one
//! statement and one transaction one after the other (the floor under every step), and on
//! PostgreSQL `SELECT 1` through a pool with and without sqlx's ping before each acquire.
//!
//! The PostgreSQL server of the test machines runs with `autovacuum = off`, so the dead row
//! versions every step update leaves in `steps` (and in its queue index) would pile up and
//! slow every claim down as the bench goes on; on PostgreSQL the bench therefore runs
//! `VACUUM ANALYZE runs, steps` before each timed iteration (outside the time), as an
//! autovacuum keeping up would. `WEFT_BENCH_PG_VACUUM=0` turns that off.
//!
//! The workers run in the background on a two-thread runtime, as in the server; the engine's
//! concurrency and claim batch, and the pool size, come from `WEFT_BENCH_CONCURRENCY`,
//! `WEFT_BENCH_CLAIM_BATCH` and `WEFT_BENCH_POOL` (defaults: the engine's and the server's).
//! `WEFT_BENCH_INLINE_STEPS=0` queues every step for the workers instead of running pure
//! nodes inline (the engine's default): the bench names then end in `/queued`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, SamplingMode, Throughput};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_core::{ProjectId, Role, RunId, WorkflowId};
use weft_engine::{Engine, EngineConfig, StartRun};
use weft_events::{Envelope, EventBus, WeftEvent};
use weft_store::testing::TestDatabase;
use weft_store::{NewUser, NewWorkflow, RunStatus, Store, StoreOptions};

const CHAIN_LENGTH: usize = 40;
const FAN_OUT: usize = 1_000;
const MEMORY_RUNS: usize = 100_000;
const MEMORY_BATCH: usize = 1_000;
const MEMORY_REPORT_EVERY: usize = 10_000;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

fn edge(source: &str, target: &str) -> Value {
    json!({"source": source, "sourcePort": "out", "target": target, "targetPort": "in"})
}

/// start → t1 … t40 → end; each transform adds one to the previous output.
fn chain_graph(length: usize) -> Value {
    let mut nodes = vec![node("start", "start", json!({}))];
    let mut edges = Vec::new();
    let mut previous = "start".to_owned();
    for k in 1..=length {
        let id = format!("t{k}");
        let output = if k == 1 {
            "{{ input.n + 1 }}".to_owned()
        } else {
            format!("{{{{ nodes.t{}.output + 1 }}}}", k - 1)
        };
        nodes.push(node(&id, "transform", json!({ "output": output })));
        edges.push(edge(&previous, &id));
        previous = id;
    }
    nodes.push(node("end", "end", json!({})));
    edges.push(edge(&previous, "end"));
    json!({ "nodes": nodes, "edges": edges })
}

/// start → end.
fn start_end_graph() -> Value {
    json!({
        "nodes": [node("start", "start", json!({})), node("end", "end", json!({}))],
        "edges": [edge("start", "end")],
    })
}

/// start → parallel → b0 … b999 → join (all) → end.
fn fan_out_graph(width: usize) -> Value {
    let mut nodes = vec![node("start", "start", json!({})), node("fan", "parallel", json!({}))];
    let mut edges = vec![edge("start", "fan")];
    for k in 0..width {
        let id = format!("b{k}");
        nodes.push(node(&id, "transform", json!({ "output": "{{ input.n }}" })));
        edges.push(edge("fan", &id));
        edges.push(edge(&id, "all"));
    }
    nodes.push(node("all", "join", json!({})));
    nodes.push(node("end", "end", json!({})));
    edges.push(edge("all", "end"));
    json!({ "nodes": nodes, "edges": edges })
}

/// A migrated database with a project, the bench workflows, and an engine whose workers
/// run in the background.
struct Fixture {
    store: Store,
    bus: EventBus,
    engine: Engine,
    shutdown: CancellationToken,
    workers: JoinHandle<()>,
    project: ProjectId,
    chain: WorkflowId,
    start_end: WorkflowId,
    one_step: WorkflowId,
    fan_out: WorkflowId,
    /// A connection for `VACUUM` (PostgreSQL only).
    vacuum: Option<sea_orm::DatabaseConnection>,
    db: TestDatabase,
}

async fn fixture(db: TestDatabase, db_name: &'static str) -> Fixture {
    let mut options = StoreOptions::new(db.url().to_owned());
    options.max_connections = env_number("WEFT_BENCH_POOL", options.max_connections as usize) as u32;
    options.acquire_timeout = Duration::from_secs(60);
    let store = Store::connect(&options).await.unwrap();
    store.migrate_up(None).await.unwrap();
    let now = Utc::now();
    let user = store
        .create_user(
            NewUser {
                email: "bench@example.com".to_owned(),
                display_name: "Bench".to_owned(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
                role: Role::User,
            },
            now,
        )
        .await
        .unwrap();
    let project = store.create_project(user.id, "Bench".to_owned(), String::new(), now).await.unwrap();
    let create = async |name: &str, graph: Value| {
        let new = NewWorkflow {
            project_id: project.id,
            name: name.to_owned(),
            description: String::new(),
            tags: Vec::new(),
            graph: graph.to_string(),
            message: String::new(),
            author_id: user.id,
        };
        store.create_workflow(new, now).await.unwrap().id
    };
    let chain = create("chain", chain_graph(CHAIN_LENGTH)).await;
    let start_end = create("start-end", start_end_graph()).await;
    let one_step = create("one-step", chain_graph(1)).await;
    let fan_out = create("fan-out", fan_out_graph(FAN_OUT)).await;

    let defaults = EngineConfig::default();
    let config = EngineConfig {
        concurrency: env_number("WEFT_BENCH_CONCURRENCY", defaults.concurrency),
        claim_batch: env_number("WEFT_BENCH_CLAIM_BATCH", defaults.claim_batch),
        inline_steps: env_number("WEFT_BENCH_INLINE_STEPS", defaults.inline_steps),
        ..defaults
    };
    eprintln!(
        "engine bench on {db_name}: concurrency {}, claim batch {}, pool {}, inline steps {}",
        config.concurrency, config.claim_batch, options.max_connections, config.inline_steps
    );
    // Room for every event of the largest batch: nothing is read while the runs start.
    let bus = EventBus::new(1 << 17);
    let engine = Engine::new(store.clone(), bus.clone(), config).unwrap();
    let shutdown = CancellationToken::new();
    let workers = engine.spawn_workers(shutdown.clone());
    let vacuum = if db_name == "postgres" && std::env::var("WEFT_BENCH_PG_VACUUM").as_deref() != Ok("0") {
        Some(sea_orm::Database::connect(db.url()).await.unwrap())
    } else {
        None
    };
    Fixture {
        store,
        bus,
        engine,
        shutdown,
        workers,
        project: project.id,
        chain,
        start_end,
        one_step,
        fan_out,
        vacuum,
        db,
    }
}

impl Fixture {
    async fn start(&self, workflow: WorkflowId, n: i64) -> RunId {
        let start = StartRun {
            workflow_id: workflow,
            project_id: self.project,
            version: 1,
            input: json!({ "n": n }),
            trigger: "manual".to_owned(),
            started_by: None,
            timeout: None,
        };
        self.engine.start_run(start).await.unwrap().id
    }

    /// Starts `n` runs of `workflow` at once and waits until all of them have succeeded.
    async fn run_many(self: &Arc<Self>, workflow: WorkflowId, n: usize) {
        let mut events = self.bus.subscribe();
        let mut starts = tokio::task::JoinSet::new();
        for k in 0..n {
            let fixture = self.clone();
            starts.spawn(async move { fixture.start(workflow, k as i64).await });
        }
        let ids = starts.join_all().await;
        self.wait_all(&mut events, ids).await;
    }

    /// Runs `workflow` once, until it has succeeded.
    async fn run_one(&self, workflow: WorkflowId, n: i64) -> RunId {
        let mut events = self.bus.subscribe();
        let id = self.start(workflow, n).await;
        self.wait_all(&mut events, [id]).await;
        id
    }

    /// Runs `workflow` once and answers its output.
    async fn output_of(&self, workflow: WorkflowId, n: i64) -> Value {
        let id = self.run_one(workflow, n).await;
        let run = self.store.get_run(id).await.unwrap().unwrap();
        serde_json::from_str(run.output.as_deref().unwrap_or("null")).unwrap()
    }

    /// Waits for the end events of `ids` (subscribed before they started); panics when one
    /// of them fails.
    async fn wait_all(&self, events: &mut Receiver<Arc<Envelope>>, ids: impl IntoIterator<Item = RunId>) {
        let mut open: HashSet<RunId> = ids.into_iter().collect();
        while !open.is_empty() {
            match events.recv().await {
                Ok(envelope) => match &envelope.event {
                    WeftEvent::RunSucceeded { run_id } => {
                        open.remove(run_id);
                    }
                    WeftEvent::RunFailed { run_id, error } if open.contains(run_id) => {
                        panic!("run {run_id} failed: {error}")
                    }
                    _ => {}
                },
                Err(RecvError::Lagged(missed)) => {
                    eprintln!("warning: the bench missed {missed} events; asking the store");
                    let mut still_open = HashSet::new();
                    for id in open {
                        let run = self.store.get_run(id).await.unwrap().unwrap();
                        match run.status {
                            RunStatus::Succeeded => {}
                            status if status.is_terminal() => panic!("run {id} ended {status:?}"),
                            _ => {
                                still_open.insert(id);
                            }
                        }
                    }
                    open = still_open;
                }
                Err(RecvError::Closed) => panic!("the event bus closed"),
            }
        }
    }

    /// Clears dead row versions on PostgreSQL (see the module doc).
    async fn vacuum(&self) {
        use sea_orm::ConnectionTrait;
        if let Some(conn) = &self.vacuum {
            conn.execute_unprepared("VACUUM ANALYZE runs, steps").await.unwrap();
        }
    }

    async fn stop(self) {
        if let Some(conn) = self.vacuum {
            let _ = conn.close().await;
        }
        self.shutdown.cancel();
        let _ = self.workers.await;
        self.store.close().await;
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn databases() -> Vec<(TestDatabase, &'static str)> {
    let mut databases = vec![(TestDatabase::sqlite().unwrap(), "sqlite")];
    if let Some(db) = TestDatabase::postgres("engine bench").await.unwrap() {
        databases.push((db, "postgres"));
    }
    databases
}

fn engine_benches(c: &mut Criterion, runtime: &Runtime) {
    let n_runs = env_number("WEFT_BENCH_RUNS", 2_000);
    // With every step queued the bench names end in `/queued`.
    let mode = if env_number("WEFT_BENCH_INLINE_STEPS", 1) == 0 { "/queued" } else { "" };
    for (db, db_name) in runtime.block_on(databases()) {
        let fixture = Arc::new(runtime.block_on(fixture(db, db_name)));
        // Check the workflows do what the bench claims, and warm the plan cache.
        let out = runtime.block_on(fixture.output_of(fixture.chain, 2));
        assert_eq!(out, json!(2 + CHAIN_LENGTH as i64), "chain output");
        let out = runtime.block_on(fixture.output_of(fixture.fan_out, 7));
        assert_eq!(out.as_object().map(|o| o.len()), Some(FAN_OUT), "join output");
        assert_eq!(runtime.block_on(fixture.output_of(fixture.one_step, 1)), json!(2));
        assert_eq!(runtime.block_on(fixture.output_of(fixture.start_end, 1)), json!({"n": 1}));

        let mut group = c.benchmark_group("engine");
        group.sample_size(20).measurement_time(Duration::from_secs(10));
        group.bench_function(format!("chain_{CHAIN_LENGTH}/{db_name}{mode}"), |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    fixture.vacuum().await;
                    let started = Instant::now();
                    for k in 0..iterations {
                        fixture.run_one(fixture.chain, k as i64).await;
                    }
                    started.elapsed()
                })
            })
        });
        group.finish();

        let mut group = c.benchmark_group("engine");
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(10));
        group.bench_function(format!("fan_out_{FAN_OUT}/{db_name}{mode}"), |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut elapsed = Duration::ZERO;
                    for k in 0..iterations {
                        fixture.vacuum().await;
                        let started = Instant::now();
                        fixture.run_one(fixture.fan_out, k as i64).await;
                        elapsed += started.elapsed();
                    }
                    elapsed
                })
            })
        });
        group.throughput(Throughput::Elements(n_runs as u64));
        for (shape, workflow) in [("start_end", fixture.start_end), ("start_transform_end", fixture.one_step)]
        {
            group.bench_function(format!("throughput/{shape}/{n_runs}_runs/{db_name}{mode}"), |b| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..iterations {
                            fixture.vacuum().await;
                            let started = Instant::now();
                            fixture.run_many(workflow, n_runs).await;
                            elapsed += started.elapsed();
                        }
                        elapsed
                    })
                })
            });
        }
        group.finish();
        let fixture = Arc::into_inner(fixture).expect("the fixture is still shared");
        runtime.block_on(fixture.stop());
    }
}

/// Statements recorded from sqlx's `sqlx::query` events: count and database time by kind.
mod sql_profile {
    use std::collections::HashMap;
    use std::fmt::Debug;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, OnceLock};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;

    type Table = HashMap<String, (u64, f64)>;

    fn table() -> &'static Mutex<Table> {
        static TABLE: OnceLock<Mutex<Table>> = OnceLock::new();
        TABLE.get_or_init(Default::default)
    }

    #[derive(Default)]
    struct Fields {
        summary: String,
        statement: String,
        elapsed_secs: f64,
    }

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            match field.name() {
                "summary" => self.summary = value.to_owned(),
                "db.statement" => self.statement = value.to_owned(),
                _ => {}
            }
        }

        fn record_f64(&mut self, field: &Field, value: f64) {
            if field.name() == "elapsed_secs" {
                self.elapsed_secs = value;
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            if field.name() == "summary" {
                self.summary = format!("{value:?}").trim_matches('"').to_owned();
            }
        }
    }

    /// A statement's kind: its first words and its `WHERE` clause, shortened.
    fn kind(fields: &Fields) -> String {
        let sql = if fields.statement.trim().is_empty() { &fields.summary } else { &fields.statement };
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let head: String = sql.split(' ').take(3).collect::<Vec<_>>().join(" ");
        let tail = sql.find(" WHERE ").map_or("", |i| &sql[i + 1..]);
        let mut kind = format!("{head} … {tail}");
        if kind.len() > 150 {
            let mut cut = 150;
            while !kind.is_char_boundary(cut) {
                cut -= 1;
            }
            kind.truncate(cut);
            kind.push('…');
        }
        kind
    }

    struct Recorder;

    impl<S: tracing::Subscriber> Layer<S> for Recorder {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if !RECORDING.load(Ordering::Relaxed) {
                return;
            }
            let mut fields = Fields::default();
            event.record(&mut fields);
            let mut table = table().lock().unwrap_or_else(|p| p.into_inner());
            let entry = table.entry(kind(&fields)).or_default();
            entry.0 += 1;
            entry.1 += fields.elapsed_secs;
        }
    }

    /// Whether statements are recorded now.
    static RECORDING: AtomicBool = AtomicBool::new(false);

    pub fn install() {
        let only_sqlx = tracing_subscriber::filter::filter_fn(|meta| meta.target() == "sqlx::query");
        tracing_subscriber::registry().with(Recorder.with_filter(only_sqlx)).init();
    }

    /// Forgets what was recorded so far and starts recording.
    pub fn reset() {
        table().lock().unwrap_or_else(|p| p.into_inner()).clear();
        RECORDING.store(true, Ordering::Relaxed);
    }

    /// Stops recording.
    pub fn pause() {
        RECORDING.store(false, Ordering::Relaxed);
    }

    /// Prints what was recorded since the last reset, per run.
    pub fn report(what: &str, n_runs: usize, wall: std::time::Duration) {
        pause();
        let table = std::mem::take(&mut *table().lock().unwrap_or_else(|p| p.into_inner()));
        let mut rows: Vec<_> = table.into_iter().collect();
        rows.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
        let runs = n_runs as f64;
        let (count, secs) = rows.iter().fold((0, 0.0), |(c, t), (_, (n, s))| (c + n, t + s));
        println!(
            "\n{what}: {n_runs} runs in {:.3} s ({:.2} ms per run); {:.1} statements and {:.2} ms of database time per run",
            wall.as_secs_f64(),
            wall.as_secs_f64() * 1e3 / runs,
            count as f64 / runs,
            secs * 1e3 / runs
        );
        println!("{:>9} {:>9} {:>8}  statement", "per run", "ms/run", "µs each");
        for (kind, (n, s)) in rows {
            println!("{:>9.2} {:>9.3} {:>8.1}  {kind}", n as f64 / runs, s * 1e3 / runs, s * 1e6 / n as f64);
        }
    }
}

/// The floor under every step: one statement, and one transaction, one after the other.
async fn round_trips(fixture: &Fixture, db_name: &str) {
    const N: u32 = 2_000;
    let run = fixture.start(fixture.start_end, 0).await;
    let started = Instant::now();
    for _ in 0..N {
        fixture.store.get_run(run).await.unwrap();
    }
    let read = started.elapsed() / N;
    let started = Instant::now();
    for _ in 0..N {
        let mut txn = fixture.store.begin_steps().await.unwrap();
        txn.lock_run(run).await.unwrap();
        txn.commit().await.unwrap();
    }
    let txn = started.elapsed() / N;
    println!(
        "\n{db_name}: one `get_run` (read pool) takes {:.0} µs; BEGIN + `lock_run` + COMMIT {:.0} µs (one at a time, {N} times)",
        read.as_secs_f64() * 1e6,
        txn.as_secs_f64() * 1e6
    );
    if db_name == "postgres" {
        // What the pool's ping before each acquire costs (sqlx's `test_before_acquire`,
        // on by default): `SELECT 1` through a pool with it and without it.
        use sea_orm::ConnectionTrait;
        for test in [true, false] {
            let mut options = sea_orm::ConnectOptions::new(fixture.db.url().to_owned());
            options.max_connections(2).test_before_acquire(test).sqlx_logging(false);
            let conn = sea_orm::Database::connect(options).await.unwrap();
            let started = Instant::now();
            for _ in 0..N {
                conn.execute_unprepared("SELECT 1").await.unwrap();
            }
            let each = started.elapsed() / N;
            println!(
                "postgres: SELECT 1 with test_before_acquire={test}: {:.0} µs",
                each.as_secs_f64() * 1e6
            );
            let _ = conn.close().await;
        }
    }
}

/// Runs each shape with every statement recorded, and prints where the time goes.
fn profile(runtime: &Runtime, which: &str) {
    sql_profile::install();
    let n_runs = env_number("WEFT_BENCH_RUNS", 2_000);
    runtime.block_on(async {
        for (db, db_name) in databases().await {
            if which != "all" && which != db_name {
                continue;
            }
            let fixture = Arc::new(fixture(db, db_name).await);
            for workflow in [fixture.chain, fixture.fan_out, fixture.start_end, fixture.one_step] {
                fixture.run_one(workflow, 0).await;
            }
            round_trips(&fixture, db_name).await;
            let shapes = [
                (format!("chain of {CHAIN_LENGTH}, one at a time"), fixture.chain, 20, false),
                (format!("fan-out of {FAN_OUT}"), fixture.fan_out, 2, false),
                ("start → end, all at once".to_owned(), fixture.start_end, n_runs, true),
                ("start → transform → end, all at once".to_owned(), fixture.one_step, n_runs, true),
            ];
            for (what, workflow, n, at_once) in shapes {
                fixture.vacuum().await;
                sql_profile::reset();
                let started = Instant::now();
                if at_once {
                    fixture.run_many(workflow, n).await;
                } else {
                    for k in 0..n {
                        fixture.run_one(workflow, k as i64).await;
                    }
                }
                sql_profile::report(&format!("{db_name}: {what}"), n, started.elapsed());
            }
            let fixture = Arc::into_inner(fixture).expect("the fixture is still shared");
            fixture.stop().await;
        }
    });
}

/// The resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// 100,000 runs of start → transform → end in batches; RSS every 10,000 runs.
fn memory(runtime: &Runtime, which: &str) {
    runtime.block_on(async {
        for (db, db_name) in databases().await {
            if which != "all" && which != db_name {
                continue;
            }
            let fixture = Arc::new(fixture(db, db_name).await);
            println!("engine memory on {db_name}: {MEMORY_RUNS} runs of start → transform → end, {MEMORY_BATCH} at a time");
            println!("{:>8} {:>10} {:>10}", "runs", "rss_mib", "runs/s");
            println!("{:>8} {:>10.1} {:>10}", 0, rss_kib() as f64 / 1024.0, "-");
            let mut segment = Duration::ZERO;
            for done in (MEMORY_BATCH..=MEMORY_RUNS).step_by(MEMORY_BATCH) {
                fixture.vacuum().await;
                let started = Instant::now();
                fixture.run_many(fixture.one_step, MEMORY_BATCH).await;
                segment += started.elapsed();
                if done % MEMORY_REPORT_EVERY == 0 {
                    let rate = MEMORY_REPORT_EVERY as f64 / segment.as_secs_f64();
                    println!("{done:>8} {:>10.1} {rate:>10.0}", rss_kib() as f64 / 1024.0);
                    segment = Duration::ZERO;
                }
            }
            let fixture = Arc::into_inner(fixture).expect("the fixture is still shared");
            fixture.stop().await;
        }
    });
}

fn main() {
    let runtime = runtime();
    if let Ok(which) = std::env::var("WEFT_BENCH_ENGINE_MEMORY") {
        memory(&runtime, &which);
        return;
    }
    if let Ok(which) = std::env::var("WEFT_BENCH_ENGINE_PROFILE") {
        profile(&runtime, &which);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    engine_benches(&mut criterion, &runtime);
    criterion.final_summary();
}
