//! Version filters (`expressions/functions/version.py`, Python `semver` 3): strict SemVer
//! 2.0 parsing, precedence comparison (build metadata ignored), `match` expressions
//! (`>=1.0.0`, `<2.0.0`, `==1.2.3`, `!=…`, or a bare version meaning `==`).

use std::cmp::Ordering;

use minijinja::Error;
use minijinja::value::Value as MjValue;

use super::{py_error, require_text};

fn parse(value: &MjValue) -> Result<semver::Version, Error> {
    let text = require_text(value, "semver parse")?;
    parse_str(&text)
}

fn parse_str(text: &str) -> Result<semver::Version, Error> {
    semver::Version::parse(text)
        .map_err(|_| py_error(format!("ValueError: {text} is not valid SemVer string")))
}

fn compare(value: &MjValue, pattern: &MjValue) -> Result<Ordering, Error> {
    Ok(parse(value)?.cmp_precedence(&parse(pattern)?))
}

fn ordering_int(ordering: Ordering) -> i64 {
    match ordering {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

/// `version_compare(value, pattern)`: -1, 0 or 1.
pub(super) fn version_compare(value: &MjValue, pattern: &MjValue) -> Result<i64, Error> {
    compare(value, pattern).map(ordering_int)
}

/// `version_more_than(value, pattern)`.
pub(super) fn version_more_than(value: &MjValue, pattern: &MjValue) -> Result<bool, Error> {
    Ok(compare(value, pattern)? == Ordering::Greater)
}

/// `version_less_than(value, pattern)`.
pub(super) fn version_less_than(value: &MjValue, pattern: &MjValue) -> Result<bool, Error> {
    Ok(compare(value, pattern)? == Ordering::Less)
}

/// `version_equal(value, pattern)`.
pub(super) fn version_equal(value: &MjValue, pattern: &MjValue) -> Result<bool, Error> {
    Ok(compare(value, pattern)? == Ordering::Equal)
}

/// `version_match(value, expression)`.
pub(super) fn version_match(value: &MjValue, expression: &MjValue) -> Result<bool, Error> {
    let version = parse(value)?;
    let expression = require_text(expression, "version_match")?;
    let (operator, rest) = if let Some(op) = ["<=", ">=", "==", "!="]
        .into_iter()
        .find(|op| expression.starts_with(op))
    {
        (op, &expression[2..])
    } else if expression.starts_with('<') || expression.starts_with('>') {
        (&expression[..1], &expression[1..])
    } else if expression.starts_with(|c: char| c.is_ascii_digit()) {
        ("==", expression.as_str())
    } else {
        return Err(py_error(format!(
            "ValueError: match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', '>=', '!=']. You provided: {expression:?}"
        )));
    };
    let ordering = version.cmp_precedence(&parse_str(rest)?);
    Ok(match operator {
        "<" => ordering == Ordering::Less,
        ">" => ordering == Ordering::Greater,
        "<=" => ordering != Ordering::Greater,
        ">=" => ordering != Ordering::Less,
        "==" => ordering == Ordering::Equal,
        _ => ordering != Ordering::Equal,
    })
}

/// `version_bump_major`.
pub(super) fn version_bump_major(value: &MjValue) -> Result<String, Error> {
    let v = parse(value)?;
    Ok(format!("{}.0.0", v.major + 1))
}

/// `version_bump_minor`.
pub(super) fn version_bump_minor(value: &MjValue) -> Result<String, Error> {
    let v = parse(value)?;
    Ok(format!("{}.{}.0", v.major, v.minor + 1))
}

/// `version_bump_patch`.
pub(super) fn version_bump_patch(value: &MjValue) -> Result<String, Error> {
    let v = parse(value)?;
    Ok(format!("{}.{}.{}", v.major, v.minor, v.patch + 1))
}

/// `version_strip_patch`: `major.minor`.
pub(super) fn version_strip_patch(value: &MjValue) -> Result<String, Error> {
    let v = parse(value)?;
    Ok(format!("{}.{}", v.major, v.minor))
}
