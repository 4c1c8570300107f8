//! Retention: old finished records go with everything that hangs off them; unfinished ones stay;
//! work per call is bounded; purge is idempotent.

use chrono::{DateTime, TimeDelta, Utc};
use nerve_model::{
    EnforcementStatus, ExecutionStatus as S, RuleEnforcement, TriggerInstanceStatus,
};
use nerve_store::{
    ExecutionFilter, KvScope, KvWrite, PurgeStats, Store, StoreOptions, TraceComponent,
    TraceComponentKind, TriggerInstanceRecord, new_id_at, timestamp,
};
use serde_json::json;

use crate::support::{execution_at, temp_store, temp_store_with};

fn component(id: &str) -> TraceComponent {
    TraceComponent {
        id: id.to_owned(),
        component_ref: "x.y".to_owned(),
        caused_by: None,
        updated_at: timestamp(Utc::now()),
    }
}

async fn finished_execution(store: &Store, started: DateTime<Utc>, trace: Option<&str>) -> String {
    let mut old = execution_at("core.local", started);
    old.status = S::Succeeded;
    old.end_timestamp = Some(timestamp(started + TimeDelta::minutes(1)));
    old.context.trace_id = trace.map(str::to_owned);
    store.create_execution(&old).await.unwrap();
    old.id
}

async fn old_event(store: &Store, at: DateTime<Utc>, status: TriggerInstanceStatus) -> String {
    let record = TriggerInstanceRecord {
        id: new_id_at(at),
        trigger: "a.b".to_owned(),
        payload: json!({}),
        occurrence_time: timestamp(at),
        status,
        trace_id: Some(format!("trace-{}", timestamp(at))),
        trace_tag: None,
    };
    store.record_trigger_instance(&record).await.unwrap();
    record.id
}

#[tokio::test]
async fn purge_removes_old_finished_records_and_keeps_unfinished_and_recent_ones() {
    let (dir, store) = temp_store();
    let now = Utc::now();
    let long_ago = now - TimeDelta::days(40);

    // An old finished execution with output, a result file and a trace.
    let old_done = finished_execution(&store, long_ago, Some("trace-old")).await;
    for n in 0..5 {
        store
            .append_output(&old_done, "stdout", &n.to_string())
            .unwrap();
    }
    store
        .update_execution(&old_done, |execution| {
            execution.result = Some(json!("z".repeat(300 * 1024)));
            Ok::<(), ()>(())
        })
        .await
        .unwrap();
    let result_file = dir.path().join("results").join(format!("{old_done}.json"));
    assert!(result_file.exists());
    store
        .add_to_trace(
            "trace-old",
            "t",
            TraceComponentKind::Execution,
            component(&old_done),
        )
        .unwrap();
    // An old execution that is still running, and a recent finished one.
    let mut old_running = execution_at("core.local", long_ago);
    old_running.status = S::Running;
    store.create_execution(&old_running).await.unwrap();
    let recent_done = finished_execution(&store, now - TimeDelta::days(1), None).await;

    // Events: old processed (goes), old pending (stays), recent processed (stays).
    let old_processed = old_event(
        &store,
        now - TimeDelta::days(8),
        TriggerInstanceStatus::Processed,
    )
    .await;
    let old_pending = old_event(
        &store,
        now - TimeDelta::days(8),
        TriggerInstanceStatus::Pending,
    )
    .await;
    let recent = old_event(
        &store,
        now - TimeDelta::days(6),
        TriggerInstanceStatus::Processed,
    )
    .await;
    let trace_of_old = store
        .trigger_instance(&old_processed)
        .unwrap()
        .unwrap()
        .trace_id
        .unwrap();
    store
        .add_to_trace(
            &trace_of_old,
            "t",
            TraceComponentKind::TriggerInstance,
            component(&old_processed),
        )
        .unwrap();
    store
        .add_to_trace(
            &trace_of_old,
            "t",
            TraceComponentKind::RuleEnforcement,
            component(&RuleEnforcement::key(&old_processed, "p.r")),
        )
        .unwrap();

    // Enforcements: one old (of an event as old), one recent.
    let ancient_event = new_id_at(now - TimeDelta::days(31));
    for (event, age) in [(&ancient_event, 31), (&recent, 1)] {
        let enforcement = RuleEnforcement {
            id: String::new(),
            trigger_instance_id: event.clone(),
            rule: "p.r".to_owned(),
            execution_id: None,
            status: EnforcementStatus::Succeeded,
            failure_reason: None,
            enforced_at: timestamp(now - TimeDelta::days(age)),
        };
        store.record_enforcement_once(&enforcement).await.unwrap();
    }
    // Expired and live kv.
    let expiring = KvWrite {
        name: "gone".to_owned(),
        value: "v".to_owned(),
        ttl_seconds: Some(1),
        ..KvWrite::default()
    };
    store
        .kv()
        .set_at(&expiring, now - TimeDelta::hours(1))
        .await
        .unwrap();
    store
        .kv()
        .set(&KvWrite {
            name: "kept".to_owned(),
            value: "v".to_owned(),
            ..KvWrite::default()
        })
        .await
        .unwrap();

    let stats = store.purge(now).unwrap();
    assert_eq!(
        (
            stats.executions,
            stats.output_lines,
            stats.result_files,
            stats.trigger_instances
        ),
        (1, 5, 1, 1)
    );
    assert_eq!(
        (
            stats.enforcements,
            stats.kv_expired,
            stats.traces,
            stats.complete
        ),
        (1, 1, 2, true)
    );

    assert_eq!(store.execution_record(&old_done).unwrap(), None);
    assert!(store.output(&old_done, 0, 10).unwrap().is_empty());
    assert!(!result_file.exists());
    assert_eq!(store.get_trace("trace-old").unwrap(), None);
    assert_eq!(store.get_trace(&trace_of_old).unwrap(), None);
    assert!(store.execution_record(&old_running.id).unwrap().is_some());
    assert!(store.execution_record(&recent_done).unwrap().is_some());
    let succeeded = store
        .list_executions(&ExecutionFilter {
            status: Some(S::Succeeded),
            ..ExecutionFilter::default()
        })
        .unwrap();
    assert_eq!(
        succeeded.total, 1,
        "index entries of the purged execution are gone"
    );
    assert_eq!(store.trigger_instance(&old_processed).unwrap(), None);
    assert!(store.trigger_instance(&old_pending).unwrap().is_some());
    assert!(store.trigger_instance(&recent).unwrap().is_some());
    assert_eq!(store.enforcement(&ancient_event, "p.r").unwrap(), None);
    assert!(store.enforcement(&recent, "p.r").unwrap().is_some());
    assert!(
        store
            .kv()
            .get(KvScope::System, "kept", false)
            .unwrap()
            .is_some()
    );

    // Idempotent: a second call finds nothing to do.
    let mut nothing = PurgeStats::default();
    nothing.complete = true;
    assert_eq!(store.purge(now).unwrap(), nothing);
}

#[tokio::test]
async fn purge_work_per_call_is_bounded_and_resumes() {
    let options = StoreOptions {
        purge_batch: 4,
        ..StoreOptions::default()
    };
    let (_dir, store) = temp_store_with(options);
    let now = Utc::now();
    let long_ago = now - TimeDelta::days(40);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(finished_execution(&store, long_ago + TimeDelta::seconds(n), None).await);
    }
    // The first has more output lines than one call may delete.
    for n in 0..6 {
        store
            .append_output(&ids[0], "stdout", &n.to_string())
            .unwrap();
    }
    let mut calls = Vec::new();
    loop {
        let stats = store.purge(now).unwrap();
        calls.push((stats.executions, stats.output_lines, stats.complete));
        assert!(stats.executions + stats.output_lines <= 4, "{stats:?}");
        if stats.complete || calls.len() > 10 {
            break;
        }
    }
    let removed: usize = calls.iter().map(|call| call.0).sum();
    let lines: usize = calls.iter().map(|call| call.1).sum();
    assert_eq!((removed, lines), (5, 6), "{calls:?}");
    assert!(calls.len() > 1, "{calls:?}");
    assert_eq!(
        store
            .list_executions(&ExecutionFilter::default())
            .unwrap()
            .total,
        0
    );
}
