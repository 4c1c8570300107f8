//! Traces as the API shows them (StackStorm's `TraceAPI` field names).

use nerve_store::{TraceComponent, TraceRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One component of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TraceComponentDto {
    /// The record's id.
    pub object_id: String,
    /// Its ref (trigger, rule or action).
    #[serde(rename = "ref")]
    pub reference: String,
    /// `{"type": kind, "id": id}` of what caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<Value>,
    /// When it was added or last updated.
    pub updated_at: String,
}

impl From<TraceComponent> for TraceComponentDto {
    fn from(component: TraceComponent) -> Self {
        Self {
            object_id: component.id,
            reference: component.component_ref,
            caused_by: component
                .caused_by
                .map(|cause| serde_json::json!({ "type": cause.kind, "id": cause.id })),
            updated_at: component.updated_at,
        }
    }
}

/// What one event caused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TraceDto {
    /// Trace id.
    pub id: String,
    /// User-visible tag.
    pub trace_tag: String,
    /// When its first component was added.
    pub start_timestamp: String,
    /// Events.
    pub trigger_instances: Vec<TraceComponentDto>,
    /// Rule firings.
    pub rules: Vec<TraceComponentDto>,
    /// Executions.
    pub action_executions: Vec<TraceComponentDto>,
}

impl From<TraceRecord> for TraceDto {
    fn from(trace: TraceRecord) -> Self {
        let convert =
            |components: Vec<TraceComponent>| components.into_iter().map(Into::into).collect();
        Self {
            id: trace.id,
            trace_tag: trace.trace_tag,
            start_timestamp: trace.started_at,
            trigger_instances: convert(trace.trigger_instances),
            rules: convert(trace.rule_enforcements),
            action_executions: convert(trace.executions),
        }
    }
}
