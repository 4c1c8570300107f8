//! Shared helpers: temp packs and scripts, requests, waiting with deadlines, process liveness,
//! and a tiny HTTP server on 127.0.0.1:0.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nerve_model::{Action, find_runner};
use nerve_runner::{
    Finished, Interpreter, OutputLine, RunOutcome, RunRequest, Spawn, run, run_process,
};
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The longest any test waits for something that should happen promptly.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// `PATH`, `HOME` and `LANG` of the test process: what a worker would pass through.
pub fn base_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for name in ["PATH", "HOME", "LANG"] {
        // Tests read the environment they run in; production code gets it from its Config.
        #[allow(clippy::disallowed_methods)]
        if let Ok(value) = std::env::var(name) {
            env.insert(name.to_owned(), value);
        }
    }
    env
}

/// `base_env` as a [`Spawn`] environment.
pub fn spawn_env() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    base_env()
        .into_iter()
        .map(|(name, value)| (name.into(), value.into()))
        .collect()
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Writes an executable file.
pub fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A temporary pack directory with an `actions/` directory.
pub fn pack_dir() -> tempfile::TempDir {
    let dir = tempdir();
    std::fs::create_dir(dir.path().join("actions")).expect("create actions/");
    dir
}

/// An action of `runner` in pack `tests` with these parameter specs.
pub fn action(name: &str, runner: &str, parameters: Value) -> Action {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "pack": "tests",
        "runner_type": runner,
        "parameters": parameters,
    }))
    .expect("valid action")
}

/// A request for `action` with the test process's pass-through environment.
pub fn request(action: Action, pack_dir: &Path, parameters: Value) -> RunRequest {
    let runner = find_runner(&action.runner_type)
        .expect("known runner")
        .clone();
    let mut request = RunRequest::new("exec-1", action, runner, pack_dir);
    request.base_env = base_env();
    request.grace = Duration::from_millis(500);
    request.parameters = as_map(parameters);
    request
}

/// The object's map.
pub fn as_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("expected an object, got {other}"),
    }
}

/// Runs a request, collecting every output line.
pub async fn run_collect(request: RunRequest) -> (RunOutcome, Vec<OutputLine>) {
    let (sink, receiver) = mpsc::channel(64);
    let collector = tokio::spawn(collect(receiver));
    let outcome = run(request, sink, CancellationToken::new())
        .await
        .expect("runnable request");
    (outcome, collector.await.expect("collector"))
}

/// Runs a spawn, collecting every output line.
pub async fn spawn_collect(spawn: Spawn) -> (Finished, Vec<OutputLine>) {
    let (sink, receiver) = mpsc::channel(64);
    let collector = tokio::spawn(collect(receiver));
    let finished = run_process(spawn, &sink, &CancellationToken::new())
        .await
        .expect("spawned");
    drop(sink);
    (finished, collector.await.expect("collector"))
}

/// Every line until the sink is dropped.
pub async fn collect(mut receiver: mpsc::Receiver<OutputLine>) -> Vec<OutputLine> {
    let mut lines = Vec::new();
    while let Some(line) = receiver.recv().await {
        lines.push(line);
    }
    lines
}

/// The next line, failing the test after [`DEADLINE`].
pub async fn next_line(receiver: &mut mpsc::Receiver<OutputLine>) -> OutputLine {
    tokio::time::timeout(DEADLINE, receiver.recv())
        .await
        .expect("a line before the deadline")
        .expect("the sink is still open")
}

/// Polls `condition` until it holds, failing the test with `what` after [`DEADLINE`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `pid` is a live process (a zombie waiting for a reaper that is not us counts as
/// gone: it cannot run and holds nothing but its process table entry).
pub fn alive(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the `(comm)` field, which may itself contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// The real interpreter behind `python3` on `PATH` (resolving shims such as pyenv's).
pub async fn python3() -> Interpreter {
    let mut spawn = Spawn::new("python3", "/");
    spawn.args = vec!["-c".into(), "import sys; print(sys.executable)".into()];
    spawn.env = spawn_env();
    let (finished, _) = spawn_collect(spawn).await;
    let path = finished.stdout.text.trim();
    assert!(
        !path.is_empty(),
        "python3 is needed for these tests: {}",
        finished.stderr.text
    );
    Interpreter::Verified(PathBuf::from(path))
}

/// One request as the test server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the test server answers; `None` from the handler means never answer.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Option<Reply> {
        Some(Reply {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
        })
    }

    pub fn text(status: u16, body: &str) -> Option<Reply> {
        Some(Reply {
            status,
            content_type: "text/plain",
            body: body.as_bytes().to_vec(),
        })
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Option<Reply> + Send + Sync>;

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1:0.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Every request received, in order.
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(
        handler: impl Fn(&Recorded) -> Option<Reply> + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(serve(stream, handler, recorded));
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    handler: Handler,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let request = Recorded {
        method,
        target,
        headers,
        body,
    };
    recorded.lock().expect("lock").push(request.clone());
    let Some(reply) = handler(&request) else {
        // Never answer; hold the connection until the client gives up.
        let _ = stream.read(&mut chunk).await;
        return;
    };
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nX-Test: a\r\nX-Test: b\r\nConnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&reply.body).await;
    let _ = stream.shutdown().await;
}
