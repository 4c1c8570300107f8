//! Rules: `rules/*.yaml` in a pack (StackStorm's `rule.json` format).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A rule: when an event of `trigger` matches every criterion, run `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Rule name, unique inside its pack.
    pub name: String,
    /// Owning pack; StackStorm defaults to `default`, the loader sets it from the pack directory.
    #[serde(default = "default_pack")]
    pub pack: String,
    /// Free text shown in listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// StackStorm's schema default is `false`: a rule without `enabled: true` is loaded disabled.
    #[serde(default)]
    pub enabled: bool,
    /// `standard` (default) or `backstop` (fires only when no standard rule matched).
    #[serde(
        rename = "type",
        default,
        skip_serializing_if = "RuleKind::is_standard"
    )]
    pub kind: RuleKind,
    /// The trigger (type and parameters) the rule listens to.
    pub trigger: RuleTrigger,
    /// Criteria keyed by a jsonpath into the payload (`trigger.x.y`, `#tag` suffixes allowed),
    /// ANDed in file order.
    #[serde(default)]
    pub criteria: IndexMap<String, Criterion>,
    /// The action to run, with Jinja-templated parameters.
    pub action: ActionInvocation,
    /// Extra context (StackStorm uses it for `user`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
    /// Free-form metadata kept from the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_file: Option<String>,
}

fn default_pack() -> String {
    "default".to_owned()
}

impl Rule {
    /// The rule's reference, `pack.name`.
    pub fn rule_ref(&self) -> String {
        format!("{}.{}", self.pack, self.name)
    }

    /// The key under which the rule is indexed: the trigger type ref for a parameterless trigger,
    /// otherwise the type ref followed by the canonical JSON of its parameters. Two rules on the
    /// same parameterized trigger share a key, as they share one StackStorm `TriggerDB`.
    pub fn trigger_key(&self) -> String {
        self.trigger.key()
    }
}

/// `type: {ref: standard|backstop}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RuleKindRepr", into = "RuleKindRepr")]
pub enum RuleKind {
    /// Evaluated for every event of its trigger.
    #[default]
    Standard,
    /// Evaluated only when no standard rule matched the event.
    Backstop,
}

impl RuleKind {
    fn is_standard(&self) -> bool {
        *self == RuleKind::Standard
    }
}

#[derive(Serialize, Deserialize)]
struct RuleKindRepr {
    #[serde(rename = "ref", default = "standard")]
    kind_ref: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    parameters: Map<String, Value>,
}

fn standard() -> String {
    "standard".to_owned()
}

impl From<RuleKindRepr> for RuleKind {
    fn from(repr: RuleKindRepr) -> Self {
        if repr.kind_ref == "backstop" {
            RuleKind::Backstop
        } else {
            RuleKind::Standard
        }
    }
}

impl From<RuleKind> for RuleKindRepr {
    fn from(kind: RuleKind) -> Self {
        let kind_ref = match kind {
            RuleKind::Standard => "standard",
            RuleKind::Backstop => "backstop",
        };
        RuleKindRepr {
            kind_ref: kind_ref.to_owned(),
            parameters: Map::new(),
        }
    }
}

/// The trigger a rule listens to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleTrigger {
    /// Trigger type ref, e.g. `core.st2.webhook`.
    #[serde(rename = "type")]
    pub trigger_type: String,
    /// Trigger parameters (validated against the type's `parameters_schema`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub parameters: Map<String, Value>,
    /// The trigger ref StackStorm assigned (present in API round-trips; ignored when loading).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub trigger_ref: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl RuleTrigger {
    /// See [`Rule::trigger_key`].
    pub fn key(&self) -> String {
        trigger_key(&self.trigger_type, &self.parameters)
    }
}

/// The key events of a trigger are recorded and rules indexed under: the type ref for a
/// parameterless trigger, else the type ref, `?` and the canonical JSON of the parameters.
pub fn trigger_key(trigger_type: &str, parameters: &serde_json::Map<String, Value>) -> String {
    if parameters.is_empty() {
        trigger_type.to_owned()
    } else {
        format!(
            "{trigger_type}?{}",
            canonical_json(&Value::Object(parameters.clone()))
        )
    }
}

/// JSON with object keys sorted at every level, so equal parameter dicts give equal strings.
fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// One criterion: `{type, pattern, condition?}`. Kept as written; `nerve-rules` compiles it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Criterion {
    /// Operator name or alias (`equals`, `eq`, `search`, ...). A criterion without one never matches.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The pattern; strings may be Jinja templates. `null` and absent are the same (Python `None`).
    #[serde(default)]
    pub pattern: Value,
    /// For `search`: `any`, `all`, `all2any` or `any2any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// The action a rule runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionInvocation {
    /// Action ref, `pack.name`.
    #[serde(rename = "ref")]
    pub action_ref: String,
    /// Parameters; string values (at any depth) are Jinja templates.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deserializes_stackstorm_rule() {
        let rule: Rule = serde_json::from_value(json!({
            "name": "r", "pack": "p",
            "trigger": {"type": "core.st2.webhook", "parameters": {"url": "x"}},
            "criteria": {"trigger.body.a": {"type": "equals", "pattern": 1}},
            "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.a }}"}}
        }))
        .unwrap();
        assert!(!rule.enabled, "StackStorm rules default to disabled");
        assert_eq!(rule.kind, RuleKind::Standard);
        assert_eq!(rule.rule_ref(), "p.r");
        assert_eq!(rule.trigger_key(), r#"core.st2.webhook?{"url":"x"}"#);
    }

    #[test]
    fn trigger_key_is_canonical() {
        let a = RuleTrigger {
            trigger_type: "t.x".into(),
            parameters: serde_json::from_value(json!({"b": 1, "a": {"d": 1, "c": 2}})).unwrap(),
            trigger_ref: None,
            description: None,
        };
        let b = RuleTrigger {
            parameters: serde_json::from_value(json!({"a": {"c": 2, "d": 1}, "b": 1})).unwrap(),
            ..a.clone()
        };
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn backstop_kind() {
        let kind: RuleKind = serde_json::from_value(json!({"ref": "backstop"})).unwrap();
        assert_eq!(kind, RuleKind::Backstop);
    }
}
