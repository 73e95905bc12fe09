//! Developer tasks for the Weft workspace.
//!
//! - `cargo xtask ci`: everything CI checks — format, clippy, every Rust test on SQLite and
//!   PostgreSQL, the bindings freshness check, the TypeScript type check, and the end-to-end
//!   runs (Node client test, the `examples/*.sh` scripts, the Rust example) against a real
//!   `weft` server.
//! - `cargo xtask codegen`: rewrites `bindings/`, `bindings/openrpc.json` and `docs/errors.md`.
//!
//! The xtask depends on no workspace crate, so running it never rebuilds the workspace
//! with a different feature set.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root()?;
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("codegen") => codegen(&root),
        Some("e2e") => e2e(&root),
        Some("bench") => bench(&root, &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <ci|codegen|e2e>");
            eprintln!("  ci       format, clippy, all tests (SQLite + PostgreSQL), bindings, end-to-end");
            eprintln!("  codegen  regenerate bindings/, bindings/openrpc.json and docs/errors.md");
            eprintln!("  e2e      build, start a server, run the Node client test and the examples");
            eprintln!(
                "  bench    criterion benchmarks (graph validation, patchGraph end to end, engine); extra args go to criterion"
            );
            eprintln!("  bench engine [filter]                  only the engine benchmarks");
            eprintln!("  bench engine-memory [sqlite|postgres]  RSS over 100,000 engine runs");
            eprintln!(
                "  bench schedules                        scheduler idle CPU and fire lateness, 10,000 schedules"
            );
            eprintln!(
                "  bench sse                              10,000 SSE streams: memory, fan-out latency, JSON-RPC meanwhile"
            );
            std::process::exit(2);
        }
    }
}

/// The checkout this xtask was started from. `cargo run` sets `CARGO_MANIFEST_DIR` at run
/// time; the value compiled in is only a fallback, because checkouts that share a target
/// directory (CI clones, worktrees) may run a binary compiled in another checkout.
fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Ok(manifest.parent().context("xtask has no parent directory")?.to_path_buf())
}

fn step(name: &str) {
    println!("\n==> {name}");
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    let status = command.status().with_context(|| format!("failed to start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root);
    command
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn reachable(url: &str) -> bool {
    // postgres://user@host:port/db → host:port
    let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let host_port = after_scheme.rsplit_once('@').map(|(_, rest)| rest).unwrap_or(after_scheme);
    let host_port = host_port.split(['/', '?']).next().unwrap_or_default();
    let host_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
    use std::net::ToSocketAddrs;
    host_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

/// Decides which PostgreSQL the tests use. In CI a missing server is an error.
fn postgres_url() -> anyhow::Result<Option<String>> {
    let in_ci = std::env::var_os("CI").is_some();
    let url = std::env::var("WEFT_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    if reachable(&url) {
        return Ok(Some(url));
    }
    if in_ci {
        bail!("PostgreSQL is not reachable at {url}: CI must run the PostgreSQL tests");
    }
    eprintln!("\n*** PostgreSQL is not reachable at {url}: PostgreSQL tests will be SKIPPED ***\n");
    Ok(None)
}

fn ci(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    step("cargo fmt --check");
    run(cargo(root).args(["fmt", "--all", "--", "--check"]))?;
    step("cargo clippy");
    run(cargo(root).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    step("rust tests (SQLite and PostgreSQL)");
    let postgres = postgres_url()?;
    let mut tests = cargo(root);
    if has_nextest() {
        tests.args(["nextest", "run", "--workspace", "--profile", "ci"]);
    } else {
        tests.args(["test", "--workspace"]);
    }
    if let Some(url) = &postgres {
        tests.env("WEFT_TEST_POSTGRES_URL", url);
    }
    run(&mut tests)?;
    e2e(root)?;
    println!("\nci: all checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Runs the criterion benchmarks in the `bench` profile (release optimisation, no LTO):
/// all of them, or with `engine` only the engine's (on SQLite, and on PostgreSQL when
/// `WEFT_TEST_POSTGRES_URL` is set), or with `engine-memory [sqlite|postgres]` the RSS
/// series over 100,000 runs instead of a criterion bench, with `schedules` the
/// scheduler's idle cost and fire lateness with 10,000 schedules (`WEFT_BENCH_DB=postgres`
/// for PostgreSQL), or with `sse` the realtime bench (10,000 event streams on one
/// `weft serve` process), or with `attack` other users' latency while template bombs run.
fn bench(root: &Path, extra: &[String]) -> anyhow::Result<()> {
    step("benchmarks (see docs/benchmarks.md for the recorded figures)");
    let mut command = cargo(root);
    command.args(["bench", "--workspace"]);
    match extra.first().map(String::as_str) {
        Some("engine") => {
            command.args(["--bench", "engine", "--"]).args(&extra[1..]);
        }
        Some("schedules") => {
            command.args(["--bench", "schedules"]);
        }
        Some("sse") => {
            // One package, as the recorded figures were taken: `--workspace` unifies other
            // features and rebuilds every crate for this one bench.
            return run(cargo(root).args(["bench", "-p", "weft-server", "--bench", "sse"]));
        }
        Some("attack") => {
            return run(cargo(root).args(["bench", "-p", "weft-server", "--bench", "attack"]));
        }
        Some("engine-memory") => {
            let which = extra.get(1).map_or("all", String::as_str);
            command.args(["--bench", "engine"]).env("WEFT_BENCH_ENGINE_MEMORY", which);
        }
        _ => {
            command.args(["--bench", "graph", "--bench", "patch_graph", "--bench", "engine", "--"]);
            command.args(extra);
        }
    }
    run(&mut command)
}

fn codegen(root: &Path) -> anyhow::Result<()> {
    step("regenerating bindings, OpenRPC document and error table");
    run(cargo(root)
        .args(["test", "--workspace", "--test", "api", "--", "codegen::generated_files_are_fresh", "--exact"])
        .env("WEFT_UPDATE_BINDINGS", "1"))?;
    println!("done: review and commit bindings/, bindings/openrpc.json and docs/errors.md");
    Ok(())
}

/// Where cargo puts binaries: `CARGO_TARGET_DIR` when set, else `target/` in the root.
fn debug_bin(root: &Path, name: &str) -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() { target } else { root.join(target) };
    target.join("debug").join(name)
}

fn npm(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("npm");
    command.current_dir(root.join("bindings")).args(args);
    command
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A `weft serve` child process, terminated when dropped.
struct Server {
    child: Child,
    url: String,
    _data: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    fn start(root: &Path) -> anyhow::Result<Server> {
        let port = free_port()?;
        let data = std::env::temp_dir().join(format!("weft-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data)?;
        let child = Command::new(debug_bin(root, "weft"))
            .arg("serve")
            .current_dir(root)
            .env("WEFT_ADDR", format!("127.0.0.1:{port}"))
            .env("WEFT_DATA_DIR", &data)
            .env("WEFT_LOG", "warn")
            .env("WEFT_HEARTBEAT_INTERVAL", "1s")
            // examples/ai.sh calls the fake provider on 127.0.0.1, which the outbound policy
            // refuses by default, and prints the spend of `demo-model` at these prices.
            .env("WEFT_HTTP_ALLOW_HOSTS", "127.0.0.1")
            .env(
                "WEFT_AI_MODELS",
                r#"[{"id":"demo-model","provider":"demo","contextLength":8192,"inputPerMtokUsd":0.5,"outputPerMtokUsd":1.5,"tasks":["generate","cheapFast"],"supportsJsonSchema":false}]"#,
            )
            .env_remove("WEFT_DATABASE_URL")
            .spawn()
            .context("failed to start the weft binary")?;
        let mut server = Server { child, url: format!("http://127.0.0.1:{port}"), _data: TempDir(data) };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("weft exited during start-up with {status}");
            }
            if Instant::now() > deadline {
                bail!("weft did not start listening within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// Sends SIGTERM and expects a clean exit (graceful shutdown).
    fn stop(mut self) -> anyhow::Result<()> {
        run(Command::new("kill").args(["-TERM", &self.child.id().to_string()]))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("weft exited with {status} after SIGTERM");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("weft did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn e2e(root: &Path) -> anyhow::Result<()> {
    step("build the server and the examples");
    run(cargo(root).args(["build", "--workspace", "--bins"]))?;
    step("TypeScript bindings: npm ci and type check");
    run(&mut npm(root, &["ci", "--no-audit", "--no-fund"]))?;
    run(&mut npm(root, &["run", "check"]))?;
    step("end-to-end against a running server");
    let server = Server::start(root)?;
    println!("weft serving at {}", server.url);
    // `test/browser.test.ts` starts servers of its own (it restarts one mid-run) from
    // `WEFT_BIN` and drives the system Chromium (`.ci/run` installs it); with `CI` set,
    // a missing binary or browser fails it instead of skipping it.
    run(npm(root, &["test"]).env("WEFT_URL", &server.url).env("WEFT_BIN", debug_bin(root, "weft")))?;
    run(Command::new("bash").arg(root.join("examples/quickstart.sh")).env("WEFT_URL", &server.url))?;
    run(Command::new("bash").arg(root.join("examples/workflows.sh")).env("WEFT_URL", &server.url))?;
    run(Command::new("bash").arg(root.join("examples/runs.sh")).env("WEFT_URL", &server.url))?;
    // Uses bindings/dist, built by `npm test` above.
    run(Command::new("node").arg(root.join("examples/follow_run.mjs")).env("WEFT_URL", &server.url))?;
    run(Command::new("bash").arg(root.join("examples/schedules.sh")).env("WEFT_URL", &server.url))?;
    {
        use std::io::BufRead;

        /// `examples/fake_provider.py`, killed when dropped (also when a step fails).
        struct FakeProvider(Child);
        impl Drop for FakeProvider {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }

        let child = Command::new("python3")
            .args(["examples/fake_provider.py", "--port", "0"])
            .current_dir(root)
            .stdout(Stdio::piped())
            .spawn()
            .context("failed to start python3 examples/fake_provider.py")?;
        let mut provider = FakeProvider(child);
        let stdout = provider.0.stdout.take().context("the fake provider has no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let Some(base_url) = line.trim().strip_prefix("listening on ") else {
            bail!("the fake provider did not say where it listens (first line: {line:?})");
        };
        println!("fake AI provider at {base_url}");
        run(Command::new("bash")
            .arg(root.join("examples/ai.sh"))
            .env("WEFT_URL", &server.url)
            .env("AI_BASE_URL", base_url)
            .env("AI_API_KEY", "sk-example-key-123456789")
            .env_remove("AI_MODEL"))?;
    }
    run(Command::new(debug_bin(root, "weft-example-client")).env("WEFT_URL", &server.url))?;
    step("graceful shutdown on SIGTERM");
    server.stop()?;
    Ok(())
}
