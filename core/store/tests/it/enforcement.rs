//! Rule enforcements: at most once per (rule, trigger instance), under concurrency.

use std::sync::Arc;

use chrono::Utc;
use nerve_model::{EnforcementStatus, RuleEnforcement};
use nerve_store::{EnforcementFilter, EnforcementOutcome, new_id, timestamp};
use tokio::sync::Barrier;

use crate::support::temp_store;

fn enforcement(trigger_instance_id: &str, rule: &str, execution_id: &str) -> RuleEnforcement {
    RuleEnforcement {
        id: String::new(),
        trigger_instance_id: trigger_instance_id.to_owned(),
        rule: rule.to_owned(),
        execution_id: Some(execution_id.to_owned()),
        status: EnforcementStatus::Succeeded,
        failure_reason: None,
        enforced_at: timestamp(Utc::now()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_eight_racing_tasks_records_the_enforcement() {
    let (_dir, store) = temp_store();
    let trigger_instance_id = new_id();
    let barrier = Arc::new(Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            let trigger_instance_id = trigger_instance_id.clone();
            tokio::spawn(async move {
                let mine = enforcement(&trigger_instance_id, "p.rule", &format!("exec-{task}"));
                barrier.wait().await;
                (task, store.record_enforcement_once(&mine).await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut existing = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (task, EnforcementOutcome::Inserted) => winners.push(task),
            (_, EnforcementOutcome::AlreadyExists(found)) => existing.push(found),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner_execution = format!("exec-{}", winners[0]);
    assert_eq!(existing.len(), 7);
    for found in &existing {
        assert_eq!(
            found.execution_id.as_deref(),
            Some(winner_execution.as_str())
        );
        assert_eq!(
            found.id,
            RuleEnforcement::key(&trigger_instance_id, "p.rule")
        );
    }
    let stored = store
        .enforcement(&trigger_instance_id, "p.rule")
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.execution_id.as_deref(),
        Some(winner_execution.as_str())
    );
    // Another rule on the same event fires independently.
    let other = enforcement(&trigger_instance_id, "p.other", "exec-x");
    assert_eq!(
        store.record_enforcement_once(&other).await.unwrap(),
        EnforcementOutcome::Inserted
    );
}

#[tokio::test]
async fn enforcements_update_and_list_by_rule_and_event() {
    let (_dir, store) = temp_store();
    let events: Vec<String> = (0..3).map(|_| new_id()).collect();
    for event in &events {
        for rule in ["p.a", "p.b"] {
            store
                .record_enforcement_once(&enforcement(event, rule, "e"))
                .await
                .unwrap();
        }
    }
    let mut failed = enforcement(&events[1], "p.a", "e");
    failed.status = EnforcementStatus::Failed;
    failed.execution_id = None;
    failed.failure_reason = Some("parameter `cmd`: undefined variable `trigger.x`".to_owned());
    store.update_enforcement(&failed).await.unwrap();

    let by_rule = store
        .list_enforcements(&EnforcementFilter {
            rule: Some("p.a".to_owned()),
            ..EnforcementFilter::default()
        })
        .unwrap();
    let got: Vec<_> = by_rule
        .items
        .iter()
        .map(|e| e.trigger_instance_id.clone())
        .collect();
    assert_eq!(
        got,
        [events[2].clone(), events[1].clone(), events[0].clone()]
    );
    let failures = store
        .list_enforcements(&EnforcementFilter {
            status: Some(EnforcementStatus::Failed),
            ..EnforcementFilter::default()
        })
        .unwrap();
    assert_eq!(failures.total, 1);
    assert_eq!(failures.items[0].failure_reason, failed.failure_reason);
    let of_event = store
        .list_enforcements(&EnforcementFilter {
            trigger_instance: Some(events[0].clone()),
            limit: Some(1),
            ..EnforcementFilter::default()
        })
        .unwrap();
    assert_eq!((of_event.items.len(), of_event.total), (1, 2));

    let unknown = enforcement(&new_id(), "p.a", "e");
    let error = store.update_enforcement(&unknown).await.unwrap_err();
    assert!(
        error.to_string().starts_with("rule enforcement `"),
        "{error}"
    );
}
