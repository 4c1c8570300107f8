//! Cron timers in UTC: APScheduler's field defaults, expressions, calendar edge cases and
//! validation messages.

use serde_json::json;

use crate::{cron, next_fires, parse_error};
use nerve_timers::CRON_TIMER;

/// 2024-01-01 is a Monday.
const NEW_YEAR_2024: &str = "2024-01-01T00:00:00Z";

fn check(cases: &[(serde_json::Value, &[&str])], after: &str) {
    for (parameters, expected) in cases {
        let schedule = cron(parameters.clone());
        let fires = next_fires(&schedule, after, expected.len().max(1) + 1);
        let expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            fires[..expected.len().min(fires.len())],
            expected[..],
            "parameters {parameters} ({schedule})"
        );
    }
}

#[test]
fn unspecified_fields_follow_the_apscheduler_rule() {
    // Fields less significant than the least significant given field take their minimum,
    // the others are `*` (APScheduler 3.x `CronTrigger.__init__`).
    check(
        &[
            (
                json!({}),
                &[
                    "2024-01-01T00:00:01+00:00",
                    "2024-01-01T00:00:02+00:00",
                    "2024-01-01T00:00:03+00:00",
                ],
            ),
            (
                json!({"hour": 5}),
                &[
                    "2024-01-01T05:00:00+00:00",
                    "2024-01-02T05:00:00+00:00",
                    "2024-01-03T05:00:00+00:00",
                ],
            ),
            (
                json!({"minute": 15}),
                &[
                    "2024-01-01T00:15:00+00:00",
                    "2024-01-01T01:15:00+00:00",
                    "2024-01-01T02:15:00+00:00",
                ],
            ),
            (
                // `minute` lies before the least significant given field: it is `*`.
                json!({"hour": 5, "second": 10}),
                &[
                    "2024-01-01T05:00:10+00:00",
                    "2024-01-01T05:01:10+00:00",
                    "2024-01-01T05:02:10+00:00",
                ],
            ),
            (
                // `day` defaults to 1: once a year.
                json!({"month": 6}),
                &[
                    "2024-06-01T00:00:00+00:00",
                    "2025-06-01T00:00:00+00:00",
                    "2026-06-01T00:00:00+00:00",
                ],
            ),
            (
                json!({"day": 15}),
                &[
                    "2024-01-15T00:00:00+00:00",
                    "2024-02-15T00:00:00+00:00",
                    "2024-03-15T00:00:00+00:00",
                ],
            ),
            (
                // `day_of_week` and `week` default to `*`, never to a minimum.
                json!({"week": 2}),
                &[
                    "2024-01-08T00:00:00+00:00",
                    "2024-01-09T00:00:00+00:00",
                    "2024-01-10T00:00:00+00:00",
                ],
            ),
            (
                json!({"day_of_week": "mon"}),
                &[
                    "2024-01-08T00:00:00+00:00",
                    "2024-01-15T00:00:00+00:00",
                    "2024-01-22T00:00:00+00:00",
                ],
            ),
            (
                json!({"day_of_week": "mon", "hour": 9}),
                &[
                    "2024-01-01T09:00:00+00:00",
                    "2024-01-08T09:00:00+00:00",
                    "2024-01-15T09:00:00+00:00",
                ],
            ),
            (
                json!({"second": "*/15"}),
                &[
                    "2024-01-01T00:00:15+00:00",
                    "2024-01-01T00:00:30+00:00",
                    "2024-01-01T00:00:45+00:00",
                    "2024-01-01T00:01:00+00:00",
                ],
            ),
            (
                // Null counts as not given.
                json!({"hour": 5, "minute": null, "timezone": null}),
                &["2024-01-01T05:00:00+00:00", "2024-01-02T05:00:00+00:00"],
            ),
        ],
        NEW_YEAR_2024,
    );
}

#[test]
fn a_year_alone_fires_once() {
    let schedule = cron(json!({"year": 2030}));
    assert_eq!(
        next_fires(&schedule, NEW_YEAR_2024, 3),
        ["2030-01-01T00:00:00+00:00"]
    );
}

#[test]
fn lists_ranges_steps_and_names() {
    check(
        &[
            (
                json!({"hour": 3, "minute": "5,10-12"}),
                &[
                    "2024-01-01T03:05:00+00:00",
                    "2024-01-01T03:10:00+00:00",
                    "2024-01-01T03:11:00+00:00",
                    "2024-01-01T03:12:00+00:00",
                    "2024-01-02T03:05:00+00:00",
                ],
            ),
            (
                json!({"hour": 0, "minute": "10-50/20"}),
                &[
                    "2024-01-01T00:10:00+00:00",
                    "2024-01-01T00:30:00+00:00",
                    "2024-01-01T00:50:00+00:00",
                    "2024-01-02T00:10:00+00:00",
                ],
            ),
            (
                // `a/n`: from `a` to the field maximum.
                json!({"hour": 0, "minute": "45/5"}),
                &[
                    "2024-01-01T00:45:00+00:00",
                    "2024-01-01T00:50:00+00:00",
                    "2024-01-01T00:55:00+00:00",
                    "2024-01-02T00:45:00+00:00",
                ],
            ),
            (
                json!({"hour": "*/6"}),
                &[
                    "2024-01-01T06:00:00+00:00",
                    "2024-01-01T12:00:00+00:00",
                    "2024-01-01T18:00:00+00:00",
                    "2024-01-02T00:00:00+00:00",
                ],
            ),
            (
                // Spaces around commas, names in any case.
                json!({"month": "feb-MAR , Nov", "day": 1}),
                &[
                    "2024-02-01T00:00:00+00:00",
                    "2024-03-01T00:00:00+00:00",
                    "2024-11-01T00:00:00+00:00",
                    "2025-02-01T00:00:00+00:00",
                ],
            ),
            (
                json!({"day_of_week": "MON-wed", "hour": 12}),
                &[
                    "2024-01-01T12:00:00+00:00",
                    "2024-01-02T12:00:00+00:00",
                    "2024-01-03T12:00:00+00:00",
                    "2024-01-08T12:00:00+00:00",
                ],
            ),
            (
                json!({"day_of_week": "sat,sun", "hour": 0}),
                &[
                    "2024-01-06T00:00:00+00:00",
                    "2024-01-07T00:00:00+00:00",
                    "2024-01-13T00:00:00+00:00",
                ],
            ),
            (
                // `*/2` counts from Monday (0): Mon, Wed, Fri, Sun.
                json!({"day_of_week": "*/2", "hour": 0}),
                &[
                    "2024-01-03T00:00:00+00:00",
                    "2024-01-05T00:00:00+00:00",
                    "2024-01-07T00:00:00+00:00",
                    "2024-01-08T00:00:00+00:00",
                ],
            ),
            (
                json!({"year": "2025-2026", "month": 3, "day": 1}),
                &["2025-03-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"],
            ),
        ],
        NEW_YEAR_2024,
    );
}

#[test]
fn day_of_week_zero_is_monday() {
    check(
        &[
            (
                json!({"day_of_week": 0, "hour": 8}),
                &[
                    "2024-01-01T08:00:00+00:00", // Monday
                    "2024-01-08T08:00:00+00:00",
                ],
            ),
            (
                json!({"day_of_week": "4", "hour": 8}),
                &["2024-01-05T08:00:00+00:00"], // Friday
            ),
            (
                json!({"day_of_week": 6, "hour": 8}),
                &["2024-01-07T08:00:00+00:00"], // Sunday
            ),
            (
                json!({"day_of_week": "0-4", "hour": 8}),
                &[
                    "2024-01-01T08:00:00+00:00",
                    "2024-01-02T08:00:00+00:00",
                    "2024-01-03T08:00:00+00:00",
                    "2024-01-04T08:00:00+00:00",
                    "2024-01-05T08:00:00+00:00",
                    "2024-01-08T08:00:00+00:00",
                ],
            ),
        ],
        NEW_YEAR_2024,
    );
}

#[test]
fn last_day_and_weekday_positions() {
    check(
        &[
            (
                json!({"day": "last"}),
                &[
                    "2024-01-31T00:00:00+00:00",
                    "2024-02-29T00:00:00+00:00",
                    "2024-03-31T00:00:00+00:00",
                    "2024-04-30T00:00:00+00:00",
                ],
            ),
            (
                json!({"day": "last fri"}),
                &[
                    "2024-01-26T00:00:00+00:00",
                    "2024-02-23T00:00:00+00:00",
                    "2024-03-29T00:00:00+00:00",
                ],
            ),
            (
                json!({"day": "2nd tue", "hour": 10}),
                &[
                    "2024-01-09T10:00:00+00:00",
                    "2024-02-13T10:00:00+00:00",
                    "2024-03-12T10:00:00+00:00",
                ],
            ),
            (
                // Only months with five Mondays.
                json!({"day": "5th mon"}),
                &[
                    "2024-01-29T00:00:00+00:00",
                    "2024-04-29T00:00:00+00:00",
                    "2024-07-29T00:00:00+00:00",
                ],
            ),
            (
                // (2024-01-01, the first Monday, is the start instant itself: excluded.)
                json!({"day": "1st mon,last"}),
                &[
                    "2024-01-31T00:00:00+00:00",
                    "2024-02-05T00:00:00+00:00",
                    "2024-02-29T00:00:00+00:00",
                    "2024-03-04T00:00:00+00:00",
                ],
            ),
            (
                // `day` and `day_of_week` must both match (APScheduler), unlike Vixie cron.
                json!({"day": "1-7", "day_of_week": "mon"}),
                &[
                    "2024-02-05T00:00:00+00:00",
                    "2024-03-04T00:00:00+00:00",
                    "2024-04-01T00:00:00+00:00",
                ],
            ),
        ],
        NEW_YEAR_2024,
    );
}

#[test]
fn february_29_only_in_leap_years() {
    let schedule = cron(json!({"month": 2, "day": 29}));
    assert_eq!(
        next_fires(&schedule, "2025-01-01T00:00:00Z", 3),
        [
            "2028-02-29T00:00:00+00:00",
            "2032-02-29T00:00:00+00:00",
            "2036-02-29T00:00:00+00:00",
        ]
    );
    // 2100 is not a leap year.
    assert_eq!(
        next_fires(&schedule, "2097-01-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00+00:00"]
    );
    // Months shorter than the day are skipped.
    let schedule = cron(json!({"day": 31}));
    assert_eq!(
        next_fires(&schedule, NEW_YEAR_2024, 3),
        [
            "2024-01-31T00:00:00+00:00",
            "2024-03-31T00:00:00+00:00",
            "2024-05-31T00:00:00+00:00",
        ]
    );
}

#[test]
fn impossible_specs_never_fire() {
    for parameters in [
        json!({"month": 2, "day": 30}),
        json!({"month": "apr", "day": 31}),
        json!({"year": 2020}),
        json!({"year": "2024-2030", "month": 2, "day": "5th mon"}),
        json!({"week": 53, "month": 6}),
    ] {
        let schedule = cron(parameters.clone());
        assert_eq!(
            schedule.next_fire(crate::utc("2024-03-01T00:00:00Z")),
            None,
            "{parameters}"
        );
    }
}

#[test]
fn rare_matches_are_found_without_scanning_seconds() {
    // Friday the 13th of February at 13:13:13: years apart.
    let schedule = cron(json!({
        "month": 2, "day": 13, "day_of_week": "fri", "hour": 13, "minute": 13, "second": 13
    }));
    assert_eq!(
        next_fires(&schedule, NEW_YEAR_2024, 2),
        ["2026-02-13T13:13:13+00:00", "2032-02-13T13:13:13+00:00"]
    );
    // ISO week 53 exists only in some years.
    let schedule = cron(json!({"week": 53, "day_of_week": "thu"}));
    assert_eq!(
        next_fires(&schedule, NEW_YEAR_2024, 2),
        ["2026-12-31T00:00:00+00:00", "2032-12-30T00:00:00+00:00"]
    );
}

#[test]
fn invalid_fields_name_the_field_and_the_expression() {
    let cases = [
        (json!({"minute": 61}), "`minute`: `61` is out of range 0-59"),
        (
            json!({"minute": "1,61"}),
            "`minute`: `61` is out of range 0-59",
        ),
        (json!({"minute": -1}), "`minute`: `-1` is out of range 0-59"),
        (
            json!({"hour": "20-24"}),
            "`hour`: `20-24` is out of range 0-23",
        ),
        (
            json!({"day_of_week": 7}),
            "`day_of_week`: `7` is out of range 0-6",
        ),
        (json!({"day": 0}), "`day`: `0` is out of range 1-31"),
        (
            json!({"year": 1969}),
            "`year`: `1969` is out of range 1970-9999",
        ),
        (
            json!({"hour": "*/0"}),
            "`hour`: `*/0` has a step of 0 (the step must be at least 1)",
        ),
        (
            json!({"minute": "*/60"}),
            "`minute`: `*/60` has a step of 60, larger than the span of its range (59)",
        ),
        (
            json!({"day_of_week": "fri-mon"}),
            "`day_of_week`: `fri-mon` is a range whose start is after its end (wrap-around \
             ranges are not supported)",
        ),
        (
            json!({"month": "foo"}),
            "`month`: `foo` uses an unknown name (expected `jan` … `dec`)",
        ),
        (
            json!({"day_of_week": "monday"}),
            "`day_of_week`: `monday` uses an unknown name (expected `mon` … `sun`)",
        ),
        (
            json!({"day": "first mon"}),
            "`day`: `first mon` is not a valid expression (expected `*`, `*/n`, `a`, `a-b`, \
             `a-b/n`, `a/n`, `last`, `last fri` or `1st`…`5th` followed by a weekday name)",
        ),
        (
            json!({"hour": "mon"}),
            "`hour`: `mon` is not a valid expression (expected `*`, `*/n`, `a`, `a-b`, \
             `a-b/n` or `a/n`)",
        ),
        (json!({"hour": "1,,2"}), "`hour`: `` is empty"),
        (
            json!({"second": 1.5}),
            "`second`: expected an integer or a cron expression string, got number 1.5",
        ),
        (
            json!({"weekday": 1}),
            "`weekday` is not a parameter of `core.st2.CronTimer`",
        ),
        (
            json!({"timezone": "Mars/Olympus"}),
            "`timezone`: unknown time zone `Mars/Olympus` (expected an IANA name such as \
             `UTC` or `Europe/Berlin`)",
        ),
    ];
    for (parameters, expected) in cases {
        assert_eq!(
            parse_error(CRON_TIMER, parameters.clone()),
            expected,
            "{parameters}"
        );
    }
}

#[test]
fn unknown_trigger_types_and_non_objects_are_rejected() {
    assert_eq!(
        parse_error("core.st2.webhook", json!({})),
        "`core.st2.webhook` is not a timer trigger type (expected `core.st2.IntervalTimer`, \
         `core.st2.DateTimer` or `core.st2.CronTimer`)"
    );
    assert_eq!(
        parse_error(CRON_TIMER, json!([1, 2])),
        "timer parameters must be a JSON object, not an array"
    );
}

#[test]
fn display_lists_the_given_fields() {
    let schedule = cron(json!({"hour": 5, "minute": "*/10", "timezone": "Europe/Berlin"}));
    assert_eq!(
        schedule.to_string(),
        "cron[hour='5', minute='*/10'] in Europe/Berlin"
    );
}
