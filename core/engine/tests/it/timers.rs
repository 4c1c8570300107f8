//! Timer triggers: fire on schedule, resume after a restart with one catch-up event.

use nerve_model::Rule;
use nerve_store::{Store, StoreOptions, TriggerInstanceFilter};
use serde_json::{Value, json};

use crate::support::{DEADLINE, TestEnv};

fn interval_rule(unit: &str, delta: u64) -> Rule {
    serde_json::from_value(json!({
        "name": "tick",
        "pack": "tests",
        "enabled": true,
        "trigger": {"type": "core.st2.IntervalTimer", "parameters": {"unit": unit, "delta": delta}},
        "action": {"ref": "core.noop"}
    }))
    .unwrap()
}

fn key(unit: &str, delta: u64) -> String {
    format!(
        "core.st2.IntervalTimer?{}",
        json!({"delta": delta, "unit": unit})
    )
}

fn events(store: &Store, key: &str) -> Vec<Value> {
    store
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: Some(key.to_owned()),
            ..TriggerInstanceFilter::default()
        })
        .unwrap()
        .items
        .into_iter()
        .map(|ti| ti.payload)
        .collect()
}

async fn wait_for_events(env: &TestEnv, key: &str, count: usize) -> Vec<Value> {
    let mut changes = env.store.subscribe();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let found = events(&env.store, key);
        if found.len() >= count {
            return found;
        }
        assert!(
            tokio::time::timeout_at(deadline, changes.recv())
                .await
                .is_ok(),
            "only {} of {count} timer events",
            found.len()
        );
    }
}

#[tokio::test]
async fn an_interval_timer_fires_each_interval_and_runs_the_rule() {
    let env = TestEnv::start(&[]).await;
    env.engine
        .create_rule(interval_rule("seconds", 1))
        .await
        .unwrap();
    let fired = wait_for_events(&env, &key("seconds", 1), 3).await;
    for payload in &fired {
        assert!(payload["executed_at"].as_str().unwrap().ends_with("+00:00"));
        assert_eq!(payload["schedule"], Value::Null);
        assert!(payload.get("missed").is_none(), "on time: {payload}");
    }
    env.wait_for_executions(3, |e| e.action == "core.noop" && e.status.is_final())
        .await;
    // Deleting the rule stops the timer and forgets its state.
    env.engine.delete_rule("tests.tick").await.unwrap();
    let mut changes = env.store.subscribe();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !env.store.timers().is_empty() {
        assert!(
            tokio::time::timeout_at(deadline, changes.recv())
                .await
                .is_ok()
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn three_days_of_downtime_become_one_catch_up_event() {
    let env = TestEnv::start(&[]).await;
    env.engine
        .create_rule(interval_rule("hours", 1))
        .await
        .unwrap();
    let mut changes = env.store.subscribe();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while env.store.timers().is_empty() {
        assert!(
            tokio::time::timeout_at(deadline, changes.recv())
                .await
                .is_ok()
        );
    }
    let dir = env.stop().await;

    // While "down": the timer was registered three days (and a minute) ago.
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let (state_key, mut record) = store.timers().list("").unwrap().remove(0);
        let registered =
            chrono::Utc::now() - chrono::Duration::days(3) - chrono::Duration::minutes(1);
        record["state"]["registered_at"] = json!(registered.to_rfc3339());
        store.timers().put(&state_key, &record).unwrap();
        store.flush().await.unwrap();
    }

    let env = TestEnv::start_in(dir, &[]).await;
    let fired = wait_for_events(&env, &key("hours", 1), 1).await;
    assert_eq!(fired.len(), 1, "one event, not a storm: {fired:?}");
    assert_eq!(fired[0]["missed"], json!(72), "{}", fired[0]);
    env.wait_for_executions(1, |e| e.action == "core.noop" && e.status.is_final())
        .await;
    assert_eq!(events(&env.store, &key("hours", 1)).len(), 1);
    env.stop().await;
}
