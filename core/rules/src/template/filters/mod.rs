//! StackStorm's custom Jinja filters (`st2common/util/jinja.py::get_filters`), with the
//! outputs of `st2common/expressions/functions/*.py`, plus a Python-style `string` filter.
//!
//! Filters raise the errors their Python counterparts raise (as template errors); they do
//! not coerce where Python would fail.

use minijinja::value::{Value as MjValue, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::convert::{py_str, text_of};

mod data;

pub use data::decrypt_kv;
mod path;
mod regex;
mod time;
mod version;
mod yaml;

/// Registers every filter on `env`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("decrypt_kv", data::decrypt_kv);
    env.add_filter("from_json_string", data::from_json_string);
    env.add_filter("from_yaml_string", data::from_yaml_string);
    env.add_filter("json_escape", data::json_escape);
    env.add_filter("jsonpath_query", data::jsonpath_query);
    env.add_filter("to_complex", data::to_complex);
    env.add_filter("to_json_string", data::to_json_string);
    env.add_filter("to_yaml_string", data::to_yaml_string);
    env.add_filter("use_none", data::use_none);

    env.add_filter("regex_match", regex::regex_match);
    env.add_filter("regex_replace", regex::regex_replace);
    env.add_filter("regex_search", regex::regex_search);
    env.add_filter("regex_substring", regex::regex_substring);

    env.add_filter(
        "to_human_time_from_seconds",
        time::to_human_time_from_seconds,
    );

    env.add_filter("version_compare", version::version_compare);
    env.add_filter("version_more_than", version::version_more_than);
    env.add_filter("version_less_than", version::version_less_than);
    env.add_filter("version_equal", version::version_equal);
    env.add_filter("version_match", version::version_match);
    env.add_filter("version_bump_major", version::version_bump_major);
    env.add_filter("version_bump_minor", version::version_bump_minor);
    env.add_filter("version_bump_patch", version::version_bump_patch);
    env.add_filter("version_strip_patch", version::version_strip_patch);

    env.add_filter("basename", path::basename);
    env.add_filter("dirname", path::dirname);

    env.add_filter("string", python_string);
    env.add_filter("int", jinja_int);
    env.add_filter("float", jinja_float);
}

/// Jinja2's `string` filter is Python's `str()`.
fn python_string(value: &MjValue) -> String {
    py_str(value)
}

/// Jinja2's `int(value, default=0, base=10)`: `int(value)`, else `int(float(value))`, else
/// `default`. Datastore references convert like the strings they stand for.
fn jinja_int(
    value: &MjValue,
    default: Option<MjValue>,
    base: Option<MjValue>,
    kwargs: minijinja::value::Kwargs,
) -> Result<MjValue, Error> {
    let default = arg(default, &kwargs, "default")?.unwrap_or_else(|| MjValue::from(0));
    let base = match arg(base, &kwargs, "base")? {
        Some(b) => u32::try_from(b).unwrap_or(10),
        None => 10,
    };
    kwargs.assert_all_used()?;
    if let Some(text) = text_of(value) {
        return Ok(parse_int(&text, base)
            .map(MjValue::from)
            .or_else(|| py_float(value).and_then(truncate).map(MjValue::from))
            .unwrap_or(default));
    }
    if value.kind() == ValueKind::Bool {
        return Ok(MjValue::from(i64::from(value.is_true())));
    }
    if value.is_integer() {
        return Ok(value.clone());
    }
    Ok(py_float(value)
        .and_then(truncate)
        .map_or(default, MjValue::from))
}

/// Jinja2's `float(value, default=0.0)`.
fn jinja_float(
    value: &MjValue,
    default: Option<MjValue>,
    kwargs: minijinja::value::Kwargs,
) -> Result<MjValue, Error> {
    let default = arg(default, &kwargs, "default")?.unwrap_or_else(|| MjValue::from(0.0));
    kwargs.assert_all_used()?;
    Ok(py_float(value).map_or(default, MjValue::from))
}

/// Python's `float(value)` for template values.
fn py_float(value: &MjValue) -> Option<f64> {
    if let Some(text) = text_of(value) {
        return crate::py::parse_float(&text);
    }
    match value.kind() {
        ValueKind::Bool => Some(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value.clone()).ok(),
        _ => None,
    }
}

fn truncate(f: f64) -> Option<i128> {
    // Truncation toward zero is what Python's `int(float)` does.
    #[allow(clippy::cast_possible_truncation)]
    let truncated = f.trunc() as i128;
    (f.is_finite() && f.abs() < 1.0e38).then_some(truncated)
}

/// Python's `int(text, base)`: surrounding whitespace, a sign, `_` between digits, and a
/// `0x`/`0o`/`0b` prefix matching the base.
fn parse_int(text: &str, base: u32) -> Option<i128> {
    if !(2..=36).contains(&base) {
        return None;
    }
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let lower = digits.to_ascii_lowercase();
    let digits = match base {
        16 => lower.strip_prefix("0x").unwrap_or(&lower),
        8 => lower.strip_prefix("0o").unwrap_or(&lower),
        2 => lower.strip_prefix("0b").unwrap_or(&lower),
        _ => &lower,
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let n = i128::from_str_radix(&digits.replace('_', ""), base).ok()?;
    Some(if negative { -n } else { n })
}

/// A template error with Python's exception text.
pub(crate) fn py_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The string a filter that calls `str.…` methods needs, or Python's error for other types.
pub(crate) fn require_text(value: &MjValue, what: &str) -> Result<String, Error> {
    text_of(value).ok_or_else(|| {
        py_error(format!(
            "TypeError: {what} expects a string, got {}",
            value.kind()
        ))
    })
}

/// Python's `str(value)` for filters that do `if not isinstance(value, str): value = str(value)`.
pub(crate) fn stringify(value: &MjValue) -> String {
    py_str(value)
}

/// Binds Python-style optional arguments given positionally or by keyword.
pub(crate) fn arg(
    positional: Option<MjValue>,
    kwargs: &minijinja::value::Kwargs,
    name: &str,
) -> Result<Option<MjValue>, Error> {
    let keyword: Option<MjValue> = kwargs.get(name)?;
    match (positional, keyword) {
        (Some(_), Some(_)) => Err(py_error(format!(
            "TypeError: got multiple values for argument '{name}'"
        ))),
        (Some(value), None) | (None, Some(value)) => Ok((!value.is_none()).then_some(value)),
        (None, None) => Ok(None),
    }
}
