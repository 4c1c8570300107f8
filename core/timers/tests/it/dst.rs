//! Cron timers across daylight-saving transitions: a wall-clock time that does not exist is
//! skipped; one that occurs twice fires once, at its first occurrence.
//!
//! 2024 transitions: Europe/Berlin springs forward 02:00 CET → 03:00 CEST on 31 March and
//! falls back 03:00 CEST → 02:00 CET on 27 October; America/New_York springs forward
//! 02:00 EST → 03:00 EDT on 10 March and falls back 02:00 EDT → 01:00 EST on 3 November.

use serde_json::json;

use crate::{cron, next_fires, utc};

fn check(cases: &[(serde_json::Value, &str, &[&str])]) {
    for (parameters, after, expected) in cases {
        let schedule = cron(parameters.clone());
        assert_eq!(
            next_fires(&schedule, after, expected.len()),
            *expected,
            "{parameters} after {after}"
        );
    }
}

#[test]
fn berlin_0230_is_skipped_on_the_spring_forward_night() {
    check(&[(
        json!({"hour": 2, "minute": 30, "timezone": "Europe/Berlin"}),
        "2024-03-29T12:00:00Z",
        &[
            "2024-03-30T02:30:00+01:00",
            "2024-04-01T02:30:00+02:00",
            "2024-04-02T02:30:00+02:00",
        ],
    )]);
}

#[test]
fn berlin_0230_fires_once_on_the_fall_back_night() {
    check(&[(
        json!({"hour": 2, "minute": 30, "timezone": "Europe/Berlin"}),
        "2024-10-25T12:00:00Z",
        &[
            "2024-10-26T02:30:00+02:00",
            "2024-10-27T02:30:00+02:00", // first occurrence only
            "2024-10-28T02:30:00+01:00",
        ],
    )]);
}

#[test]
fn berlin_every_30_minutes_across_both_transitions() {
    check(&[
        (
            json!({"minute": "*/30", "timezone": "Europe/Berlin"}),
            "2024-03-31T00:00:00Z",
            &[
                "2024-03-31T01:30:00+01:00",
                "2024-03-31T03:00:00+02:00",
                "2024-03-31T03:30:00+02:00",
            ],
        ),
        (
            json!({"minute": "*/30", "timezone": "Europe/Berlin"}),
            "2024-10-26T23:30:00Z",
            &[
                "2024-10-27T02:00:00+02:00",
                "2024-10-27T02:30:00+02:00",
                // The repeated 02:00 and 02:30 (winter time) already fired.
                "2024-10-27T03:00:00+01:00",
                "2024-10-27T03:30:00+01:00",
            ],
        ),
    ]);
}

#[test]
fn new_york_0230_is_skipped_in_spring_and_unaffected_in_fall() {
    check(&[
        (
            json!({"hour": 2, "minute": 30, "timezone": "America/New_York"}),
            "2024-03-08T12:00:00Z",
            &[
                "2024-03-09T02:30:00-05:00",
                "2024-03-11T02:30:00-04:00",
                "2024-03-12T02:30:00-04:00",
            ],
        ),
        (
            // In New York the repeated hour is 01:00–02:00, so 02:30 is unique.
            json!({"hour": 2, "minute": 30, "timezone": "America/New_York"}),
            "2024-11-01T12:00:00Z",
            &[
                "2024-11-02T02:30:00-04:00",
                "2024-11-03T02:30:00-05:00",
                "2024-11-04T02:30:00-05:00",
            ],
        ),
        (
            json!({"hour": 1, "minute": 30, "timezone": "America/New_York"}),
            "2024-11-01T12:00:00Z",
            &[
                "2024-11-02T01:30:00-04:00",
                "2024-11-03T01:30:00-04:00", // first occurrence only
                "2024-11-04T01:30:00-05:00",
            ],
        ),
    ]);
}

#[test]
fn new_york_every_30_minutes_across_both_transitions() {
    check(&[
        (
            json!({"minute": "*/30", "timezone": "America/New_York"}),
            "2024-03-10T06:00:00Z",
            &[
                "2024-03-10T01:30:00-05:00",
                "2024-03-10T03:00:00-04:00",
                "2024-03-10T03:30:00-04:00",
            ],
        ),
        (
            json!({"minute": "*/30", "timezone": "America/New_York"}),
            "2024-11-03T04:30:00Z",
            &[
                "2024-11-03T01:00:00-04:00",
                "2024-11-03T01:30:00-04:00",
                "2024-11-03T02:00:00-05:00",
                "2024-11-03T02:30:00-05:00",
            ],
        ),
    ]);
}

#[test]
fn searching_from_inside_the_repeated_hour_does_not_fire_again() {
    // 01:10 UTC is 02:10 CET, the second pass of the repeated hour.
    check(&[
        (
            json!({"minute": "*/30", "timezone": "Europe/Berlin"}),
            "2024-10-27T01:10:00Z",
            &["2024-10-27T03:00:00+01:00"],
        ),
        (
            json!({"hour": 2, "minute": 30, "timezone": "Europe/Berlin"}),
            "2024-10-27T01:10:00Z",
            &["2024-10-28T02:30:00+01:00"],
        ),
        (
            // Exactly at the first 02:30: the second one must not fire.
            json!({"hour": 2, "minute": 30, "timezone": "Europe/Berlin"}),
            "2024-10-27T00:30:00Z",
            &["2024-10-28T02:30:00+01:00"],
        ),
        (
            // Every second: from the second pass straight to the end of the repeated hour.
            json!({"timezone": "Europe/Berlin"}),
            "2024-10-27T01:59:59Z",
            &["2024-10-27T03:00:00+01:00", "2024-10-27T03:00:01+01:00"],
        ),
    ]);
}

#[test]
fn every_second_jumps_over_the_gap() {
    check(&[(
        json!({"timezone": "Europe/Berlin"}),
        "2024-03-31T00:59:59Z",
        &["2024-03-31T03:00:00+02:00", "2024-03-31T03:00:01+02:00"],
    )]);
}

#[test]
fn each_wall_clock_time_fires_exactly_once_over_a_transition_day() {
    // Every 10 minutes on the Berlin fall-back day: 24 × 6 wall times, one fire each.
    let schedule = cron(json!({"minute": "*/10", "timezone": "Europe/Berlin"}));
    let fires = next_fires(&schedule, "2024-10-26T21:59:59Z", 24 * 6);
    assert_eq!(
        fires.first().map(String::as_str),
        Some("2024-10-27T00:00:00+02:00")
    );
    assert_eq!(
        fires.last().map(String::as_str),
        Some("2024-10-27T23:50:00+01:00")
    );
    let walls: std::collections::BTreeSet<&str> = fires.iter().map(|f| &f[..19]).collect();
    assert_eq!(walls.len(), 24 * 6, "every wall-clock time once");
    // And the spring-forward day has 23 × 6.
    let fires = next_fires(&schedule, "2024-03-30T22:59:59Z", 24 * 6);
    let on_the_day = fires.iter().filter(|f| f.starts_with("2024-03-31")).count();
    assert_eq!(on_the_day, 23 * 6);
}

#[test]
fn half_hour_offset_zones_work() {
    check(&[(
        json!({"hour": 9, "timezone": "Asia/Kolkata"}),
        "2024-01-01T00:00:00Z",
        &["2024-01-01T09:00:00+05:30", "2024-01-02T09:00:00+05:30"],
    )]);
    let schedule = cron(json!({"hour": 9, "timezone": "asia/kolkata"}));
    assert_eq!(
        schedule.next_fire(utc("2024-01-01T00:00:00Z")),
        Some(utc("2024-01-01T03:30:00Z"))
    );
}

/// Cross-checks `next_fire` against a brute-force reading of the rule, minute by minute
/// over the transition days: an instant fires iff its local wall-clock time matches and it
/// is the first instant showing that wall-clock time.
#[test]
fn next_fire_agrees_with_brute_force_around_transitions() {
    use chrono::{TimeDelta, TimeZone, Timelike};
    use nerve_timers::Tz;

    let specs: [(&str, &[u32], &str, &[u32]); 4] = [
        ("*", &[], "*/15", &[0, 15, 30, 45]),
        ("1-3", &[1, 2, 3], "0,30", &[0, 30]),
        ("2", &[2], "*/20", &[0, 20, 40]),
        (
            "*/2",
            &[0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22],
            "45",
            &[45],
        ),
    ];
    let windows = [
        ("Europe/Berlin", "2024-03-30T12:00:00Z"),
        ("Europe/Berlin", "2024-10-26T12:00:00Z"),
        ("America/New_York", "2024-03-09T12:00:00Z"),
        ("America/New_York", "2024-11-02T12:00:00Z"),
    ];
    for (zone, start) in windows {
        let tz: Tz = zone.parse().expect("known zone");
        for (hour_expr, hours, minute_expr, minutes) in specs {
            let schedule =
                cron(json!({"hour": hour_expr, "minute": minute_expr, "timezone": zone}));
            let start = utc(start);
            let end = start + TimeDelta::days(2);
            let mut expected = Vec::new();
            let mut at = start + TimeDelta::minutes(1);
            while at <= end {
                let wall = at.with_timezone(&tz).naive_local();
                let first = tz.from_local_datetime(&wall).earliest();
                if (hours.is_empty() || hours.contains(&wall.hour()))
                    && minutes.contains(&wall.minute())
                    && first.is_some_and(|first| first == at)
                {
                    expected.push(at);
                }
                at += TimeDelta::minutes(1);
            }
            let mut actual = Vec::new();
            let mut at = start;
            while let Some(next) = schedule.next_fire(at).filter(|next| *next <= end) {
                actual.push(next);
                at = next;
            }
            assert_eq!(
                actual, expected,
                "{zone} hour={hour_expr} minute={minute_expr}"
            );
        }
    }
}
