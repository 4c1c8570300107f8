//! Execution parameters: the caller's values checked against the action (immutable, types,
//! schema), cast as StackStorm casts them, and completed with defaults.

use nerve_model::{Execution, ParamMap};
use nerve_packs::LoadedAction;
use serde_json::{Map, Value};

use crate::{Content, EngineError};

/// Checks and completes parameters for `action_ref`.
///
/// # Errors
/// [`EngineError::Invalid`] naming the action and each bad parameter.
pub(crate) fn prepare(
    content: &Content,
    action_ref: &str,
    given: Map<String, Value>,
) -> Result<Map<String, Value>, EngineError> {
    let Some((_, action)) = content.action(action_ref) else {
        let known = content.action_refs();
        let hint = nerve_packs::did_you_mean(action_ref, known.iter().map(String::as_str))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(EngineError::invalid(format!(
            "unknown action `{action_ref}`{hint}"
        )));
    };
    if !action.action.enabled {
        return Err(EngineError::invalid(format!(
            "action `{action_ref}` is disabled"
        )));
    }
    check_action_parameters(action, given).map_err(|problems| EngineError::Invalid {
        message: format!("invalid parameters for action `{action_ref}`"),
        details: problems.iter().map(ToString::to_string).collect(),
    })
}

/// A parameter an action would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterProblem {
    /// The caller gave a value other than the default for an immutable parameter.
    Immutable {
        /// Parameter name.
        parameter: String,
    },
    /// A templated default does not render.
    Default {
        /// Parameter name.
        parameter: String,
        /// Why.
        message: String,
    },
    /// The values fail the action's parameter schema.
    Schema {
        /// Dotted path of the offending value (`None` for the whole object).
        path: Option<String>,
        /// The validator's message.
        message: String,
    },
}

impl std::fmt::Display for ParameterProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Immutable { parameter } => write!(f, "parameter `{parameter}` is immutable"),
            Self::Default { parameter, message } => {
                write!(f, "default of `{parameter}` does not render: {message}")
            }
            Self::Schema {
                path: Some(path),
                message,
            } => write!(f, "`{path}`: {message}"),
            Self::Schema {
                path: None,
                message,
            } => f.write_str(message),
        }
    }
}

/// The parameters an execution of `action` would run with: the caller's values (immutable ones
/// refused), cast to their declared types, completed with defaults (templated defaults rendered
/// over the other parameters), and checked against the action's schema. The engine uses it for
/// every execution; `nerve rule test` uses it offline for its warnings.
///
/// # Errors
/// Every problem found.
pub fn check_action_parameters(
    action: &LoadedAction,
    given: Map<String, Value>,
) -> Result<Map<String, Value>, Vec<ParameterProblem>> {
    let mut problems = Vec::new();
    let mut values = Map::new();
    for (name, value) in given {
        if let Some(spec) = action.parameters.get(&name)
            && spec.is_immutable()
            && spec.default.as_ref() != Some(&value)
        {
            problems.push(ParameterProblem::Immutable { parameter: name });
            continue;
        }
        let value = nerve_model::cast_parameter(&action.parameters, &name, value);
        values.insert(name, value);
    }
    apply_defaults(&action.parameters, &mut values, &mut problems);
    if let Err(violations) = action.schema.validate(&Value::Object(values.clone())) {
        problems.extend(violations.into_iter().map(|v| ParameterProblem::Schema {
            path: (!v.path.is_empty()).then(|| v.path.trim_start_matches('/').replace('/', ".")),
            message: v.message,
        }));
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// Defaults for parameters not given; string defaults may be Jinja templates over the other
/// parameters (StackStorm's `cmd: echo "{{message}}"`).
fn apply_defaults(
    parameters: &ParamMap,
    values: &mut Map<String, Value>,
    problems: &mut Vec<ParameterProblem>,
) {
    let mut templated = Vec::new();
    for (name, spec) in parameters {
        if values.contains_key(name) {
            continue;
        }
        match &spec.default {
            Some(Value::String(text)) if text.contains("{{") || text.contains("{%") => {
                templated.push((name.clone(), text.clone()))
            }
            Some(Value::Null) | None => {}
            Some(default) => {
                values.insert(name.clone(), default.clone());
            }
        }
    }
    for (name, template) in templated {
        match nerve_rules::render_with_variables(&template, values) {
            Ok(rendered) => {
                let value = nerve_model::cast_parameter(parameters, &name, Value::String(rendered));
                values.insert(name, value);
            }
            Err(error) => problems.push(ParameterProblem::Default {
                parameter: name,
                message: error.to_string(),
            }),
        }
    }
}

/// The parameters a re-run passes again: the stored ones minus immutable ones (which come back
/// from their defaults).
pub(crate) fn caller_parameters(content: &Content, execution: &Execution) -> Map<String, Value> {
    let immutable: Vec<&String> = content
        .action(&execution.action)
        .map(|(_, action)| {
            action
                .parameters
                .iter()
                .filter(|(_, s)| s.is_immutable())
                .map(|(n, _)| n)
                .collect()
        })
        .unwrap_or_default();
    execution
        .parameters
        .iter()
        .filter(|(name, _)| !immutable.contains(name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
