//! Rules as the API shows them, with their effective enabled state.

use indexmap::IndexMap;
use nerve_model::{ActionInvocation, Criterion, Rule, RuleKind, RuleTrigger};
use nerve_store::RuleRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A rule (StackStorm's `RuleAPI` shape) with the operator's enable/disable decision applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleDto {
    /// `pack.name`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Name in the pack.
    pub name: String,
    /// Pack.
    pub pack: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Effective state: the operator's decision if any, else the YAML's `enabled`.
    pub enabled: bool,
    /// Why it is disabled, when an operator said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// `{"ref": "standard" | "backstop"}`.
    #[serde(rename = "type", default)]
    #[schema(value_type = Object)]
    pub kind: RuleKind,
    /// Trigger type and parameters.
    #[schema(value_type = Object)]
    pub trigger: RuleTrigger,
    /// Criteria by payload path.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub criteria: IndexMap<String, Criterion>,
    /// The action and its parameters.
    #[schema(value_type = Object)]
    pub action: ActionInvocation,
    /// Extra context.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub context: Map<String, Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Value>,
}

impl From<RuleRecord> for RuleDto {
    fn from(record: RuleRecord) -> Self {
        let rule = record.rule;
        Self {
            reference: rule.rule_ref(),
            name: rule.name,
            pack: rule.pack,
            description: rule.description,
            enabled: record.enabled,
            disabled_reason: record.disabled_reason,
            kind: rule.kind,
            trigger: rule.trigger,
            criteria: rule.criteria,
            action: rule.action,
            context: rule.context,
            tags: rule.tags,
        }
    }
}

impl RuleDto {
    /// The model rule (with `enabled` as shown).
    pub fn to_rule(&self) -> Rule {
        Rule {
            name: self.name.clone(),
            pack: self.pack.clone(),
            description: self.description.clone(),
            enabled: self.enabled,
            kind: self.kind,
            trigger: self.trigger.clone(),
            criteria: self.criteria.clone(),
            action: self.action.clone(),
            context: self.context.clone(),
            tags: self.tags.clone(),
            metadata_file: None,
        }
    }
}
