//! The next-fire table: ordering, replacement, removal, advancing, persistence, scale.

use chrono::TimeDelta;
use serde_json::json;

use crate::{cron, schedule, utc};
use nerve_timers::{CatchUpPolicy, INTERVAL_TIMER, Registration, Schedule, TimerState, TimerTable};

fn every(seconds: u64) -> Schedule {
    schedule(INTERVAL_TIMER, json!({"unit": "seconds", "delta": seconds}))
}

fn keys(fires: &[nerve_timers::Fire]) -> Vec<&str> {
    fires.iter().map(|fire| fire.key.as_str()).collect()
}

#[test]
fn deadlines_come_out_in_time_order_then_key_order() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let mut table = TimerTable::new(CatchUpPolicy::default());
    for (key, seconds) in [("b", 10), ("a", 10), ("c", 5)] {
        let registration = table.upsert(key.into(), every(seconds), TimerState::new(t0), t0);
        assert!(matches!(registration, Registration::Scheduled { .. }));
    }
    table.upsert(
        "m".into(),
        cron(json!({"second": "*/7"})),
        TimerState::new(t0),
        t0,
    );
    assert_eq!(table.len(), 4);
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(5)));
    assert!(table.due(t0 + TimeDelta::seconds(4)).is_empty());
    assert_eq!(keys(&table.due(t0 + TimeDelta::seconds(5))), ["c"]);
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(7)));
    assert_eq!(keys(&table.due(t0 + TimeDelta::seconds(7))), ["m"]);
    assert_eq!(
        keys(&table.due(t0 + TimeDelta::seconds(10))),
        ["a", "b", "c"]
    );
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(14)));
}

#[test]
fn due_advances_the_timer_and_returns_its_new_state() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let mut table = TimerTable::default();
    table.upsert("k".into(), every(60), TimerState::new(t0), t0);
    let now = t0 + TimeDelta::milliseconds(60_020);
    let fires = table.due(now);
    assert_eq!(fires.len(), 1);
    let fire = &fires[0];
    assert_eq!(fire.key, "k");
    assert_eq!(fire.scheduled_for, t0 + TimeDelta::seconds(60));
    assert_eq!(fire.executed_at, now);
    assert_eq!(fire.missed, 0);
    assert_eq!(
        fire.state,
        TimerState {
            registered_at: t0,
            handled_through: Some(t0 + TimeDelta::seconds(60)),
            last_fired_at: Some(now),
            next_fire: Some(t0 + TimeDelta::seconds(120)),
        }
    );
    assert_eq!(table.state("k"), Some(&fire.state));
    // Nothing more until the next deadline.
    assert!(table.due(now).is_empty());
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(120)));
}

#[test]
fn upsert_replaces_schedule_and_deadline() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let mut table = TimerTable::default();
    table.upsert("k".into(), every(10), TimerState::new(t0), t0);
    table.upsert("other".into(), every(3600), TimerState::new(t0), t0);
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(10)));
    // Same key, new schedule: the old deadline is gone.
    let registration = table.upsert("k".into(), every(1800), TimerState::new(t0), t0);
    assert_eq!(
        registration,
        Registration::Scheduled {
            next_fire: t0 + TimeDelta::seconds(1800)
        }
    );
    assert_eq!(table.len(), 2);
    assert_eq!(table.scheduled_len(), 2);
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(1800)));
    assert!(table.due(t0 + TimeDelta::seconds(10)).is_empty());
    assert_eq!(
        table.schedule("k").map(ToString::to_string).as_deref(),
        Some("every 1800 seconds")
    );
}

#[test]
fn remove_drops_the_timer_and_its_deadline() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let mut table = TimerTable::default();
    table.upsert("soon".into(), every(5), TimerState::new(t0), t0);
    table.upsert("later".into(), every(50), TimerState::new(t0), t0);
    let removed = table.remove("soon");
    assert_eq!(
        removed.and_then(|state| state.next_fire),
        Some(t0 + TimeDelta::seconds(5))
    );
    assert_eq!(table.remove("soon"), None);
    assert!(!table.contains("soon"));
    assert_eq!(table.len(), 1);
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(50)));
    assert_eq!(keys(&table.due(t0 + TimeDelta::seconds(50))), ["later"]);
    table.remove("later");
    assert!(table.is_empty());
    assert_eq!(table.next_deadline(), None);
}

#[test]
fn impossible_cron_is_registered_without_deadline() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let mut table = TimerTable::default();
    assert_eq!(
        table.upsert(
            "feb30".into(),
            cron(json!({"month": 2, "day": 30})),
            TimerState::new(t0),
            t0
        ),
        Registration::NeverFires
    );
    assert_eq!(table.len(), 1);
    assert_eq!(table.scheduled_len(), 0);
    assert_eq!(table.next_deadline(), None);
}

#[test]
fn state_round_trips_through_json() {
    let state = TimerState {
        registered_at: utc("2024-01-01T00:00:00Z"),
        handled_through: Some(utc("2024-01-01T00:10:00Z")),
        last_fired_at: Some(utc("2024-01-01T00:10:00.250Z")),
        next_fire: Some(utc("2024-01-01T00:11:00Z")),
    };
    let text = serde_json::to_string(&state).expect("serializes");
    assert_eq!(
        text,
        r#"{"registered_at":"2024-01-01T00:00:00Z","handled_through":"2024-01-01T00:10:00Z","last_fired_at":"2024-01-01T00:10:00.250Z","next_fire":"2024-01-01T00:11:00Z"}"#
    );
    assert_eq!(serde_json::from_str::<TimerState>(&text).ok(), Some(state));
    // Only `registered_at` is required.
    let fresh: TimerState =
        serde_json::from_str(r#"{"registered_at":"2024-01-01T00:00:00Z"}"#).expect("parses");
    assert_eq!(fresh, TimerState::new(utc("2024-01-01T00:00:00Z")));
}

#[test]
fn a_hundred_thousand_timers() {
    let t0 = utc("2024-01-01T00:00:00Z");
    let mut table = TimerTable::default();
    let minutely = cron(json!({"second": 30}));
    for i in 0..100_000u64 {
        let schedule = if i % 10 == 5 {
            minutely.clone()
        } else {
            every(1 + i % 60)
        };
        table.upsert(format!("timer-{i}"), schedule, TimerState::new(t0), t0);
    }
    assert_eq!(table.len(), 100_000);
    assert_eq!(table.next_deadline(), Some(t0 + TimeDelta::seconds(1)));
    // One second in: the 1-second interval timers.
    let fires = table.due(t0 + TimeDelta::seconds(1));
    assert_eq!(fires.len(), 1_667);
    // A minute in: every timer is due, and each fires exactly once.
    let fires = table.due(t0 + TimeDelta::seconds(60));
    assert_eq!(fires.len(), 100_000);
    assert!(table.next_deadline() > Some(t0 + TimeDelta::seconds(60)));
    // Replace and remove half of them.
    for i in (0..100_000u64).step_by(2) {
        table.remove(&format!("timer-{i}"));
    }
    assert_eq!(table.len(), 50_000);
    assert_eq!(table.scheduled_len(), 50_000);
}
