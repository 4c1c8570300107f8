//! Actions: `actions/*.yaml` in a pack (StackStorm's `action.json` format).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ParamMap;

/// An action: a runner plus its entry point and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Name, unique in the pack.
    pub name: String,
    /// Owning pack; set by the loader from the pack.
    #[serde(default = "default_pack")]
    pub pack: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Disabled actions cannot be run.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Runner name (`local-shell-script`, `python-script`, ...); legacy aliases are resolved by the loader.
    pub runner_type: String,
    /// Script or workflow file relative to the pack's `actions/` directory; empty for command runners.
    #[serde(default)]
    pub entry_point: String,
    /// Parameters of the action (may override runner parameters).
    #[serde(default)]
    pub parameters: ParamMap,
    /// JSON Schema of the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Notification settings, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Value>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Value>,
}

fn default_pack() -> String {
    "default".to_owned()
}

fn yes() -> bool {
    true
}

impl Action {
    /// `pack.name`.
    pub fn action_ref(&self) -> String {
        format!("{}.{}", self.pack, self.name)
    }
}
