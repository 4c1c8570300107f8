//! StackStorm's criteria operators (`st2common/operators.py`): names, aliases and the
//! one-line Python semantics of each, including how it treats a `None` pattern.
//!
//! An operator is applied to an already looked-up payload value and an already rendered
//! pattern; looking values up, rendering Jinja and `search` (which recurses into criteria)
//! belong to `criteria`. Static regexes, globs and timediff thresholds are compiled once by
//! [`Compiled::for_pattern`].

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::py::{self, PyError};

mod date;
mod glob;
mod regex;

#[cfg(test)]
mod tests;

pub(crate) use date::parse_datetime;
pub(crate) use regex::{RegexFlags, compile_python_regex};

/// A criteria operator. Names and aliases are matched case-insensitively, as StackStorm
/// lower-cases the `type` before looking it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operator {
    /// `equals`, `eq`: `value == pattern`.
    Equals,
    /// `nequals`, `neq`: `value != pattern` (no `None` check on the pattern).
    NEquals,
    /// `iequals`, `ieq`: `value.lower() == pattern.lower()`.
    IEquals,
    /// `contains`: `pattern in value`.
    Contains,
    /// `icontains`: `pattern.lower() in value.lower()`.
    IContains,
    /// `ncontains`: `pattern not in value`.
    NContains,
    /// `incontains`: `pattern.lower() not in value.lower()`.
    INContains,
    /// `startswith`: `value.startswith(pattern)`.
    StartsWith,
    /// `istartswith`: `value.lower().startswith(pattern.lower())`.
    IStartsWith,
    /// `endswith`: `value.endswith(pattern)`.
    EndsWith,
    /// `iendswith`: `value.lower().endswith(pattern.lower())`.
    IEndsWith,
    /// `lessthan`, `lt`: `value < pattern`.
    LessThan,
    /// `greaterthan`, `gt`: `value > pattern`.
    GreaterThan,
    /// `matchwildcard`: `fnmatch.fnmatch(value, pattern)`.
    MatchWildcard,
    /// `matchregex` (deprecated): `re.compile(pattern, re.DOTALL).match(value)`.
    MatchRegex,
    /// `regex`: `re.compile(pattern).search(value)`.
    Regex,
    /// `iregex`: `re.compile(pattern, re.IGNORECASE).search(value)`.
    IRegex,
    /// `timediff_lt`, `td_lt`: `(now - parse(value)).total_seconds() < float(pattern)`.
    TimeDiffLt,
    /// `timediff_gt`, `td_gt`: `(now - parse(value)).total_seconds() > float(pattern)`.
    TimeDiffGt,
    /// `exists`: `value is not None` (a JSON `null` does not exist).
    Exists,
    /// `nexists`: `value is None`.
    NExists,
    /// `inside`, `in`: `value in pattern`.
    Inside,
    /// `ninside`, `nin`: `value not in pattern`.
    NInside,
    /// `search`: child criteria over the items of a list.
    Search,
}

/// Every operator name StackStorm accepts, aliases included, in `operators.py` order.
pub const OPERATOR_NAMES: &[(&str, Operator)] = &[
    ("matchwildcard", Operator::MatchWildcard),
    ("matchregex", Operator::MatchRegex),
    ("regex", Operator::Regex),
    ("iregex", Operator::IRegex),
    ("eq", Operator::Equals),
    ("equals", Operator::Equals),
    ("neq", Operator::NEquals),
    ("nequals", Operator::NEquals),
    ("ieq", Operator::IEquals),
    ("iequals", Operator::IEquals),
    ("contains", Operator::Contains),
    ("icontains", Operator::IContains),
    ("ncontains", Operator::NContains),
    ("incontains", Operator::INContains),
    ("startswith", Operator::StartsWith),
    ("istartswith", Operator::IStartsWith),
    ("endswith", Operator::EndsWith),
    ("iendswith", Operator::IEndsWith),
    ("lt", Operator::LessThan),
    ("lessthan", Operator::LessThan),
    ("gt", Operator::GreaterThan),
    ("greaterthan", Operator::GreaterThan),
    ("td_lt", Operator::TimeDiffLt),
    ("timediff_lt", Operator::TimeDiffLt),
    ("td_gt", Operator::TimeDiffGt),
    ("timediff_gt", Operator::TimeDiffGt),
    ("exists", Operator::Exists),
    ("nexists", Operator::NExists),
    ("inside", Operator::Inside),
    ("in", Operator::Inside),
    ("ninside", Operator::NInside),
    ("nin", Operator::NInside),
    ("search", Operator::Search),
];

impl Operator {
    /// Looks an operator up by name or alias, case-insensitively.
    pub fn from_name(name: &str) -> Option<Operator> {
        let lower = name.to_lowercase();
        OPERATOR_NAMES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(_, op)| *op)
    }

    /// The operator's canonical (long) name.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Equals => "equals",
            Operator::NEquals => "nequals",
            Operator::IEquals => "iequals",
            Operator::Contains => "contains",
            Operator::IContains => "icontains",
            Operator::NContains => "ncontains",
            Operator::INContains => "incontains",
            Operator::StartsWith => "startswith",
            Operator::IStartsWith => "istartswith",
            Operator::EndsWith => "endswith",
            Operator::IEndsWith => "iendswith",
            Operator::LessThan => "lessthan",
            Operator::GreaterThan => "greaterthan",
            Operator::MatchWildcard => "matchwildcard",
            Operator::MatchRegex => "matchregex",
            Operator::Regex => "regex",
            Operator::IRegex => "iregex",
            Operator::TimeDiffLt => "timediff_lt",
            Operator::TimeDiffGt => "timediff_gt",
            Operator::Exists => "exists",
            Operator::NExists => "nexists",
            Operator::Inside => "inside",
            Operator::NInside => "ninside",
            Operator::Search => "search",
        }
    }

    /// The closest known name to a misspelled one, for "did you mean" hints.
    pub fn suggest(name: &str) -> Option<&'static str> {
        let lower = name.to_lowercase();
        OPERATOR_NAMES
            .iter()
            .map(|(n, _)| (*n, strsim::damerau_levenshtein(&lower, n)))
            .filter(|(n, distance)| *distance <= 2.max(n.len() / 4))
            .min_by_key(|(_, distance)| *distance)
            .map(|(n, _)| n)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an operator raised instead of answering.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OpError {
    /// A Python `TypeError`/`AttributeError`/`ValueError`.
    Py(PyError),
    /// `re.error`: the pattern does not compile.
    Regex(String),
    /// The value is not a date `dateutil` would parse.
    Date(String),
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Py(e) => e.fmt(f),
            OpError::Regex(e) => write!(f, "re.error: {e}"),
            OpError::Date(e) => write!(f, "ParserError: {e}"),
        }
    }
}

impl From<PyError> for OpError {
    fn from(e: PyError) -> Self {
        OpError::Py(e)
    }
}

/// What can be prepared once for a pattern that is not a template.
#[derive(Debug, Clone, Default)]
pub(crate) enum Compiled {
    /// Nothing to prepare (or the pattern is dynamic).
    #[default]
    Nothing,
    /// A regex for `regex`, `iregex`, `matchregex` or `matchwildcard`.
    Regex(Arc<fancy_regex::Regex>),
    /// `float(pattern)` for the timediff operators.
    Seconds(f64),
}

impl Compiled {
    /// Prepares `pattern` for `op`. An error is what the operator would raise on every event.
    pub(crate) fn for_pattern(op: Operator, pattern: &Value) -> Result<Compiled, OpError> {
        match (op, pattern) {
            (Operator::Regex | Operator::IRegex | Operator::MatchRegex, Value::String(p)) => {
                Ok(Compiled::Regex(Arc::new(regex_for(op, p)?)))
            }
            (Operator::MatchWildcard, Value::String(p)) => Ok(Compiled::Regex(Arc::new(
                glob::translate(p).map_err(OpError::Regex)?,
            ))),
            (Operator::TimeDiffLt | Operator::TimeDiffGt, Value::Null) => Ok(Compiled::Nothing),
            (Operator::TimeDiffLt | Operator::TimeDiffGt, p) => {
                Ok(Compiled::Seconds(py::to_float(p)?))
            }
            _ => Ok(Compiled::Nothing),
        }
    }
}

fn regex_for(op: Operator, pattern: &str) -> Result<fancy_regex::Regex, OpError> {
    let flags = RegexFlags {
        ignore_case: op == Operator::IRegex,
        dot_all: op == Operator::MatchRegex,
        anchored: op == Operator::MatchRegex,
    };
    compile_python_regex(pattern, flags).map_err(OpError::Regex)
}

fn require_str(value: &Value, what: impl FnOnce(&'static str) -> PyError) -> Result<&str, PyError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(what(py::type_name(other))),
    }
}

static NONE: Value = Value::Null;

/// Applies `op` to a payload `value` and a rendered `pattern`; `None` stands for Python's
/// `None` (a missing key or a JSON `null`). `search` is not handled here.
pub(crate) fn apply(
    op: Operator,
    value: Option<&Value>,
    pattern: Option<&Value>,
    compiled: &Compiled,
    now: DateTime<Utc>,
) -> Result<bool, OpError> {
    let value_or_none = value.unwrap_or(&NONE);
    match op {
        Operator::NEquals => {
            return Ok(!py::eq(value_or_none, pattern.unwrap_or(&NONE)));
        }
        Operator::Exists => return Ok(value.is_some()),
        Operator::NExists => return Ok(value.is_none()),
        _ => {}
    }
    let Some(pattern) = pattern else {
        return Ok(false);
    };
    let value = value_or_none;
    match op {
        Operator::Equals => Ok(py::eq(value, pattern)),
        Operator::IEquals => {
            let v = py::lower(value)?;
            Ok(v == py::lower(pattern)?)
        }
        Operator::Contains => Ok(py::contains(value, pattern)?),
        Operator::NContains => Ok(!py::contains(value, pattern)?),
        Operator::IContains | Operator::INContains => {
            let needle = py::lower(pattern)?;
            let haystack = py::lower(value)?;
            let found = haystack.contains(&needle);
            Ok(if op == Operator::IContains { found } else { !found })
        }
        Operator::StartsWith | Operator::EndsWith => {
            let method = if op == Operator::StartsWith { "startswith" } else { "endswith" };
            let v = py::as_str(value, method)?;
            let p = require_str(pattern, |ty| PyError::FirstArg { method, ty })?;
            Ok(if op == Operator::StartsWith { v.starts_with(p) } else { v.ends_with(p) })
        }
        Operator::IStartsWith | Operator::IEndsWith => {
            let v = py::lower(value)?;
            let p = py::lower(pattern)?;
            Ok(if op == Operator::IStartsWith { v.starts_with(&p) } else { v.ends_with(&p) })
        }
        Operator::LessThan => Ok(py::lt(value, pattern)?),
        Operator::GreaterThan => Ok(py::gt(value, pattern)?),
        Operator::MatchWildcard => {
            let v = require_str(value, fspath_error)?;
            let p = require_str(pattern, fspath_error)?;
            match compiled {
                Compiled::Regex(re) => run_regex(re, v),
                _ => run_regex(&glob::translate(p).map_err(OpError::Regex)?, v),
            }
        }
        Operator::Regex | Operator::IRegex | Operator::MatchRegex => {
            let p = require_str(pattern, |ty| {
                PyError::Other(format!("TypeError: first argument must be string or compiled pattern, not {ty}"))
            })?;
            let v = require_str(value, |ty| {
                PyError::Other(format!("TypeError: expected string or bytes-like object, got '{ty}'"))
            })?;
            match compiled {
                Compiled::Regex(re) => run_regex(re, v),
                _ => run_regex(&regex_for(op, p)?, v),
            }
        }
        Operator::TimeDiffLt | Operator::TimeDiffGt => {
            let text = py::to_str(value);
            let then = parse_datetime(&text).map_err(OpError::Date)?;
            let threshold = match compiled {
                Compiled::Seconds(s) => *s,
                _ => py::to_float(pattern)?,
            };
            let micros = (truncate_to_micros(now) - then)
                .num_microseconds()
                .ok_or_else(|| OpError::Py(PyError::Other("OverflowError: date value out of range".to_owned())))?;
            // `timedelta.total_seconds()`; i64 microseconds fit an f64 closely enough.
            #[allow(clippy::cast_precision_loss)]
            let elapsed = micros as f64 / 1_000_000.0;
            Ok(if op == Operator::TimeDiffLt { elapsed < threshold } else { elapsed > threshold })
        }
        Operator::Inside => Ok(py::contains(pattern, value)?),
        Operator::NInside => Ok(!py::contains(pattern, value)?),
        Operator::Search => Err(OpError::Py(PyError::Other(
            "TypeError: search() missing 2 required positional arguments: 'criteria_condition' and 'check_function'"
                .to_owned(),
        ))),
        Operator::NEquals | Operator::Exists | Operator::NExists => Ok(false),
    }
}

fn fspath_error(ty: &'static str) -> PyError {
    PyError::Other(format!(
        "TypeError: expected str, bytes or os.PathLike object, not {ty}"
    ))
}

fn run_regex(re: &fancy_regex::Regex, text: &str) -> Result<bool, OpError> {
    re.is_match(text).map_err(|e| OpError::Regex(e.to_string()))
}

fn truncate_to_micros(now: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = now.timestamp_subsec_nanos();
    now - chrono::Duration::nanoseconds(i64::from(nanos % 1000))
}
