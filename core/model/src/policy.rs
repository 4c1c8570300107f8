//! Policies: `policies/*.yaml` in a pack, and the policy types Nerve enforces.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A policy applied to one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Name, unique in the pack.
    pub name: String,
    /// Owning pack; set by the loader.
    #[serde(default = "default_pack")]
    pub pack: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Disabled policies are not enforced.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The action ref the policy applies to.
    pub resource_ref: String,
    /// Policy type name (`action.concurrency`, ...).
    pub policy_type: String,
    /// Type-specific parameters (see [`PolicyType::parameters_schema`]).
    #[serde(default)]
    pub parameters: Map<String, Value>,
}

fn default_pack() -> String {
    "default".to_owned()
}

fn yes() -> bool {
    true
}

impl Policy {
    /// `pack.name`.
    pub fn policy_ref(&self) -> String {
        format!("{}.{}", self.pack, self.name)
    }
}

/// The policy types Nerve enforces (StackStorm's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// At most `threshold` executions of the action at once; the rest are delayed or canceled.
    Concurrency,
    /// Like [`PolicyType::Concurrency`], counted per distinct value of the given parameters.
    ConcurrencyAttr,
    /// Re-run a failed or timed-out execution up to `max_retry_count` times.
    Retry,
}

impl PolicyType {
    /// Every policy type, in documentation order.
    pub const ALL: [PolicyType; 3] = [Self::Concurrency, Self::ConcurrencyAttr, Self::Retry];

    /// The StackStorm name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Concurrency => "action.concurrency",
            Self::ConcurrencyAttr => "action.concurrency.attr",
            Self::Retry => "action.retry",
        }
    }

    /// Looks a type up by its StackStorm name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// JSON Schema of the policy's `parameters` (StackStorm's policy type metadata).
    pub fn parameters_schema(self) -> Value {
        let action = json!({"type": "string", "enum": ["delay", "cancel"], "default": "delay"});
        let threshold = json!({"type": "integer", "minimum": 0});
        match self {
            Self::Concurrency => json!({
                "type": "object",
                "properties": {"threshold": threshold, "action": action},
                "required": ["threshold"],
                "additionalProperties": false
            }),
            Self::ConcurrencyAttr => json!({
                "type": "object",
                "properties": {
                    "threshold": threshold,
                    "action": action,
                    "attributes": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["threshold", "attributes"],
                "additionalProperties": false
            }),
            Self::Retry => json!({
                "type": "object",
                "properties": {
                    "retry_on": {"type": "string", "enum": ["failure", "timeout"]},
                    "max_retry_count": {"type": "integer", "minimum": 0, "maximum": 5, "default": 2},
                    "delay": {"type": "number", "minimum": 0, "maximum": 120, "default": 0}
                },
                "required": ["retry_on"],
                "additionalProperties": false
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schema;

    #[test]
    fn names_round_trip_and_schemas_compile() {
        for policy_type in PolicyType::ALL {
            assert_eq!(PolicyType::from_name(policy_type.name()), Some(policy_type));
            Schema::compile(policy_type.parameters_schema()).unwrap();
        }
        assert_eq!(PolicyType::from_name("action.timeout"), None);
    }

    #[test]
    fn retry_parameters_are_checked() {
        let schema = Schema::compile(PolicyType::Retry.parameters_schema()).unwrap();
        assert!(schema.is_valid(&json!({"retry_on": "timeout", "max_retry_count": 2, "delay": 2})));
        assert!(!schema.is_valid(&json!({"retry_on": "sometimes"})));
        assert!(!schema.is_valid(&json!({"retry_on": "failure", "max_retry_count": 9})));
    }
}
