//! What the API measures about itself for `/metrics`: request latency per route (a Prometheus
//! histogram) and the number of open event streams.
//!
//! Recording is a short `std::sync::Mutex` section per request (no `.await` inside); rendering
//! copies the counters out first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at or below each bound of [`BUCKETS`] (not cumulative).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// The API's own measurements. One per server, shared through [`AppState`].
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    /// Latency by (method, route).
    requests: Mutex<BTreeMap<(String, String), Histogram>>,
    /// Event streams open now.
    streams: AtomicUsize,
}

impl Telemetry {
    /// Records one request's time to its response head.
    pub(crate) fn observe(&self, method: &str, route: &str, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            requests
                .entry((method.to_owned(), route.to_owned()))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Counts an open stream until the guard is dropped.
    pub(crate) fn stream_opened(self: &std::sync::Arc<Self>) -> StreamGuard {
        self.streams.fetch_add(1, Ordering::Relaxed);
        StreamGuard(self.clone())
    }

    /// Prometheus text of the measurements.
    pub(crate) fn render(&self) -> String {
        let requests = self
            .requests
            .lock()
            .map(|requests| requests.clone())
            .unwrap_or_default();
        let mut text = String::new();
        let name = "nerve_http_request_duration_seconds";
        let _ = writeln!(
            text,
            "# HELP {name} Time from a request's arrival to its response head, by route (streams: until the stream opens)."
        );
        let _ = writeln!(text, "# TYPE {name} histogram");
        for ((method, route), histogram) in &requests {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    text,
                    "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                text,
                "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(text, "{name}_sum{{{labels}}} {}", histogram.sum);
            let _ = writeln!(text, "{name}_count{{{labels}}} {}", histogram.count);
        }
        let _ = writeln!(
            text,
            "# HELP nerve_event_streams Event streams (SSE) open now.\n# TYPE nerve_event_streams gauge\nnerve_event_streams {}",
            self.streams.load(Ordering::Relaxed)
        );
        text
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Decrements the open-stream count when the stream ends.
pub(crate) struct StreamGuard(std::sync::Arc<Telemetry>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The layer that times every request by its matched route (unmatched paths count as
/// `unmatched`, so a scan of random URLs cannot grow the table).
pub(crate) async fn time_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.telemetry.observe(&method, &route, started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let telemetry = Telemetry::default();
        telemetry.observe("GET", "/api/v1/executions", Duration::from_micros(300));
        telemetry.observe("GET", "/api/v1/executions", Duration::from_millis(30));
        telemetry.observe("GET", "/api/v1/executions", Duration::from_secs(60));
        let text = telemetry.render();
        let label = "method=\"GET\",route=\"/api/v1/executions\"";
        for expected in [
            format!("nerve_http_request_duration_seconds_bucket{{{label},le=\"0.0005\"}} 1"),
            format!("nerve_http_request_duration_seconds_bucket{{{label},le=\"0.025\"}} 1"),
            format!("nerve_http_request_duration_seconds_bucket{{{label},le=\"0.05\"}} 2"),
            format!("nerve_http_request_duration_seconds_bucket{{{label},le=\"10\"}} 2"),
            format!("nerve_http_request_duration_seconds_bucket{{{label},le=\"+Inf\"}} 3"),
            format!("nerve_http_request_duration_seconds_count{{{label}}} 3"),
            "# TYPE nerve_http_request_duration_seconds histogram".to_owned(),
            "nerve_event_streams 0".to_owned(),
        ] {
            assert!(text.contains(&expected), "missing `{expected}` in:\n{text}");
        }
    }

    #[test]
    fn stream_guard_counts_open_streams() {
        let telemetry = std::sync::Arc::new(Telemetry::default());
        let first = telemetry.stream_opened();
        let second = telemetry.stream_opened();
        assert_eq!(telemetry.streams.load(Ordering::Relaxed), 2);
        drop(first);
        drop(second);
        assert_eq!(telemetry.streams.load(Ordering::Relaxed), 0);
    }
}
