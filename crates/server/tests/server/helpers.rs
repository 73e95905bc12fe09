//! Running the `weft` binary as a child process.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const PASSWORD: &str = "violet-Tangerine-88-harbour";

pub fn weft(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command
        .current_dir(data_dir)
        .env("WEFT_DATA_DIR", data_dir)
        .env_remove("WEFT_DATABASE_URL")
        .env_remove("WEFT_JWT_SECRET")
        .env_remove("WEFT_ENV")
        .env("WEFT_LOG", "warn");
    command
}

pub fn run(command: &mut Command, stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts `weft serve` with `command`'s environment and waits until it listens.
    pub fn start(command: Command) -> Server {
        Server::start_with_output(command, Stdio::piped(), Stdio::piped())
    }

    /// Starts `weft serve` like [`Server::start`], appending everything it prints to `log`
    /// (a pipe nobody reads would block a chatty server).
    pub fn start_logged(command: Command, log: &Path) -> Server {
        let (stdout, stderr) = log_output(log);
        Server::start_with_output(command, stdout, stderr)
    }

    fn start_with_output(mut command: Command, stdout: Stdio, stderr: Stdio) -> Server {
        let port = free_port();
        command.arg("serve").env("WEFT_ADDR", format!("127.0.0.1:{port}"));
        let child = command.stdout(stdout).stderr(stderr).spawn().unwrap();
        let mut server = Server { child, url: format!("http://127.0.0.1:{port}") };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(server.child.try_wait().unwrap().is_none(), "weft exited during start-up");
            assert!(Instant::now() < deadline, "weft did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Kills the process with SIGKILL (no shutdown, no lease released) and reaps it.
    pub fn kill(&mut self) {
        kill_hard(&mut self.child);
    }

    pub fn terminate(&mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; returns its exit code and everything it printed.
    pub fn wait(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "weft did not exit within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut child = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap());
        let output = std::mem::take(&mut child.stdout);
        let errors = std::mem::take(&mut child.stderr);
        let code = child.wait().unwrap().code().unwrap_or(-1);
        let mut text = String::new();
        use std::io::Read;
        if let Some(mut out) = output {
            out.read_to_string(&mut text).unwrap();
        }
        if let Some(mut err) = errors {
            err.read_to_string(&mut text).unwrap();
        }
        (code, text)
    }

    pub async fn rpc(&self, method: &str, params: Value, token: Option<&str>) -> Value {
        weft_engine::install_tls_provider();
        let mut request = reqwest::Client::new()
            .post(format!("{}/rpc", self.url))
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }
}

/// Appends a process's stdout and stderr to the file `log`.
fn log_output(log: &Path) -> (Stdio, Stdio) {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    (Stdio::from(file.try_clone().unwrap()), Stdio::from(file))
}

fn kill_hard(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // `Child::kill` sends SIGKILL on Unix.
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// A `weft worker` process (no HTTP), killed when dropped.
pub struct Worker {
    pub child: Child,
}

impl Worker {
    /// Starts `weft worker` with `command`'s environment, appending its output to `log`.
    /// It starts claiming steps once it has connected to the database.
    pub fn start(mut command: Command, log: &Path) -> Worker {
        let (stdout, stderr) = log_output(log);
        let child = command.arg("worker").stdout(stdout).stderr(stderr).spawn().unwrap();
        Worker { child }
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        kill_hard(&mut self.child);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        kill_hard(&mut self.child);
    }
}

/// Prints the named log files when the test fails (dropped while panicking).
pub struct LogsOnFailure(pub Vec<std::path::PathBuf>);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for path in &self.0 {
            let text = std::fs::read_to_string(path).unwrap_or_else(|err| format!("(unreadable: {err})"));
            eprintln!("----- {} -----\n{text}", path.display());
        }
    }
}

/// Calls `method` and answers its result, failing on a JSON-RPC error.
pub async fn call(server: &Server, method: &str, params: Value, token: &str) -> Value {
    let answer = server.rpc(method, params, Some(token)).await;
    assert!(answer.get("error").is_none(), "{method} failed: {answer}");
    answer["result"].clone()
}

pub fn node(id: &str, kind: &str, config: Value) -> Value {
    json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config})
}

pub fn edge(source: &str, target: &str) -> Value {
    json!({"source": source, "sourcePort": "out", "target": target, "targetPort": "in"})
}
