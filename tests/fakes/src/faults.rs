//! Fault injection shared by the fakes: an outage (every service request answered with one
//! status) and counted faults (the next N requests under a path prefix fail or are delayed).
//! Requests under `/_test/` (the control API) are never affected.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};

use crate::{error, lock};

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Requests whose path starts with this (`""`: every request).
    #[serde(default)]
    pub path_prefix: String,
    /// Only this HTTP method (`GET`, `POST`, ...); any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Answer with this status; `0` lets the request through (after `delay_ms`).
    #[serde(default = "service_unavailable")]
    pub status: u16,
    /// How many requests it affects; unlimited when absent.
    #[serde(default)]
    pub count: Option<u64>,
    /// Wait this long before answering.
    #[serde(default)]
    pub delay_ms: u64,
}

fn service_unavailable() -> u16 {
    503
}

/// What `POST /_test/faults` sets; absent fields leave the current setting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// `true`: every service request gets 503 until `false` is posted.
    #[serde(default)]
    pub outage: Option<bool>,
    /// Replaces the counted faults (`[]` clears them).
    #[serde(default)]
    pub faults: Option<Vec<Fault>>,
}

/// The fault state of one fake.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<FaultState>,
}

#[derive(Debug, Default)]
struct FaultState {
    outage: bool,
    faults: Vec<Fault>,
    injected: u64,
}

impl Faults {
    /// Applies new settings.
    pub fn set(&self, settings: FaultSettings) {
        let mut state = lock(&self.inner);
        if let Some(outage) = settings.outage {
            state.outage = outage;
        }
        if let Some(faults) = settings.faults {
            state.faults = faults;
        }
    }

    /// `{"outage", "faults", "injected"}`.
    pub fn snapshot(&self) -> serde_json::Value {
        let state = lock(&self.inner);
        serde_json::json!({
            "outage": state.outage,
            "faults": state.faults,
            "injected": state.injected,
        })
    }

    /// How many requests were failed on purpose so far.
    pub fn injected(&self) -> u64 {
        lock(&self.inner).injected
    }

    /// What to do with a request: `(delay, failure status)`.
    fn decide(&self, method: &str, path: &str) -> (Duration, Option<StatusCode>) {
        let mut state = lock(&self.inner);
        if state.outage {
            state.injected += 1;
            return (Duration::ZERO, Some(StatusCode::SERVICE_UNAVAILABLE));
        }
        let mut found = None;
        for fault in &mut state.faults {
            let method_matches = fault
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method));
            if !method_matches || !path.starts_with(&fault.path_prefix) {
                continue;
            }
            if fault.count == Some(0) {
                continue;
            }
            if let Some(count) = &mut fault.count {
                *count -= 1;
            }
            found = Some((
                Duration::from_millis(fault.delay_ms),
                StatusCode::from_u16(fault.status)
                    .ok()
                    .filter(|s| s.as_u16() >= 400),
            ));
            break;
        }
        state.faults.retain(|f| f.count != Some(0));
        match found {
            Some((delay, status)) => {
                if status.is_some() {
                    state.injected += 1;
                }
                (delay, status)
            }
            None => (Duration::ZERO, None),
        }
    }
}

/// A fake's `routes` over `state`, with `POST /_test/faults` (set the `faults`, answer them)
/// and the faults applied by [`middleware`].
pub(crate) fn with_faults<S>(routes: Router<S>, faults: Arc<Faults>, state: S) -> Router
where
    S: Clone + Send + Sync + 'static,
{
    let control = faults.clone();
    routes
        .route(
            "/_test/faults",
            post(
                move |body: Result<Json<FaultSettings>, JsonRejection>| async move {
                    set_faults(&control, body)
                },
            ),
        )
        .layer(axum::middleware::from_fn_with_state(faults, middleware))
        .with_state(state)
}

fn set_faults(faults: &Faults, body: Result<Json<FaultSettings>, JsonRejection>) -> Response {
    match body {
        Ok(Json(settings)) => {
            faults.set(settings);
            Json(faults.snapshot()).into_response()
        }
        Err(rejection) => error(StatusCode::BAD_REQUEST, rejection.body_text()),
    }
}

/// Axum middleware applying the faults to every request outside `/_test/`.
pub(crate) async fn middleware(
    State(faults): State<Arc<Faults>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_test/") {
        return next.run(request).await;
    }
    let (delay, status) = faults.decide(request.method().as_str(), &path);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match status {
        Some(status) => error(status, format!("injected fault: {status} for {path}")),
        None => next.run(request).await,
    }
}
