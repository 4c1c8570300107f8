//! Conversions between template values and JSON, and Python's `str()` of template values
//! (what Jinja2 prints: `True`, `None`, `['a', 1]`).

use std::fmt::Write as _;

use minijinja::value::{Value as MjValue, ValueKind};
use minijinja::{Error, ErrorKind, Output, State};
use serde_json::{Map, Number, Value};

use super::kv::KvNode;
use crate::py;

/// A JSON value as a template value.
pub(crate) fn from_json(value: &Value) -> MjValue {
    MjValue::from(minijinja::value::Serde(value))
}

enum Num {
    Int(i128),
    Float(f64),
}

fn number(value: &MjValue) -> Option<Num> {
    if value.kind() != ValueKind::Number {
        return None;
    }
    if value.is_integer() {
        i128::try_from(value.clone()).ok().map(Num::Int)
    } else {
        f64::try_from(value.clone()).ok().map(Num::Float)
    }
}

/// The text of a string-like template value: a string, or a datastore reference.
pub(crate) fn text_of(value: &MjValue) -> Option<String> {
    if let Some(s) = value.as_str() {
        return Some(s.to_owned());
    }
    value.downcast_object_ref::<KvNode>().map(KvNode::text)
}

/// Python's `str(value)`.
pub(crate) fn py_str(value: &MjValue) -> String {
    if let Some(text) = text_of(value) {
        return text;
    }
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &MjValue) {
    match value.kind() {
        ValueKind::Undefined => {}
        ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => match number(value) {
            Some(Num::Int(i)) => {
                let _ = write!(out, "{i}");
            }
            Some(Num::Float(f)) => out.push_str(&py::float_repr(f)),
            None => {
                let _ = write!(out, "{value}");
            }
        },
        ValueKind::String => out.push_str(&py::str_repr(value.as_str().unwrap_or_default())),
        ValueKind::Seq | ValueKind::Iterable => {
            let tuple = value.is_tuple();
            out.push(if tuple { '(' } else { '[' });
            let mut count = 0;
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item);
                    count += 1;
                }
            }
            if tuple && count == 1 {
                out.push(',');
            }
            out.push(if tuple { ')' } else { ']' });
        }
        ValueKind::Map => {
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key);
                    out.push_str(": ");
                    if let Ok(item) = value.get_item(&key) {
                        write_repr(out, &item);
                    }
                }
            }
            out.push('}');
        }
        _ => match value.downcast_object_ref::<KvNode>() {
            Some(node) => out.push_str(&py::str_repr(&node.text())),
            None => {
                let _ = write!(out, "{value}");
            }
        },
    }
}

fn not_serializable(type_name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("TypeError: Object of type {type_name} is not JSON serializable"),
    )
}

/// A template value as JSON, following `json.dumps`'s rules for what is serializable.
pub(crate) fn to_json(value: &MjValue) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Undefined => Err(not_serializable("StrictUndefined")),
        ValueKind::None => Ok(Value::Null),
        ValueKind::Bool => Ok(Value::Bool(value.is_true())),
        ValueKind::Number => match number(value) {
            Some(Num::Int(i)) => Ok(i64::try_from(i)
                .map(Value::from)
                .or_else(|_| u64::try_from(i).map(Value::from))
                .unwrap_or_else(|_| {
                    #[allow(clippy::cast_precision_loss)]
                    let f = i as f64;
                    Number::from_f64(f).map_or(Value::Null, Value::Number)
                })),
            Some(Num::Float(f)) => Number::from_f64(f).map(Value::Number).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "ValueError: Out of range float values are not JSON compliant",
                )
            }),
            None => Err(not_serializable("number")),
        },
        ValueKind::String => Ok(Value::String(value.as_str().unwrap_or_default().to_owned())),
        ValueKind::Seq | ValueKind::Iterable => {
            value.try_iter()?.map(|item| to_json(&item)).collect()
        }
        ValueKind::Map => {
            let mut map = Map::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                map.insert(json_key(&key)?, to_json(&item)?);
            }
            Ok(Value::Object(map))
        }
        ValueKind::Bytes => Err(not_serializable("bytes")),
        _ => match value.downcast_object_ref::<KvNode>() {
            Some(node) => Ok(Value::String(node.text())),
            None => Err(not_serializable(&value.to_string())),
        },
    }
}

/// `json.dumps`'s conversion of dict keys.
fn json_key(key: &MjValue) -> Result<String, Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_owned()),
        ValueKind::Number => Ok(py_str(key)),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_owned()),
        ValueKind::None => Ok("null".to_owned()),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "TypeError: keys must be str, int, float, bool or None, not {}",
                key.kind()
            ),
        )),
    }
}

/// The environment's formatter: `{{ value }}` prints Python's `str(value)`.
pub(crate) fn format_value(
    out: &mut Output<'_>,
    _state: &mut State<'_, '_>,
    value: &MjValue,
) -> Result<(), Error> {
    if value.is_undefined() {
        return Ok(());
    }
    out.write_str(&py_str(value)).map_err(|_| {
        Error::new(
            ErrorKind::WriteFailure,
            "could not write the rendered value",
        )
    })
}
