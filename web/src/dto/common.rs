//! Small shapes shared by many endpoints: the error body, refs, version, request bodies.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::platform::Diagnostic;

/// StackStorm's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Fault {
    /// What went wrong (for 5xx a generic text; the server log has the rest).
    pub faultstring: String,
    /// Positions of validation problems (rules, packs), when there are any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Diagnostic>,
}

/// A reference to a record by ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefDto {
    /// `pack.name`.
    #[serde(rename = "ref")]
    pub reference: String,
}

/// A reference to a record by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IdDto {
    /// The id.
    pub id: String,
}

/// `GET /api/v1/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VersionDto {
    /// Product name, `nerve`.
    pub name: String,
    /// Nerve's version.
    pub version: String,
    /// The API version, `v1`.
    pub api: String,
    /// The authenticated user.
    pub user: String,
    /// Whether the caller is an administrator.
    #[serde(default)]
    pub admin: bool,
    /// How the caller authenticated: `token` (the admin token: send it as `X-Auth-Token`) or
    /// `api_key` (send it as `St2-Api-Key`). The web UI logs in with `Authorization: Bearer`,
    /// which takes either, and keeps the header this names.
    #[serde(default)]
    pub credential: String,
}

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthDto {
    /// `ok`.
    pub status: String,
}

/// `POST /api/v1/executions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunBody {
    /// Action ref.
    pub action: String,
    /// Parameters.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// Trace tag for everything this execution causes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_tag: Option<String>,
    /// Extra context kept on the execution.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub context: Map<String, Value>,
}

/// `POST /api/v1/executions/{id}/re_run`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct RerunBody {
    /// Parameters overriding the original execution's.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

/// `PUT /api/v1/rules/{ref}/disable`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct DisableRuleBody {
    /// Why, kept and shown with the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /api/v1/packs/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisterPackBody {
    /// The pack directory on the server's file system.
    pub path: String,
    /// What to record as the pack's origin (a git URL with its ref, an archive); the
    /// directory when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `POST /api/v1/apikeys`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreateBody {
    /// The user the key acts as (default: the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Whether that user is an administrator (default false).
    #[serde(default)]
    pub admin: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /api/v1/webhooks/st2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookBody {
    /// Trigger ref.
    pub trigger: String,
    /// The payload, validated against the trigger type's payload schema.
    #[serde(default)]
    pub payload: Value,
}
