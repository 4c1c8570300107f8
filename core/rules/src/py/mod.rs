//! Python 3 value semantics over JSON values: equality, ordering, membership, truthiness and
//! the errors Python raises when types do not fit.
//!
//! StackStorm's operators are one-line Python expressions (`value == pattern`,
//! `pattern in value`, `value < pattern`), so their edge cases are Python's. They live here
//! once, so operators, filters and explanations agree. This module knows nothing about rules,
//! Jinja or jsonpath.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

mod json;
mod repr;

pub(crate) use json::{DumpOptions, dumps};
pub(crate) use repr::{float_repr, str_repr, to_str};

/// An exception Python would raise evaluating an operator (`TypeError`, `AttributeError`,
/// `ValueError`). Variants carry only static strings so the error path does not allocate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PyError {
    /// `'<' not supported between instances of 'int' and 'str'`.
    Compare {
        op: &'static str,
        left: &'static str,
        right: &'static str,
    },
    /// `argument of type 'NoneType' is not iterable`.
    NotIterable { container: &'static str },
    /// `'in <string>' requires string as left operand, not int`.
    InString { left: &'static str },
    /// `unhashable type: 'list'`.
    Unhashable { ty: &'static str },
    /// `'int' object has no attribute 'lower'`.
    NoAttribute {
        ty: &'static str,
        attribute: &'static str,
    },
    /// `startswith first arg must be str or a tuple of str, not int`.
    FirstArg {
        method: &'static str,
        ty: &'static str,
    },
    /// `float() argument must be a string or a real number, not 'list'`.
    FloatArg { ty: &'static str },
    /// `could not convert string to float: 'abc'`.
    FloatParse(String),
    /// Any other message.
    Other(String),
}

impl fmt::Display for PyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyError::Compare { op, left, right } => write!(
                f,
                "TypeError: '{op}' not supported between instances of '{left}' and '{right}'"
            ),
            PyError::NotIterable { container } => {
                write!(
                    f,
                    "TypeError: argument of type '{container}' is not iterable"
                )
            }
            PyError::InString { left } => write!(
                f,
                "TypeError: 'in <string>' requires string as left operand, not {left}"
            ),
            PyError::Unhashable { ty } => write!(f, "TypeError: unhashable type: '{ty}'"),
            PyError::NoAttribute { ty, attribute } => {
                write!(
                    f,
                    "AttributeError: '{ty}' object has no attribute '{attribute}'"
                )
            }
            PyError::FirstArg { method, ty } => write!(
                f,
                "TypeError: {method} first arg must be str or a tuple of str, not {ty}"
            ),
            PyError::FloatArg { ty } => write!(
                f,
                "TypeError: float() argument must be a string or a real number, not '{ty}'"
            ),
            PyError::FloatParse(text) => write!(
                f,
                "ValueError: could not convert string to float: {}",
                str_repr(text)
            ),
            PyError::Other(message) => f.write_str(message),
        }
    }
}

/// Python's type name for a JSON value (`NoneType`, `bool`, `int`, `float`, `str`, `list`,
/// `dict`).
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's `bool(value)`.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// A Python number: `bool` and `int` are integers, JSON floats are `float`.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

fn num(value: &Value) -> Option<Num> {
    match value {
        Value::Bool(b) => Some(Num::Int(i128::from(*b))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Num::Int(i128::from(i)))
            } else if let Some(u) = n.as_u64() {
                Some(Num::Int(i128::from(u)))
            } else {
                n.as_f64().map(Num::Float)
            }
        }
        _ => None,
    }
}

/// Exact comparison of an integer with a float, as Python does it (no rounding of the int).
fn cmp_int_float(int: i128, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    // 2^127 as f64; every i128 is below it.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if float >= LIMIT {
        return Some(Ordering::Less);
    }
    if float < -LIMIT {
        return Some(Ordering::Greater);
    }
    let floor = float.floor();
    // `floor` is integral and in range, so the cast is exact.
    let floor_int = floor as i128;
    match int.cmp(&floor_int) {
        Ordering::Equal if float > floor => Some(Ordering::Less),
        other => Some(other),
    }
}

fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
    }
}

/// Python's `a == b`: `1 == 1.0`, `True == 1`, `"5" != 5`, structural for lists and dicts.
pub(crate) fn eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| eq(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, l)| y.get(k).is_some_and(|r| eq(l, r)))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => num_cmp(x, y) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

/// Python's rich comparison for `<`/`>`: numbers (bools included) with each other, strings
/// with strings, lists lexicographically; anything else raises `TypeError`. `None` means
/// "unordered" (NaN), which makes both `<` and `>` false.
fn ordering(a: &Value, b: &Value, op: &'static str) -> Result<Option<Ordering>, PyError> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(Some(x.as_str().cmp(y.as_str()))),
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                if !eq(l, r) {
                    return ordering(l, r, op);
                }
            }
            Ok(Some(x.len().cmp(&y.len())))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => Ok(num_cmp(x, y)),
            _ => Err(PyError::Compare {
                op,
                left: type_name(a),
                right: type_name(b),
            }),
        },
    }
}

/// Python's `a < b`.
pub(crate) fn lt(a: &Value, b: &Value) -> Result<bool, PyError> {
    Ok(ordering(a, b, "<")? == Some(Ordering::Less))
}

/// Python's `a > b`.
pub(crate) fn gt(a: &Value, b: &Value) -> Result<bool, PyError> {
    Ok(ordering(a, b, ">")? == Some(Ordering::Greater))
}

/// Python's `item in container`: substring for strings, `==` membership for lists, key
/// membership for dicts.
pub(crate) fn contains(container: &Value, item: &Value) -> Result<bool, PyError> {
    match container {
        Value::String(haystack) => match item {
            Value::String(needle) => Ok(haystack.contains(needle.as_str())),
            other => Err(PyError::InString {
                left: type_name(other),
            }),
        },
        Value::Array(items) => Ok(items.iter().any(|x| eq(x, item))),
        Value::Object(map) => match item {
            Value::String(key) => Ok(map.contains_key(key)),
            Value::Array(_) | Value::Object(_) => Err(PyError::Unhashable {
                ty: type_name(item),
            }),
            // Keys of a JSON object are strings; no number, bool or None equals one.
            _ => Ok(false),
        },
        other => Err(PyError::NotIterable {
            container: type_name(other),
        }),
    }
}

/// The string inside `value`, or the `AttributeError` Python raises calling a `str` method
/// (`attribute`) on anything else.
pub(crate) fn as_str<'v>(value: &'v Value, attribute: &'static str) -> Result<&'v str, PyError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(PyError::NoAttribute {
            ty: type_name(other),
            attribute,
        }),
    }
}

/// Python's `str.lower()` (Unicode lowercasing).
pub(crate) fn lower(value: &Value) -> Result<String, PyError> {
    as_str(value, "lower").map(str::to_lowercase)
}

/// Python's `float(value)`.
pub(crate) fn to_float(value: &Value) -> Result<f64, PyError> {
    match value {
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64().ok_or(PyError::FloatArg { ty: "int" }),
        Value::String(s) => parse_float(s).ok_or_else(|| PyError::FloatParse(s.clone())),
        other => Err(PyError::FloatArg {
            ty: type_name(other),
        }),
    }
}

/// Python's `float(str)`: surrounding whitespace ignored, `_` allowed between digits,
/// `inf`/`nan`/`infinity` in any case.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.contains('_') {
        let chars: Vec<char> = trimmed.chars().collect();
        let valid = chars.iter().enumerate().all(|(i, c)| {
            *c != '_'
                || (i > 0
                    && i + 1 < chars.len()
                    && chars[i - 1].is_ascii_digit()
                    && chars[i + 1].is_ascii_digit())
        });
        if !valid {
            return None;
        }
        return trimmed.replace('_', "").parse().ok();
    }
    trimmed.parse().ok()
}

#[cfg(test)]
mod tests;
