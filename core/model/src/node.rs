//! What worker and sensor nodes and the server say to each other when Nerve runs as separate
//! processes (`nerve server`, `nerve worker`, `nerve sensors`).
//!
//! Work moves over the bus (execution requests to workers; trigger instances, status changes
//! and output from nodes); control is pulled by the nodes over the server's API, once per
//! heartbeat: registration, sensor assignment, cancel requests and the pack versions the server
//! accepts. A node that misses a control message gets it with its next heartbeat, so nothing
//! has to be delivered to a node that is down.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ExecutionStatus;

/// The role of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs actions.
    Worker,
    /// Runs sensors.
    Sensors,
}

impl NodeRole {
    /// `worker` or `sensors`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Sensors => "sensors",
        }
    }
}

/// A runtime as a node detected it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRuntime {
    /// Runtime name (`python`, `shell`, ...).
    pub name: String,
    /// Whether the node can run it.
    pub available: bool,
    /// The detected version, when available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What a node reports with every heartbeat (`POST /api/v1/nodes/{name}/heartbeat`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeHeartbeat {
    /// The node's name (one routing-key word: letters, digits, `-`, `_`).
    pub node: String,
    /// What it does.
    pub role: NodeRole,
    /// Nerve's version on the node.
    pub version: String,
    /// Process id, to tell restarts apart.
    pub pid: u32,
    /// When the process started (RFC 3339).
    pub started_at: String,
    /// Runtimes it detected.
    #[serde(default)]
    pub runtimes: Vec<NodeRuntime>,
    /// Runners it consumes requests for (workers).
    #[serde(default)]
    pub runners: Vec<String>,
    /// Executions it runs at once (workers) or sensors it may run (sensor nodes).
    pub capacity: u32,
    /// Content hash of every pack it has applied, by pack ref.
    #[serde(default)]
    pub packs: BTreeMap<String, String>,
    /// Executions running there now (workers).
    #[serde(default)]
    pub running: Vec<String>,
    /// Sensors running there now, with their state (sensor nodes).
    #[serde(default)]
    pub sensors: Vec<NodeSensorState>,
}

/// A sensor as a sensor node reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSensorState {
    /// Sensor ref.
    #[serde(rename = "ref")]
    pub sensor_ref: String,
    /// `running`, `starting`, `backoff`, ...
    pub state: String,
    /// Restarts so far on this node.
    pub restarts: u64,
    /// The last error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The server's answer to a heartbeat: what the node must do now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// Seconds between heartbeats the server expects; a node silent for three of them is
    /// considered gone (its sensors move to another node).
    pub interval_secs: f64,
    /// Sensors this node must run now, with their triggers (sensor nodes); everything else
    /// it runs must stop.
    #[serde(default)]
    pub sensors: Vec<SensorAssignment>,
    /// Executions running on this node that were canceled.
    #[serde(default)]
    pub cancel: Vec<String>,
    /// Packs the node runs at another version than the server (the node reloads its packs);
    /// those not `accepted` get no work until the node runs an accepted version.
    #[serde(default)]
    pub drift: Vec<PackDrift>,
}

/// One sensor assigned to a sensor node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorAssignment {
    /// Sensor ref (`pack.Class`).
    #[serde(rename = "ref")]
    pub sensor_ref: String,
    /// The triggers to send (`add_trigger`), parameters already validated by the server.
    #[serde(default)]
    pub triggers: Vec<Value>,
    /// Problems the server found while computing the triggers (shown in the status).
    #[serde(default)]
    pub problems: Vec<String>,
}

/// A pack a node runs at a version the server does not accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackDrift {
    /// Pack ref.
    pub pack: String,
    /// The node's content hash (`None` when the node does not have the pack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_hash: Option<String>,
    /// The hash the server runs.
    pub server_hash: String,
    /// Whether the server still accepts the node's version (the one before the server's
    /// current one, while nodes catch up); work of a pack not accepted is refused.
    #[serde(default)]
    pub accepted: bool,
    /// What the operator must run to fix it.
    pub remedy: String,
}

/// A worker asks to run an execution (`POST /api/v1/executions/{id}/claim`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// The worker node.
    pub node: String,
    /// The content hash of every pack the node has, by pack ref (the request names only the
    /// execution, so the node does not know the action's pack before the claim).
    #[serde(default)]
    pub packs: BTreeMap<String, String>,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ClaimReply {
    /// Run it: the execution is `running` on this node now (durably).
    Run {
        /// The execution as recorded.
        execution: Box<crate::Execution>,
    },
    /// Do not run it: it is not `scheduled` any more (already run, canceled, or abandoned
    /// because the worker that had it went away).
    Skip {
        /// Its status now.
        status: ExecutionStatus,
    },
    /// Do not run it here: the node's pack is not at a version the server accepts. The
    /// request goes back to the queue for another worker.
    Refused {
        /// What the operator must run to fix it.
        reason: String,
    },
}

/// A worker reports the end of an execution (bus: `nerve.executions`, `status.<status>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// The execution.
    pub execution_id: String,
    /// The worker node.
    pub node: String,
    /// The final status.
    pub status: ExecutionStatus,
    /// The result.
    pub result: Value,
    /// Why it ended so, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the worker skipped the claim (a `noop`: nothing to run twice), so the server
    /// records `running` and the end in one write.
    #[serde(default)]
    pub unclaimed: bool,
}

/// Output lines of one execution (bus: `nerve.output`, `output.<execution id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputReport {
    /// The execution.
    pub execution_id: String,
    /// Sequence number of the first line in this batch, per execution, from 0: the server
    /// drops lines it already recorded when a batch is delivered twice.
    pub first_seq: u64,
    /// `(stream, line)` pairs, `stream` being `stdout` or `stderr`.
    pub lines: Vec<(String, String)>,
}

/// A sensor's key-value request forwarded by a sensor node (`POST /api/v1/nodes/{name}/kv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NodeKvRequest {
    /// Read.
    Get {
        /// Full key (`pack.Class:name` for sensor-local keys).
        key: String,
        /// Decrypt a secret.
        #[serde(default)]
        decrypt: bool,
    },
    /// Write.
    Set {
        /// Full key.
        key: String,
        /// Value.
        value: String,
        /// Seconds to live.
        #[serde(default)]
        ttl: Option<u64>,
        /// Encrypt at rest.
        #[serde(default)]
        secret: bool,
    },
    /// Delete.
    Delete {
        /// Full key.
        key: String,
    },
    /// List by prefix.
    List {
        /// Prefix.
        prefix: String,
        /// At most.
        #[serde(default)]
        limit: Option<usize>,
        /// Skip.
        #[serde(default)]
        offset: usize,
    },
}

/// The answer to a [`NodeKvRequest`]: `{ok: true, value}` or `{ok: false, error}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeKvReply {
    /// Whether it worked.
    pub ok: bool,
    /// The value (`null` for a missing key).
    #[serde(default)]
    pub value: Value,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A node as the server knows it (`GET /api/v1/nodes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The last heartbeat.
    #[serde(flatten)]
    pub heartbeat: NodeHeartbeat,
    /// When the server got it (RFC 3339).
    pub last_seen: String,
    /// Seconds since then.
    pub age_secs: f64,
    /// `alive`, or `gone` after three missed heartbeats.
    pub state: String,
    /// Sensors assigned to it.
    #[serde(default)]
    pub assigned_sensors: Vec<String>,
    /// Packs it runs at a version the server does not accept.
    #[serde(default)]
    pub drift: Vec<PackDrift>,
    /// Anything else worth showing.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}
