//! Reading a timer's JSON `parameters`: object shape, unknown keys, `timezone`.
//!
//! Only the checks every timer type shares live here; each timer type reads its own fields.

use chrono_tz::Tz;
use serde_json::{Map, Value};

use crate::ScheduleError;

/// The `parameters` object of one timer, checked against the names its type allows.
pub(crate) struct Params<'a> {
    pub(crate) trigger_type: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    /// Checks that `parameters` is an object whose keys are all in `allowed`.
    pub(crate) fn new(
        trigger_type: &'static str,
        parameters: &'a Value,
        allowed: &[&str],
    ) -> Result<Self, ScheduleError> {
        let Value::Object(map) = parameters else {
            return Err(ScheduleError::ParametersNotObject {
                found: json_type_name(parameters),
            });
        };
        if let Some(unknown) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(ScheduleError::UnknownParameter {
                trigger_type,
                parameter: unknown.clone(),
            });
        }
        Ok(Self { trigger_type, map })
    }

    /// The value of `name`; an explicit `null` counts as absent (StackStorm passes `None`
    /// through to APScheduler, which treats it as "not given").
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    /// The value of the required parameter `name`.
    pub(crate) fn required(&self, name: &'static str) -> Result<&'a Value, ScheduleError> {
        self.get(name).ok_or(ScheduleError::MissingParameter {
            trigger_type: self.trigger_type,
            parameter: name,
        })
    }

    /// The `timezone` parameter, UTC when absent.
    pub(crate) fn timezone(&self) -> Result<Tz, ScheduleError> {
        match self.get("timezone") {
            None => Ok(Tz::UTC),
            Some(Value::String(name)) => parse_timezone(name),
            Some(other) => Err(ScheduleError::WrongType {
                parameter: "timezone",
                expected: "a time zone name (string)",
                found: describe(other),
            }),
        }
    }
}

/// Resolves an IANA time zone name; exact spelling first, then ignoring ASCII case (pytz,
/// which StackStorm uses, accepts `utc` or `europe/berlin` too).
pub(crate) fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    let trimmed = name.trim();
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(tz);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| tz.name().eq_ignore_ascii_case(trimmed))
        .ok_or_else(|| ScheduleError::UnknownTimezone {
            timezone: name.to_owned(),
        })
}

/// The JSON type of `value`, as a noun phrase.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short description of `value` for error messages: its type and, for scalars, the value.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string `{s}`"),
        Value::Array(_) | Value::Object(_) => json_type_name(value).to_owned(),
    }
}
