//! Rule enforcements as the API shows them.

use nerve_model::{EnforcementStatus, RuleEnforcement};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::RefDto;

/// One rule firing for one event (StackStorm's `RuleEnforcementAPI` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnforcementDto {
    /// `<trigger instance id>:<rule ref>`.
    pub id: String,
    /// The event.
    pub trigger_instance_id: String,
    /// The rule.
    pub rule: RefDto,
    /// The execution it requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// When (RFC 3339, UTC).
    pub enforced_at: String,
}

impl From<RuleEnforcement> for EnforcementDto {
    fn from(enforcement: RuleEnforcement) -> Self {
        Self {
            id: enforcement.id,
            trigger_instance_id: enforcement.trigger_instance_id,
            rule: RefDto {
                reference: enforcement.rule,
            },
            execution_id: enforcement.execution_id,
            status: match enforcement.status {
                EnforcementStatus::Succeeded => "succeeded",
                EnforcementStatus::Failed => "failed",
            }
            .to_owned(),
            failure_reason: enforcement.failure_reason,
            enforced_at: enforcement.enforced_at,
        }
    }
}
