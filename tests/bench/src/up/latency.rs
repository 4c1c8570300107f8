//! Event → action start latency: a rule on webhook `bench` runs `core.local cmd=true`; events are
//! posted one at a time with a pause after each, so every event meets an idle server.
//!
//! For each event the latency is the `running` entry of its execution's log (the worker started
//! the action) minus the event's `occurrence_time`; both are the server's timestamps. The
//! stages in between are reported too: event → execution requested (rules engine) and
//! requested → running (scheduler and worker), and event → action end for scale.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::server::{Launch, Server, log_time, seconds_between, time_field};
use super::{Args, WORK_TIMEOUT, percentile};
use crate::report;

/// The executions the measurement waits for.
const SUCCEEDED_LOCAL: &str = "action=core.local&status=succeeded";

/// Events before the measured ones.
const WARMUP: usize = 5;

/// Latencies of the measured events, in milliseconds.
#[derive(Default)]
pub(super) struct Samples {
    to_running: Vec<f64>,
    to_requested: Vec<f64>,
    requested_to_running: Vec<f64>,
    to_end: Vec<f64>,
}

pub(super) fn run(
    launch: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let server = Server::start(launch, &[])?;
    let gap = Duration::from_millis(args.latency_gap_ms);
    let samples = runtime
        .block_on(measure(&server, args.latency_events, gap))
        .with_context(|| {
            format!(
                "latency measurement failed; the server log ends with:\n{}",
                server.log_tail()
            )
        })?;
    drop(server);
    report_samples("up", &samples, Some("target 2 / 10"));
    Ok(())
}

/// Prints the figures of `samples` under `suite`, the first with `note` (a target, the
/// deployment) if there is one.
pub(super) fn report_samples(suite: &str, samples: &Samples, note: Option<&str>) {
    let n = samples.to_running.len();
    let line = |samples: &[f64]| {
        format!(
            "{:.2} / {:.2}",
            percentile(samples, 0.5),
            percentile(samples, 0.99)
        )
    };
    let note = note.map(|note| format!("; {note}")).unwrap_or_default();
    report(
        &format!("{suite}: event → action start p50 / p99, ms"),
        format!(
            "{} ({n} events, one at a time{note})",
            line(&samples.to_running)
        ),
    );
    report(
        &format!("{suite}: event → execution requested p50 / p99, ms"),
        line(&samples.to_requested),
    );
    report(
        &format!("{suite}: execution requested → running p50 / p99, ms"),
        line(&samples.requested_to_running),
    );
    report(
        &format!("{suite}: event → action end p50 / p99, ms"),
        line(&samples.to_end),
    );
}

/// Posts `events` events one at a time to a fresh `server`, pausing `gap` after each, and
/// reads their latencies from the records.
pub(super) async fn measure(
    server: &Server,
    events: usize,
    gap: Duration,
) -> anyhow::Result<Samples> {
    anyhow::ensure!(events > 0, "--latency-events must be at least 1");
    let api = server.api()?;
    let action = json!({"ref": "core.local", "parameters": {"cmd": "true"}});
    api.create_webhook_rule("local", action).await?;
    let poll = Duration::from_millis(20);
    for n in 0..WARMUP {
        api.post_webhook(&json!({"warmup": n})).await?;
    }
    api.wait_for_executions(SUCCEEDED_LOCAL, WARMUP, WORK_TIMEOUT, poll)
        .await?;

    let since = Utc::now();
    for n in 0..events {
        api.post_webhook(&json!({"n": n})).await?;
        tokio::time::sleep(gap).await;
    }
    api.wait_for_executions(SUCCEEDED_LOCAL, WARMUP + events, WORK_TIMEOUT, poll)
        .await?;

    let mut occurred: HashMap<String, DateTime<Utc>> = HashMap::new();
    for event in api.list_all("triggerinstances", "").await? {
        let time = time_field(&event, "occurrence_time")?;
        if time >= since {
            let id = event
                .get("id")
                .and_then(Value::as_str)
                .context("an event has no `id`")?;
            occurred.insert(id.to_owned(), time);
        }
    }
    let ms = |from, to| seconds_between(from, to) * 1e3;
    let mut samples = Samples::default();
    for execution in api.list_all("executions", SUCCEEDED_LOCAL).await? {
        let Some(occurrence) = execution
            .pointer("/context/trigger_instance")
            .and_then(Value::as_str)
            .and_then(|id| occurred.get(id))
            .copied()
        else {
            continue;
        };
        let requested = time_field(&execution, "start_timestamp")?;
        let running = log_time(&execution, "running")?;
        let end = time_field(&execution, "end_timestamp")?;
        samples.to_running.push(ms(occurrence, running));
        samples.to_requested.push(ms(occurrence, requested));
        samples.requested_to_running.push(ms(requested, running));
        samples.to_end.push(ms(occurrence, end));
    }
    anyhow::ensure!(
        samples.to_running.len() == events,
        "found executions for {} of {events} measured events",
        samples.to_running.len()
    );
    Ok(samples)
}
