//! Shared harness for Nerve's end-to-end tests: locating fixtures, running the real `nerve`
//! binary with a deadline, and reading what it printed.
//!
//! Tests never sleep and hope: commands run with a deadline and fail with what they printed.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a single CLI invocation may take before the test fails.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// A path under `tests/fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(relative)
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Standard output parsed as JSON.
    ///
    /// # Panics
    /// When stdout is not JSON (the test fails with both streams shown).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{self}"))
    }

    /// Asserts the exit code, showing both streams when it differs.
    ///
    /// # Panics
    /// When the code differs.
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "unexpected exit code:\n{self}");
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The `nerve` binary under test.
#[derive(Debug, Clone)]
pub struct Nerve {
    binary: PathBuf,
    data_dir: Option<PathBuf>,
}

impl Nerve {
    /// Wraps the binary at `binary` (pass `env!("CARGO_BIN_EXE_nerve")`).
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            data_dir: None,
        }
    }

    /// Runs every command with `NERVE_DATA_DIR` set to `dir`.
    #[must_use]
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Runs `nerve ARGS...` in `cwd` (the repository root when `None`) and waits for it, at
    /// most [`COMMAND_DEADLINE`].
    ///
    /// # Panics
    /// When the binary cannot be started or exceeds the deadline (it is killed first).
    pub fn run_in<S: AsRef<std::ffi::OsStr>>(&self, cwd: Option<&Path>, args: &[S]) -> Output {
        // The binary under test is the one child a test starts itself; everything Nerve runs goes
        // through its own spawning wrapper.
        #[allow(clippy::disallowed_methods)]
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .current_dir(cwd.map_or_else(repo_root, Path::to_path_buf))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.data_dir {
            command.env("NERVE_DATA_DIR", dir);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `{}`: {error}", self.binary.display()));
        let mut stdout_pipe = child.stdout.take().expect("stdout is piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stdout_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout_pipe.read_to_string(&mut text);
            text
        });
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > COMMAND_DEADLINE => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("`nerve` did not finish within {COMMAND_DEADLINE:?}");
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(error) => panic!("waiting for `nerve` failed: {error}"),
            }
        };
        Output {
            code: status.code(),
            stdout: stdout_reader.join().unwrap_or_default(),
            stderr: stderr_reader.join().unwrap_or_default(),
        }
    }

    /// Runs `nerve ARGS...` from the repository root.
    ///
    /// # Panics
    /// See [`Nerve::run_in`].
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.run_in(None, args)
    }
}

/// A running `nerve up`, killed when dropped.
#[derive(Debug)]
pub struct NerveServer {
    child: std::process::Child,
    /// The base URL from the `ready <url>` line.
    pub url: String,
    /// The admin token the server wrote to its data dir.
    pub token: String,
    /// The data dir.
    pub data_dir: PathBuf,
    /// Lines the server printed on stdout after `ready` (read in the background).
    stdout_rest: std::sync::mpsc::Receiver<String>,
    /// Everything the server logged on stderr so far.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl NerveServer {
    /// Starts `nerve up --listen 127.0.0.1:0` on `data_dir` and waits (at most
    /// [`COMMAND_DEADLINE`]) for its `ready <url>` line.
    ///
    /// # Panics
    /// When it does not become ready in time (its stderr is shown).
    pub fn start(binary: &Path, data_dir: &Path) -> NerveServer {
        NerveServer::spawn(binary, data_dir, &["up", "--listen", "127.0.0.1:0"])
    }

    /// Starts `nerve <args> --data-dir <data_dir>` (any long-running role: `server`, `worker`,
    /// `sensors`, `up` with options) and waits for its `ready ...` line. For nodes, `url` is
    /// the rest of that line and `token` is empty when the data dir has no admin token.
    ///
    /// # Panics
    /// When it does not become ready in time.
    pub fn spawn(binary: &Path, data_dir: &Path, args: &[&str]) -> NerveServer {
        NerveServer::spawn_until(binary, data_dir, args, "ready ")
    }

    /// [`NerveServer::spawn`] for any long-running command, waiting for its first stdout line
    /// that starts with `prefix` (`url` is the rest of that line), e.g. `watching ` for `nerve
    /// pack install --watch`.
    ///
    /// # Panics
    /// When no such line comes in time.
    pub fn spawn_until(binary: &Path, data_dir: &Path, args: &[&str], prefix: &str) -> NerveServer {
        use std::io::BufRead as _;
        #[allow(clippy::disallowed_methods)]
        let mut command = Command::new(binary);
        command
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nerve up: {e}"));
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr_sink = stderr_text.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                if let Ok(mut text) = stderr_sink.lock() {
                    text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }
        });
        let deadline = Instant::now() + COMMAND_DEADLINE;
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix(prefix) {
                        break url.to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs = stderr_text.lock().map(|t| t.clone()).unwrap_or_default();
                    let tail: String = logs
                        .lines()
                        .rev()
                        .take(30)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n");
                    panic!(
                        "`nerve {}` did not print `{prefix}...` within {COMMAND_DEADLINE:?}; its log ends:\n{tail}",
                        args.join(" ")
                    );
                }
            }
        };
        let token = std::fs::read_to_string(data_dir.join("admin.token"))
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        NerveServer {
            child,
            url,
            token,
            data_dir: data_dir.to_path_buf(),
            stdout_rest: lines_rx,
            stderr: stderr_text,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server with SIGTERM (a clean shutdown) and waits for it to exit.
    ///
    /// # Panics
    /// When it does not exit within [`COMMAND_DEADLINE`].
    pub fn stop(mut self) {
        #[allow(clippy::disallowed_methods)]
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + COMMAND_DEADLINE;
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`nerve up` did not exit within {COMMAND_DEADLINE:?} of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// What the server logged on stderr so far (it runs with `RUST_LOG=debug`).
    pub fn logs(&self) -> String {
        self.stderr
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default()
    }

    /// Lines printed after `ready` so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout_rest.try_iter().collect()
    }
}

impl Drop for NerveServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A RabbitMQ virtual host of its own for one test, so tests against the one broker on the
/// machine (127.0.0.1:5672, guest/guest) run in parallel without seeing each other's queues.
/// Deleted (with everything in it) when dropped.
#[derive(Debug)]
pub struct RabbitVhost {
    /// The vhost's name.
    pub name: String,
    /// `amqp://guest:guest@127.0.0.1:5672/<name>`.
    pub url: String,
}

impl RabbitVhost {
    /// Creates a fresh vhost named after `test` and gives `guest` all rights on it.
    ///
    /// # Panics
    /// When RabbitMQ is not running (the message says how to start it): tests that need the
    /// broker fail, they do not skip.
    pub fn new(test: &str) -> RabbitVhost {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("nerve-{test}-{}-{nanos}", std::process::id());
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        let url = format!("amqp://guest:guest@127.0.0.1:5672/{name}");
        RabbitVhost { name, url }
    }
}

impl Drop for RabbitVhost {
    fn drop(&mut self) {
        #[allow(clippy::disallowed_methods)]
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `rabbitmqctl args`, panicking with its output and a hint when it fails.
///
/// # Panics
/// When `rabbitmqctl` is missing or fails (RabbitMQ not running).
pub fn rabbitmqctl(args: &[&str]) -> String {
    #[allow(clippy::disallowed_methods)]
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `rabbitmqctl` ({e}): these tests need RabbitMQ on 127.0.0.1:5672; install `rabbitmq-server`")
        });
    assert!(
        output.status.success(),
        "`rabbitmqctl {}` failed: RabbitMQ must run on 127.0.0.1:5672 (start it with `rabbitmq-server -detached`).\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `git ARGS` in `dir` (for tests that install from a repository), with a fixed identity.
///
/// # Panics
/// When git cannot start or fails (its stderr is shown).
pub fn git(dir: &Path, args: &[&str]) -> String {
    // Test setup outside Nerve, like starting the binary under test.
    #[allow(clippy::disallowed_methods)]
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Nerve tests")
        .env("GIT_AUTHOR_EMAIL", "tests@example.invalid")
        .env("GIT_COMMITTER_NAME", "Nerve tests")
        .env("GIT_COMMITTER_EMAIL", "tests@example.invalid")
        .output()
        .unwrap_or_else(|e| panic!("cannot run git: {e}"));
    assert!(
        output.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Copies a directory tree (a fixture pack into a test's temporary directory, to edit it).
///
/// # Panics
/// On any IO error.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
