//! Trigger types, triggers and trigger instances (events) as the API shows them.

use nerve_model::{Trigger, TriggerType};
use nerve_store::{TriggerInstanceRecord, trigger_instance_status_name};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A trigger type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TriggerTypeDto {
    /// `pack.name`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Name in the pack.
    pub name: String,
    /// Pack.
    pub pack: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of trigger parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_schema: Option<Value>,
    /// JSON Schema of payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_schema: Option<Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Value>,
}

impl From<TriggerType> for TriggerTypeDto {
    fn from(trigger_type: TriggerType) -> Self {
        Self {
            reference: trigger_type.type_ref(),
            name: trigger_type.name,
            pack: trigger_type.pack,
            description: trigger_type.description,
            parameters_schema: trigger_type.parameters_schema,
            payload_schema: trigger_type.payload_schema,
            tags: trigger_type.tags,
        }
    }
}

/// A trigger: a type bound to parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TriggerDto {
    /// `pack.name`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Store id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Pack.
    pub pack: String,
    /// Trigger type ref.
    #[serde(rename = "type")]
    pub trigger_type: String,
    /// Parameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

impl From<Trigger> for TriggerDto {
    fn from(trigger: Trigger) -> Self {
        Self {
            reference: trigger.trigger_ref(),
            id: trigger.id,
            name: trigger.name,
            pack: trigger.pack,
            trigger_type: trigger.trigger_type,
            parameters: trigger.parameters,
        }
    }
}

/// An event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TriggerInstanceDto {
    /// Id.
    pub id: String,
    /// Trigger ref.
    pub trigger: String,
    /// Payload.
    #[serde(default)]
    pub payload: Value,
    /// When it happened (RFC 3339, UTC).
    pub occurrence_time: String,
    /// `pending`, `processing`, `processed` or `processing_failed`.
    pub status: String,
    /// Trace id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Trace tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_tag: Option<String>,
}

impl From<TriggerInstanceRecord> for TriggerInstanceDto {
    fn from(record: TriggerInstanceRecord) -> Self {
        Self {
            status: trigger_instance_status_name(record.status).to_owned(),
            id: record.id,
            trigger: record.trigger,
            payload: record.payload,
            occurrence_time: record.occurrence_time,
            trace_id: record.trace_id,
            trace_tag: record.trace_tag,
        }
    }
}
