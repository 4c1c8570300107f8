//! Actions as the API shows them.

use nerve_model::{ParamMap, RunnerType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::platform::ActionView;

/// An action (StackStorm's `ActionAPI` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionDto {
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
    /// Disabled actions cannot be run.
    pub enabled: bool,
    /// Runner name.
    pub runner_type: String,
    /// Script or workflow file, relative to the pack's `actions/`.
    #[serde(default)]
    pub entry_point: String,
    /// The action's own parameters (see `/actions/views/parameters/{ref}` for the merged ones).
    #[schema(value_type = Object)]
    pub parameters: ParamMap,
    /// JSON Schema of the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Notification settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Value>,
}

impl From<&ActionView> for ActionDto {
    fn from(view: &ActionView) -> Self {
        let action = &view.action;
        Self {
            reference: action.action_ref(),
            name: action.name.clone(),
            pack: action.pack.clone(),
            description: action.description.clone(),
            enabled: action.enabled,
            runner_type: action.runner_type.clone(),
            entry_point: action.entry_point.clone(),
            parameters: action.parameters.clone(),
            output_schema: action.output_schema.clone(),
            notify: action.notify.clone(),
            tags: action.tags.clone(),
        }
    }
}

/// `GET /api/v1/actions/views/parameters/{ref}`: what a run form needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionParametersDto {
    /// Runner parameters merged with the action's.
    #[schema(value_type = Object)]
    pub parameters: ParamMap,
    /// The same as one JSON Schema.
    pub parameters_schema: Value,
    /// The runner.
    #[schema(value_type = Object)]
    pub runner: RunnerType,
}

impl From<ActionView> for ActionParametersDto {
    fn from(view: ActionView) -> Self {
        Self {
            parameters: view.parameters,
            parameters_schema: view.parameters_schema,
            runner: view.runner,
        }
    }
}
