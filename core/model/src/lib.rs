//! Nerve's domain vocabulary: packs, actions and their parameters, runners, sensors, trigger types,
//! triggers, trigger instances, rules, policies and runtimes.
//!
//! Every type here is plain data with serde derives; nothing does IO and nothing is async.
//! Field names follow StackStorm's file formats so that a StackStorm pack deserializes unchanged.
//! Validation that needs the source text (line and column) lives in `nerve-packs`; validation that
//! needs only the data (parameter overrides, policy parameters) lives here.

mod action;
mod enforcement;
mod execution;
mod node;
mod pack;
mod param;
mod policy;
mod refs;
mod rule;
mod runner;
mod runtime;
mod schema;
mod sensor;
mod trigger;

pub use action::Action;
pub use enforcement::{EnforcementStatus, RuleEnforcement, TriggerInstanceStatus};
pub use execution::{Execution, ExecutionContext, ExecutionStatus, OutputLine, StatusChange};
pub use node::{
    ClaimReply, ClaimRequest, ExecutionReport, HeartbeatReply, NodeHeartbeat, NodeInfo,
    NodeKvReply, NodeKvRequest, NodeRole, NodeRuntime, NodeSensorState, OutputReport, PackDrift,
    SensorAssignment,
};
pub use pack::{PackMeta, is_valid_pack_ref};
pub use param::{
    MASKED_VALUE, ParamError, ParamMap, ParamSpec, RUNNER_OVERRIDABLE_ATTRIBUTES, cast_parameter,
    mask_secrets, merge_runner_parameters, parameters_schema,
};
pub use policy::{Policy, PolicyType};
pub use refs::{RefError, ResourceRef};
pub use rule::{ActionInvocation, Criterion, Rule, RuleKind, RuleTrigger, trigger_key};
pub use runner::{EntryPointRule, RunnerType, builtin_runners, find_runner, runner_alias};
pub use runtime::{RuntimeDef, VerificationCommand};
pub use schema::{Schema, SchemaError, SchemaViolation};
pub use sensor::{BUILTIN_RUNTIME, BUILTIN_SENSORS, SensorType, TriggerTypeSpec};
pub use trigger::{Trigger, TriggerInstance, TriggerType};
