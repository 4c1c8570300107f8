//! Plain data exchanged with the [`super::Platform`]: requests, views and diagnostics.

use std::path::PathBuf;

use nerve_model::{Action, ParamMap, RunnerType};
use nerve_store::PackRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An event to emit (generic webhook, custom webhook, API).
#[derive(Debug, Clone, PartialEq)]
pub struct EmitRequest {
    /// Trigger ref (or trigger type ref for parameterless types).
    pub trigger: String,
    /// The payload, validated by the platform.
    pub payload: Value,
    /// The user-visible trace tag (`St2-Trace-Tag`), if the caller gave one.
    pub trace_tag: Option<String>,
    /// Who sent it: the authenticated user, or `None` for an HMAC-verified webhook.
    pub user: Option<String>,
}

/// The target of a custom webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// The hook's url (the path after `/api/v1/webhooks/`).
    pub url: String,
    /// The trigger ref to emit on (the `core.st2.webhook` trigger with this `url` parameter).
    pub trigger: String,
}

/// A request to run an action.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// Action ref, `pack.name`.
    pub action: String,
    /// Parameters as given by the caller (validated by the platform).
    pub parameters: Map<String, Value>,
    /// The authenticated user it runs for.
    pub user: String,
    /// User-visible trace tag.
    pub trace_tag: Option<String>,
    /// Extra context from the caller, kept on the execution.
    pub context: Map<String, Value>,
}

/// An action with what a client needs to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionView {
    /// The action as loaded.
    pub action: Action,
    /// Its runner's parameters merged with its own (what is validated, masked and shown in run
    /// forms).
    pub parameters: ParamMap,
    /// `parameters` as one JSON Schema (`nerve_model::parameters_schema`).
    pub parameters_schema: Value,
    /// Its runner.
    pub runner: RunnerType,
}

/// A rule to create, as the caller sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSource {
    /// StackStorm rule YAML (`Content-Type: application/yaml`), passed through unparsed.
    Yaml(String),
    /// A rule as JSON (StackStorm's API shape).
    Json(Value),
}

/// One problem found while validating a pack or rule, with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: String,
    /// The file (relative to the pack directory), or `<request>` for a rule sent in the body.
    pub file: String,
    /// Line, 1-based (0 when unknown).
    pub line: u32,
    /// Column in characters, 1-based (0 when unknown).
    pub col: u32,
    /// Field path (`action.parameters.cmd`); empty for the whole document.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What registering a pack loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRegistration {
    /// The pack as recorded.
    pub pack: PackRecord,
    /// Number of actions registered.
    pub actions: usize,
    /// Number of rules registered.
    pub rules: usize,
    /// Number of sensors registered.
    pub sensors: usize,
    /// Number of trigger types registered.
    pub trigger_types: usize,
    /// Number of policies registered.
    pub policies: usize,
    /// Warnings (the pack loaded anyway).
    pub warnings: Vec<Diagnostic>,
    /// The directory it was loaded from.
    pub dir: PathBuf,
}

/// One Prometheus sample.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    /// Metric name (`nerve_sensor_restarts_total`).
    pub name: String,
    /// Help text.
    pub help: String,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    /// Label pairs.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}
