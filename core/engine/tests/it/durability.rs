//! Restart recovery: unprocessed events are processed, interrupted executions are abandoned.

use nerve_model::{Execution, ExecutionContext, ExecutionStatus};
use serde_json::json;

use crate::support::TestEnv;

#[tokio::test]
async fn restart_abandons_interrupted_runs_and_processes_pending_events() {
    let env = TestEnv::start(&[]).await;
    let rule: nerve_model::Rule = serde_json::from_value(json!({
        "name": "r", "pack": "tests", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "r"}},
        "action": {"ref": "core.noop"}
    }))
    .unwrap();
    env.engine.create_rule(rule).await.unwrap();
    let dir = env.stop().await;

    // Simulate what a crash leaves behind: a running execution and an unprocessed event.
    {
        let store =
            nerve_store::Store::open(dir.path(), nerve_store::StoreOptions::default()).unwrap();
        let now = nerve_store::timestamp(chrono::Utc::now());
        let running = Execution {
            id: nerve_store::new_id(),
            action: "core.noop".into(),
            runner: "noop".into(),
            parameters: serde_json::Map::new(),
            status: ExecutionStatus::Requested,
            result: None,
            reason: None,
            context: ExecutionContext::default(),
            start_timestamp: now.clone(),
            end_timestamp: None,
            log: Vec::new(),
            children: Vec::new(),
            worker: None,
        };
        store.create_execution(&running).await.unwrap();
        store
            .transition(&running.id, ExecutionStatus::Scheduled, None, None)
            .await
            .unwrap();
        store
            .transition(&running.id, ExecutionStatus::Running, None, None)
            .await
            .unwrap();
        let event = nerve_store::TriggerInstanceRecord {
            id: nerve_store::new_id(),
            trigger: format!("core.st2.webhook?{}", json!({"url": "r"})),
            payload: json!({"body": {}}),
            occurrence_time: now,
            status: nerve_model::TriggerInstanceStatus::Pending,
            trace_id: None,
            trace_tag: None,
        };
        store.record_trigger_instance(&event).await.unwrap();
    }

    let env = TestEnv::start_in(dir, &[]).await;
    let executions = env.wait_for_executions(2, |e| e.status.is_final()).await;
    let statuses: Vec<ExecutionStatus> = {
        let mut s: Vec<ExecutionStatus> = executions.iter().map(|e| e.status).collect();
        s.sort_by_key(|s| s.as_str());
        s
    };
    assert_eq!(
        statuses,
        [ExecutionStatus::Abandoned, ExecutionStatus::Succeeded]
    );
}

/// An event redelivered after its rule fired (the process died before marking it processed)
/// fires nothing again.
#[tokio::test]
async fn redelivered_event_fires_each_rule_once() {
    let env = TestEnv::start(&[]).await;
    let rule: nerve_model::Rule = serde_json::from_value(json!({
        "name": "once", "pack": "tests", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "once"}},
        "action": {"ref": "core.noop"}
    }))
    .unwrap();
    env.engine.create_rule(rule).await.unwrap();
    let key = format!("core.st2.webhook?{}", json!({"url": "once"}));
    let event = env
        .engine
        .emit(&key, json!({"body": {}}), None)
        .await
        .unwrap();
    env.wait_for_executions(1, |e| e.status.is_final()).await;
    let dir = env.stop().await;
    {
        let store =
            nerve_store::Store::open(dir.path(), nerve_store::StoreOptions::default()).unwrap();
        store
            .set_trigger_instance_status(&event.id, nerve_model::TriggerInstanceStatus::Processing)
            .await
            .unwrap();
    }
    let env = TestEnv::start_in(dir, &[]).await;
    let mut changes = env.store.subscribe();
    let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
    while !env.store.pending_trigger_instances().unwrap().is_empty() {
        tokio::time::timeout_at(deadline, changes.recv())
            .await
            .expect("event processed again")
            .ok();
    }
    let executions: Vec<_> = env
        .all_executions()
        .into_iter()
        .filter(|e| e.action == "core.noop")
        .collect();
    assert_eq!(executions.len(), 1, "{executions:#?}");
}
