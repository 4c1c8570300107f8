//! Interval timers: absolute durations anchored at registration.

use chrono::TimeDelta;
use serde_json::json;

use crate::{next_fires, parse_error, schedule, utc};
use nerve_timers::{INTERVAL_TIMER, TimerKind};

#[test]
fn fires_every_delta_units_after_the_anchor() {
    let cases = [
        (
            "seconds",
            30,
            ["2024-01-01T00:00:30+00:00", "2024-01-01T00:01:00+00:00"],
        ),
        (
            "minutes",
            5,
            ["2024-01-01T00:05:00+00:00", "2024-01-01T00:10:00+00:00"],
        ),
        (
            "hours",
            2,
            ["2024-01-01T02:00:00+00:00", "2024-01-01T04:00:00+00:00"],
        ),
        (
            "days",
            1,
            ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"],
        ),
        (
            "weeks",
            1,
            ["2024-01-08T00:00:00+00:00", "2024-01-15T00:00:00+00:00"],
        ),
    ];
    for (unit, delta, expected) in cases {
        let timer = schedule(INTERVAL_TIMER, json!({"unit": unit, "delta": delta}))
            .anchored_at(utc("2024-01-01T00:00:00Z"));
        assert_eq!(timer.kind(), TimerKind::Interval);
        assert_eq!(
            next_fires(&timer, "2024-01-01T00:00:00Z", 2),
            expected,
            "{unit}"
        );
    }
}

#[test]
fn phase_comes_from_the_anchor_not_from_the_query() {
    let timer = schedule(INTERVAL_TIMER, json!({"unit": "minutes", "delta": 10}))
        .anchored_at(utc("2024-01-01T00:03:20Z"));
    // Before the anchor: the first fire is one interval after it.
    assert_eq!(
        timer.next_fire(utc("2023-12-31T00:00:00Z")),
        Some(utc("2024-01-01T00:13:20Z"))
    );
    // Long after (a restart days later): still on the :x3:20 grid, strictly after.
    assert_eq!(
        timer.next_fire(utc("2024-01-05T17:43:20Z")),
        Some(utc("2024-01-05T17:53:20Z"))
    );
    assert_eq!(
        timer.next_fire(utc("2024-01-05T17:43:20.000001Z")),
        Some(utc("2024-01-05T17:53:20Z"))
    );
    // Sub-second anchors keep their fraction.
    let timer = timer.anchored_at(utc("2024-01-01T00:00:00.250Z"));
    assert_eq!(
        timer.next_fire(utc("2024-01-01T00:25:00Z")),
        Some(utc("2024-01-01T00:30:00.250Z"))
    );
}

#[test]
fn unanchored_intervals_start_at_the_query() {
    let timer = schedule(INTERVAL_TIMER, json!({"unit": "seconds", "delta": 7}));
    assert_eq!(
        timer.next_fire(utc("2024-01-01T00:00:01Z")),
        Some(utc("2024-01-01T00:00:08Z"))
    );
    assert_eq!(timer.interval(), Some(TimeDelta::seconds(7)));
}

#[test]
fn daylight_saving_does_not_stretch_intervals() {
    // One day is 24 hours even across Berlin's spring-forward night.
    let timer = schedule(
        INTERVAL_TIMER,
        json!({"unit": "days", "delta": 1, "timezone": "Europe/Berlin"}),
    )
    .anchored_at(utc("2024-03-30T10:00:00Z"));
    assert_eq!(
        next_fires(&timer, "2024-03-30T10:00:00Z", 2),
        ["2024-03-31T12:00:00+02:00", "2024-04-01T12:00:00+02:00"]
    );
}

#[test]
fn invalid_parameters_are_named() {
    let cases = [
        (
            json!({"unit": "minutes", "delta": 0}),
            "`delta`: 0 is not allowed; the interval must be at least 1 minute",
        ),
        (
            json!({"unit": "seconds", "delta": -5}),
            "`delta`: -5 is not allowed; the interval must be at least 1 second",
        ),
        (
            json!({"unit": "minutes", "delta": "5"}),
            "`delta`: expected an integer, got string `5`",
        ),
        (
            json!({"unit": "minutes", "delta": 1.5}),
            "`delta`: expected an integer, got number 1.5",
        ),
        (
            json!({"unit": "fortnights", "delta": 1}),
            "`unit`: `fortnights` is not one of weeks, days, hours, minutes, seconds",
        ),
        (
            json!({"delta": 1}),
            "`unit` is required for `core.st2.IntervalTimer`",
        ),
        (
            json!({"unit": "days"}),
            "`delta` is required for `core.st2.IntervalTimer`",
        ),
        (
            json!({"unit": "days", "delta": 1, "every": 2}),
            "`every` is not a parameter of `core.st2.IntervalTimer`",
        ),
        (
            json!({"unit": "weeks", "delta": u64::MAX}),
            "`delta`: 18446744073709551615 weeks is too long an interval",
        ),
        (
            json!({"unit": "days", "delta": 1, "timezone": 5}),
            "`timezone`: expected a time zone name (string), got number 5",
        ),
    ];
    for (parameters, expected) in cases {
        assert_eq!(
            parse_error(INTERVAL_TIMER, parameters.clone()),
            expected,
            "{parameters}"
        );
    }
    // An integral float is an integer to JSON Schema.
    let timer = schedule(INTERVAL_TIMER, json!({"unit": "seconds", "delta": 5.0}));
    assert_eq!(timer.to_string(), "every 5 seconds");
}
