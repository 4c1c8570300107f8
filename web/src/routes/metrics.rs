//! `/metrics`: Prometheus text computed from the store (executions by status, events,
//! enforcements, content counts, flushes, execution latencies over the most recent executions),
//! the bus's queue depths, the API's own request latencies and open streams, plus whatever the
//! platform reports (sensor restarts and dispatches).
//!
//! Authenticated like the rest of the API (Prometheus can send the admin token or an API key as
//! `Authorization: Bearer`). The counts walk the store once (reading only each execution's
//! status, see `Store::record_counts`), so a scrape costs time linear in the store's size;
//! scrape every 15 s or slower on large stores.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use nerve_store::Store;

use crate::dto::Fault;
use crate::error::{AppError, AppResult};
use crate::platform::MetricSample;
use crate::state::AppState;

/// Prometheus text exposition of Nerve's counters.
#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"),
        (status = 500, description = "Server error", body = Fault)
    )
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> AppResult<impl IntoResponse> {
    let store = state.store.clone();
    let mut samples = tokio::task::spawn_blocking(move || {
        let mut samples = store_samples(&store)?;
        samples.extend(latency_samples(&store)?);
        AppResult::Ok(samples)
    })
    .await
    .map_err(|error| AppError::internal(&error))??;
    match state.platform.queues().await {
        Ok(queues) => samples.extend(queue_samples(&queues)),
        Err(error) => tracing::debug!(%error, "Metrics without queue depths."),
    }
    samples.extend(state.platform.metrics());
    let mut text = render(&samples);
    text.push_str(&state.telemetry.render());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

/// Executions the latency summaries are computed over (the most recent ones).
const LATENCY_WINDOW: usize = 1000;

/// Quantiles of the latency summaries.
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Seconds from `from` to `to` (RFC 3339), when both parse and `to` is not earlier.
fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    let micros = (to - from).num_microseconds()?;
    // Latencies are far below 2^53 microseconds.
    #[allow(clippy::cast_precision_loss)]
    (micros >= 0).then(|| micros as f64 / 1e6)
}

/// The `q` quantile of sorted values (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Ranks are small, positive and within the slice.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn summary(name: &str, help: &str, mut values: Vec<f64>) -> Vec<MetricSample> {
    values.sort_by(f64::total_cmp);
    let mut samples: Vec<MetricSample> = QUANTILES
        .iter()
        .map(|q| MetricSample {
            name: name.to_owned(),
            help: help.to_owned(),
            kind: "summary",
            labels: vec![("quantile".to_owned(), q.to_string())],
            value: quantile(&values, *q),
        })
        .collect();
    let sum: f64 = values.iter().sum();
    #[allow(clippy::cast_precision_loss)]
    let count = values.len() as f64;
    for (suffix, value) in [("_sum", sum), ("_count", count)] {
        samples.push(MetricSample {
            name: format!("{name}{suffix}"),
            help: help.to_owned(),
            kind: "summary",
            labels: Vec::new(),
            value,
        });
    }
    samples
}

/// Queue wait (requested → running) and run time (running → end) of the most recent finished
/// executions, as summaries.
fn latency_samples(store: &Store) -> AppResult<Vec<MetricSample>> {
    let page = store.list_executions(&nerve_store::ExecutionFilter {
        limit: Some(LATENCY_WINDOW),
        ..nerve_store::ExecutionFilter::default()
    })?;
    let mut waits = Vec::new();
    let mut runs = Vec::new();
    for record in &page.items {
        let execution = &record.execution;
        let Some(end) = execution.end_timestamp.as_deref() else {
            continue;
        };
        let running = execution
            .log
            .iter()
            .find(|change| change.status == nerve_model::ExecutionStatus::Running)
            .map(|change| change.timestamp.as_str());
        if let Some(running) = running {
            waits.extend(seconds_between(&execution.start_timestamp, running));
            runs.extend(seconds_between(running, end));
        }
    }
    let mut samples = summary(
        "nerve_execution_queue_seconds",
        "Time from request to running, over the most recent 1000 executions that finished.",
        waits,
    );
    samples.extend(summary(
        "nerve_execution_run_seconds",
        "Time from running to the end, over the most recent 1000 executions that finished.",
        runs,
    ));
    Ok(samples)
}

fn queue_samples(queues: &[crate::routes::nodes::QueueDto]) -> Vec<MetricSample> {
    let mut samples = Vec::new();
    for (state, help) in [
        ("ready", "Messages in a bus queue by state."),
        ("unacked", "Messages in a bus queue by state."),
        ("dead_letters", "Messages in a bus queue by state."),
    ] {
        for queue in queues {
            let value = match state {
                "ready" => queue.ready,
                "unacked" => queue.unacked,
                _ => queue.dead_letters,
            };
            samples.push(gauge(
                "nerve_queue_messages",
                help,
                &[("queue", queue.name.as_str()), ("state", state)],
                usize::try_from(value).unwrap_or(usize::MAX),
            ));
        }
    }
    for queue in queues {
        samples.push(gauge(
            "nerve_queue_consumers",
            "Consumers of a bus queue.",
            &[("queue", queue.name.as_str())],
            usize::try_from(queue.consumers).unwrap_or(usize::MAX),
        ));
    }
    samples
}

fn gauge(name: &str, help: &str, labels: &[(&str, &str)], value: usize) -> MetricSample {
    // Counts far below 2^53 are exact as f64.
    #[allow(clippy::cast_precision_loss)]
    let value = value as f64;
    MetricSample {
        name: name.to_owned(),
        help: help.to_owned(),
        kind: "gauge",
        labels: labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        value,
    }
}

fn store_samples(store: &Store) -> AppResult<Vec<MetricSample>> {
    let mut samples = Vec::new();
    let counts = store.record_counts()?;
    for (status, total) in &counts.executions {
        samples.push(gauge(
            "nerve_executions",
            "Executions in the store by status.",
            &[("status", status.as_str())],
            *total,
        ));
    }
    samples.push(gauge(
        "nerve_trigger_instances",
        "Trigger instances (events) in the store.",
        &[],
        counts.trigger_instances,
    ));
    samples.push(gauge(
        "nerve_rule_enforcements",
        "Rule enforcements in the store.",
        &[],
        counts.enforcements,
    ));
    let content = [
        ("packs", store.packs().len()),
        ("actions", store.actions().len()),
        ("rules", store.rules().len()),
        ("sensors", store.sensors().len()),
        ("trigger_types", store.trigger_types().len()),
        ("policies", store.policies().len()),
    ];
    for (kind, count) in content {
        samples.push(gauge(
            "nerve_content",
            "Registered content by kind.",
            &[("kind", kind)],
            count,
        ));
    }
    let stats = store.stats();
    for (name, help, value) in [
        (
            "nerve_store_flush_requests_total",
            "Writes that waited for durability.",
            stats.flush_requests,
        ),
        (
            "nerve_store_flushes_total",
            "fsyncs done (group commit shares them).",
            stats.flushes,
        ),
    ] {
        #[allow(clippy::cast_precision_loss)]
        let value = value as f64;
        samples.push(MetricSample {
            name: name.to_owned(),
            help: help.to_owned(),
            kind: "counter",
            labels: Vec::new(),
            value,
        });
    }
    Ok(samples)
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders samples in the text format, one HELP/TYPE header per metric name.
pub(crate) fn render(samples: &[MetricSample]) -> String {
    let mut text = String::new();
    let mut described: Vec<&str> = Vec::new();
    for sample in samples {
        // A summary's `_sum` and `_count` belong to the family described above them.
        let family = sample
            .name
            .strip_suffix("_sum")
            .or_else(|| sample.name.strip_suffix("_count"))
            .filter(|family| sample.kind == "summary" && described.contains(family));
        if family.is_none() && !described.contains(&sample.name.as_str()) {
            described.push(&sample.name);
            let _ = writeln!(
                text,
                "# HELP {} {}",
                sample.name,
                sample.help.replace('\n', " ")
            );
            let _ = writeln!(text, "# TYPE {} {}", sample.name, sample.kind);
        }
        text.push_str(&sample.name);
        if !sample.labels.is_empty() {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
                .collect();
            let _ = write!(text, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(text, " {}", sample.value);
    }
    text
}
