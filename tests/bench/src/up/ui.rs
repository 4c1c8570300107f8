//! The web UI's load on the server: many browsers open at once, each holding the event stream
//! (`/api/v1/stream`, as the UI's live updates do) and reading lists through the API, while
//! events stream in.
//!
//! A fresh `nerve up` gets a webhook rule running `core.noop`; `clients` SSE connections are
//! opened and kept reading; `readers` tasks loop over the requests the UI's pages make (the
//! executions list, one execution, rules, sensors, events, actions) and time each; meanwhile
//! `events` webhook events are posted `concurrency` at a time. The API latency percentiles are
//! over every read made while events streamed; an idle baseline (same reads, no events, no
//! streams) is measured first on the same server. Each stream's delivered execution events are
//! counted, so a stream that fell behind shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::Method;
use serde_json::json;

use super::server::{Api, Launch, Server};
use super::{WORK_TIMEOUT, percentile};
use crate::report;

/// Sizes of the `ui` suite.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    launch: super::LaunchArgs,
    /// Event stream (SSE) clients held open during the run.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// API reader tasks, each making one request at a time.
    #[arg(long, default_value_t = 20)]
    readers: usize,
    /// Webhook events posted while the readers and streams run.
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Webhook posts in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Reads of the idle baseline.
    #[arg(long, default_value_t = 500)]
    baseline_reads: usize,
}

/// The reads a browser's pages make, in turn (`{id}`: the newest execution).
const READS: [&str; 7] = [
    "/executions?limit=100",
    "/executions/{id}?max_result_bytes=65536",
    "/executions?status=succeeded&limit=50&offset=50",
    "/rules?limit=100",
    "/sensortypes?limit=1000",
    "/triggerinstances?limit=50",
    "/actions?limit=100",
];

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let launch = super::launch(&args.launch)?;
    super::report_machine("ui", &launch);
    let runtime = super::async_runtime()?;
    let server = Server::start(&launch, &[])?;
    runtime
        .block_on(measure(&launch, &server, args))
        .with_context(|| {
            format!(
                "ui round failed; the server log ends with:\n{}",
                server.log_tail()
            )
        })
}

/// One read; returns its latency in milliseconds.
async fn read(api: &Api, path: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let response = api
        .request(Method::GET, path)
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = response.status();
    let _ = response.bytes().await?;
    anyhow::ensure!(status.is_success(), "GET {path}: {status}");
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

async fn newest_execution(api: &Api) -> anyhow::Result<String> {
    let list = api.get_json("/executions?limit=1").await?;
    Ok(list[0]["id"].as_str().unwrap_or("none").to_owned())
}

/// Reads in turn until `stop`; returns the latencies.
async fn reader(api: Api, stop: Arc<AtomicBool>, offset: usize) -> anyhow::Result<Vec<f64>> {
    let mut latencies = Vec::new();
    let mut turn = offset;
    let mut id = newest_execution(&api).await?;
    while !stop.load(Ordering::Relaxed) {
        let template = READS[turn % READS.len()];
        if template.contains("{id}") && turn % (READS.len() * 4) < READS.len() {
            id = newest_execution(&api).await?;
        }
        let path = template.replace("{id}", &id);
        match read(&api, &path).await {
            Ok(ms) => latencies.push(ms),
            // The newest execution of an idle server may not exist yet.
            Err(_) if template.contains("{id}") && id == "none" => {}
            Err(error) => return Err(error),
        }
        turn += 1;
    }
    Ok(latencies)
}

/// Holds one event stream open and counts the executions it reported finished.
async fn stream_client(
    api: Api,
    delivered: Arc<AtomicUsize>,
    lagged: Arc<AtomicUsize>,
) -> anyhow::Result<()> {
    let mut response = api
        .request(Method::GET, "/stream")
        .header("Accept", "text/event-stream")
        .send()
        .await
        .context("GET /stream")?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET /stream: {}",
        response.status()
    );
    let mut carry = String::new();
    let mut finished = std::collections::HashSet::new();
    while let Some(chunk) = response.chunk().await? {
        carry.push_str(&String::from_utf8_lossy(&chunk));
        let complete = carry.rfind('\n').map_or(0, |at| at + 1);
        for line in carry[..complete].lines() {
            // An execution's events carry its status; count each finished execution once.
            if let Some(data) = line.strip_prefix("data: {\"id\":\"")
                && line.contains("\"status\":\"succeeded\"")
                && let Some(id) = data.split('"').next()
                && finished.insert(id.to_owned())
            {
                delivered.fetch_add(1, Ordering::Relaxed);
            } else if line.starts_with(": lagged") {
                lagged.fetch_add(1, Ordering::Relaxed);
            }
        }
        carry.drain(..complete);
    }
    Ok(())
}

fn summary(latencies: &[f64]) -> String {
    if latencies.is_empty() {
        return "no reads".to_owned();
    }
    let max = latencies.iter().copied().fold(0.0, f64::max);
    format!(
        "p50 {:.1} / p90 {:.1} / p99 {:.1} / max {:.1} ms over {} reads",
        percentile(latencies, 0.5),
        percentile(latencies, 0.9),
        percentile(latencies, 0.99),
        max,
        latencies.len()
    )
}

async fn measure(_launch: &Launch, server: &Server, args: &Args) -> anyhow::Result<()> {
    let api = server.api()?;
    api.create_webhook_rule("ui_load", json!({"ref": "core.noop"}))
        .await?;
    // A few executions so the lists and the detail read have something to show.
    for n in 0..20 {
        api.post_webhook(&json!({"warmup": n})).await?;
    }
    api.wait_for_executions(
        "action=core.noop&status=succeeded",
        20,
        WORK_TIMEOUT,
        Duration::from_millis(20),
    )
    .await?;

    // Idle baseline: the same reads, one at a time, nothing else going on.
    let mut baseline = Vec::new();
    let id = newest_execution(&api).await?;
    for turn in 0..args.baseline_reads {
        let path = READS[turn % READS.len()].replace("{id}", &id);
        baseline.push(read(&api, &path).await?);
    }

    // The streams.
    let delivered: Vec<Arc<AtomicUsize>> = (0..args.clients)
        .map(|_| Arc::new(AtomicUsize::new(0)))
        .collect();
    let lagged = Arc::new(AtomicUsize::new(0));
    let mut streams = tokio::task::JoinSet::new();
    for counter in &delivered {
        // One connection each, as each browser has its own.
        let client_api = server.api()?;
        streams.spawn(stream_client(client_api, counter.clone(), lagged.clone()));
    }
    let metrics_deadline = Instant::now() + Duration::from_secs(30);
    let open = loop {
        let text = api
            .request(Method::GET, "/metrics")
            .send()
            .await?
            .text()
            .await?;
        let open = text
            .lines()
            .find_map(|line| line.strip_prefix("nerve_event_streams "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if open >= args.clients as f64 || Instant::now() > metrics_deadline {
            break open;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Readers and events together.
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = tokio::task::JoinSet::new();
    for offset in 0..args.readers {
        readers.spawn(reader(server.api()?, stop.clone(), offset));
    }
    let before = api.count_executions("action=core.noop").await?;
    let poster = api.poster("/webhooks/bench", reqwest::StatusCode::ACCEPTED)?;
    let started = Instant::now();
    poster
        .post_all(args.events, args.concurrency, |n| {
            json!({"n": n}).to_string()
        })
        .await?;
    api.wait_for_executions(
        "action=core.noop&status=succeeded",
        before + args.events,
        WORK_TIMEOUT,
        Duration::from_millis(50),
    )
    .await?;
    let wall = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut loaded = Vec::new();
    while let Some(result) = readers.join_next().await {
        loaded.extend(result.context("a reader panicked")??);
    }
    // Let the streams drain what is still on its way, then close them.
    let expected = args.events;
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < drain_deadline
        && delivered
            .iter()
            .any(|counter| counter.load(Ordering::Relaxed) < expected)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    streams.abort_all();
    let mut counts: Vec<f64> = delivered
        .iter()
        .map(|counter| counter.load(Ordering::Relaxed) as f64)
        .collect();
    counts.sort_by(f64::total_cmp);

    report(
        "ui: event streams open (nerve_event_streams)",
        format!("{open:.0} of {}", args.clients),
    );
    report(
        "ui: events streamed meanwhile, executions/s",
        format!(
            "{:.0} ({} webhook events → core.noop, {} in flight)",
            args.events as f64 / wall,
            args.events,
            args.concurrency
        ),
    );
    report("ui: API reads, idle baseline", summary(&baseline));
    report(
        &format!("ui: API reads under load ({} readers)", args.readers),
        summary(&loaded),
    );
    report(
        "ui: API reads per second under load",
        format!("{:.0}", loaded.len() as f64 / wall),
    );
    report(
        "ui: finished executions each stream reported",
        format!(
            "min {:.0} / median {:.0} of {expected}; {} lag notices",
            counts.first().copied().unwrap_or(0.0),
            if counts.is_empty() {
                0.0
            } else {
                crate::median(counts.clone())
            },
            lagged.load(Ordering::Relaxed)
        ),
    );
    Ok(())
}
