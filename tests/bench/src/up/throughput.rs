//! Webhook → execution recorded throughput: a rule on webhook `bench` runs `core.noop`; events
//! are posted with a fixed number in flight from one HTTP client, and the rate is events over the
//! time from the first post to the last execution's `end_timestamp` (the client's and the
//! server's clocks are the same clock).
//!
//! The accept rate (202s per second) is reported apart, as is the CPU the server and this
//! program used meanwhile, the server's busiest threads and its peak RSS. The `amqp` suite runs
//! the same rounds against `nerve server` and its worker nodes, and takes the CPU of those
//! other processes (nodes, broker) too.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use serde_json::json;

use super::poster::Poster;
use super::server::{CpuTimes, IoCounters, Launch, Server, memory_mb, seconds_between, time_field};
use super::{Args, WORK_TIMEOUT, thread_shares};
use crate::{median, report};

/// The executions a round waits for.
const SUCCEEDED_NOOP: &str = "action=core.noop&status=succeeded";

/// Shortest interval of the completion poll (which counts unfinished work on the server; the
/// rate itself comes from the executions' timestamps, not from the poll).
const POLL: Duration = Duration::from_millis(50);

/// What one round measured.
pub(super) struct Round {
    pub(super) events_per_second: f64,
    pub(super) accepts_per_second: f64,
    pub(super) server_cores: f64,
    /// Server CPU time per event, in microseconds.
    pub(super) server_us_per_event: f64,
    pub(super) client_cores: f64,
    /// The CPU each of the round's other processes used, in cores, in the order given.
    pub(super) others_cores: Vec<f64>,
    /// From the first measured post until the poll saw all the work recorded: the interval
    /// the CPU figures are over.
    pub(super) wall_seconds: f64,
    threads: String,
    peak_rss_mb: f64,
    count_query_ms: f64,
    write_calls_per_event: f64,
    kb_written_per_event: f64,
    flush_waits_per_event: f64,
    fsyncs_per_event: f64,
}

pub(super) fn run(
    launch: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let mut rounds = Vec::new();
    for _ in 0..args.rounds.max(1) {
        rounds.push(measure(launch, args, runtime)?);
    }
    let n = rounds.len();
    let pick = |field: fn(&Round) -> f64| median(rounds.iter().map(field).collect());
    report(
        "up: webhook → noop execution recorded, events/s",
        format!(
            "{:.0} (median of {n}; {} events, {} in flight; target ≥ 10000)",
            pick(|r| r.events_per_second),
            args.events,
            args.concurrency
        ),
    );
    report(
        "up: webhook accept rate, posts/s (202s)",
        format!("{:.0} (median of {n})", pick(|r| r.accepts_per_second)),
    );
    report(
        "up: server CPU during throughput, cores",
        format!("{:.2} (median of {n})", pick(|r| r.server_cores)),
    );
    report(
        "up: server CPU per event, µs",
        format!("{:.0} (median of {n})", pick(|r| r.server_us_per_event)),
    );
    report(
        "up: bench client CPU during throughput, cores",
        format!("{:.2} (median of {n})", pick(|r| r.client_cores)),
    );
    if let Some(last) = rounds.last() {
        report(
            "up: server's busiest threads (last round)",
            last.threads.clone(),
        );
    }
    report(
        "up: server peak RSS after throughput, MB",
        format!("{:.1} (median of {n})", pick(|r| r.peak_rss_mb)),
    );
    report(
        "up: server writes per event: syscalls, KB to disk",
        format!(
            "{:.1}, {:.1} (median of {n})",
            pick(|r| r.write_calls_per_event),
            pick(|r| r.kb_written_per_event)
        ),
    );
    report(
        "up: store flush waits, fsyncs per event",
        format!(
            "{:.2}, {:.2} (median of {n}; group commit shares an fsync among waiters)",
            pick(|r| r.flush_waits_per_event),
            pick(|r| r.fsyncs_per_event)
        ),
    );
    report(
        "up: one execution count query after a round, ms",
        format!(
            "{:.1} (median of {n}; X-Total-Count over {} executions)",
            pick(|r| r.count_query_ms),
            args.events + args.concurrency
        ),
    );
    Ok(())
}

/// One round on a fresh server started from `launch`.
fn measure(
    launch: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Round> {
    let server = Server::start(launch, &[])?;
    runtime
        .block_on(round(&server, args.events, args.concurrency, &[]))
        .with_context(|| {
            format!(
                "throughput round failed; the server log ends with:\n{}",
                server.log_tail()
            )
        })
}

/// The throughput of `launch` next to `baseline`'s: their rounds alternate (baseline first in
/// even rounds, second in odd ones), so both meet the same moments of a shared machine's noise;
/// the medians of both and their ratio are reported.
pub(super) fn compare(
    launch: &Launch,
    baseline: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let mut tested = Vec::new();
    let mut base = Vec::new();
    for n in 0..args.rounds.max(1) {
        if n % 2 == 0 {
            base.push(measure(baseline, args, runtime)?);
            tested.push(measure(launch, args, runtime)?);
        } else {
            tested.push(measure(launch, args, runtime)?);
            base.push(measure(baseline, args, runtime)?);
        }
    }
    let n = tested.len();
    // "<tested> tested, <baseline> baseline, ratio <r>" of one field's medians.
    let side_by_side = |field: fn(&Round) -> f64, decimals: usize| {
        let tested = median(tested.iter().map(field).collect());
        let base = median(base.iter().map(field).collect());
        format!(
            "{tested:.decimals$} tested, {base:.decimals$} baseline, ratio {:.2}",
            tested / base
        )
    };
    report(
        "up: webhook → noop execution recorded, events/s",
        format!(
            "{} (medians of {n} alternating rounds; {} events, {} in flight; target ≥ 10000)",
            side_by_side(|r| r.events_per_second, 0),
            args.events,
            args.concurrency
        ),
    );
    report(
        "up: server CPU per event, µs",
        format!(
            "{} (medians of {n})",
            side_by_side(|r| r.server_us_per_event, 0)
        ),
    );
    report(
        "up: fsyncs per event",
        format!(
            "{} (medians of {n})",
            side_by_side(|r| r.fsyncs_per_event, 2)
        ),
    );
    Ok(())
}

/// One round on a fresh `server`: `events` webhook events with `concurrency` posts in flight,
/// each fired into a `core.noop` execution. `others` are the pids of processes doing part of the
/// work (worker nodes, the broker) whose CPU is measured too.
pub(super) async fn round(
    server: &Server,
    events: usize,
    concurrency: usize,
    others: &[u32],
) -> anyhow::Result<Round> {
    let api = server.api()?;
    api.create_webhook_rule("noop", json!({"ref": "core.noop"}))
        .await?;
    // Warm-up: opens the client's connections and wakes every stage of the pipeline.
    let warmup = concurrency.max(1);
    let poster = api.poster("/webhooks/bench", reqwest::StatusCode::ACCEPTED)?;
    post_events(&poster, warmup, concurrency).await?;
    api.wait_until_idle(SUCCEEDED_NOOP, warmup, WORK_TIMEOUT, POLL)
        .await?;

    let pid = server.pid().to_string();
    let others: Vec<String> = others.iter().map(u32::to_string).collect();
    let server_before = CpuTimes::read(&pid)?;
    let client_before = CpuTimes::read("self")?;
    let others_before = others
        .iter()
        .map(|pid| CpuTimes::read(pid))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let io_before = IoCounters::read(server.pid())?;
    let flushes_before = api.flush_counters().await?;
    let first_post = Utc::now();
    let started = Instant::now();
    let accepting = post_events(&poster, events, concurrency).await?;
    api.wait_until_idle(SUCCEEDED_NOOP, warmup + events, WORK_TIMEOUT, POLL)
        .await?;
    let wall = started.elapsed().as_secs_f64();
    let (server_seconds, threads) = CpuTimes::read(&pid)?.since(&server_before);
    let (client_seconds, _) = CpuTimes::read("self")?.since(&client_before);
    let mut others_cores = Vec::new();
    for (pid, before) in others.iter().zip(&others_before) {
        let (seconds, _) = CpuTimes::read(pid)?.since(before);
        others_cores.push(seconds / wall);
    }
    let io = IoCounters::read(server.pid())?.since(io_before);
    let flushes_after = api.flush_counters().await?;

    let counting = Instant::now();
    api.count_executions(SUCCEEDED_NOOP).await?;
    let count_query_ms = counting.elapsed().as_secs_f64() * 1e3;

    let executions = api.list_all("executions", SUCCEEDED_NOOP).await?;
    let mut last_end = first_post;
    for execution in &executions {
        last_end = last_end.max(time_field(execution, "end_timestamp")?);
    }
    Ok(Round {
        events_per_second: events as f64 / seconds_between(first_post, last_end),
        accepts_per_second: events as f64 / accepting.as_secs_f64(),
        server_cores: server_seconds / wall,
        server_us_per_event: server_seconds * 1e6 / events as f64,
        client_cores: client_seconds / wall,
        others_cores,
        wall_seconds: wall,
        threads: thread_shares(&threads, wall, 5),
        peak_rss_mb: memory_mb(server.pid(), "VmHWM")?,
        count_query_ms,
        write_calls_per_event: io.write_calls / events as f64,
        kb_written_per_event: io.write_bytes / 1024.0 / events as f64,
        flush_waits_per_event: (flushes_after.0 - flushes_before.0) / events as f64,
        fsyncs_per_event: (flushes_after.1 - flushes_before.1) / events as f64,
    })
}

/// Posts `count` events to webhook `bench` with `concurrency` in flight (one keep-alive
/// connection each); returns the time until the last one was accepted.
async fn post_events(
    poster: &Poster,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    poster
        .post_all(count, concurrency, |n| json!({"n": n}).to_string())
        .await
}
