//! The processes under test: `nerve up` (or `nerve server`, `nerve worker`) started as a child
//! process on a fresh data dir and killed when its guard drops, a small client for the REST API,
//! and readings from `/proc/<pid>`.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;

use super::poster::Poster;

/// How long a start may take before the benchmark gives up on it.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest page the API serves.
const PAGE: usize = 1000;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux's user ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// Where servers come from: the binary and the directory their data dirs are created in.
#[derive(Debug, Clone)]
pub(super) struct Launch {
    pub(super) binary: PathBuf,
    pub(super) data_root: PathBuf,
}

/// A running `nerve up` (or another long-running role); dropping it kills the process (also
/// when a suite fails half-way), then removes its data dir.
#[derive(Debug)]
pub(super) struct Server {
    child: Child,
    /// The rest of its `ready` line: the API's base URL, `http://127.0.0.1:<port>`, for `up` and
    /// `server`.
    pub(super) url: String,
    /// The admin token; empty for a role that writes none (`worker`).
    pub(super) token: String,
    /// From spawning the process to reading its `ready` line.
    pub(super) startup: Duration,
    /// Holds the data dir and the server's log; declared last so it is removed after the kill.
    dir: TempDir,
}

impl Server {
    /// Starts `nerve up --listen 127.0.0.1:0` on a fresh data dir with `extra` arguments and
    /// waits for its `ready <url>` line.
    pub(super) fn start(launch: &Launch, extra: &[&str]) -> anyhow::Result<Self> {
        let mut args = vec!["up", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Self::spawn(launch, &args)
    }

    /// Starts `nerve <args> --data-dir <fresh dir>` (any long-running role: `up`, `server`,
    /// `worker`) and waits for its `ready ...` line; the admin token is read from the data dir
    /// when the role wrote one.
    pub(super) fn spawn(launch: &Launch, args: &[&str]) -> anyhow::Result<Self> {
        let role = args.first().copied().unwrap_or_default();
        let dir = tempfile::Builder::new()
            .prefix("nerve-bench-")
            .tempdir_in(&launch.data_root)
            .with_context(|| {
                format!(
                    "failed to create a data dir under `{}`",
                    launch.data_root.display()
                )
            })?;
        let data_dir = dir.path().join("data");
        let log_path = dir.path().join("server.log");
        let log = fs::File::create(&log_path)
            .with_context(|| format!("failed to create `{}`", log_path.display()))?;
        let spawned = Instant::now();
        // The benchmark starts the binary under test itself, as a user would; nothing else in
        // this program spawns processes through this path.
        #[allow(clippy::disallowed_methods)]
        let mut command = Command::new(&launch.binary);
        let mut child = command
            .args(args)
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "failed to start `{}`; build it with `cargo build --release --bin nerve`",
                    launch.binary.display()
                )
            })?;
        let stdout = child.stdout.take();
        let mut server = Self {
            child,
            url: String::new(),
            token: String::new(),
            startup: Duration::ZERO,
            dir,
        };
        let stdout = stdout.context("the server's stdout is not piped")?;
        let (ready, ready_rx) = mpsc::channel();
        // Reads the `ready` line, then drains stdout until the server exits so it never blocks
        // on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(url) = line.strip_prefix("ready ") {
                    sent = true;
                    let _ = ready.send(url.trim().to_owned());
                }
            }
        });
        match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(url) => {
                server.startup = spawned.elapsed();
                server.url = url;
            }
            Err(_) => {
                let status = match server.child.try_wait() {
                    Ok(Some(status)) => format!("it exited with {status}"),
                    _ => format!("no `ready` line after {READY_TIMEOUT:?}"),
                };
                bail!(
                    "`nerve {role}` did not become ready: {status}; its log ends with:\n{}",
                    server.log_tail()
                );
            }
        }
        let token_path = data_dir.join("admin.token");
        match fs::read_to_string(&token_path) {
            Ok(token) => server.token = token.trim().to_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && role == "worker" => {}
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("failed to read `{}`", token_path.display()));
            }
        }
        Ok(server)
    }

    /// The server's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client for the API, sharing one connection pool.
    pub(super) fn api(&self) -> anyhow::Result<Api> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .context("failed to build the HTTP client")?;
        Ok(Api {
            client,
            base: format!("{}/api/v1", self.url),
            token: self.token.clone(),
        })
    }

    /// The last lines of the server's log (stderr), for error messages.
    pub(super) fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The lines of the server's log at level `WARN` or `ERROR`, without terminal colours.
    pub(super) fn log_problems(&self) -> Vec<String> {
        let text = fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        text.lines()
            .map(strip_colours)
            .filter(|line| {
                // `<timestamp> <LEVEL> <target>: <message>`
                matches!(line.split_whitespace().nth(1), Some("WARN" | "ERROR"))
            })
            .collect()
    }
}

/// `line` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client for the server's REST API.
#[derive(Debug, Clone)]
pub(super) struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
        what: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .with_context(|| format!("{what}: request failed"))?;
        if response.status() != expected {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            bail!("{what}: expected {expected}, got {status}: {body}");
        }
        Ok(response)
    }

    /// A hand-rolled keep-alive client for posting to `path`, expecting `expected` (see
    /// `poster`).
    pub(super) fn poster(&self, path: &str, expected: StatusCode) -> anyhow::Result<Poster> {
        let base_url = self
            .base
            .strip_suffix("/api/v1")
            .context("the API base does not end with /api/v1")?;
        Poster::new(
            base_url,
            &format!("/api/v1{path}"),
            &self.token,
            expected.as_u16(),
        )
    }

    /// Creates rule `bench.<name>` on webhook url `bench` running `action`.
    pub(super) async fn create_webhook_rule(
        &self,
        name: &str,
        action: Value,
    ) -> anyhow::Result<()> {
        let rule = serde_json::json!({
            "name": name,
            "pack": "bench",
            "enabled": true,
            "trigger": {"type": "core.st2.webhook", "parameters": {"url": "bench"}},
            "action": action,
        });
        let request = self.client.post(format!("{}/rules", self.base)).json(&rule);
        self.send(request, StatusCode::CREATED, "POST /rules")
            .await?;
        Ok(())
    }

    /// Posts one event to webhook `bench`; returns once it is accepted (202).
    pub(super) async fn post_webhook(&self, body: &Value) -> anyhow::Result<()> {
        let request = self
            .client
            .post(format!("{}/webhooks/bench", self.base))
            .json(body);
        self.send(request, StatusCode::ACCEPTED, "POST /webhooks/bench")
            .await?;
        Ok(())
    }

    /// `X-Total-Count` of `GET /executions?<query>` (asked with `limit=0`).
    pub(super) async fn count_executions(&self, query: &str) -> anyhow::Result<usize> {
        self.count("executions", query).await
    }

    /// `X-Total-Count` of `GET /<path>?<query>` (asked with `limit=0`).
    async fn count(&self, path: &str, query: &str) -> anyhow::Result<usize> {
        let request = self
            .client
            .get(format!("{}/{path}?limit=0&{query}", self.base));
        let response = self
            .send(request, StatusCode::OK, &format!("GET /{path}"))
            .await?;
        total_count(&response)
    }

    /// The store's flush counters from `/metrics`: (writes that waited for durability, fsyncs).
    pub(super) async fn flush_counters(&self) -> anyhow::Result<(f64, f64)> {
        let request = self.client.get(format!("{}/metrics", self.base));
        let text = self
            .send(request, StatusCode::OK, "GET /metrics")
            .await?
            .text()
            .await
            .context("GET /metrics: unreadable body")?;
        let counter = |name: &str| -> anyhow::Result<f64> {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
                .with_context(|| format!("/metrics has no `{name}`"))
        };
        Ok((
            counter("nerve_store_flush_requests_total")?,
            counter("nerve_store_flushes_total")?,
        ))
    }

    /// Events and executions the server has not finished: pending events plus executions in a
    /// live status. Each count walks a status index that holds only unfinished records, so a
    /// poll costs time proportional to the work in flight, not to the store's size.
    async fn unfinished(&self) -> anyhow::Result<usize> {
        let mut unfinished = 0;
        for status in ["pending", "processing"] {
            unfinished += self
                .count("triggerinstances", &format!("status={status}"))
                .await?;
        }
        for status in ["requested", "scheduled", "delayed", "running", "canceling"] {
            unfinished += self.count_executions(&format!("status={status}")).await?;
        }
        Ok(unfinished)
    }

    /// Waits until the server has finished every event and execution, then checks that
    /// `query` counts at least `target` executions. Call it once every request of the round was
    /// accepted: from then on, nothing unfinished means the round's work is all recorded.
    pub(super) async fn wait_until_idle(
        &self,
        query: &str,
        target: usize,
        timeout: Duration,
        poll: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let asked = Instant::now();
            let unfinished = self.unfinished().await?;
            if unfinished == 0 {
                let count = self.count_executions(query).await?;
                if count >= target {
                    return Ok(());
                }
                let all = self.count_executions("").await.unwrap_or_default();
                bail!(
                    "the server is idle with {count} of {target} executions matching `{query}` \
                     ({all} executions in all)"
                );
            }
            if Instant::now() > deadline {
                bail!("{unfinished} events and executions still unfinished after {timeout:?}");
            }
            tokio::time::sleep(poll.max(asked.elapsed() * 10)).await;
        }
    }

    /// Polls the count of executions matching `query` until it reaches `target`.
    ///
    /// The server walks every matching record to count them, so a poll costs time proportional
    /// to the store's size; the pause between polls is at least `poll` and at least ten times
    /// the last poll's duration, which keeps the polling under a tenth of one core.
    pub(super) async fn wait_for_executions(
        &self,
        query: &str,
        target: usize,
        timeout: Duration,
        poll: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let asked = Instant::now();
            let count = self.count_executions(query).await?;
            if count >= target {
                return Ok(());
            }
            let pause = poll.max(asked.elapsed() * 10);
            if Instant::now() > deadline {
                let all = self.count_executions("").await.unwrap_or_default();
                bail!(
                    "only {count} of {target} executions matching `{query}` after {timeout:?} \
                     ({all} executions in all)"
                );
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Every record of `GET /<path>?<query>`, read in pages of 1000.
    pub(super) async fn list_all(&self, path: &str, query: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            let request = self.client.get(format!(
                "{}/{path}?limit={PAGE}&offset={}&{query}",
                self.base,
                items.len()
            ));
            let response = self
                .send(request, StatusCode::OK, &format!("GET /{path}"))
                .await?;
            let total = total_count(&response)?;
            let page: Vec<Value> = response
                .json()
                .await
                .with_context(|| format!("GET /{path}: the body is not a JSON array"))?;
            let empty = page.is_empty();
            items.extend(page);
            if empty || items.len() >= total {
                return Ok(items);
            }
        }
    }
}

fn total_count(response: &reqwest::Response) -> anyhow::Result<usize> {
    response
        .headers()
        .get("x-total-count")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .context("the response has no X-Total-Count header")
}

/// The RFC 3339 time in string field `field` of `record`.
pub(super) fn time_field(record: &Value, field: &str) -> anyhow::Result<DateTime<Utc>> {
    let text = record
        .get(field)
        .and_then(Value::as_str)
        .with_context(|| format!("the record has no `{field}`: {record}"))?;
    parse_time(text)
}

/// When an execution's log says it entered `status`.
pub(super) fn log_time(execution: &Value, status: &str) -> anyhow::Result<DateTime<Utc>> {
    let entry = execution
        .get("log")
        .and_then(Value::as_array)
        .and_then(|log| {
            log.iter()
                .find(|entry| entry.get("status").and_then(Value::as_str) == Some(status))
        })
        .with_context(|| format!("the execution's log has no `{status}` entry: {execution}"))?;
    time_field(entry, "timestamp")
}

fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .with_context(|| format!("`{text}` is not an RFC 3339 time"))
}

/// Seconds from `from` to `to`.
pub(super) fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

/// A `kB` field (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`, in MB.
pub(super) fn memory_mb(pid: u32, field: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).with_context(|| format!("failed to read `{path}`"))?;
    let kb: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .with_context(|| format!("`{path}` has no `{field}`"))?;
    Ok(kb / 1024.0)
}

/// A process's I/O counters from `/proc/<pid>/io`: write system calls and bytes sent to the
/// storage layer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct IoCounters {
    pub(super) write_calls: f64,
    pub(super) write_bytes: f64,
}

impl IoCounters {
    /// Reads `/proc/<pid>/io`.
    pub(super) fn read(pid: u32) -> anyhow::Result<Self> {
        let path = format!("/proc/{pid}/io");
        let text = fs::read_to_string(&path).with_context(|| format!("failed to read `{path}`"))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.trim().parse().ok())
                .with_context(|| format!("`{path}` has no `{name}`"))
        };
        Ok(Self {
            write_calls: field("syscw")?,
            write_bytes: field("write_bytes")?,
        })
    }

    /// The counts since `earlier`.
    pub(super) fn since(self, earlier: Self) -> Self {
        Self {
            write_calls: self.write_calls - earlier.write_calls,
            write_bytes: self.write_bytes - earlier.write_bytes,
        }
    }
}

/// CPU time a process has used, in all and per thread name.
#[derive(Debug, Clone, Default)]
pub(super) struct CpuTimes {
    total: f64,
    by_thread: HashMap<String, f64>,
}

impl CpuTimes {
    /// Reads `/proc/<pid>/stat` and the stats of its threads; `pid` may be `self`.
    pub(super) fn read(pid: &str) -> anyhow::Result<Self> {
        let path = format!("/proc/{pid}/stat");
        let text = fs::read_to_string(&path).with_context(|| format!("failed to read `{path}`"))?;
        let (_, total) = parse_stat(&text).with_context(|| format!("cannot parse `{path}`"))?;
        let mut by_thread: HashMap<String, f64> = HashMap::new();
        let tasks = Path::new("/proc").join(pid).join("task");
        for entry in fs::read_dir(&tasks).into_iter().flatten().flatten() {
            // A thread may exit between listing and reading; it is skipped.
            let Ok(text) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if let Some((name, seconds)) = parse_stat(&text) {
                *by_thread.entry(name).or_default() += seconds;
            }
        }
        Ok(Self { total, by_thread })
    }

    /// CPU seconds used since `earlier`, in all and per thread name (largest first).
    pub(super) fn since(&self, earlier: &Self) -> (f64, Vec<(String, f64)>) {
        let mut threads: Vec<(String, f64)> = self
            .by_thread
            .iter()
            .map(|(name, seconds)| {
                let before = earlier.by_thread.get(name).copied().unwrap_or_default();
                (name.clone(), (seconds - before).max(0.0))
            })
            .filter(|(_, seconds)| *seconds > 0.0)
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        (self.total - earlier.total, threads)
    }
}

/// The name (`comm`) and user + system CPU seconds of a `stat` line.
fn parse_stat(text: &str) -> Option<(String, f64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    // After the name: state (field 3), ..., utime (field 14), stime (field 15).
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((name, (utime + stime) / TICKS_PER_SECOND))
}

/// The file system type of the mount holding `path` (from `/proc/self/mounts`).
pub(super) fn file_system_of(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let _device = fields.next()?;
            let mount_point = fields.next()?;
            let kind = fields.next()?;
            path.starts_with(mount_point)
                .then(|| (mount_point.len(), kind.to_owned()))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, kind)| kind)
}

/// Generic calls for the sensor and workflow figures.
impl Api {
    /// A request to `<base>/api/v1<path>` with the credential, for callers that time or stream
    /// the response themselves.
    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token)
    }

    /// `GET <path>` as JSON.
    pub(super) async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let request = self.client.get(format!("{}{path}", self.base));
        let response = self.send(request, StatusCode::OK, path).await?;
        response
            .json()
            .await
            .with_context(|| format!("GET {path}: not JSON"))
    }

    /// `POST <path>` with a JSON body, expecting `expected`; returns the response's JSON
    /// (`null` when it has none).
    pub(super) async fn post_json(
        &self,
        path: &str,
        body: &Value,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let request = self.client.post(format!("{}{path}", self.base)).json(body);
        let response = self.send(request, expected, path).await?;
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("POST {path}: reading the response failed"))?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}
