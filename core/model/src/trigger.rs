//! Trigger types (what a sensor can emit), triggers (a type with parameters) and trigger
//! instances (events).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A trigger type: `pack.name`, with JSON Schemas for its parameters and payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerType {
    /// Name inside the pack (`st2.webhook` for `core.st2.webhook`).
    pub name: String,
    /// Owning pack.
    pub pack: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of trigger parameters (what a rule's `trigger.parameters` may say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_schema: Option<Value>,
    /// JSON Schema of the payload of each trigger instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_schema: Option<Value>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
}

impl TriggerType {
    /// `pack.name`.
    pub fn type_ref(&self) -> String {
        format!("{}.{}", self.pack, self.name)
    }
}

/// A trigger: a trigger type bound to parameters (StackStorm `TriggerDB`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Trigger name: the type name for parameterless types, a generated id otherwise.
    pub name: String,
    /// Owning pack.
    pub pack: String,
    /// Trigger type ref.
    #[serde(rename = "type")]
    pub trigger_type: String,
    /// Parameters, valid against the type's `parameters_schema`.
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

impl Trigger {
    /// `pack.name`.
    pub fn trigger_ref(&self) -> String {
        format!("{}.{}", self.pack, self.name)
    }
}

/// An event: one occurrence of a trigger (StackStorm's trigger-instance file shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerInstance {
    /// Store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The trigger ref (equal to the trigger type ref for parameterless types).
    pub trigger: String,
    /// Event payload; criteria keys `trigger.x` look into it.
    #[serde(default)]
    pub payload: Value,
    /// When it happened (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence_time: Option<String>,
}
