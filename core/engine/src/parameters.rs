//! Execution parameters: the caller's values checked against the action (immutable, types,
//! schema), cast as StackStorm casts them, and completed with defaults.

use nerve_model::{Execution, ParamMap};
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
    let mut details = Vec::new();
    let mut values = Map::new();
    for (name, value) in given {
        if let Some(spec) = action.parameters.get(&name)
            && spec.is_immutable()
            && spec.default.as_ref() != Some(&value)
        {
            details.push(format!("parameter `{name}` is immutable"));
            continue;
        }
        let value = nerve_model::cast_parameter(&action.parameters, &name, value);
        values.insert(name, value);
    }
    apply_defaults(&action.parameters, &mut values, &mut details);
    if let Err(violations) = action.schema.validate(&Value::Object(values.clone())) {
        details.extend(violations.iter().map(|v| {
            if v.path.is_empty() {
                v.message.clone()
            } else {
                format!(
                    "`{}`: {}",
                    v.path.trim_start_matches('/').replace('/', "."),
                    v.message
                )
            }
        }));
    }
    if details.is_empty() {
        Ok(values)
    } else {
        Err(EngineError::Invalid {
            message: format!("invalid parameters for action `{action_ref}`"),
            details,
        })
    }
}

/// Defaults for parameters not given; string defaults may be Jinja templates over the other
/// parameters (StackStorm's `cmd: echo "{{message}}"`).
fn apply_defaults(
    parameters: &ParamMap,
    values: &mut Map<String, Value>,
    details: &mut Vec<String>,
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
            Err(error) => details.push(format!("default of `{name}` does not render: {error}")),
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
