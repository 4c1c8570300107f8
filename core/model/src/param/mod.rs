//! Action, runner and pack-config parameters: StackStorm's parameter maps and their conversion to
//! standard JSON Schema.
//!
//! A StackStorm parameter spec is a draft-4 property schema plus the keys `required` (a boolean on
//! the property, draft-3 style), `position`, `immutable` and `secret`. [`parameters_schema`] turns a
//! whole map into one object schema a standard validator understands; [`merge_runner_parameters`]
//! applies an action's overrides of its runner's parameters with StackStorm's rules.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The value shown instead of a secret, everywhere (StackStorm's `MASKED_ATTRIBUTE_VALUE`).
pub const MASKED_VALUE: &str = "********";

/// Attributes of a runner parameter an action may change (StackStorm's
/// `RUNNER_PARAM_OVERRIDABLE_ATTRS`); any other attribute may only be repeated unchanged.
pub const RUNNER_OVERRIDABLE_ATTRIBUTES: &[&str] =
    &["default", "description", "enum", "immutable", "required"];

/// Parameters by name, in file order.
pub type ParamMap = IndexMap<String, ParamSpec>;

/// One parameter: a JSON Schema property plus StackStorm's extra keys.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ParamSpec {
    /// JSON Schema `type`: a name or a list of names. Absent means any type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub param_type: Option<Value>,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default value; strings may be Jinja templates (`{{ other_param }}`, `{{ st2kv.system.k }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The caller must supply a value (or a default must exist). `None` when not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Allowed values.
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Value>>,
    /// Position among positional arguments of script runners (0-based order, gaps allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// The caller cannot override the default. `None` when not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    /// Masked in every output. `None` when not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<bool>,
    /// Every other JSON Schema keyword (`items`, `properties`, `minimum`, `pattern`, `format`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ParamSpec {
    /// Whether a value must be supplied.
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(false)
    }

    /// Whether callers are prevented from overriding the default.
    pub fn is_immutable(&self) -> bool {
        self.immutable.unwrap_or(false)
    }

    /// Whether the value is masked in every output.
    pub fn is_secret(&self) -> bool {
        self.secret.unwrap_or(false)
    }

    /// The spec as written, as a JSON object (for attribute-by-attribute comparison).
    fn attributes(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// Why an action's parameters can't be combined with its runner's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// The action changes an attribute of a runner parameter that StackStorm does not allow to change.
    #[error(
        "the attribute `{attribute}` of runner parameter `{parameter}` cannot be overridden \
         (only {} can)", RUNNER_OVERRIDABLE_ATTRIBUTES.join(", ")
    )]
    NotOverridable {
        /// Parameter name.
        parameter: String,
        /// Attribute name.
        attribute: String,
    },
}

/// Combines a runner's parameters with an action's: action parameters override runner parameters
/// attribute by attribute (a deep merge, as StackStorm does), action-only parameters are added.
/// Runner parameters keep their position in the map, action-only ones follow in file order.
///
/// # Errors
/// Every attempt to change an attribute outside [`RUNNER_OVERRIDABLE_ATTRIBUTES`]; all are returned.
pub fn merge_runner_parameters(
    runner: &ParamMap,
    action: &ParamMap,
) -> Result<ParamMap, Vec<ParamError>> {
    let mut errors = Vec::new();
    let mut merged = runner.clone();
    for (name, spec) in action {
        let Some(runner_spec) = runner.get(name) else {
            merged.insert(name.clone(), spec.clone());
            continue;
        };
        let mut attributes = runner_spec.attributes();
        for (attribute, value) in spec.attributes() {
            let unchanged = attributes.get(&attribute) == Some(&value);
            if !unchanged && !RUNNER_OVERRIDABLE_ATTRIBUTES.contains(&attribute.as_str()) {
                errors.push(ParamError::NotOverridable {
                    parameter: name.clone(),
                    attribute: attribute.clone(),
                });
            }
            attributes.insert(attribute, value);
        }
        // Both sides were valid specs, so their union deserializes; keep the action's on failure.
        let merged_spec =
            serde_json::from_value(Value::Object(attributes)).unwrap_or_else(|_| spec.clone());
        merged.insert(name.clone(), merged_spec);
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(errors)
    }
}

/// Converts a parameter map to one standard JSON Schema for the object of all parameters:
/// per-property `required: true` becomes the parent's `required` list, StackStorm-only keys are
/// dropped, an empty spec accepts any value, and optional parameters (or those defaulting to
/// `null`) also accept `null`, as StackStorm's validation with `allow_default_none` does.
/// `additionalProperties` is false: an unknown parameter is an error.
pub fn parameters_schema(params: &ParamMap) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, spec) in params {
        if spec.is_required() {
            required.push(Value::String(name.clone()));
        }
        properties.insert(name.clone(), property_schema(spec));
    }
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    schema
}

fn property_schema(spec: &ParamSpec) -> Value {
    let mut out = Map::new();
    if let Some(param_type) = &spec.param_type {
        out.insert("type".into(), param_type.clone());
    }
    if let Some(description) = &spec.description {
        out.insert("description".into(), Value::String(description.clone()));
    }
    if let Some(default) = &spec.default {
        out.insert("default".into(), default.clone());
    }
    if let Some(allowed) = &spec.allowed {
        out.insert("enum".into(), Value::Array(allowed.clone()));
    }
    for (key, value) in &spec.extra {
        out.insert(key.clone(), nested_schema(key, value));
    }
    if let Some(required) = required_children(spec.extra.get("properties")) {
        out.insert("required".into(), required);
    }
    if out.is_empty() {
        return any_type();
    }
    let nullable = !spec.is_required() || matches!(spec.default, Some(Value::Null));
    if nullable {
        allow_null(&mut out);
    }
    Value::Object(out)
}

/// Nested `properties` / `items` in StackStorm specs use the same draft-3 `required` booleans.
fn nested_schema(key: &str, value: &Value) -> Value {
    match (key, value) {
        ("properties", Value::Object(props)) => {
            let mut converted = Map::new();
            for (name, prop) in props {
                converted.insert(name.clone(), nested_property(prop));
            }
            Value::Object(converted)
        }
        ("items", Value::Object(_)) => nested_property(value),
        _ => value.clone(),
    }
}

fn nested_property(prop: &Value) -> Value {
    let Value::Object(map) = prop else {
        return prop.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "required" if value.is_boolean() => {}
            "position" | "immutable" | "secret" => {}
            _ => {
                out.insert(key.clone(), nested_schema(key, value));
            }
        }
    }
    if let Some(required) = required_children(map.get("properties")) {
        out.insert("required".into(), required);
    }
    Value::Object(out)
}

/// The draft-4 `required` list for a `properties` map whose children say `required: true`.
fn required_children(properties: Option<&Value>) -> Option<Value> {
    let Some(Value::Object(props)) = properties else {
        return None;
    };
    let names: Vec<Value> = props
        .iter()
        .filter(|(_, child)| child.get("required") == Some(&Value::Bool(true)))
        .map(|(name, _)| Value::String(name.clone()))
        .collect();
    (!names.is_empty()).then_some(Value::Array(names))
}

fn any_type() -> Value {
    json!({"anyOf": [
        {"type": "array"}, {"type": "boolean"}, {"type": "integer"},
        {"type": "number"}, {"type": "object"}, {"type": "string"}
    ]})
}

fn allow_null(schema: &mut Map<String, Value>) {
    let null = Value::String("null".into());
    match schema.get_mut("type") {
        Some(Value::String(name)) if name != "null" => {
            let name = std::mem::take(name);
            schema.insert("type".into(), json!([name, "null"]));
        }
        Some(Value::Array(names)) if !names.contains(&null) => names.push(null),
        _ => {}
    }
    if let Some(Value::Array(allowed)) = schema.get_mut("enum")
        && !allowed.contains(&Value::Null)
    {
        allowed.push(Value::Null);
    }
}

/// Casts a string value to the parameter's declared type as StackStorm does before validation
/// (`"5"` for an integer parameter becomes `5`, `"true"` for a boolean `true`, `"a,b"` for an
/// array `["a", "b"]`); anything that does not parse stays as it is, for validation to report.
pub fn cast_parameter(parameters: &ParamMap, name: &str, value: Value) -> Value {
    let (Some(spec), Value::String(text)) = (parameters.get(name), &value) else {
        return value;
    };
    let wanted = match &spec.param_type {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ => "string",
    };
    let fits = |v: &Value| match wanted {
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    };
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(parsed) if fits(&parsed) => parsed,
        _ if wanted == "boolean"
            && matches!(
                text.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no" | "1" | "0"
            ) =>
        {
            Value::Bool(matches!(
                text.to_ascii_lowercase().as_str(),
                "true" | "yes" | "1"
            ))
        }
        _ if wanted == "array" && !text.trim().is_empty() => Value::Array(
            text.split(',')
                .map(|part| Value::String(part.trim().to_owned()))
                .collect(),
        ),
        _ => value,
    }
}

/// Replaces the value of every secret parameter present in `values` with [`MASKED_VALUE`].
pub fn mask_secrets(params: &ParamMap, values: &mut Map<String, Value>) {
    for (name, spec) in params {
        if spec.is_secret()
            && let Some(value) = values.get_mut(name)
        {
            *value = Value::String(MASKED_VALUE.to_owned());
        }
    }
}

#[cfg(test)]
mod tests;
