//! The StackStorm timer payload.

use serde_json::json;

use crate::utc;
use nerve_timers::{Fire, TimerState, payload, python_utc_str};

fn fire(executed_at: &str, missed: u64) -> Fire {
    let executed_at = utc(executed_at);
    Fire {
        key: "k".into(),
        scheduled_for: executed_at,
        executed_at,
        missed,
        missed_capped: false,
        state: TimerState::new(executed_at),
    }
}

#[test]
fn executed_at_is_printed_like_python_str_of_a_utc_datetime() {
    let cases = [
        (
            "2014-12-31T23:59:59.123456Z",
            "2014-12-31 23:59:59.123456+00:00",
        ),
        (
            "2014-12-31T23:59:59.000001Z",
            "2014-12-31 23:59:59.000001+00:00",
        ),
        ("2014-12-31T23:59:59.5Z", "2014-12-31 23:59:59.500000+00:00"),
        (
            "2014-12-31T23:59:59.123456789Z",
            "2014-12-31 23:59:59.123456+00:00",
        ),
        ("2014-12-31T23:59:59Z", "2014-12-31 23:59:59+00:00"),
        ("2015-01-01T00:59:59+01:00", "2014-12-31 23:59:59+00:00"),
    ];
    for (at, expected) in cases {
        assert_eq!(python_utc_str(utc(at)), expected);
    }
}

#[test]
fn payload_is_stackstorms_plus_missed_on_catch_up() {
    assert_eq!(
        payload(&fire("2024-05-01T12:00:00.25Z", 0)),
        json!({"executed_at": "2024-05-01 12:00:00.250000+00:00", "schedule": null})
    );
    assert_eq!(
        payload(&fire("2024-05-01T12:00:00Z", 4320)),
        json!({"executed_at": "2024-05-01 12:00:00+00:00", "schedule": null, "missed": 4320})
    );
}
