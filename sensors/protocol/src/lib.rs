//! The sensor protocol: newline-delimited JSON on a sensor process's stdin (host → sensor) and
//! stdout (sensor → host); stderr lines are the sensor's log.
//!
//! **Architecture invariant:** only this crate defines what crosses the sensor process boundary.
//! It holds serde types and the line codec, nothing else: no IO, no async. Every message is
//! tagged with `"type"`, and says in its docs since which protocol version it exists.
//!
//! The exchange:
//!
//! ```text
//! host   → hello {protocol, sensor, ...}          first line, always
//! sensor → ready {protocol, heartbeat?}           within the host's ready timeout
//! host   → add_trigger / update_trigger / remove_trigger {trigger}
//! sensor → dispatch {trigger, payload, trace_tag?, id?}
//! host   → reply {id, ok, value|error}            for a dispatch that carried an id
//! host   → rejected {trigger, reason, id?}        for every dispatch the host refuses
//! sensor → kv_get / kv_set / kv_delete / kv_list {id, ...}
//! host   → reply {id, ok, value|error}
//! sensor → log {level, message}   heartbeat {}   error {message}
//! host   → shutdown {}                             the sensor exits within the grace period
//! ```
//!
//! A version mismatch is an error on both sides: the SDKs refuse a `hello` whose major version
//! they do not speak (sending `error` and exiting), and the host refuses a `ready` that names
//! another version.

mod codec;
mod messages;

pub use codec::{ProtocolError, decode_host, decode_sensor, encode};
pub use messages::{
    Hello, HostMessage, KvEntry, KvRequest, LogLevel, Ready, Reply, SensorMessage, TriggerDict,
};

/// The protocol version this crate speaks. Since: v1.
pub const PROTOCOL_VERSION: u32 = 1;
