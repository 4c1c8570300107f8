//! The timer trigger source: `core.st2.IntervalTimer`, `DateTimer` and `CronTimer`, for every
//! enabled rule that uses one, run by one task over one next-fire table (`nerve-timers`).
//!
//! Each timer's state (when it was registered, the last fire time dealt with) is kept in the
//! store, so a restart resumes the schedule: fires missed while Nerve was down become one
//! catch-up event carrying `missed: n` (never a storm, never a silent loss; see
//! [`nerve_timers::CatchUp`]). An event is recorded before the timer's state moves past it, so
//! a crash between the two repeats that one fire rather than losing it.
//! Timers no rule uses any more are dropped with their state.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use nerve_timers::{
    CRON_TIMER, DATE_TIMER, INTERVAL_TIMER, Registration, Schedule, TimerState, TimerTable,
};
use serde_json::{Value, json};

use crate::{Engine, EngineError};

/// Starts the timer task.
pub(crate) fn spawn(engine: &Engine) {
    let engine = engine.clone();
    let cancel = engine.inner.cancel.clone();
    let mut changes = engine.inner.content_version.subscribe();
    engine.inner.tasks.clone().spawn(async move {
        let mut table = TimerTable::default();
        let mut known: HashSet<String> = HashSet::new();
        loop {
            changes.borrow_and_update();
            if let Err(error) = sync(&engine, &mut table, &mut known).await {
                tracing::error!(%error, "Could not update the timers.");
            }
            let next = table.next_deadline();
            let sleep = async {
                match next {
                    Some(at) => {
                        let wait = (at - Utc::now()).to_std().unwrap_or_default();
                        tokio::time::sleep(wait).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                changed = changes.changed() => if changed.is_err() { break },
                () = sleep => fire(&engine, &mut table).await,
            }
        }
    });
}

/// The timers the rules ask for: trigger key → (type, parameters).
fn wanted(engine: &Engine) -> HashMap<String, (String, Value)> {
    let content = engine.content();
    content
        .rule_records()
        .filter(|record| record.enabled)
        .map(|record| &record.rule)
        .filter(|rule| {
            [INTERVAL_TIMER, DATE_TIMER, CRON_TIMER].contains(&rule.trigger.trigger_type.as_str())
        })
        .map(|rule| {
            (
                rule.trigger_key(),
                (
                    rule.trigger.trigger_type.clone(),
                    Value::Object(rule.trigger.parameters.clone()),
                ),
            )
        })
        .collect()
}

/// The store key of a timer (trigger keys may hold `/`, as in `Europe/Berlin`).
fn state_key(trigger_key: &str) -> String {
    format!("timer-{:016x}", crate::sensors::fnv1a(trigger_key))
}

fn load_state(engine: &Engine, trigger_key: &str) -> Result<Option<TimerState>, EngineError> {
    let stored = engine.store().timers().get(&state_key(trigger_key))?;
    Ok(stored
        .filter(|v| v["trigger"] == json!(trigger_key))
        .and_then(|v| serde_json::from_value(v["state"].clone()).ok()))
}

fn save_state(engine: &Engine, trigger_key: &str, state: &TimerState) -> Result<(), EngineError> {
    engine.store().timers().put(
        &state_key(trigger_key),
        &json!({"trigger": trigger_key, "state": state}),
    )?;
    Ok(())
}

async fn sync(
    engine: &Engine,
    table: &mut TimerTable,
    known: &mut HashSet<String>,
) -> Result<(), EngineError> {
    let wanted = wanted(engine);
    let now = Utc::now();
    for gone in known.iter().filter(|k| !wanted.contains_key(*k)) {
        table.remove(gone);
        engine.store().timers().delete(&state_key(gone))?;
        tracing::info!(timer = %gone, "Timer removed.");
    }
    known.retain(|k| wanted.contains_key(k));
    for (key, (type_ref, parameters)) in wanted {
        if known.contains(&key) {
            continue;
        }
        known.insert(key.clone());
        let schedule = match Schedule::parse(&type_ref, &parameters) {
            Ok(schedule) => schedule,
            Err(error) => {
                tracing::error!(timer = %key, %error, "Timer parameters are invalid; it will not fire.");
                continue;
            }
        };
        let state = match load_state(engine, &key)? {
            Some(state) => state,
            None => {
                let state = TimerState::new(now);
                save_state(engine, &key, &state)?;
                state
            }
        };
        match table.upsert(key.clone(), schedule, state, now) {
            Registration::Scheduled { next_fire } | Registration::Overdue { next_fire } => {
                tracing::info!(timer = %key, %next_fire, "Timer scheduled.");
            }
            Registration::Finished => tracing::debug!(timer = %key, "Date timer already fired."),
            Registration::Expired { date } => {
                tracing::warn!(timer = %key, %date, "Date timer is in the past; it will not fire.");
            }
            Registration::NeverFires => {
                tracing::warn!(timer = %key, "Timer matches no time; it will never fire.");
            }
        }
    }
    engine.store().flush().await?;
    Ok(())
}

async fn fire(engine: &Engine, table: &mut TimerTable) {
    for fire in table.due(Utc::now()) {
        let payload = nerve_timers::payload(&fire);
        if fire.missed > 0 {
            tracing::warn!(timer = %fire.key, missed = fire.missed, "Timer fires once for the times missed while down.");
        }
        if let Err(error) = crate::ingest::emit(engine, &fire.key, payload, None).await {
            tracing::error!(timer = %fire.key, %error, "Could not record a timer event.");
            continue;
        }
        if let Err(error) = save_state(engine, &fire.key, &fire.state) {
            tracing::error!(timer = %fire.key, %error, "Could not save a timer's state.");
        }
    }
    if let Err(error) = engine.store().flush().await {
        tracing::error!(%error, "Could not flush the timers' state.");
    }
}
