//! Rule enforcements (one per rule and trigger instance) and trigger-instance processing status.

use serde::{Deserialize, Serialize};

/// What happened to an event (StackStorm's trigger-instance status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerInstanceStatus {
    /// Recorded, not yet matched against rules.
    Pending,
    /// Being matched.
    Processing,
    /// Matched; enforcements recorded.
    Processed,
    /// Matching failed (see the enforcement reasons).
    ProcessingFailed,
}

/// The outcome of one rule firing for one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleEnforcement {
    /// `<trigger instance id>:<rule ref>`: recorded at most once, which makes rule firing idempotent.
    pub id: String,
    /// The event.
    pub trigger_instance_id: String,
    /// The rule, `pack.name`.
    pub rule: String,
    /// The execution it requested, when it got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Whether it requested an execution.
    pub status: EnforcementStatus,
    /// Why it failed (rendering error, invalid parameters, unknown action), naming the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// When (RFC 3339, UTC).
    pub enforced_at: String,
}

/// Whether a rule enforcement produced an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementStatus {
    /// An execution was requested.
    Succeeded,
    /// It could not be (see `failure_reason`).
    Failed,
}

impl RuleEnforcement {
    /// The idempotency key for (trigger instance, rule).
    pub fn key(trigger_instance_id: &str, rule_ref: &str) -> String {
        format!("{trigger_instance_id}:{rule_ref}")
    }
}
