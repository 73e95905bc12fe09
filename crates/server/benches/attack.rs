//! Attack benchmark (issue 15, `cargo xtask bench attack`): what one user's worst templates
//! cost everybody else. One `weft serve` process (this package's binary, bench profile) on a
//! fresh SQLite database, and on PostgreSQL when `WEFT_TEST_POSTGRES_URL` is set.
//!
//! A victim works as a person would, `WEFT_BENCH_ATTACK_VICTIMS` (2) loops back to back, each
//! round one `project.list`, one `project.create` (a write: on SQLite it needs the only write
//! connection), one `workflow.get` and one `workflow.execute` with `wait` of a small workflow
//! (start → transform → end: the engine claims, evaluates and records steps). Their latency is
//! taken for `WEFT_BENCH_ATTACK_SECONDS` (15) on a quiet server, then for as long again while an
//! attacker keeps `WEFT_BENCH_ATTACK_RUNS` (7) runs going at once, each run's transform one of
//! the template bombs of `crates/api/tests/api/hardening.rs` (a 100 MB string, 100M-item
//! lists, doubling and growing strings in loops, output floods, a busy double loop): every
//! bomb run starts its transform inline in the recording transaction (bounded by the inline
//! budget), is handed to a worker, and fails its node at a named limit after at most the full
//! budget. The attacker starts the next run as soon as one ends.
//!
//! Printed per database: each victim call's p50, p90, p99 and max, quiet and under attack; the
//! bomb runs finished and how many failed at a limit (every one must); the server's CPU time
//! and its peak RSS (`VmHWM`) against the 512 MiB bound of issue 15. Figures go to
//! `docs/benchmarks.md`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use support::{Latencies, PASSWORD, Rpc, Server, env_number, mib, rand_suffix, verdict};

const MEMORY_BOUND_KIB: u64 = 512 * 1024;

/// The bombs and the limit each must fail at (the family of `hardening.rs`).
const BOMBS: [(&str, &str); 7] = [
    ("{{ 'x' * 100000000 }}", "WEFT_TEMPLATE_MAX_VALUE_BYTES"),
    ("{{ [input] * 100000000 }}", "WEFT_TEMPLATE_MAX_ITEMS"),
    ("{{ ['x' * 1000000] * 100 }}", "WEFT_TEMPLATE_MAX_VALUE_BYTES"),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "WEFT_TEMPLATE_MAX_VALUE_BYTES",
    ),
    (
        "{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ ('x' * 1000) %}{% endfor %}",
        "WEFT_TEMPLATE_MAX_WORK_BYTES",
    ),
    ("{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}", "WEFT_TEMPLATE_MAX_WORK_BYTES"),
    (
        "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
        "WEFT_TEMPLATE_FUEL",
    ),
];

/// The victim's calls, in the order of a round.
const VICTIM_CALLS: [&str; 4] = ["project.list", "project.create", "workflow.get", "workflow.execute"];

struct Config {
    seconds: Duration,
    victims: usize,
    runs: usize,
}

fn main() {
    let config = Config {
        seconds: Duration::from_secs(env_number("WEFT_BENCH_ATTACK_SECONDS", 15) as u64),
        victims: env_number("WEFT_BENCH_ATTACK_VICTIMS", 2).max(1),
        runs: env_number("WEFT_BENCH_ATTACK_RUNS", BOMBS.len()),
    };
    // reqwest is built without a TLS provider of its own.
    weft_engine::install_tls_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut databases = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("WEFT_TEST_POSTGRES_URL") {
        databases.push(("postgres", Some(url)));
    }
    for (name, url) in databases {
        runtime.block_on(bench(&config, name, url.as_deref()));
    }
}

fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

/// start → transform `t` (output `{"v": template}`) → end.
fn transform_graph(template: &str) -> Value {
    let edge = |source: &str, target: &str| json!({"source": source, "sourcePort": "out", "target": target, "targetPort": "in"});
    json!({
        "nodes": [node("start", "start", json!({})), node("t", "transform", json!({"output": {"v": template}})), node("done", "end", json!({}))],
        "edges": [edge("start", "t"), edge("t", "done")],
    })
}

/// A registered user: their token and a project of theirs.
struct User {
    token: String,
    project: Value,
}

async fn user(rpc: &Rpc, name: &str) -> User {
    let email = format!("{name}-{}-{}@example.com", std::process::id(), rand_suffix());
    let session = rpc
        .call(None, "auth.register", json!({"email": email, "password": PASSWORD, "displayName": name}))
        .await
        .unwrap();
    let token = session["accessToken"].as_str().unwrap().to_owned();
    let project = rpc.call(Some(&token), "project.create", json!({"name": name})).await.unwrap();
    User { token, project: project["id"].clone() }
}

async fn create_workflow(rpc: &Rpc, user: &User, graph: Value) -> Value {
    let params = json!({"projectId": user.project, "name": "W", "graph": graph});
    let created = rpc.call(Some(&user.token), "workflow.create", params).await.unwrap();
    created["workflow"]["id"].clone()
}

fn execute_params(workflow: &Value) -> Value {
    json!({"workflowId": workflow, "version": 1, "input": "x", "wait": true, "waitTimeoutMs": 60000})
}

/// Per victim call: latencies in µs, and failures.
type Samples = BTreeMap<&'static str, (Vec<u32>, usize)>;

/// One victim loop: rounds of [`VICTIM_CALLS`] until `stop`.
async fn victim(rpc: Arc<Rpc>, token: String, workflow: Value, mut stop: watch::Receiver<bool>) -> Samples {
    let mut samples = Samples::new();
    let mut round = 0;
    while !*stop.borrow_and_update() {
        round += 1;
        for method in VICTIM_CALLS {
            let params = match method {
                "project.create" => json!({"name": format!("Victim {round}")}),
                "workflow.get" => json!({"workflowId": workflow}),
                "workflow.execute" => execute_params(&workflow),
                _ => json!({}),
            };
            let started = Instant::now();
            let answer = rpc.call(Some(&token), method, params).await;
            let elapsed = started.elapsed().as_micros() as u32;
            let entry = samples.entry(method).or_default();
            match answer {
                Ok(result) if method != "workflow.execute" || result["run"]["status"] == "succeeded" => {
                    entry.0.push(elapsed);
                }
                Ok(result) => {
                    entry.1 += 1;
                    eprintln!("the victim's run did not succeed: {result}");
                }
                Err(err) => {
                    entry.1 += 1;
                    eprintln!("a victim call failed: {err}");
                }
            }
        }
    }
    samples
}

/// Runs the victim loops for `seconds` and merges their samples.
async fn victims(rpc: &Arc<Rpc>, victim_user: &User, workflow: &Value, config: &Config) -> Samples {
    let (stop, stopped) = watch::channel(false);
    let loops: Vec<_> = (0..config.victims)
        .map(|_| {
            tokio::spawn(victim(rpc.clone(), victim_user.token.clone(), workflow.clone(), stopped.clone()))
        })
        .collect();
    tokio::time::sleep(config.seconds).await;
    let _ = stop.send(true);
    let mut merged = Samples::new();
    for samples in loops {
        for (method, (latencies, failures)) in samples.await.unwrap() {
            let entry = merged.entry(method).or_default();
            entry.0.extend(latencies);
            entry.1 += failures;
        }
    }
    merged
}

/// What one attack loop did: runs that ended, and of those the ones failed at their limit.
#[derive(Default)]
struct Attack {
    runs: usize,
    at_limit: usize,
}

/// Executes the bomb `workflow` again and again until `stop`; every tenth run's node error
/// is read back and checked against `limit`.
async fn attacker(
    rpc: Arc<Rpc>,
    token: String,
    workflow: Value,
    limit: &'static str,
    mut stop: watch::Receiver<bool>,
) -> Attack {
    let mut attack = Attack::default();
    while !*stop.borrow_and_update() {
        let answer = match rpc.call(Some(&token), "workflow.execute", execute_params(&workflow)).await {
            Ok(answer) => answer,
            Err(err) => {
                eprintln!("a bomb run could not be started: {err}");
                continue;
            }
        };
        attack.runs += 1;
        let run = &answer["run"];
        if run["status"] != "failed" {
            eprintln!("a bomb run did not fail: {run}");
            continue;
        }
        if attack.runs % 10 != 1 {
            attack.at_limit += 1;
            continue;
        }
        let detail = rpc.call(Some(&token), "run.get", json!({"runId": run["id"]})).await.unwrap();
        let node = detail["nodes"].as_array().unwrap().iter().find(|n| n["nodeId"] == "t").cloned();
        let error = node.map(|n| n["error"].clone()).unwrap_or_default();
        if error["class"] == "limit" && error["limit"] == limit {
            attack.at_limit += 1;
        } else {
            eprintln!("a bomb run failed otherwise than at {limit}: {error}");
        }
    }
    attack
}

fn quantiles(samples: &Samples, method: &str) -> Latencies {
    let (latencies, failures) = samples.get(method).cloned().unwrap_or_default();
    Latencies::new(latencies, failures)
}

fn row(latencies: &Latencies) -> String {
    format!(
        "{:>8.1?} {:>8.1?} {:>8.1?} {:>8.1?} {:>6}{}",
        latencies.quantile(0.50),
        latencies.quantile(0.90),
        latencies.quantile(0.99),
        latencies.quantile(1.0),
        latencies.sorted.len(),
        if latencies.failures > 0 { format!(" ({} FAILED)", latencies.failures) } else { String::new() }
    )
}

async fn bench(config: &Config, db_name: &str, database_url: Option<&str>) {
    println!(
        "\n== attack/{db_name}: {} victim loops, {:?} quiet then {:?} with {} bomb runs at once",
        config.victims, config.seconds, config.seconds, config.runs
    );
    let server = Server::start(database_url).await;
    let rpc = Arc::new(Rpc { http: reqwest::Client::new(), url: format!("{}/rpc", server.base) });
    let victim_user = user(&rpc, "Victim").await;
    let attacker_user = user(&rpc, "Attacker").await;
    let victim_workflow = create_workflow(&rpc, &victim_user, transform_graph("{{ input ~ '!' }}")).await;
    let mut bombs = Vec::new();
    for (template, limit) in BOMBS {
        bombs.push((create_workflow(&rpc, &attacker_user, transform_graph(template)).await, limit));
    }
    // Warm up: a few rounds whose figures are not kept.
    let warm = Config { seconds: Duration::from_secs(1), victims: config.victims, runs: 0 };
    victims(&rpc, &victim_user, &victim_workflow, &warm).await;

    let cpu_before = server.cpu();
    let quiet = victims(&rpc, &victim_user, &victim_workflow, config).await;
    let cpu_quiet = server.cpu() - cpu_before;

    let (stop, stopped) = watch::channel(false);
    let attackers: Vec<_> = (0..config.runs)
        .map(|i| {
            let (workflow, limit) = bombs[i % bombs.len()].clone();
            tokio::spawn(attacker(rpc.clone(), attacker_user.token.clone(), workflow, limit, stopped.clone()))
        })
        .collect();
    let cpu_before = server.cpu();
    let attacked = victims(&rpc, &victim_user, &victim_workflow, config).await;
    let cpu_attacked = server.cpu() - cpu_before;
    let _ = stop.send(true);
    let mut attack = Attack::default();
    for one in attackers {
        let one = one.await.unwrap();
        attack.runs += one.runs;
        attack.at_limit += one.at_limit;
    }
    let memory = server.memory();

    println!("{:<18} {:^42} | {:^42}", "", "quiet: p50 p90 p99 max n", "under attack: p50 p90 p99 max n");
    let mut worst_ratio: f64 = 0.0;
    for method in VICTIM_CALLS {
        let (quiet, attacked) = (quantiles(&quiet, method), quantiles(&attacked, method));
        println!("{method:<18} {} | {}", row(&quiet), row(&attacked));
        let ratio = attacked.quantile(0.99).as_secs_f64() / quiet.quantile(0.99).as_secs_f64().max(1e-6);
        worst_ratio = worst_ratio.max(ratio);
    }
    println!("worst p99 under attack / quiet: {worst_ratio:.2}×");
    println!(
        "bomb runs ended: {} ({} failed at their limit{})",
        attack.runs,
        attack.at_limit,
        if attack.at_limit == attack.runs { "" } else { ": SOME DID NOT" }
    );
    println!(
        "server CPU: {:.1?} quiet, {:.1?} under attack (of {:?} on 2 cores)",
        cpu_quiet, cpu_attacked, config.seconds
    );
    println!(
        "server memory: RSS {} now, peak {} (bound {}: {})",
        mib(memory.rss),
        mib(memory.hwm),
        mib(MEMORY_BOUND_KIB),
        verdict(memory.hwm < MEMORY_BOUND_KIB)
    );
    let victim_failures: usize = attacked.values().chain(quiet.values()).map(|(_, failed)| failed).sum();
    println!("victim calls failed: {victim_failures} ({})", verdict(victim_failures == 0));
    drop(server);
}
