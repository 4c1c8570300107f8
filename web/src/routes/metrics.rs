//! `/metrics`: Prometheus text computed from the store (executions by status, events,
//! enforcements, content counts, flushes) plus whatever the platform reports.
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
    let mut samples = tokio::task::spawn_blocking(move || store_samples(&store))
        .await
        .map_err(|error| AppError::internal(&error))??;
    samples.extend(state.platform.metrics());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&samples),
    ))
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
        if !described.contains(&sample.name.as_str()) {
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
