//! A JSON Schema compiled once and shared: parameter, payload, config and output schemas.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON Schema together with its compiled validator. Cloning shares the compiled form.
#[derive(Clone)]
pub struct Schema {
    value: Arc<Value>,
    validator: Arc<jsonschema::Validator>,
}

/// Why a schema did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON Schema{}: {message}", if location.is_empty() { String::new() } else { format!(" at `{location}`") })]
pub struct SchemaError {
    /// JSON pointer into the schema where the problem is (empty for the root).
    pub location: String,
    /// What is wrong.
    pub message: String,
}

/// One way an instance fails a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaViolation {
    /// JSON pointer into the instance (`/cmd`, `/items/0`); empty for the whole instance.
    pub path: String,
    /// What is wrong, in the validator's words.
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl Schema {
    /// Compiles a schema (draft detected from `$schema`, draft 4 semantics by default as
    /// StackStorm uses). Remote `$ref`s are never fetched.
    ///
    /// # Errors
    /// The schema is not a valid JSON Schema.
    pub fn compile(value: Value) -> Result<Self, SchemaError> {
        let options = if value.get("$schema").is_some() {
            jsonschema::options()
        } else {
            jsonschema::options().with_draft(jsonschema::Draft::Draft4)
        };
        let validator = options.build(&value).map_err(|error| SchemaError {
            location: error.schema_path().to_string(),
            message: error.to_string(),
        })?;
        Ok(Self {
            value: Arc::new(value),
            validator: Arc::new(validator),
        })
    }

    /// The schema document.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Whether `instance` satisfies the schema.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// Checks `instance`, returning every violation.
    ///
    /// # Errors
    /// All violations, in the validator's order.
    pub fn validate(&self, instance: &Value) -> Result<(), Vec<SchemaViolation>> {
        let violations: Vec<SchemaViolation> = self
            .validator
            .iter_errors(instance)
            .map(|error| SchemaViolation {
                path: error.instance_path().to_string(),
                message: error.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Schema").field(&self.value).finish()
    }
}

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Serialize for Schema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Schema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Schema::compile(value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_and_reports_every_violation() {
        let schema = Schema::compile(json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["a"],
            "additionalProperties": false
        }))
        .unwrap();
        assert!(schema.is_valid(&json!({"a": 1})));
        let violations = schema.validate(&json!({"b": 2, "c": 3})).unwrap_err();
        assert_eq!(violations.len(), 3, "{violations:?}");
        assert!(violations.iter().any(|v| v.path == "/b"));
    }

    #[test]
    fn rejects_invalid_schema() {
        let error = Schema::compile(json!({"type": "strnig"})).unwrap_err();
        assert!(error.to_string().contains("invalid JSON Schema"), "{error}");
    }
}
