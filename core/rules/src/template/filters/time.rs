//! `to_human_time_from_seconds` (`expressions/functions/time.py`), quirks included: values
//! below one second print as `<value>μs`, floats are rounded half to even, and the day count
//! is the day of the month of `datetime(1, 1, 1) + timedelta(seconds)` (months are dropped).

use chrono::{Datelike, NaiveDate};
use minijinja::Error;
use minijinja::value::{Value as MjValue, ValueKind};

use super::py_error;
use crate::template::convert::py_str;

/// `to_human_time_from_seconds(seconds)`: `3h25m45s` style.
pub(super) fn to_human_time_from_seconds(seconds: &MjValue) -> Result<String, Error> {
    if !matches!(seconds.kind(), ValueKind::Number | ValueKind::Bool) {
        return Err(py_error(format!(
            "AssertionError: to_human_time_from_seconds expects an int or float, got {}",
            py_str(seconds)
        )));
    }
    let as_float = f64::try_from(seconds.clone()).unwrap_or(0.0);
    if as_float == 0.0 {
        return Ok("0s".to_owned());
    }
    if as_float < 1.0 {
        return Ok(format!("{}\u{3bc}s", py_str(seconds)));
    }
    let whole: i64 = if seconds.is_integer() || seconds.kind() == ValueKind::Bool {
        i64::try_from(seconds.clone()).map_err(|_| overflow())?
    } else {
        let rounded = as_float.round_ties_even();
        if rounded > 9.0e15 {
            return Err(overflow());
        }
        // Checked above: integral and well inside i64.
        #[allow(clippy::cast_possible_truncation)]
        let r = rounded as i64;
        r
    };
    let days = whole / 86_400;
    let rest = whole % 86_400;
    let start = NaiveDate::from_ymd_opt(1, 1, 1).ok_or_else(overflow)?;
    let date = start
        .checked_add_days(chrono::Days::new(
            u64::try_from(days).map_err(|_| overflow())?,
        ))
        .filter(|d| d.year() <= 9999)
        .ok_or_else(overflow)?;
    let parts = [
        i64::from(date.year() - 1),
        i64::from(date.day() - 1),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
    ];
    let Some(first) = parts.iter().position(|p| *p != 0) else {
        return Ok("0s".to_owned());
    };
    let units = ["y", "d", "h", "m", "s"];
    Ok(parts[first..]
        .iter()
        .zip(&units[first..])
        .map(|(value, unit)| format!("{value}{unit}"))
        .collect())
}

fn overflow() -> Error {
    py_error("OverflowError: date value out of range")
}
