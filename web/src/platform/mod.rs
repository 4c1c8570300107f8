//! The `Platform` trait: what the API needs from the running engine beyond plain store reads
//! (emitting events, running and cancelling executions, loading packs and rules, the webhook
//! table, sensor status), and the plain data it exchanges.
//!
//! The server binary implements it over the engine; tests implement it with a fake. The trait is
//! object-safe (`Arc<dyn Platform>`) and every method returns a boxed `Send` future, so an
//! implementation may do IO, take locks or talk to the bus.
//!
//! This module knows nothing of HTTP: [`PlatformError`] names *what* went wrong and the `error`
//! module decides the status code.

mod types;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use nerve_model::{
    ClaimReply, ClaimRequest, Execution, HeartbeatReply, NodeHeartbeat, NodeInfo, NodeKvReply,
    NodeKvRequest, TriggerType,
};
use nerve_store::{PackRecord, RuleRecord, TriggerInstanceRecord};
use serde_json::{Map, Value};

use crate::routes::nodes::{DeadLetterDto, QueueDto};

pub use types::{
    ActionView, CriterionResult, Diagnostic, EmitRequest, MetricSample, PackDetails,
    PackRegistration, ReloadError, RenderedAction, RuleSource, RuleTestReport, RuleValidation,
    RunRequest, SensorExitView, SensorLogLine, SensorRunState, SensorStatusView, SensorTriggerView,
    SensorView, TestEvent, WebhookTarget,
};

/// A boxed, `Send` future: what every [`Platform`] method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of a [`Platform`] call.
pub type PlatformResult<T> = Result<T, PlatformError>;

/// Why the platform refused or failed a request.
///
/// The API maps each variant to a status: `NotFound` → 404, `Invalid` → 400 (with `message` and
/// `details` shown to the user), `Conflict` → 409, `Unavailable` → 503, `Internal` → 500 (a
/// generic body; the message is logged, never sent).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// No such record.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// `action`, `execution`, `rule`, `pack`, `trigger instance`, `trigger` ...
        kind: String,
        /// The ref or id asked for.
        id: String,
    },
    /// The request is wrong: invalid parameters or payload, a rule or pack with errors.
    #[error("{message}")]
    Invalid {
        /// What a user needs to fix, lowercase, names in backticks.
        message: String,
        /// Positions of the problems (rule and pack validation), possibly empty.
        details: Vec<Diagnostic>,
    },
    /// The request conflicts with the current state (cancelling a finished execution, creating a
    /// rule whose ref belongs to a pack on disk, ...).
    #[error("{message}")]
    Conflict {
        /// What conflicts, for the user.
        message: String,
    },
    /// The platform cannot take the request now (shutting down, bus unreachable).
    #[error("{message}")]
    Unavailable {
        /// Why, for the user.
        message: String,
    },
    /// The platform failed. The message is logged and never shown to API callers.
    #[error("{message}")]
    Internal {
        /// What failed, for the log.
        message: String,
    },
}

impl PlatformError {
    /// A [`PlatformError::NotFound`].
    pub fn not_found(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind: kind.into(),
            id: id.into(),
        }
    }

    /// A [`PlatformError::Invalid`] without positions.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A [`PlatformError::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    /// A [`PlatformError::Internal`]; log-only message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal {
            message: message.into(),
        }
    }
}

/// What the API asks of the running platform. Plain reads (executions, output, events,
/// enforcements, traces, rules, key-value) go to the store directly; everything that validates,
/// creates work or touches the engine's in-memory state comes here.
///
/// Methods take owned or borrowed arguments and return boxed futures so the trait stays
/// object-safe. Implementations validate everything they are given: the API passes user input
/// through unchanged (apart from parsing JSON and choosing the caller's user name).
pub trait Platform: Send + Sync + 'static {
    /// Records and publishes an event of `request.trigger` (a trigger ref, or a trigger type ref
    /// for parameterless types) after validating the payload against the type's
    /// `payload_schema`. Returns the recorded trigger instance.
    ///
    /// Errors: `NotFound` for an unknown trigger, `Invalid` for a payload that does not match.
    fn emit(&self, request: EmitRequest) -> BoxFuture<'_, PlatformResult<TriggerInstanceRecord>>;

    /// The custom webhook registered under `url` (the path after `/api/v1/webhooks/`): whether an
    /// enabled rule uses `core.st2.webhook` with `parameters.url == url`, and the trigger to emit
    /// on. `None` when no rule does.
    fn webhook<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Option<WebhookTarget>>;

    /// Requests an execution of `request.action`. The platform validates the parameters against
    /// the action's schema (refusing overrides of immutable parameters) and records the execution
    /// before returning it (status `requested` or later).
    ///
    /// Errors: `NotFound` for an unknown action, `Invalid` for bad parameters or a disabled
    /// action.
    fn run(&self, request: RunRequest) -> BoxFuture<'_, PlatformResult<Execution>>;

    /// Requests cancellation of an execution on behalf of `user`; returns the execution as
    /// updated (`canceling` or `canceled`).
    ///
    /// Errors: `NotFound`, `Conflict` when it is already finished.
    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>>;

    /// Pauses a running workflow execution on behalf of `user`; returns it as updated
    /// (`pausing` while tasks still run, then `paused`).
    ///
    /// Errors: `NotFound`, `Conflict` when it is not a running workflow.
    fn pause<'a>(
        &'a self,
        execution_id: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        let _ = user;
        Box::pin(async move {
            Err(PlatformError::Conflict {
                message: format!("execution `{execution_id}` cannot be paused here"),
            })
        })
    }

    /// Resumes a paused workflow execution on behalf of `user`; returns it as updated.
    ///
    /// Errors: `NotFound`, `Conflict` when it is not a paused workflow.
    fn resume<'a>(
        &'a self,
        execution_id: &'a str,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        let _ = user;
        Box::pin(async move {
            Err(PlatformError::Conflict {
                message: format!("execution `{execution_id}` cannot be resumed here"),
            })
        })
    }

    /// A key was written through the API (datastore triggers follow).
    fn key_set<'a>(&'a self, outcome: &'a nerve_store::KvSetOutcome) -> BoxFuture<'a, ()> {
        let _ = outcome;
        Box::pin(async {})
    }

    /// A key was deleted through the API.
    fn key_deleted<'a>(&'a self, pair: &'a nerve_store::KvPair) -> BoxFuture<'a, ()> {
        let _ = pair;
        Box::pin(async {})
    }

    /// The inquiries waiting for a response, newest first.
    fn inquiries(&self) -> BoxFuture<'_, PlatformResult<Vec<Execution>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// One inquiry (an `inquirer` execution), whatever its status.
    ///
    /// Errors: `NotFound`.
    fn inquiry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move { Err(PlatformError::not_found("inquiry", id)) })
    }

    /// Answers a pending inquiry on behalf of `user`; returns it as updated.
    ///
    /// Errors: `NotFound`, `Invalid` (the response against the schema), `Conflict` (not
    /// pending, or `user` may not answer).
    fn respond_inquiry<'a>(
        &'a self,
        id: &'a str,
        response: Value,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        let _ = (response, user);
        Box::pin(async move { Err(PlatformError::not_found("inquiry", id)) })
    }

    /// Runs an execution again with its parameters overridden by `parameters`, on behalf of
    /// `user`; returns the new execution (whose `context.rerun_of` names the old one).
    ///
    /// Errors: `NotFound`, `Invalid` for bad parameters.
    fn rerun<'a>(
        &'a self,
        execution_id: &'a str,
        parameters: Map<String, Value>,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>>;

    /// Emits a recorded event again (a new trigger instance with the same trigger and payload).
    ///
    /// Errors: `NotFound`.
    fn re_emit<'a>(
        &'a self,
        trigger_instance_id: &'a str,
    ) -> BoxFuture<'a, PlatformResult<TriggerInstanceRecord>>;

    /// Every action with its merged parameters.
    fn actions(&self) -> BoxFuture<'_, PlatformResult<Vec<ActionView>>>;

    /// One action with its merged parameters; `Ok(None)` when there is none with this ref.
    fn action<'a>(
        &'a self,
        action_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Option<ActionView>>>;

    /// Installed packs, in ref order.
    fn packs(&self) -> BoxFuture<'_, PlatformResult<Vec<PackRecord>>>;

    /// Loads (or reloads) the pack in directory `dir` and registers all its content. A pack with
    /// any error registers nothing. `source` is what to record as its origin (a git URL, an
    /// archive); the directory itself when `None`.
    ///
    /// Errors: `Invalid` with one [`Diagnostic`] per problem (file, line, column, field).
    fn register_pack(
        &self,
        dir: PathBuf,
        source: Option<String>,
    ) -> BoxFuture<'_, PlatformResult<PackRegistration>>;

    /// A pack's config (schema defaults overlaid with the values set), secrets masked.
    ///
    /// Errors: `NotFound` for an unknown pack (the default: no configs).
    fn pack_config<'a>(
        &'a self,
        pack_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<serde_json::Map<String, serde_json::Value>>> {
        Box::pin(async move { Err(PlatformError::not_found("pack", pack_ref)) })
    }

    /// Sets fields of a pack's config (validated against its `config.schema.yaml`, secrets
    /// encrypted at rest); the pack's sensors restart with it. Returns the config, masked.
    ///
    /// Errors: `NotFound`, `Invalid` naming each problem.
    fn set_pack_config<'a>(
        &'a self,
        pack_ref: &'a str,
        values: serde_json::Map<String, serde_json::Value>,
    ) -> BoxFuture<'a, PlatformResult<serde_json::Map<String, serde_json::Value>>> {
        let _ = values;
        Box::pin(async move { Err(PlatformError::not_found("pack", pack_ref)) })
    }

    /// An installed pack's files and its last failed reload, if any (nothing by default).
    fn pack_details<'a>(&'a self, pack_ref: &'a str) -> BoxFuture<'a, PackDetails> {
        let _ = pack_ref;
        Box::pin(async { PackDetails::default() })
    }

    /// Unregisters a pack and all its content; returns the removed pack.
    ///
    /// Errors: `NotFound`, `Conflict` for a pack that cannot be removed (built in).
    fn remove_pack<'a>(&'a self, pack_ref: &'a str) -> BoxFuture<'a, PlatformResult<PackRecord>>;

    /// Validates and stores a rule (creating it, or replacing the rule with the same ref);
    /// returns it with its effective enabled state.
    ///
    /// Errors: `Invalid` with positions (`line`/`col` into the YAML text, or the JSON field path).
    fn create_rule(&self, source: RuleSource) -> BoxFuture<'_, PlatformResult<RuleRecord>>;

    /// Validates a rule exactly as [`Platform::create_rule`] would (against the packs in force)
    /// without storing anything. A rule with problems is a successful answer listing them.
    ///
    /// Errors: `Unavailable` where the platform cannot validate rules (the default).
    fn validate_rule(&self, source: RuleSource) -> BoxFuture<'_, PlatformResult<RuleValidation>> {
        let _ = source;
        Box::pin(async { Err(no_rule_tester()) })
    }

    /// Evaluates a rule (which need not be stored) against `event` with the rule tester: each
    /// criterion explained, and when it matches, the action's rendered parameters checked
    /// against the action's schema. Key-value lookups see the datastore, secrets masked.
    ///
    /// Errors: `Unavailable` where the platform cannot test rules (the default).
    fn test_rule(
        &self,
        source: RuleSource,
        event: TestEvent,
    ) -> BoxFuture<'_, PlatformResult<RuleTestReport>> {
        let _ = (source, event);
        Box::pin(async { Err(no_rule_tester()) })
    }

    /// Removes a rule; returns it.
    ///
    /// Errors: `NotFound`.
    fn delete_rule<'a>(&'a self, rule_ref: &'a str) -> BoxFuture<'a, PlatformResult<RuleRecord>>;

    /// Enables or disables a rule (with a reason when disabling); returns the rule with its new
    /// effective state.
    ///
    /// Errors: `NotFound`.
    fn set_rule_enabled<'a>(
        &'a self,
        rule_ref: &'a str,
        enabled: bool,
        reason: Option<String>,
    ) -> BoxFuture<'a, PlatformResult<RuleRecord>>;

    /// Every trigger type, built-in ones included.
    fn trigger_types(&self) -> BoxFuture<'_, PlatformResult<Vec<TriggerType>>>;

    /// Every sensor type with its status, in ref order. A sensor type the host does not run has
    /// the state `idle` (with the reason) or `disabled`.
    fn sensors(&self) -> BoxFuture<'_, PlatformResult<Vec<SensorView>>>;

    /// One sensor type with its status; `Ok(None)` when there is none with this ref.
    fn sensor<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Option<SensorView>>>;

    /// Asks the sensor host to restart a sensor now (also ending a backoff wait); returns the
    /// sensor as it is right after asking (the restart itself happens in the background).
    ///
    /// Errors: `NotFound` for an unknown sensor, `Conflict` (saying why) for one that does not
    /// run.
    fn restart_sensor<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<SensorView>>;

    /// The kept tail of a sensor's log, oldest first (empty for a sensor that does not run).
    ///
    /// Errors: `NotFound` for an unknown sensor.
    fn sensor_logs<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Vec<SensorLogLine>>>;

    /// Extra Prometheus samples the platform keeps (queue depths, sensor restarts, ...), added to
    /// what `/metrics` computes from the store. Must be cheap: it is called on every scrape.
    fn metrics(&self) -> Vec<MetricSample> {
        Vec::new()
    }

    /// Records a node's heartbeat and says what it must do now. Platforms without remote
    /// nodes answer `Unavailable`.
    fn node_heartbeat(
        &self,
        heartbeat: NodeHeartbeat,
    ) -> BoxFuture<'_, PlatformResult<HeartbeatReply>> {
        let _ = heartbeat;
        Box::pin(async { Err(no_nodes()) })
    }

    /// The nodes the server heard from.
    fn nodes(&self) -> BoxFuture<'_, PlatformResult<Vec<NodeInfo>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// A remote worker's claim of an execution.
    fn claim_execution<'a>(
        &'a self,
        execution_id: &'a str,
        claim: ClaimRequest,
    ) -> BoxFuture<'a, PlatformResult<ClaimReply>> {
        let _ = (execution_id, claim);
        Box::pin(async { Err(no_nodes()) })
    }

    /// A sensor's key-value request from a sensor node.
    fn node_kv(&self, request: NodeKvRequest) -> BoxFuture<'_, PlatformResult<NodeKvReply>> {
        let _ = request;
        Box::pin(async { Err(no_nodes()) })
    }

    /// The bus's queues with their counts.
    fn queues(&self) -> BoxFuture<'_, PlatformResult<Vec<QueueDto>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The dead letters of a queue.
    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Vec<DeadLetterDto>>> {
        Box::pin(async move { Err(PlatformError::not_found("queue", queue)) })
    }

    /// Moves dead letters (all, or those with these ids) back to their queue.
    fn replay_dead_letters<'a>(
        &'a self,
        queue: &'a str,
        ids: Option<Vec<String>>,
    ) -> BoxFuture<'a, PlatformResult<usize>> {
        let _ = ids;
        Box::pin(async move { Err(PlatformError::not_found("queue", queue)) })
    }
}

fn no_rule_tester() -> PlatformError {
    PlatformError::Unavailable {
        message: "this server cannot validate or test rules".to_owned(),
    }
}

fn no_nodes() -> PlatformError {
    PlatformError::Unavailable {
        message: "this server does not take remote nodes".to_owned(),
    }
}
