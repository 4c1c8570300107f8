//! StackStorm's script argument rules (`local-shell-script`): which parameters become arguments,
//! in which order, and how each value is written.
//!
//! Parameters with a `position` are positional, sorted by position; every other action parameter
//! is named and comes first as `<kwarg_op><name>=<value>`. Runner parameters (`cmd`, `timeout`,
//! `env`, …) are never arguments. Each argument is one argv element: values never pass through a
//! shell, so no quoting is needed and none is done.

mod python_str;

use std::collections::BTreeMap;

use nerve_model::{ParamMap, ParamSpec};
use serde_json::{Map, Value};

pub(crate) use python_str::python_str;

/// Parameter names that are runner parameters for every shell or Python runner, whether or not
/// the runner type lists them.
pub(crate) const RUNNER_PARAMETER_NAMES: &[&str] = &[
    "cmd",
    "cwd",
    "env",
    "kwarg_op",
    "sudo",
    "sudo_password",
    "timeout",
    "content_version",
    "debug",
    "log_level",
];

/// The argv (after the program) for a script action.
///
/// `action_params` is the action's own parameter map (declaration order matters for named
/// arguments), `runner_params` the runner's, `values` the final parameter values.
pub(crate) fn script_args(
    action_params: &ParamMap,
    runner_params: &ParamMap,
    values: &Map<String, Value>,
    kwarg_op: &str,
) -> Vec<String> {
    let is_runner_param =
        |name: &str| runner_params.contains_key(name) || RUNNER_PARAMETER_NAMES.contains(&name);

    // Later declarations win a shared position, as in StackStorm's `{position: name}` dict.
    let mut positional: BTreeMap<u32, &str> = BTreeMap::new();
    for (name, spec) in action_params {
        if let Some(position) = spec.position
            && !is_runner_param(name)
        {
            positional.insert(position, name);
        }
    }
    let is_positional = |name: &str| positional.values().any(|taken| *taken == name);

    let declared = action_params.keys().map(String::as_str);
    let undeclared = values
        .keys()
        .map(String::as_str)
        .filter(|name| !action_params.contains_key(*name));
    let mut args = Vec::new();
    for name in declared.chain(undeclared) {
        if is_runner_param(name) || is_positional(name) {
            continue;
        }
        match values.get(name) {
            None | Some(Value::Null | Value::Bool(false)) => {}
            Some(Value::String(text)) if text.is_empty() => {}
            Some(Value::Bool(true)) => args.push(format!("{kwarg_op}{name}")),
            Some(value) => args.push(format!("{kwarg_op}{name}={}", python_str(value))),
        }
    }
    for name in positional.values() {
        let spec = action_params.get(*name);
        args.push(positional_arg(spec, values.get(*name)));
    }
    args
}

/// StackStorm's `serialize_positional_argument`, by the parameter's declared type (or the
/// value's own type when none is declared).
fn positional_arg(spec: Option<&ParamSpec>, value: Option<&Value>) -> String {
    let value = value.unwrap_or(&Value::Null);
    let kind = spec
        .and_then(declared_type)
        .unwrap_or_else(|| json_type(value));
    match (kind, value) {
        (_, Value::Null) | ("null", _) => String::new(),
        ("boolean", value) => if python_truthy(value) { "1" } else { "0" }.to_owned(),
        ("array" | "list", Value::Array(items)) => {
            items.iter().map(python_str).collect::<Vec<_>>().join(",")
        }
        ("object", Value::Object(map)) if map.is_empty() => String::new(),
        ("object", value) => value.to_string(),
        (_, value) => python_str(value),
    }
}

/// The declared JSON Schema type; for a list of types, the first that is not `null`.
fn declared_type(spec: &ParamSpec) -> Option<&str> {
    match spec.param_type.as_ref()? {
        Value::String(name) => Some(name),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .find(|name| *name != "null"),
        _ => None,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn python_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

#[cfg(test)]
mod tests;
