//! Scheduler benchmark (issue 7): 10,000 active schedules (`cargo xtask bench schedules`).
//!
//! Not a criterion bench: it measures two figures of a running scheduler.
//!
//! 1. Idle cost. 10,000 schedules whose next fire is months away; the engine runs as in the
//!    server (workers and scheduler). The process's CPU time (`/proc/self/stat`, user +
//!    system) is read over `WEFT_BENCH_IDLE_SECS` (20) seconds, once with the scheduler on
//!    and once with it off; the difference is the scheduler's share of one core.
//! 2. Lateness. The same 10,000 schedules are changed to fire once each, spread over the next
//!    `WEFT_BENCH_SPREAD_SECS` (100) seconds (6-field expressions naming the exact second);
//!    each fire's lateness is the time from its fire time to its claim (the fire record is
//!    written in the transaction that starts its run). Printed: p50, p99 and max. Printed
//!    too, as a bound on when that transaction committed: the time from the fire time to
//!    the first event of its run on the engine's bus (published after the commit).
//!
//! SQLite by default; `WEFT_BENCH_DB=postgres` uses `WEFT_TEST_POSTGRES_URL`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use weft_core::cron_expr::CronSchedule;
use weft_core::schedule::{CatchUp, Overlap, first_fire};
use weft_core::{Role, RunId, ScheduleId};
use weft_engine::{Engine, EngineConfig};
use weft_events::{Audience, EventBus};
use weft_store::testing::TestDatabase;
use weft_store::{NewUser, NewWorkflow, Schedule, Store, StoreOptions};

const SCHEDULES: usize = 10_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // CLK_TCK is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn engine(store: &Store, scheduler: bool, bus: EventBus) -> (Engine, CancellationToken) {
    let mut config = EngineConfig::default();
    config.schedules.enabled = scheduler;
    let engine = Engine::new(store.clone(), bus, config).unwrap();
    let shutdown = CancellationToken::new();
    engine.spawn_workers(shutdown.clone());
    (engine, shutdown)
}

async fn idle_share(store: &Store, scheduler: bool, seconds: u64) -> f64 {
    let (_engine, shutdown) = engine(store, scheduler, EventBus::new(1 << 16));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu, wall) = (cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let share = (cpu_time() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64();
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    share
}

fn exact_second(at: DateTime<Utc>) -> String {
    format!("{} {} {} {} {} * {}", at.second(), at.minute(), at.hour(), at.day(), at.month(), at.year())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn bench(db: TestDatabase) {
    let mut options = StoreOptions::new(db.url().to_owned());
    options.acquire_timeout = Duration::from_secs(60);
    let store = Store::connect(&options).await.unwrap();
    store.migrate_up(None).await.unwrap();
    let now = Utc::now();
    let user = NewUser {
        email: "bench@example.com".to_owned(),
        display_name: "Bench".to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".to_owned(),
        role: Role::User,
    };
    let user = store.create_user(user, now).await.unwrap();
    let project = store.create_project(user.id, "Bench".to_owned(), String::new(), now).await.unwrap();
    let node = |id: &str, kind: &str| json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": {}});
    let graph = json!({"nodes": [node("start", "start"), node("end", "end")],
        "edges": [{"source": "start", "sourcePort": "out", "target": "end", "targetPort": "in"}]});
    let new = NewWorkflow {
        project_id: project.id,
        name: "tick".to_owned(),
        description: String::new(),
        tags: Vec::new(),
        graph: graph.to_string(),
        message: String::new(),
        author_id: user.id,
    };
    let workflow = store.create_workflow(new, now).await.unwrap();
    store.publish_version(workflow.id, 1, now).await.unwrap();

    let yearly = "0 0 1 1 *";
    let cron = CronSchedule::parse(yearly, "UTC").unwrap();
    let mut schedules = Vec::with_capacity(SCHEDULES);
    for _ in 0..SCHEDULES {
        let schedule = Schedule {
            id: ScheduleId::new(),
            project_id: project.id,
            workflow_id: workflow.id,
            name: "bench".to_owned(),
            cron: yearly.to_owned(),
            time_zone: "UTC".to_owned(),
            start_at: None,
            end_at: None,
            input: "{}".to_owned(),
            overlap: Overlap::Skip,
            catch_up: CatchUp::None,
            catch_up_window_secs: 3600,
            paused: false,
            next_fire_at: first_fire(&cron, now, None, None),
            created_by: Some(user.id),
            created_at: now,
            updated_at: now,
        };
        schedules.push(store.create_schedule(&schedule).await.unwrap());
    }
    eprintln!("{SCHEDULES} schedules created");

    let idle_secs = env_number("WEFT_BENCH_IDLE_SECS", 20);
    let without = idle_share(&store, false, idle_secs).await;
    let with = idle_share(&store, true, idle_secs).await;
    println!(
        "idle over {idle_secs} s: engine without scheduler {:.3} % of one core, with scheduler {:.3} %, scheduler's share {:.3} %",
        without * 100.0,
        with * 100.0,
        (with - without) * 100.0
    );

    let spread = env_number("WEFT_BENCH_SPREAD_SECS", 100) as i64;
    let bus = EventBus::new(1 << 16);
    let stop_watching = CancellationToken::new();
    let seen = first_events(&bus, stop_watching.clone());
    let (engine, shutdown) = engine(&store, true, bus);
    // Far enough ahead that every schedule is changed before the first fire time.
    let base = Utc::now().with_nanosecond(0).unwrap() + chrono::Duration::seconds(60);
    for (i, schedule) in schedules.iter_mut().enumerate() {
        let at = base + chrono::Duration::seconds(i as i64 % spread);
        schedule.cron = exact_second(at);
        schedule.next_fire_at = Some(at);
        store.update_schedule(schedule).await.unwrap();
    }
    engine.schedules_changed();
    assert!(Utc::now() < base, "changing the schedules took longer than a minute");
    eprintln!("fires spread over {spread} s from {base}");
    tokio::time::sleep(
        (base + chrono::Duration::seconds(spread + 5) - Utc::now()).to_std().unwrap_or_default(),
    )
    .await;
    let mut fires = Vec::with_capacity(SCHEDULES);
    let deadline = Instant::now() + Duration::from_secs(60);
    for schedule in &schedules {
        let fire = loop {
            let page = store.list_fires(schedule.id.0, None, 10).await.unwrap();
            if let Some(fire) = page.items.into_iter().next() {
                break fire;
            }
            assert!(Instant::now() < deadline, "schedule {} never fired", schedule.id);
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        fires.push(fire);
    }
    shutdown.cancel();
    stop_watching.cancel();
    let seen = seen.await.unwrap();
    let ms = |delta: chrono::TimeDelta| delta.num_microseconds().unwrap() as f64 / 1000.0;
    let mut lateness: Vec<f64> = fires.iter().map(|fire| ms(fire.created_at - fire.fire_at)).collect();
    let mut to_commit: Vec<f64> =
        fires.iter().filter_map(|fire| Some(ms(*seen.get(&fire.run_id?)? - fire.fire_at))).collect();
    lateness.sort_by(f64::total_cmp);
    println!(
        "lateness of {} fires ({:.0}/s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lateness.len(),
        SCHEDULES as f64 / spread as f64,
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness.last().copied().unwrap_or_default()
    );
    to_commit.sort_by(f64::total_cmp);
    println!(
        "fire time to its run's first event (after the commit), {} runs: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        to_commit.len(),
        percentile(&to_commit, 0.5),
        percentile(&to_commit, 0.99),
        to_commit.last().copied().unwrap_or_default()
    );
}

/// When each run's first event reached a subscriber of `bus` (the engine publishes a
/// run's events once its transaction has committed); collected until `stop`.
fn first_events(
    bus: &EventBus,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<HashMap<RunId, DateTime<Utc>>> {
    let mut events = bus.subscribe();
    tokio::spawn(async move {
        let mut seen = HashMap::new();
        loop {
            let received = tokio::select! {
                _ = stop.cancelled() => return seen,
                received = events.recv() => received,
            };
            match received {
                Ok(envelope) => {
                    if let Audience::Run { run, .. } = envelope.audience {
                        seen.entry(run).or_insert_with(Utc::now);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => eprintln!("{n} events missed"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return seen,
            }
        }
    })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let db = match std::env::var("WEFT_BENCH_DB").as_deref() {
            Ok("postgres") => {
                TestDatabase::postgres("bench_schedules").await.unwrap().expect("WEFT_TEST_POSTGRES_URL")
            }
            _ => TestDatabase::sqlite().unwrap(),
        };
        bench(db).await;
    });
}
