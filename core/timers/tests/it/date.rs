//! Date timers: the `date` forms StackStorm users write, time zones, and expiry.

use chrono::SecondsFormat;
use serde_json::json;

use crate::{parse_error, schedule, utc};
use nerve_timers::{DATE_TIMER, Registration, TimerKind, TimerState, TimerTable};

#[test]
fn date_forms_and_time_zones() {
    let cases = [
        ("2014-12-31 23:59:59", None, "2014-12-31T23:59:59Z"),
        ("2014-12-31T23:59:59", None, "2014-12-31T23:59:59Z"),
        ("  2014-12-31t23:59:59  ", None, "2014-12-31T23:59:59Z"),
        ("2014-12-31 23:59:59.5", None, "2014-12-31T23:59:59.500Z"),
        ("2014-12-31 23:59:59,25", None, "2014-12-31T23:59:59.250Z"),
        (
            "2014-12-31T23:59:59.123456Z",
            None,
            "2014-12-31T23:59:59.123456Z",
        ),
        ("2014-12-31T23:59:59+01:00", None, "2014-12-31T22:59:59Z"),
        ("2014-12-31 23:59:59 +0100", None, "2014-12-31T22:59:59Z"),
        ("2014-12-31T23:59:59-05", None, "2015-01-01T04:59:59Z"),
        ("2014-12-31T23:59:59-0530", None, "2015-01-01T05:29:59Z"),
        ("2014-12-31 23:59:59 UTC", None, "2014-12-31T23:59:59Z"),
        ("2014-12-31 23:59", None, "2014-12-31T23:59:00Z"),
        ("2014-12-31", None, "2014-12-31T00:00:00Z"),
        ("2014-1-5 7:05", None, "2014-01-05T07:05:00Z"),
        // Naive dates are wall-clock times in `timezone`.
        (
            "2014-12-31 23:59:59",
            Some("Europe/Berlin"),
            "2014-12-31T22:59:59Z",
        ),
        (
            "2014-07-04 12:00",
            Some("America/New_York"),
            "2014-07-04T16:00:00Z",
        ),
        ("2014-12-31 23:59:59", Some("utc"), "2014-12-31T23:59:59Z"),
        // An explicit offset wins over `timezone`.
        (
            "2014-12-31T23:59:59Z",
            Some("Europe/Berlin"),
            "2014-12-31T23:59:59Z",
        ),
        // Spring-forward gap: read with the offset before the jump (03:30 CEST).
        (
            "2024-03-31 02:30:00",
            Some("Europe/Berlin"),
            "2024-03-31T01:30:00Z",
        ),
        // Fall-back overlap: the first occurrence (CEST).
        (
            "2024-10-27 02:30:00",
            Some("Europe/Berlin"),
            "2024-10-27T00:30:00Z",
        ),
    ];
    for (date, timezone, expected) in cases {
        let mut parameters = json!({"date": date});
        if let Some(timezone) = timezone {
            parameters["timezone"] = json!(timezone);
        }
        let timer = schedule(DATE_TIMER, parameters);
        assert_eq!(timer.kind(), TimerKind::Date);
        let at = timer
            .date()
            .map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        assert_eq!(at.as_deref(), Some(expected), "{date} in {timezone:?}");
    }
}

#[test]
fn fires_once_strictly_before_the_date() {
    let timer = schedule(DATE_TIMER, json!({"date": "2030-01-01 00:00:00"}));
    let date = utc("2030-01-01T00:00:00Z");
    assert_eq!(timer.next_fire(utc("2029-12-31T23:59:59Z")), Some(date));
    assert_eq!(timer.next_fire(date), None);
    assert_eq!(timer.next_fire(utc("2031-01-01T00:00:00Z")), None);
}

#[test]
fn a_date_in_the_past_at_registration_is_not_scheduled() {
    let now = utc("2024-06-01T12:00:00Z");
    let mut table = TimerTable::default();
    let timer = schedule(DATE_TIMER, json!({"date": "2024-06-01 11:59:59"}));
    assert_eq!(
        table.upsert("past".into(), timer, TimerState::new(now), now),
        Registration::Expired {
            date: utc("2024-06-01T11:59:59Z")
        }
    );
    assert_eq!(table.next_deadline(), None);
    assert!(table.due(utc("2030-01-01T00:00:00Z")).is_empty());
}

#[test]
fn a_future_date_fires_once_then_finishes() {
    let now = utc("2024-06-01T12:00:00Z");
    let mut table = TimerTable::default();
    let timer = schedule(DATE_TIMER, json!({"date": "2024-06-01T15:00:00+02:00"}));
    assert_eq!(
        table.upsert("soon".into(), timer.clone(), TimerState::new(now), now),
        Registration::Scheduled {
            next_fire: utc("2024-06-01T13:00:00Z")
        }
    );
    assert_eq!(table.next_deadline(), Some(utc("2024-06-01T13:00:00Z")));
    assert!(table.due(utc("2024-06-01T12:59:59Z")).is_empty());
    let at = utc("2024-06-01T13:00:00.001Z");
    let fires = table.due(at);
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].scheduled_for, utc("2024-06-01T13:00:00Z"));
    assert_eq!(fires[0].executed_at, at);
    assert_eq!(fires[0].missed, 0);
    assert_eq!(fires[0].state.next_fire, None);
    assert_eq!(table.next_deadline(), None);
    // Re-registering with the persisted state after a restart: finished, never fires again.
    let state = fires[0].state.clone();
    assert_eq!(
        table.upsert("soon".into(), timer, state, utc("2024-07-01T00:00:00Z")),
        Registration::Finished
    );
    assert!(table.due(utc("2030-01-01T00:00:00Z")).is_empty());
}

#[test]
fn invalid_dates_say_why() {
    let cases = [
        ("2014-13-01 00:00:00", "no such calendar date"),
        ("2014-02-30", "no such calendar date"),
        ("31/12/2014", "the date must be `YYYY-MM-DD`"),
        ("tomorrow", "the date must be `YYYY-MM-DD`"),
        ("2014-12-31 25:00", "no such time of day"),
        (
            "2014-12-31 23:5",
            "the time must be `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fraction`",
        ),
        (
            "2014-12-31 23:59:59 +25:00",
            "the UTC offset is out of range",
        ),
        (
            "2014-12-31 23:59:59 CET",
            "the UTC offset must be `Z`, `UTC`, `+HH`, `+HHMM` or `+HH:MM`",
        ),
        (
            "2014-12-31 23:59:59Z later",
            "unexpected text after the date-time",
        ),
    ];
    for (date, reason) in cases {
        let message = parse_error(DATE_TIMER, json!({"date": date}));
        assert!(
            message.starts_with(&format!(
                "`date`: cannot read `{date}` as a date-time: {reason} (expected e.g."
            )),
            "{date}: {message}"
        );
    }
    assert_eq!(
        parse_error(DATE_TIMER, json!({"date": 1_700_000_000})),
        "`date`: expected a date-time string, got number 1700000000"
    );
    assert_eq!(
        parse_error(DATE_TIMER, json!({"timezone": "UTC"})),
        "`date` is required for `core.st2.DateTimer`"
    );
}
