//! Inquiries: `core.ask` executions waiting for a human answer, in StackStorm's shape.

use nerve_model::Execution;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An inquiry (`GET /api/v1/inquiries[/{id}]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InquiryDto {
    /// The inquiry's execution id.
    pub id: String,
    /// `pending` until answered; then `succeeded`, or `timeout`/`canceled`.
    pub status: String,
    /// JSON schema the response must match.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// Where notifications about it go.
    pub route: String,
    /// Minutes it waits for a response.
    pub ttl: i64,
    /// Users allowed to respond (empty: anyone authenticated).
    pub users: Vec<String>,
    /// Roles named by the inquiry (Nerve has no roles; kept for StackStorm packs).
    pub roles: Vec<String>,
    /// The workflow execution waiting on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// When it was asked (RFC 3339).
    pub start_timestamp: String,
    /// The response, once answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
}

impl InquiryDto {
    /// The inquiry view of an `inquirer` execution.
    pub fn from_execution(execution: &Execution) -> Self {
        let asked = execution.result.clone().unwrap_or(Value::Null);
        let field = |name: &str| {
            asked
                .get(name)
                .or_else(|| execution.parameters.get(name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let strings = |value: Value| -> Vec<String> {
            value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| item.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            id: execution.id.clone(),
            status: execution.status.as_str().to_owned(),
            schema: field("schema"),
            route: field("route").as_str().unwrap_or_default().to_owned(),
            ttl: field("ttl").as_i64().unwrap_or(1440),
            users: strings(field("users")),
            roles: strings(field("roles")),
            parent: execution.context.parent.clone(),
            start_timestamp: execution.start_timestamp.clone(),
            response: asked.get("response").cloned(),
        }
    }
}

/// `PUT /api/v1/inquiries/{id}`: the answer (StackStorm also sends the `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InquiryResponseBody {
    /// The inquiry id (optional; the path's id counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The response, matching the inquiry's schema.
    #[schema(value_type = Object)]
    pub response: Value,
}
