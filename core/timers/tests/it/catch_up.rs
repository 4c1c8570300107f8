//! The catch-up policy after downtime and stalls: `FireOnce` coalesces, `Skip` drops, and
//! nothing ever fires more than once per `due` call.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::{cron, schedule, utc};
use nerve_timers::{
    CatchUp, CatchUpPolicy, DATE_TIMER, DEFAULT_MISFIRE_GRACE, INTERVAL_TIMER, MISSED_COUNT_CAP,
    Registration, Schedule, TimerState, TimerTable,
};

fn every_minute() -> Schedule {
    schedule(INTERVAL_TIMER, json!({"unit": "minutes", "delta": 1}))
}

/// A timer registered at `t0` whose last handled fire was `last`, as the engine persisted it.
fn persisted(t0: DateTime<Utc>, last: DateTime<Utc>) -> TimerState {
    TimerState {
        registered_at: t0,
        handled_through: Some(last),
        last_fired_at: Some(last),
        next_fire: Some(last + TimeDelta::minutes(1)),
    }
}

fn table(catch_up: CatchUp) -> TimerTable {
    TimerTable::new(CatchUpPolicy::new(catch_up, DEFAULT_MISFIRE_GRACE))
}

#[test]
fn default_policy_is_fire_once_with_a_minute_of_grace() {
    assert_eq!(
        CatchUpPolicy::default(),
        CatchUpPolicy {
            catch_up: CatchUp::FireOnce,
            misfire_grace: Duration::from_secs(60),
        }
    );
    assert_eq!(TimerTable::default().policy(), CatchUpPolicy::default());
}

#[test]
fn three_days_down_fire_once_fires_exactly_once_with_missed_4320() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let last = utc("2024-01-01T00:10:00Z");
    let now = last + TimeDelta::days(3) + TimeDelta::seconds(30);
    let mut table = table(CatchUp::FireOnce);
    assert_eq!(
        table.upsert("tick".into(), every_minute(), persisted(t0, last), now),
        Registration::Overdue {
            next_fire: last + TimeDelta::minutes(1)
        }
    );
    let fires = table.due(now);
    assert_eq!(fires.len(), 1, "one catch-up fire, never a storm");
    let fire = &fires[0];
    assert_eq!(fire.missed, 4320);
    assert!(!fire.missed_capped);
    assert_eq!(fire.scheduled_for, last + TimeDelta::days(3));
    assert_eq!(fire.executed_at, now);
    // Then on schedule, in phase with the registration.
    let next = last + TimeDelta::days(3) + TimeDelta::minutes(1);
    assert_eq!(fire.state.next_fire, Some(next));
    assert_eq!(table.next_deadline(), Some(next));
    assert!(table.due(now + TimeDelta::seconds(29)).is_empty());
    let fires = table.due(next);
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].missed, 0);
    assert_eq!(fires[0].scheduled_for, next);
}

#[test]
fn three_days_down_skip_fires_nothing_and_resumes_on_schedule() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let last = utc("2024-01-01T00:10:00Z");
    let now = last + TimeDelta::days(3) + TimeDelta::seconds(30);
    let mut table = table(CatchUp::Skip);
    table.upsert("tick".into(), every_minute(), persisted(t0, last), now);
    assert!(table.due(now).is_empty());
    let next = last + TimeDelta::days(3) + TimeDelta::minutes(1);
    assert_eq!(table.next_deadline(), Some(next));
    assert_eq!(
        table.state("tick").and_then(|state| state.handled_through),
        Some(last + TimeDelta::days(3))
    );
    let fires = table.due(next);
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].missed, 0);
    // Restarting again from the older persisted state drops the same fire times again.
    let mut restarted = self::table(CatchUp::Skip);
    restarted.upsert("tick".into(), every_minute(), persisted(t0, last), now);
    assert!(restarted.due(now).is_empty());
}

#[test]
fn a_quick_restart_within_the_grace_is_an_ordinary_fire() {
    for catch_up in [CatchUp::FireOnce, CatchUp::Skip] {
        let t0 = utc("2024-01-01T00:00:00Z");
        let last = utc("2024-01-01T00:10:00Z");
        let mut table = table(catch_up);
        // Back before the next fire: nothing missed.
        let now = last + TimeDelta::seconds(40);
        assert_eq!(
            table.upsert("tick".into(), every_minute(), persisted(t0, last), now),
            Registration::Scheduled {
                next_fire: last + TimeDelta::minutes(1)
            }
        );
        // Back 20 s after the next fire: late, but on time.
        let now = last + TimeDelta::seconds(80);
        table.upsert("tick".into(), every_minute(), persisted(t0, last), now);
        let fires = table.due(now);
        assert_eq!(fires.len(), 1, "{catch_up:?}");
        assert_eq!(fires[0].missed, 0);
        assert_eq!(fires[0].scheduled_for, last + TimeDelta::minutes(1));
    }
}

#[test]
fn a_lone_fire_older_than_the_grace_is_missed() {
    let hourly = schedule(INTERVAL_TIMER, json!({"unit": "hours", "delta": 1}));
    let t0 = utc("2024-01-01T00:00:00Z");
    let now = t0 + TimeDelta::hours(1) + TimeDelta::minutes(5);

    let mut fire_once = table(CatchUp::FireOnce);
    fire_once.upsert("h".into(), hourly.clone(), TimerState::new(t0), now);
    let fires = fire_once.due(now);
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].missed, 1);

    let mut skip = table(CatchUp::Skip);
    skip.upsert("h".into(), hourly, TimerState::new(t0), now);
    assert!(skip.due(now).is_empty());
    assert_eq!(skip.next_deadline(), Some(t0 + TimeDelta::hours(2)));
}

#[test]
fn a_stall_longer_than_the_interval_coalesces() {
    let ten_seconds = schedule(INTERVAL_TIMER, json!({"unit": "seconds", "delta": 10}));
    let t0 = utc("2024-01-01T00:00:00Z");
    let mut table = table(CatchUp::FireOnce);
    table.upsert("t".into(), ten_seconds, TimerState::new(t0), t0);
    let fires = table.due(t0 + TimeDelta::seconds(25));
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].missed, 2);
    assert_eq!(fires[0].scheduled_for, t0 + TimeDelta::seconds(20));
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(30)));
}

#[test]
fn cron_downtime_is_counted_exactly_below_the_cap() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let now = t0 + TimeDelta::days(3) + TimeDelta::seconds(30);
    let mut table = table(CatchUp::FireOnce);
    let state = TimerState {
        handled_through: Some(t0),
        ..TimerState::new(t0)
    };
    table.upsert("m".into(), cron(json!({"minute": "*"})), state, now);
    let fires = table.due(now);
    assert_eq!(fires.len(), 1);
    assert_eq!((fires[0].missed, fires[0].missed_capped), (4320, false));
    assert_eq!(fires[0].scheduled_for, t0 + TimeDelta::days(3));
    assert_eq!(
        table.next_deadline(),
        Some(t0 + TimeDelta::days(3) + TimeDelta::minutes(1))
    );
}

#[test]
fn cron_downtime_beyond_the_cap_is_reported_as_a_lower_bound() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let now = t0 + TimeDelta::days(1) + TimeDelta::milliseconds(500);
    let mut table = table(CatchUp::FireOnce);
    let state = TimerState {
        handled_through: Some(t0),
        ..TimerState::new(t0)
    };
    // Every second, down for a day: 86 400 missed.
    table.upsert("s".into(), cron(json!({})), state, now);
    let fires = table.due(now);
    assert_eq!(fires.len(), 1);
    assert_eq!(
        (fires[0].missed, fires[0].missed_capped),
        (MISSED_COUNT_CAP, true)
    );
    // The latest missed time is still exact, and the timer continues right after it.
    assert_eq!(fires[0].scheduled_for, t0 + TimeDelta::days(1));
    assert_eq!(
        table.next_deadline(),
        Some(t0 + TimeDelta::days(1) + TimeDelta::seconds(1))
    );
}

#[test]
fn a_date_missed_while_down() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let date = schedule(DATE_TIMER, json!({"date": "2024-01-01 01:00:00"}));
    let now = utc("2024-01-02T00:00:00Z");

    let mut fire_once = table(CatchUp::FireOnce);
    assert_eq!(
        fire_once.upsert("d".into(), date.clone(), TimerState::new(t0), now),
        Registration::Overdue {
            next_fire: utc("2024-01-01T01:00:00Z")
        }
    );
    let fires = fire_once.due(now);
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].missed, 1);
    assert_eq!(fires[0].state.next_fire, None);
    assert_eq!(fire_once.next_deadline(), None);

    let mut skip = table(CatchUp::Skip);
    skip.upsert("d".into(), date, TimerState::new(t0), now);
    assert!(skip.due(now).is_empty());
    assert_eq!(skip.next_deadline(), None);
}

#[test]
fn catch_up_serializes_in_snake_case() {
    assert_eq!(
        serde_json::to_string(&CatchUp::FireOnce).ok().as_deref(),
        Some("\"fire_once\"")
    );
    assert_eq!(
        serde_json::from_str::<CatchUp>("\"skip\"").ok(),
        Some(CatchUp::Skip)
    );
}

#[test]
fn capped_cron_catch_up_finds_the_latest_missed_time_in_a_sparse_schedule() {
    // Every second of minute 0 of every hour; down for a week (604 800 fire times).
    let t0 = utc("2024-01-01T00:00:00Z");
    let now = t0 + TimeDelta::days(7) + TimeDelta::minutes(30);
    let mut table = table(CatchUp::FireOnce);
    let state = TimerState {
        handled_through: Some(t0),
        ..TimerState::new(t0)
    };
    table.upsert(
        "burst".into(),
        cron(json!({"minute": 0, "second": "*"})),
        state,
        now,
    );
    let fires = table.due(now);
    assert_eq!(fires.len(), 1);
    assert!(fires[0].missed_capped);
    assert_eq!(
        fires[0].scheduled_for,
        t0 + TimeDelta::days(7) + TimeDelta::seconds(59)
    );
    assert_eq!(
        table.next_deadline(),
        Some(t0 + TimeDelta::days(7) + TimeDelta::hours(1))
    );
}
