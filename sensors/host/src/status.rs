//! What the operator sees of a sensor: state, pid, restarts, last exit and error, counts, log.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use nerve_sensor_protocol::TriggerDict;
use serde::Serialize;

use crate::SensorSpec;

/// Where a sensor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorState {
    /// Started, waiting for `ready`.
    Starting,
    /// Answered `ready`.
    Running,
    /// Died or hung; waiting to restart.
    Backoff,
    /// Its runtime is missing on this node (see `last_error` for the hint).
    Unavailable,
    /// Stopped by the host.
    Stopped,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExitRecord {
    /// Exit code, or minus the signal number; `None` if it could not be reaped.
    pub exit_code: Option<i32>,
    /// When, RFC 3339.
    pub at: String,
    /// Why the host thinks it ended ("exited", "no `ready` within 30s", "restart asked", ...).
    pub reason: String,
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// The sensor's stderr.
    Stderr,
    /// A protocol `log` message.
    Log,
    /// The host, about the sensor (start, exit, rejected dispatch, protocol error).
    Host,
}

/// One log line of a sensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// When, RFC 3339.
    pub at: String,
    /// Source.
    pub source: LogSource,
    /// Level (`info` for stderr).
    pub level: String,
    /// The text.
    pub message: String,
}

/// A sensor's status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorStatus {
    /// Sensor ref.
    pub sensor: String,
    /// State.
    pub state: SensorState,
    /// The runtime it runs on.
    pub runtime: String,
    /// Command line.
    pub command: String,
    /// Process id while a process exists.
    pub pid: Option<u32>,
    /// When the current process started, RFC 3339.
    pub started_at: Option<String>,
    /// Protocol version it answered with.
    pub protocol: Option<u32>,
    /// Processes started after the first.
    pub restarts: u64,
    /// When the next restart happens, in backoff.
    pub next_restart_at: Option<String>,
    /// The last process end.
    pub last_exit: Option<ExitRecord>,
    /// The last error (spawn failure, hang, protocol error, `error` message, missing runtime).
    pub last_error: Option<String>,
    /// Problems of the spec (e.g. invalid trigger parameters of a rule).
    pub problems: Vec<String>,
    /// The triggers sent to it.
    pub triggers: Vec<TriggerDict>,
    /// Dispatches recorded.
    pub dispatched: u64,
    /// Dispatches refused.
    pub rejected: u64,
    /// Lines on stdout that were not protocol messages (or too long).
    pub invalid_lines: u64,
    /// Log lines not forwarded to Nerve's log because of the rate limit (kept in the tail).
    pub log_suppressed: u64,
    #[serde(skip)]
    pub(crate) tail: VecDeque<LogLine>,
    #[serde(skip)]
    pub(crate) tail_cap: usize,
}

impl SensorStatus {
    pub(crate) fn new(spec: &SensorSpec) -> Self {
        Self {
            sensor: spec.sensor_ref.clone(),
            state: SensorState::Starting,
            runtime: spec.runtime().to_owned(),
            command: spec.command_line(),
            pid: None,
            started_at: None,
            protocol: None,
            restarts: 0,
            next_restart_at: None,
            last_exit: None,
            last_error: None,
            problems: spec.problems.clone(),
            triggers: Vec::new(),
            dispatched: 0,
            rejected: 0,
            invalid_lines: 0,
            log_suppressed: 0,
            tail: VecDeque::new(),
            tail_cap: 500,
        }
    }

    pub(crate) fn push_log(&mut self, line: LogLine) {
        while self.tail.len() >= self.tail_cap.max(1) {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

pub(crate) fn lock(status: &Mutex<SensorStatus>) -> MutexGuard<'_, SensorStatus> {
    status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A copy without the log tail (which can be hundreds of lines; see [`logs`]).
pub(crate) fn snapshot(status: &Arc<Mutex<SensorStatus>>) -> SensorStatus {
    let mut guard = lock(status);
    let tail = std::mem::take(&mut guard.tail);
    let copy = guard.clone();
    guard.tail = tail;
    copy
}

pub(crate) fn logs(status: &Arc<Mutex<SensorStatus>>) -> Vec<LogLine> {
    lock(status).tail.iter().cloned().collect()
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
