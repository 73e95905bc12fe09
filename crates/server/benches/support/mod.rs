//! What the benches of this package share: a `weft serve` child process on a fresh
//! database, a JSON-RPC client, the process's memory and CPU time from `/proc`, and latency
//! quantiles.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const PASSWORD: &str = "violet-Tangerine-88-harbour";

pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A `weft serve` child process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    _data: tempfile::TempDir,
}

impl Server {
    pub async fn start(database_url: Option<&str>) -> Server {
        Server::start_with(database_url, &[]).await
    }

    /// Starts the server with these variables set too.
    pub async fn start_with(database_url: Option<&str>, settings: &[(&str, &str)]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
        command
            .arg("serve")
            // No `.env` from the checkout.
            .current_dir(data.path())
            .env("WEFT_ADDR", format!("127.0.0.1:{port}"))
            .env("WEFT_DATA_DIR", data.path())
            .env("WEFT_LOG", std::env::var("WEFT_LOG").unwrap_or_else(|_| "warn".to_owned()))
            .env("WEFT_REGISTRATIONS_PER_IP_PER_HOUR", "1000")
            .envs(settings.iter().copied())
            .stdout(Stdio::null());
        match database_url {
            Some(url) => command.env("WEFT_DATABASE_URL", url),
            None => command.env_remove("WEFT_DATABASE_URL"),
        };
        let child = command.spawn().expect("failed to start the weft binary");
        let server = Server { child, base: format!("http://127.0.0.1:{port}"), _data: data };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = http.get(format!("{}/health", server.base)).send().await
                && response.status().is_success()
            {
                return server;
            }
            assert!(Instant::now() < deadline, "weft did not answer /health within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn memory(&self) -> Memory {
        Memory::of(&format!("/proc/{}/status", self.child.id()))
    }

    pub fn cpu(&self) -> Duration {
        cpu_time(&format!("/proc/{}/stat", self.child.id()))
    }
}

/// User plus system CPU time of a process (`/proc/<pid>/stat`, 10 ms ticks).
pub fn cpu_time(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS and VmHWM in KiB.
#[derive(Clone, Copy)]
pub struct Memory {
    pub rss: u64,
    pub hwm: u64,
}

impl Memory {
    pub fn of(status_path: &str) -> Memory {
        let status = std::fs::read_to_string(status_path).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Memory { rss: field("VmRSS:"), hwm: field("VmHWM:") }
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

pub struct Rpc {
    pub http: reqwest::Client,
    pub url: String,
}

impl Rpc {
    pub async fn call(&self, token: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer: Value = request
            .send()
            .await
            .map_err(|err| format!("{method}: {err}"))?
            .json()
            .await
            .map_err(|err| format!("{method}: {err}"))?;
        match answer.get("error") {
            Some(error) => Err(format!("{method}: {error}")),
            None => Ok(answer["result"].clone()),
        }
    }
}

/// Sorted latencies in µs.
pub struct Latencies {
    pub sorted: Vec<u32>,
    pub failures: usize,
}

impl Latencies {
    pub fn new(mut micros: Vec<u32>, failures: usize) -> Latencies {
        micros.sort_unstable();
        Latencies { sorted: micros, failures }
    }

    pub fn quantile(&self, q: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.sorted.len() as f64 * q).ceil() as usize).clamp(1, self.sorted.len()) - 1;
        Duration::from_micros(u64::from(self.sorted[index]))
    }

    pub fn summary(&self) -> String {
        format!(
            "n={:<7} p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}{}",
            self.sorted.len(),
            self.quantile(0.50),
            self.quantile(0.99),
            self.quantile(1.0),
            if self.failures > 0 { format!("  ({} failed)", self.failures) } else { String::new() }
        )
    }
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

pub fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
