//! Integration tests of `nerve-timers` through its public API: one binary, one module per
//! concern.

mod catch_up;
mod cron;
mod date;
mod dst;
mod interval;
mod payload;
mod table;

use chrono::{DateTime, SecondsFormat, Utc};
use nerve_timers::{CRON_TIMER, Schedule};
use serde_json::Value;

/// An RFC 3339 instant.
pub(crate) fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("bad test instant `{text}`: {error}"))
        .with_timezone(&Utc)
}

/// A schedule that must parse.
pub(crate) fn schedule(trigger_type: &str, parameters: Value) -> Schedule {
    Schedule::parse(trigger_type, &parameters)
        .unwrap_or_else(|error| panic!("`{parameters}` should parse: {error}"))
}

/// A cron schedule that must parse.
pub(crate) fn cron(parameters: Value) -> Schedule {
    schedule(CRON_TIMER, parameters)
}

/// The parse error message for parameters that must not parse.
pub(crate) fn parse_error(trigger_type: &str, parameters: Value) -> String {
    match Schedule::parse(trigger_type, &parameters) {
        Ok(schedule) => panic!("`{parameters}` should not parse, got {schedule}"),
        Err(error) => error.to_string(),
    }
}

/// The next `n` fires strictly after `after`, in the schedule's time zone (RFC 3339 with
/// the local offset, so the side of a daylight-saving transition shows).
pub(crate) fn next_fires(schedule: &Schedule, after: &str, n: usize) -> Vec<String> {
    let mut at = utc(after);
    let mut fires = Vec::new();
    while fires.len() < n {
        let Some(next) = schedule.next_fire(at) else {
            break;
        };
        assert!(
            next > at,
            "{schedule}: next_fire({at}) = {next} is not after it"
        );
        fires.push(local(schedule, next));
        at = next;
    }
    fires
}

/// `at` in the schedule's zone, RFC 3339.
pub(crate) fn local(schedule: &Schedule, at: DateTime<Utc>) -> String {
    at.with_timezone(&schedule.timezone())
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}
