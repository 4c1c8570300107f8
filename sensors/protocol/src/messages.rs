//! The message types. Field names are the wire names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A trigger as a sensor sees it (StackStorm's `TriggerAPI.to_dict()`): `ref` is what the
/// sensor dispatches to for this trigger. Since: v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerDict {
    /// Stable id of the trigger (same type and parameters → same id).
    pub id: String,
    /// `pack.name` of the trigger.
    #[serde(rename = "ref")]
    pub trigger_ref: String,
    /// Name inside the pack.
    pub name: String,
    /// Pack of the trigger.
    pub pack: String,
    /// The trigger type ref (`pack.type_name`).
    #[serde(rename = "type")]
    pub trigger_type: String,
    /// Trigger parameters, already validated against the type's `parameters_schema`.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

/// The first message from the host. Since: v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol version the host speaks.
    pub protocol: u32,
    /// The sensor ref (`pack.ClassName`).
    pub sensor: String,
    /// The sensor's pack.
    pub pack: String,
    /// The sensor's class name (StackStorm Python sensors load this class).
    pub class_name: String,
    /// The pack config (`config` of StackStorm sensors).
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Seconds between polls, for polling sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<f64>,
    /// Trigger type refs the sensor emits.
    #[serde(default)]
    pub trigger_types: Vec<String>,
    /// Seconds the host waits for `ready` before it counts the sensor as hung.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_timeout: Option<f64>,
}

/// Host → sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostMessage {
    /// Always the first line. Since: v1.
    Hello(Hello),
    /// Start watching for this trigger. Since: v1.
    AddTrigger {
        /// The trigger.
        trigger: TriggerDict,
    },
    /// A watched trigger changed (same id, new parameters). Since: v1.
    UpdateTrigger {
        /// The trigger.
        trigger: TriggerDict,
    },
    /// Stop watching this trigger (only ever sent for an id added before). Since: v1.
    RemoveTrigger {
        /// The trigger.
        trigger: TriggerDict,
    },
    /// The answer to a request that carried an `id`. Since: v1.
    Reply(Reply),
    /// A dispatch the host refused, with why (the event was not recorded). Since: v1.
    Rejected {
        /// The trigger the sensor dispatched to.
        trigger: String,
        /// Why it was refused.
        reason: String,
        /// The dispatch's id, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// Clean up and exit; the host waits a grace period, then SIGTERM, then SIGKILL. Since: v1.
    Shutdown {},
}

/// The answer to a request (`kv_*`, or a `dispatch` with an `id`). Since: v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The request's id.
    pub id: String,
    /// Whether the request succeeded.
    pub ok: bool,
    /// The result when `ok` (`null` for "no such key", and when not `ok`).
    #[serde(default)]
    pub value: Value,
    /// Why not, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Reply {
    /// A successful reply.
    pub fn ok(id: impl Into<String>, value: Value) -> Self {
        Self {
            id: id.into(),
            ok: true,
            value,
            error: None,
        }
    }

    /// A failed reply.
    pub fn error(id: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ok: false,
            value: Value::Null,
            error: Some(error.into()),
        }
    }
}

/// The sensor's answer to `hello`. Since: v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    /// The protocol version the sensor speaks.
    pub protocol: u32,
    /// Seconds between the heartbeats the sensor promises to send; the host counts the sensor
    /// as hung after three missed ones. Absent: the sensor sends none and is only watched for
    /// exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<f64>,
}

/// Log levels of `log` messages (Python's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Debug.
    Debug,
    /// Info.
    #[default]
    Info,
    /// Warning (`warn` accepted).
    #[serde(alias = "warn")]
    Warning,
    /// Error.
    Error,
    /// Critical.
    Critical,
}

/// A key-value request; keys are the sensor's own (`pack.Class:key`) unless `local` is false.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KvRequest {
    /// Read a key; `value` of the reply is the string or `null`. Since: v1.
    KvGet {
        /// Request id.
        id: String,
        /// Key name.
        key: String,
        /// Prefix the key with the sensor's scope (StackStorm's `local=True`).
        #[serde(default = "yes")]
        local: bool,
        /// Return a secret's plain text.
        #[serde(default)]
        decrypt: bool,
    },
    /// Write a key; the reply's `value` is `true`. Since: v1.
    KvSet {
        /// Request id.
        id: String,
        /// Key name.
        key: String,
        /// The value (StackStorm values are strings).
        value: String,
        /// Seconds to live.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<u64>,
        /// Prefix the key with the sensor's scope.
        #[serde(default = "yes")]
        local: bool,
        /// Store encrypted (a secret).
        #[serde(default)]
        encrypt: bool,
    },
    /// Delete a key; the reply's `value` says whether it existed. Since: v1.
    KvDelete {
        /// Request id.
        id: String,
        /// Key name.
        key: String,
        /// Prefix the key with the sensor's scope.
        #[serde(default = "yes")]
        local: bool,
    },
    /// List keys; the reply's `value` is a list of [`KvEntry`]. Since: v1.
    KvList {
        /// Request id.
        id: String,
        /// Only keys starting with this (after the sensor's scope when `local`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        /// Only the sensor's own keys.
        #[serde(default = "yes")]
        local: bool,
        /// At most this many.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
        /// Skip this many.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<usize>,
    },
}

impl KvRequest {
    /// The request's id.
    pub fn id(&self) -> &str {
        match self {
            KvRequest::KvGet { id, .. }
            | KvRequest::KvSet { id, .. }
            | KvRequest::KvDelete { id, .. }
            | KvRequest::KvList { id, .. } => id,
        }
    }
}

/// One key in a `kv_list` reply. Since: v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KvEntry {
    /// Full key name (with the sensor's scope prefix when it has one).
    pub name: String,
    /// The value; secrets are masked (`********`).
    pub value: String,
    /// Whether the value is a secret.
    #[serde(default)]
    pub secret: bool,
    /// Expiry, RFC 3339, when the key has a TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_timestamp: Option<String>,
}

/// Sensor → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SensorMessage {
    /// The answer to `hello`. Since: v1.
    Ready(Ready),
    /// An event. Since: v1.
    Dispatch {
        /// Trigger ref (`pack.name`, or a trigger dict's `ref` for parameterised triggers).
        trigger: String,
        /// The payload, an object, validated against the type's `payload_schema`.
        #[serde(default = "empty_object")]
        payload: Value,
        /// Trace tag of the event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace_tag: Option<String>,
        /// Ask for a `reply` (with the trigger instance id) when accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// A log line. Since: v1.
    Log {
        /// Level.
        #[serde(default)]
        level: LogLevel,
        /// The text.
        message: String,
        /// Logger name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        logger: Option<String>,
    },
    /// "Still alive", at the interval promised in `ready`. Since: v1.
    Heartbeat {},
    /// The sensor gives up (e.g. protocol version mismatch); it exits after sending this.
    /// Since: v1.
    Error {
        /// Why.
        message: String,
    },
    /// A key-value request.
    #[serde(untagged)]
    Kv(KvRequest),
}

fn yes() -> bool {
    true
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}
