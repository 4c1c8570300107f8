//! Fake ALMA archive and NRAO Workspaces services for the `alma`, `vlba` and `workspaces` packs.
//!
//! Each fake is an axum [`Router`] over shared state, with the service's API (as our packs
//! expect it, `reference/nrao.md` part B) and a control API under `/_test/` for tests and demos
//! (seed data, inject faults, read statistics).
//! The `nerve-fakes` binary serves them on a port; tests run them in-process with [`serve`], so
//! their state outlives a stop and restart of the listener (a real connection-refused outage).
//! The fakes keep everything in memory and are meant for loopback use only.

pub mod alma;
mod faults;
#[cfg(test)]
mod test_support;
pub mod workspaces;

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use faults::{Fault, FaultSettings, Faults};

/// A fake serving on a local port until stopped (or dropped).
#[derive(Debug)]
pub struct Served {
    /// The address it listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening at once: open connections are dropped, new ones are refused.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `addr` (`127.0.0.1:0` picks a free port) in a task of the current
/// tokio runtime.
///
/// # Errors
/// The address cannot be bound.
pub async fn serve(router: Router, addr: &str) -> std::io::Result<Served> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Served { addr, task })
}

/// A JSON error response: `{"error": message}` with `status`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": message.into()}))).into_response()
}

/// An error answer, small enough to return in a `Result`: rendered by [`error`].
#[derive(Debug)]
pub(crate) struct Problem(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// RFC 3339 with seconds and a `Z`, as the fakes write times.
pub(crate) fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 time.
pub(crate) fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Locks a std mutex, ignoring poisoning (a panicking handler must not wedge the fake).
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
