//! Local shell command executions per second: `POST /executions` of `core.local cmd=true` next to
//! a raw fork+exec+wait loop of `/bin/sh -c true` measured in the same run, at the same
//! concurrency.
//!
//! The server runs with `--worker-concurrency` equal to that concurrency and the client keeps as
//! many posts in flight, so at most that many commands run at once on both sides. The server's
//! rate is the runs over the time from the first post to the last execution's `end_timestamp`.
//! The raw loop runs while no server is up, with the command's output going to `/dev/null`:
//! the bare cost of a process, which Nerve's figure is a fraction of.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;

use super::server::{CpuTimes, Launch, Server, seconds_between, time_field};
use super::{Args, WORK_TIMEOUT};
use crate::{median, report};

/// The executions a round waits for.
const SUCCEEDED_LOCAL: &str = "action=core.local&status=succeeded";

/// Shortest interval of the completion poll (which counts unfinished work on the server).
const POLL: Duration = Duration::from_millis(25);

/// What one round of the server measured.
struct Round {
    runs_per_second: f64,
    server_cores: f64,
}

pub(super) fn run(
    launch: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let concurrency = args.shell_concurrency.max(1);
    let worker_concurrency = concurrency.to_string();
    let mut raw = Vec::new();
    let mut rounds = Vec::new();
    for _ in 0..args.rounds.max(1) {
        raw.push(raw_loop(args.shell_runs, concurrency)?);
        let server = Server::start(launch, &["--worker-concurrency", &worker_concurrency])?;
        let round = runtime
            .block_on(round(&server, args.shell_runs, concurrency))
            .with_context(|| {
                format!(
                    "shell round failed; the server log ends with:\n{}",
                    server.log_tail()
                )
            })?;
        rounds.push(round);
    }
    let n = rounds.len();
    let nerve = median(rounds.iter().map(|r| r.runs_per_second).collect());
    let raw = median(raw);
    report(
        "up: core.local cmd=true executions/s",
        format!(
            "{nerve:.0} (median of {n}; {} runs, {concurrency} in flight)",
            args.shell_runs
        ),
    );
    report(
        "up: raw `/bin/sh -c true` fork+exec+wait/s",
        format!("{raw:.0} (median of {n}; {concurrency} threads)"),
    );
    report(
        "up: core.local rate / raw rate",
        format!("{:.0} % (target ≥ 50 %)", 100.0 * nerve / raw),
    );
    report(
        "up: server CPU during core.local runs, cores",
        format!(
            "{:.2} (median of {n})",
            median(rounds.iter().map(|r| r.server_cores).collect())
        ),
    );
    Ok(())
}

async fn round(server: &Server, runs: usize, concurrency: usize) -> anyhow::Result<Round> {
    let api = server.api()?;
    let poster = api.poster("/executions", reqwest::StatusCode::CREATED)?;
    let body =
        |_| serde_json::json!({"action": "core.local", "parameters": {"cmd": "true"}}).to_string();
    // Warm-up: opens the client's connections and starts the worker's slots once.
    poster.post_all(concurrency, concurrency, body).await?;
    api.wait_until_idle(SUCCEEDED_LOCAL, concurrency, WORK_TIMEOUT, POLL)
        .await?;

    let pid = server.pid().to_string();
    let cpu_before = CpuTimes::read(&pid)?;
    let first_post = Utc::now();
    let started = Instant::now();
    poster.post_all(runs, concurrency, body).await?;
    api.wait_until_idle(SUCCEEDED_LOCAL, concurrency + runs, WORK_TIMEOUT, POLL)
        .await?;
    let wall = started.elapsed().as_secs_f64();
    let (cpu_seconds, _) = CpuTimes::read(&pid)?.since(&cpu_before);

    let mut last_end = first_post;
    for execution in api.list_all("executions", SUCCEEDED_LOCAL).await? {
        last_end = last_end.max(time_field(&execution, "end_timestamp")?);
    }
    Ok(Round {
        runs_per_second: runs as f64 / seconds_between(first_post, last_end),
        server_cores: cpu_seconds / wall,
    })
}

/// `/bin/sh -c true` `runs` times from `concurrency` threads; returns runs per second.
fn raw_loop(runs: usize, concurrency: usize) -> anyhow::Result<f64> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    while next.fetch_add(1, Ordering::Relaxed) < runs {
                        // The baseline the benchmark compares Nerve's runner with: a plain
                        // process, spawned directly on purpose.
                        #[allow(clippy::disallowed_methods)]
                        let mut command = Command::new("/bin/sh");
                        let status = command
                            .args(["-c", "true"])
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status()
                            .context("failed to run `/bin/sh -c true`")?;
                        anyhow::ensure!(status.success(), "`/bin/sh -c true` exited with {status}");
                    }
                    Ok(())
                })
            })
            .collect();
        for thread in threads {
            thread
                .join()
                .map_err(|_| anyhow::anyhow!("a raw loop thread panicked"))??;
        }
        anyhow::Ok(())
    })?;
    Ok(runs as f64 / started.elapsed().as_secs_f64())
}
