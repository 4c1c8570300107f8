//! What the host asks of its owner: recording events, key-value access, process events.

use std::future::Future;

use serde_json::Value;

use crate::status::LogLine;

/// A key-value operation of a sensor; keys are full names (the host already applied the
/// sensor's `pack.Class:` prefix for `local` requests).
#[derive(Debug, Clone, PartialEq)]
pub enum KvOp {
    /// Read; `Ok(Value::String)` or `Ok(Value::Null)` for a missing key.
    Get {
        /// Key.
        key: String,
        /// Plain text of a secret.
        decrypt: bool,
    },
    /// Write; `Ok(Value::Bool(true))`.
    Set {
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// Seconds to live.
        ttl: Option<u64>,
        /// Encrypt at rest.
        secret: bool,
    },
    /// Delete; `Ok(Value::Bool(existed))`.
    Delete {
        /// Key.
        key: String,
    },
    /// List; `Ok` with [`KvEntry`]s.
    List {
        /// Key prefix.
        prefix: String,
        /// At most.
        limit: Option<usize>,
        /// Skip.
        offset: usize,
    },
}

/// A sensor process started or ended (StackStorm's `core.st2.sensor.process_spawn|exit`).
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessEvent {
    /// Started.
    Spawned {
        /// Sensor ref.
        sensor: String,
        /// Process id.
        pid: u32,
        /// Command line.
        cmd: String,
    },
    /// Ended; `exit_code` is minus the signal number for a killed process, `None` if unknown.
    Exited {
        /// Sensor ref.
        sensor: String,
        /// Exit code.
        exit_code: Option<i32>,
    },
}

/// The platform as the host sees it. Implemented by the engine (and by `nerve sensor test`).
pub trait HostServices: Send + Sync + 'static {
    /// Records an event dispatched by `sensor`; `Ok(trigger instance id)`, or `Err(reason)`
    /// when it is refused (unknown trigger, payload not matching the schema, ...).
    fn dispatch(
        &self,
        sensor: &str,
        trigger: &str,
        payload: Value,
        trace_tag: Option<String>,
    ) -> impl Future<Output = Result<String, String>> + Send;

    /// Runs a key-value operation; `Err(reason)` is sent back to the sensor.
    fn kv(&self, sensor: &str, op: KvOp) -> impl Future<Output = Result<Value, String>> + Send;

    /// A process started or ended.
    fn process_event(&self, event: ProcessEvent) -> impl Future<Output = ()> + Send;

    /// A log line of `sensor` (stderr or a `log` message), after it is kept in the tail.
    fn log(&self, sensor: &str, line: &LogLine) {
        let _ = (sensor, line);
    }
}
