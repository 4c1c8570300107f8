//! Sensors: `sensors/*.yaml` in a pack (StackStorm's `sensor.json` format, plus `runtime`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::TriggerType;

/// The runtime of sensors built into the `nerve` binary (run as `nerve sensor builtin NAME`,
/// still one process per sensor).
pub const BUILTIN_RUNTIME: &str = "builtin";

/// The sensors built into the `nerve` binary, by entry point.
pub const BUILTIN_SENSORS: &[&str] = &["file_watch"];

/// A sensor: an out-of-process program that emits trigger instances of its trigger types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorType {
    /// Python class name (StackStorm sensors); also the sensor's name.
    pub class_name: String,
    /// File relative to the pack's `sensors/` directory.
    pub entry_point: String,
    /// Owning pack; set by the loader.
    #[serde(default = "default_pack")]
    pub pack: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Disabled sensors are never started.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds between polls, for polling sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<f64>,
    /// Trigger types the sensor emits (registered with the sensor).
    #[serde(default)]
    pub trigger_types: Vec<TriggerTypeSpec>,
    /// Nerve extension: the runtime that runs the entry point (`python`, `node`, `shell`,
    /// `native`, ...). Without it, a `.py` entry point is a StackStorm Python sensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

fn default_pack() -> String {
    "default".to_owned()
}

fn yes() -> bool {
    true
}

impl SensorType {
    /// `pack.ClassName`.
    pub fn sensor_ref(&self) -> String {
        format!("{}.{}", self.pack, self.class_name)
    }

    /// The runtime that runs this sensor: the declared one, else `python` for `.py` entry points,
    /// else `native`.
    pub fn runtime_name(&self) -> &str {
        match &self.runtime {
            Some(runtime) => runtime,
            None if self.entry_point.ends_with(".py") => "python",
            None => "native",
        }
    }
}

/// A trigger type declared inside a sensor file; `pack` defaults to the sensor's pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerTypeSpec {
    /// Name inside the pack.
    pub name: String,
    /// Pack, when different from the sensor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of trigger parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_schema: Option<Value>,
    /// JSON Schema of the payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_schema: Option<Value>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
}

impl TriggerTypeSpec {
    /// The trigger type this spec declares, owned by `sensor_pack` unless it names its own pack.
    pub fn to_trigger_type(&self, sensor_pack: &str) -> TriggerType {
        TriggerType {
            name: self.name.clone(),
            pack: self.pack.clone().unwrap_or_else(|| sensor_pack.to_owned()),
            description: self.description.clone(),
            parameters_schema: self.parameters_schema.clone(),
            payload_schema: self.payload_schema.clone(),
            tags: self.tags.clone(),
        }
    }
}
