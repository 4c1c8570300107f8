//! Plain data exchanged with the [`super::Platform`]: requests, views and diagnostics.

use std::path::PathBuf;

use nerve_model::{Action, ParamMap, RunnerType, SensorType};
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

/// What the platform knows of an installed pack beyond its record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackDetails {
    /// Its files, relative to the pack directory, sorted (hidden entries and `virtualenv/`
    /// left out, as in the content hash).
    pub files: Vec<String>,
    /// The last install or reload of it that failed since the last one that succeeded: the
    /// version registered before it is still the one in force.
    pub reload_error: Option<ReloadError>,
}

/// An install or reload that was refused; the previous version stays in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReloadError {
    /// What failed (`pack `/src/my_pack` does not load`).
    pub message: String,
    /// When (RFC 3339).
    pub at: String,
    /// The problems, with file, line, column and field.
    #[serde(default)]
    pub details: Vec<Diagnostic>,
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

/// A sensor type with how it runs on this node.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorView {
    /// The sensor type as loaded from its pack.
    pub sensor: SensorType,
    /// Refs of the trigger types it emits (`pack.name`).
    pub trigger_types: Vec<String>,
    /// How it runs (or why it does not).
    pub status: SensorStatusView,
}

/// Where a sensor is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorRunState {
    /// Not running: no enabled rule uses its trigger types (see the status's `reason`).
    Idle,
    /// Not running: `enabled: false` in its metadata.
    Disabled,
    /// Started, waiting for `ready`.
    Starting,
    /// Answered `ready`.
    Running,
    /// Died or hung; waiting to restart.
    Backoff,
    /// Its runtime is missing on this node (`last_error` has the hint).
    Unavailable,
    /// Stopped by the host.
    Stopped,
}

impl SensorRunState {
    /// The wire name: `idle`, `disabled`, `starting`, `running`, `backoff`, `unavailable`,
    /// `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Disabled => "disabled",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Backoff => "backoff",
            Self::Unavailable => "unavailable",
            Self::Stopped => "stopped",
        }
    }

    /// Whether the sensor host supervises it (every state but `idle` and `disabled`).
    pub fn is_supervised(self) -> bool {
        !matches!(self, Self::Idle | Self::Disabled)
    }
}

/// The status of a sensor: what the sensor host reports, or why it does not run.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorStatusView {
    /// State.
    pub state: SensorRunState,
    /// Why it does not run (`idle`, `disabled`).
    pub reason: Option<String>,
    /// The runtime it runs on.
    pub runtime: String,
    /// Command line, when the host has one.
    pub command: Option<String>,
    /// Process id while a process exists.
    pub pid: Option<u32>,
    /// When the current process started, RFC 3339.
    pub started_at: Option<String>,
    /// Protocol version it answered with.
    pub protocol: Option<u32>,
    /// Processes started after the first.
    pub restarts: u64,
    /// When the next restart happens, in backoff (RFC 3339).
    pub next_restart_at: Option<String>,
    /// The last process end.
    pub last_exit: Option<SensorExitView>,
    /// The last error (spawn failure, hang, protocol error, missing runtime).
    pub last_error: Option<String>,
    /// Problems of its configuration (e.g. invalid trigger parameters of a rule).
    pub problems: Vec<String>,
    /// The triggers sent to it.
    pub triggers: Vec<SensorTriggerView>,
    /// Dispatches recorded.
    pub dispatched: u64,
    /// Dispatches refused.
    pub rejected: u64,
    /// Lines on stdout that were not protocol messages.
    pub invalid_lines: u64,
    /// Log lines not forwarded to the server log because of the rate limit.
    pub log_suppressed: u64,
}

impl SensorStatusView {
    /// The status of a sensor the host does not run.
    pub fn not_running(state: SensorRunState, runtime: &str, reason: impl Into<String>) -> Self {
        Self {
            state,
            reason: Some(reason.into()),
            runtime: runtime.to_owned(),
            command: None,
            pid: None,
            started_at: None,
            protocol: None,
            restarts: 0,
            next_restart_at: None,
            last_exit: None,
            last_error: None,
            problems: Vec::new(),
            triggers: Vec::new(),
            dispatched: 0,
            rejected: 0,
            invalid_lines: 0,
            log_suppressed: 0,
        }
    }
}

/// How a sensor process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorExitView {
    /// Exit code, or minus the signal number; `None` if it could not be reaped.
    pub exit_code: Option<i32>,
    /// When, RFC 3339.
    pub at: String,
    /// Why the host thinks it ended.
    pub reason: String,
}

/// A trigger sent to a sensor (StackStorm's trigger dict).
#[derive(Debug, Clone, PartialEq)]
pub struct SensorTriggerView {
    /// Stable id.
    pub id: String,
    /// Trigger ref.
    pub trigger_ref: String,
    /// Name.
    pub name: String,
    /// Pack.
    pub pack: String,
    /// Trigger type ref.
    pub trigger_type: String,
    /// Parameters.
    pub parameters: Map<String, Value>,
}

/// One line of a sensor's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorLogLine {
    /// When, RFC 3339.
    pub at: String,
    /// `stderr`, `log` (a protocol `log` message) or `host` (the host about the sensor).
    pub source: String,
    /// Level (`info` for stderr).
    pub level: String,
    /// The text.
    pub message: String,
}

/// The server's verdict on a rule's text (`POST /api/v1/rules/validate`): every problem with its
/// line and column, nothing stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleValidation {
    /// Whether the rule has no errors (it may have warnings) and would be accepted as it is.
    pub valid: bool,
    /// The rule's ref (`pack.name`) when it could be read that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_ref: Option<String>,
    /// Errors and warnings, in document order.
    pub diagnostics: Vec<Diagnostic>,
}

/// An event to test a rule against: StackStorm's trigger-instance shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    /// The trigger type ref (`core.st2.webhook`).
    pub trigger: String,
    /// The payload.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub payload: Value,
}

/// One criterion of a tested rule, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CriterionResult {
    /// The key as written (`trigger.body.repo`).
    pub key: String,
    /// The operator as written (`equals`, `regex`, ...).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The rendered pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub pattern: Option<Value>,
    /// The value found at the key (absent: not found or `null`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub value: Option<Value>,
    /// Whether it holds.
    pub result: bool,
    /// Why, in words.
    pub reason: String,
}

/// The action a matched rule would run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RenderedAction {
    /// The action ref.
    #[serde(rename = "ref")]
    pub action_ref: String,
    /// Its parameters as rendered from the event.
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

/// A rule tested against an event (`POST /api/v1/rules/test`), as `nerve rule test` explains
/// it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleTestReport {
    /// Whether the rule is valid; when not, `diagnostics` says why and nothing was evaluated.
    pub valid: bool,
    /// Problems of the rule (errors when invalid; warnings otherwise).
    pub diagnostics: Vec<Diagnostic>,
    /// The rule's ref.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_ref: Option<String>,
    /// Whether the rule matches the event (its trigger type and every criterion).
    pub matched: bool,
    /// Whether the event is of the rule's trigger type.
    pub trigger_matches: bool,
    /// A reason that applies to the whole rule, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every criterion, evaluated even after the first that fails.
    pub criteria: Vec<CriterionResult>,
    /// When matched: the action and its rendered parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<RenderedAction>,
    /// What would go wrong at run time (a parameter failing the action's schema, a disabled
    /// rule, an event of another trigger type).
    pub warnings: Vec<String>,
}
