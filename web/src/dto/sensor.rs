//! Sensor types with their status, and sensor log lines, as the API shows them
//! (`/api/v1/sensortypes`).
//!
//! The sensor type fields follow StackStorm's `SensorTypeAPI`; `status` is Nerve's: what the
//! sensor host reports about the sensor's process, or why it does not run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::TriggerDto;
use crate::platform::{
    SensorExitView, SensorLogLine, SensorRunState, SensorStatusView, SensorTriggerView, SensorView,
};

/// A sensor type and how it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SensorTypeDto {
    /// `pack.ClassName`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Name: the class name, as in StackStorm.
    pub name: String,
    /// Pack.
    pub pack: String,
    /// Class name (StackStorm Python sensors); also the sensor's name.
    pub class_name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Disabled sensors never run.
    pub enabled: bool,
    /// Seconds between polls, for polling sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<f64>,
    /// The runtime that runs it (`python`, `shell`, `builtin`, ...).
    pub runtime: String,
    /// The program or module, relative to the pack's `sensors/` directory.
    pub entry_point: String,
    /// Refs of the trigger types it emits.
    #[serde(default)]
    pub trigger_types: Vec<String>,
    /// How it runs, or why it does not.
    pub status: SensorStatusDto,
}

/// The status of a sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SensorStatusDto {
    /// `idle` or `disabled` (not running; see `reason`), `starting`, `running`, `backoff`
    /// (waiting to restart after an exit), `unavailable` (its runtime is missing; see
    /// `last_error`) or `stopped`.
    pub state: String,
    /// Why it does not run (`idle`, `disabled`).
    #[serde(default)]
    pub reason: Option<String>,
    /// The runtime it runs on.
    pub runtime: String,
    /// Command line.
    #[serde(default)]
    pub command: Option<String>,
    /// Process id while a process exists.
    #[serde(default)]
    pub pid: Option<u32>,
    /// When the current process started (RFC 3339, UTC).
    #[serde(default)]
    pub started_at: Option<String>,
    /// Seconds since `started_at`, while running.
    #[serde(default)]
    pub uptime_seconds: Option<u64>,
    /// Protocol version the sensor answered with.
    #[serde(default)]
    pub protocol: Option<u32>,
    /// Processes started after the first (crashes, hangs, restarts asked for).
    #[serde(default)]
    pub restarts: u64,
    /// When the next restart happens, in `backoff` (RFC 3339, UTC).
    #[serde(default)]
    pub next_restart_at: Option<String>,
    /// How the last process ended.
    #[serde(default)]
    pub last_exit: Option<SensorExitDto>,
    /// The last error (spawn failure, hang, protocol error, missing runtime).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Problems of its configuration (a rule's trigger parameters that fail the schema, ...).
    #[serde(default)]
    pub problems: Vec<String>,
    /// The triggers sent to it (trigger types bound to the parameters of rules).
    #[serde(default)]
    pub triggers: Vec<TriggerDto>,
    /// Dispatches recorded as events.
    #[serde(default)]
    pub dispatched: u64,
    /// Dispatches refused (unknown trigger, payload not matching the schema).
    #[serde(default)]
    pub rejected: u64,
    /// Lines on stdout that were not protocol messages.
    #[serde(default)]
    pub invalid_lines: u64,
    /// Log lines kept in the tail but not forwarded to the server log (rate limit).
    #[serde(default)]
    pub log_suppressed: u64,
}

/// How a sensor process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SensorExitDto {
    /// Exit code, or minus the signal number; null if it could not be reaped.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Why the host thinks it ended (`exited`, `no ready within 30s`, `restart asked`, ...).
    pub reason: String,
}

/// One line of a sensor's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SensorLogLineDto {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// `stderr` (the sensor's stderr), `log` (a protocol `log` message) or `host` (the sensor
    /// host about the sensor: starts, exits, rejected dispatches).
    pub source: String,
    /// Level (`info` for stderr lines).
    pub level: String,
    /// The text.
    pub message: String,
}

impl From<SensorView> for SensorTypeDto {
    fn from(view: SensorView) -> Self {
        Self::at(view, Utc::now())
    }
}

impl SensorTypeDto {
    /// The DTO of `view` with the uptime as of `now`.
    pub fn at(view: SensorView, now: DateTime<Utc>) -> Self {
        let sensor = view.sensor;
        Self {
            reference: sensor.sensor_ref(),
            runtime: sensor.runtime_name().to_owned(),
            name: sensor.class_name.clone(),
            pack: sensor.pack,
            class_name: sensor.class_name,
            description: sensor.description,
            enabled: sensor.enabled,
            poll_interval: sensor.poll_interval,
            entry_point: sensor.entry_point,
            trigger_types: view.trigger_types,
            status: SensorStatusDto::at(view.status, now),
        }
    }
}

impl SensorStatusDto {
    /// The DTO of `status` with the uptime as of `now`.
    pub fn at(status: SensorStatusView, now: DateTime<Utc>) -> Self {
        let uptime_seconds = (status.state == SensorRunState::Running)
            .then_some(status.started_at.as_deref())
            .flatten()
            .and_then(|started| DateTime::parse_from_rfc3339(started).ok())
            .map(|started| {
                let seconds = (now - started.with_timezone(&Utc)).num_seconds();
                u64::try_from(seconds).unwrap_or(0)
            });
        Self {
            state: status.state.as_str().to_owned(),
            reason: status.reason,
            runtime: status.runtime,
            command: status.command,
            pid: status.pid,
            started_at: status.started_at,
            uptime_seconds,
            protocol: status.protocol,
            restarts: status.restarts,
            next_restart_at: status.next_restart_at,
            last_exit: status.last_exit.map(SensorExitDto::from),
            last_error: status.last_error,
            problems: status.problems,
            triggers: status.triggers.into_iter().map(trigger).collect(),
            dispatched: status.dispatched,
            rejected: status.rejected,
            invalid_lines: status.invalid_lines,
            log_suppressed: status.log_suppressed,
        }
    }
}

fn trigger(view: SensorTriggerView) -> TriggerDto {
    TriggerDto {
        reference: view.trigger_ref,
        id: Some(view.id),
        name: view.name,
        pack: view.pack,
        trigger_type: view.trigger_type,
        parameters: view.parameters,
    }
}

impl From<SensorExitView> for SensorExitDto {
    fn from(exit: SensorExitView) -> Self {
        Self {
            exit_code: exit.exit_code,
            at: exit.at,
            reason: exit.reason,
        }
    }
}

impl From<SensorLogLine> for SensorLogLineDto {
    fn from(line: SensorLogLine) -> Self {
        Self {
            at: line.at,
            source: line.source,
            level: line.level,
            message: line.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use nerve_model::SensorType;

    use super::*;

    fn view(state: SensorRunState) -> SensorView {
        let mut status = SensorStatusView::not_running(state, "shell", "why");
        status.started_at = Some("2024-05-01T10:00:00.000Z".into());
        SensorView {
            sensor: SensorType {
                class_name: "Ticker".into(),
                entry_point: "ticker.sh".into(),
                pack: "demo".into(),
                description: None,
                enabled: true,
                poll_interval: None,
                trigger_types: Vec::new(),
                runtime: Some("shell".into()),
            },
            trigger_types: vec!["demo.tick".into()],
            status,
        }
    }

    #[test]
    fn uptime_counts_from_the_start_while_running() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:01:05.500Z")
            .unwrap()
            .with_timezone(&Utc);
        let running = SensorTypeDto::at(view(SensorRunState::Running), now);
        assert_eq!(running.reference, "demo.Ticker");
        assert_eq!(running.runtime, "shell");
        assert_eq!(running.status.state, "running");
        assert_eq!(running.status.uptime_seconds, Some(65));
        let backoff = SensorTypeDto::at(view(SensorRunState::Backoff), now);
        assert_eq!(backoff.status.uptime_seconds, None);
    }
}
