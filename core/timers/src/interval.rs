//! `core.st2.IntervalTimer`: a fire every `delta` × `unit`, as absolute (UTC) durations.
//!
//! Like APScheduler's `IntervalTrigger` (which StackStorm uses), the first fire is one
//! interval after the timer's start, and later fires keep that phase: fire *k* is at
//! `anchor + k × interval`.
//! Nerve persists the anchor (the timer's registration time) so that a restart keeps the
//! phase instead of starting a new one.
//! Daylight-saving transitions do not affect intervals: "every 1 day" is every 86 400 s.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::ScheduleError;
use crate::params::{Params, describe};

/// The unit of an interval timer's `delta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
}

impl Unit {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "weeks" => Self::Weeks,
            "days" => Self::Days,
            "hours" => Self::Hours,
            "minutes" => Self::Minutes,
            "seconds" => Self::Seconds,
            _ => return None,
        })
    }

    fn seconds(self) -> u64 {
        match self {
            Self::Weeks => 7 * 86_400,
            Self::Days => 86_400,
            Self::Hours => 3_600,
            Self::Minutes => 60,
            Self::Seconds => 1,
        }
    }

    /// The singular name, as used in messages.
    fn singular(self) -> &'static str {
        match self {
            Self::Weeks => "week",
            Self::Days => "day",
            Self::Hours => "hour",
            Self::Minutes => "minute",
            Self::Seconds => "second",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Self::Weeks => "weeks",
            Self::Days => "days",
            Self::Hours => "hours",
            Self::Minutes => "minutes",
            Self::Seconds => "seconds",
        }
    }
}

/// A parsed interval: `delta` × `unit`, at least one second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IntervalSpec {
    pub(crate) every: TimeDelta,
    delta: u64,
    unit: Unit,
}

impl IntervalSpec {
    /// Reads `unit` and `delta` (both required).
    pub(crate) fn from_params(params: &Params<'_>) -> Result<Self, ScheduleError> {
        let unit = match params.required("unit")? {
            Value::String(text) => Unit::parse(text)
                .ok_or_else(|| ScheduleError::UnknownUnit { unit: text.clone() })?,
            other => {
                return Err(ScheduleError::WrongType {
                    parameter: "unit",
                    expected: "one of weeks, days, hours, minutes, seconds",
                    found: describe(other),
                });
            }
        };
        let delta_value = params.required("delta")?;
        let delta = integer(delta_value).ok_or_else(|| ScheduleError::WrongType {
            parameter: "delta",
            expected: "an integer",
            found: describe(delta_value),
        })?;
        if delta < 1 {
            return Err(ScheduleError::DeltaTooSmall {
                delta: i64::try_from(delta).unwrap_or(i64::MIN),
                unit: unit.singular(),
            });
        }
        let delta = u64::try_from(delta).unwrap_or(u64::MAX);
        let too_large = ScheduleError::DeltaTooLarge {
            delta,
            unit: unit.plural(),
        };
        let seconds = delta
            .checked_mul(unit.seconds())
            .and_then(|seconds| i64::try_from(seconds).ok())
            .ok_or(too_large.clone())?;
        let every = TimeDelta::try_seconds(seconds).ok_or(too_large)?;
        Ok(Self { every, delta, unit })
    }

    /// The first fire strictly after `after`.
    ///
    /// With an `anchor` the fires are `anchor + k × every` for `k ≥ 1`; without one the
    /// interval starts at `after` itself (the first fire is `after + every`).
    pub(crate) fn next_fire(
        &self,
        anchor: Option<DateTime<Utc>>,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let Some(anchor) = anchor else {
            return after.checked_add_signed(self.every);
        };
        let every = nanos(self.every);
        let elapsed = nanos(after - anchor);
        let k = (elapsed.div_euclid(every) + 1).max(1);
        anchor.checked_add_signed(delta_from_nanos(k.checked_mul(every)?)?)
    }

    /// How many fires lie in `[first_due, now]` (where `first_due` is a fire time), and the
    /// latest of them.
    pub(crate) fn due_times(
        &self,
        first_due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (u64, DateTime<Utc>) {
        if now < first_due {
            return (0, first_due);
        }
        let every = nanos(self.every);
        let steps = nanos(now - first_due) / every;
        let latest = delta_from_nanos(steps * every)
            .and_then(|offset| first_due.checked_add_signed(offset))
            .unwrap_or(first_due);
        (
            u64::try_from(steps).unwrap_or(u64::MAX).saturating_add(1),
            latest,
        )
    }
}

impl fmt::Display for IntervalSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.delta == 1 {
            write!(f, "every {}", self.unit.singular())
        } else {
            write!(f, "every {} {}", self.delta, self.unit.plural())
        }
    }
}

/// An integral JSON number (`5` or `5.0`; JSON Schema's `integer` accepts both).
fn integer(value: &Value) -> Option<i128> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(i) = number.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = number.as_u64() {
        return Some(u.into());
    }
    let f = number.as_f64()?;
    // `as` saturates; values that large are rejected as too long anyway.
    (f.fract() == 0.0).then_some(f as i128)
}

/// A duration in nanoseconds, without the `i64` overflow of `TimeDelta::num_nanoseconds`.
pub(crate) fn nanos(delta: TimeDelta) -> i128 {
    i128::from(delta.num_seconds()) * 1_000_000_000 + i128::from(delta.subsec_nanos())
}

/// The inverse of [`nanos`]; `None` when out of `TimeDelta`'s range.
pub(crate) fn delta_from_nanos(nanos: i128) -> Option<TimeDelta> {
    let seconds = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let rest = i64::try_from(nanos.rem_euclid(1_000_000_000)).ok()?;
    TimeDelta::try_seconds(seconds)?.checked_add(&TimeDelta::nanoseconds(rest))
}
