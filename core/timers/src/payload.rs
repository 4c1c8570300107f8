//! StackStorm's timer trigger payload.
//!
//! StackStorm's timer service dispatches `{"executed_at": str(utc_now), "schedule": None}`
//! for all three timer types (`st2reactor/timer/base.py`), where `str` of an aware UTC
//! `datetime` prints `2014-12-31 23:59:59.123456+00:00` (microseconds left out when zero).
//! Nerve sends the same, plus `"missed": n` on catch-up fires only (the types'
//! `payload_schema` allows additional properties), so rules written for StackStorm see
//! identical payloads for ordinary fires.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::Fire;

/// The trigger payload of `fire`: `executed_at` as Python prints a UTC time, `schedule`
/// `null`, and `missed` when the fire is a catch-up (`missed > 0`).
///
/// `executed_at` is always UTC, as in StackStorm, whatever the timer's `timezone`.
pub fn payload(fire: &Fire) -> Value {
    let mut payload = Map::new();
    payload.insert(
        "executed_at".to_owned(),
        Value::String(python_utc_str(fire.executed_at)),
    );
    payload.insert("schedule".to_owned(), Value::Null);
    if fire.missed > 0 {
        payload.insert("missed".to_owned(), Value::from(fire.missed));
    }
    Value::Object(payload)
}

/// `at` as Python's `str()` prints an aware UTC `datetime`:
/// `YYYY-MM-DD HH:MM:SS.ffffff+00:00`, without `.ffffff` when the microseconds are zero.
/// Sub-microsecond digits are truncated, as Python has none.
pub fn python_utc_str(at: DateTime<Utc>) -> String {
    let seconds = at.format("%Y-%m-%d %H:%M:%S");
    match at.timestamp_subsec_micros().min(999_999) {
        0 => format!("{seconds}+00:00"),
        micros => format!("{seconds}.{micros:06}+00:00"),
    }
}
