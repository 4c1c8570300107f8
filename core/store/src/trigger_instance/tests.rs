//! Unit tests of trigger-instance recording, status changes and listing.

use nerve_model::TriggerInstanceStatus as Status;
use serde_json::json;

use super::*;
use crate::test_support::temp_store;
use crate::{new_id, timestamp};

fn event(trigger: &str) -> TriggerInstanceRecord {
    TriggerInstanceRecord {
        id: new_id(),
        trigger: trigger.to_owned(),
        payload: json!({"n": 1}),
        occurrence_time: timestamp(Utc::now()),
        status: Status::Pending,
        trace_id: None,
        trace_tag: None,
    }
}

#[tokio::test]
async fn recording_is_idempotent_and_refuses_a_different_event_under_the_same_id() {
    let (_dir, store) = temp_store();
    let record = event("core.st2.webhook");
    assert_eq!(
        store.record_trigger_instance(&record).await.unwrap(),
        InsertOutcome::Inserted
    );
    store
        .set_trigger_instance_status(&record.id, Status::Processed)
        .await
        .unwrap();
    // A redelivery of the same event after it was processed is not a conflict.
    assert_eq!(
        store.record_trigger_instance(&record).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
    assert_eq!(
        store.trigger_instance(&record.id).unwrap().unwrap().status,
        Status::Processed
    );
    let mut other = record.clone();
    other.payload = json!({"n": 2});
    let error = store.record_trigger_instance(&other).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "trigger instance `{}` already exists with different content",
            record.id
        )
    );
    let missing = store
        .set_trigger_instance_status("01NOPE", Status::Processed)
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "trigger instance `01NOPE` not found");
}

#[tokio::test]
async fn pending_lists_only_unfinished_events_oldest_first() {
    let (_dir, store) = temp_store();
    let records: Vec<_> = (0..4).map(|_| event("a.b")).collect();
    for record in &records {
        store.record_trigger_instance(record).await.unwrap();
    }
    store
        .set_trigger_instance_status(&records[0].id, Status::Processed)
        .await
        .unwrap();
    store
        .set_trigger_instance_status(&records[2].id, Status::Processing)
        .await
        .unwrap();
    store
        .set_trigger_instance_status(&records[3].id, Status::ProcessingFailed)
        .await
        .unwrap();
    let pending: Vec<_> = store
        .pending_trigger_instances()
        .unwrap()
        .into_iter()
        .map(|record| (record.id, record.status))
        .collect();
    assert_eq!(
        pending,
        vec![
            (records[1].id.clone(), Status::Pending),
            (records[2].id.clone(), Status::Processing)
        ]
    );
}

#[tokio::test]
async fn listing_filters_newest_first_with_totals() {
    let (_dir, store) = temp_store();
    let mut ids = Vec::new();
    for trigger in ["a.x", "a.y", "a.x", "a.x"] {
        let record = event(trigger);
        store.record_trigger_instance(&record).await.unwrap();
        ids.push(record.id);
    }
    store
        .set_trigger_instance_status(&ids[2], Status::Processed)
        .await
        .unwrap();
    let by_trigger = store
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: Some("a.x".to_owned()),
            limit: Some(2),
            ..TriggerInstanceFilter::default()
        })
        .unwrap();
    let got: Vec<_> = by_trigger.items.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        (got, by_trigger.total),
        (vec![ids[3].clone(), ids[2].clone()], 3)
    );
    let processed_x = store
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: Some("a.x".to_owned()),
            status: Some(Status::Processed),
            ..TriggerInstanceFilter::default()
        })
        .unwrap();
    assert_eq!(processed_x.total, 1);
    let pending = store
        .list_trigger_instances(&TriggerInstanceFilter {
            status: Some(Status::Pending),
            offset: 1,
            ..TriggerInstanceFilter::default()
        })
        .unwrap();
    let got: Vec<_> = pending.items.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        (got, pending.total),
        (vec![ids[1].clone(), ids[0].clone()], 3)
    );
    let future = store
        .list_trigger_instances(&TriggerInstanceFilter {
            since: Some(Utc::now() + chrono::TimeDelta::hours(1)),
            ..TriggerInstanceFilter::default()
        })
        .unwrap();
    assert_eq!(future.total, 0);
    let all = store
        .list_trigger_instances(&TriggerInstanceFilter::default())
        .unwrap();
    assert_eq!(all.total, 4);
    assert_eq!(all.items[0].id, ids[3]);
}

#[tokio::test]
async fn marking_processed_drops_the_status_entry_and_every_reader_sees_processed() {
    let (_dir, store) = temp_store();
    let record = event("core.st2.webhook");
    let other = event("core.st2.webhook");
    for r in [&record, &other] {
        store.record_trigger_instance(r).await.unwrap();
    }
    store
        .mark_trigger_instance_processed_unflushed(&record.id)
        .unwrap();

    let status_of = |id: &str| store.trigger_instance(id).unwrap().unwrap().status;
    assert_eq!(status_of(&record.id), Status::Processed);
    assert_eq!(status_of(&other.id), Status::Pending);
    let pending: Vec<_> = store
        .pending_trigger_instances()
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(pending, vec![other.id.clone()]);
    let listed = |status| {
        store
            .list_trigger_instances(&TriggerInstanceFilter {
                status: Some(status),
                ..TriggerInstanceFilter::default()
            })
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(Status::Processed), vec![record.id.clone()]);
    assert_eq!(listed(Status::Pending), vec![other.id.clone()]);
    let by_trigger = store
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: Some("core.st2.webhook".to_owned()),
            ..TriggerInstanceFilter::default()
        })
        .unwrap();
    let statuses: Vec<_> = by_trigger.items.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![Status::Pending, Status::Processed]);

    // Recording the same event again (a sensor node's redelivery) leaves it processed.
    assert_eq!(
        store.record_trigger_instance(&record).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
    assert_eq!(status_of(&record.id), Status::Processed);
    // And a later status change starts from processed.
    let failed = store
        .set_trigger_instance_status(&record.id, Status::ProcessingFailed)
        .await
        .unwrap();
    assert_eq!(failed.status, Status::ProcessingFailed);
    assert_eq!(status_of(&record.id), Status::ProcessingFailed);
}

#[tokio::test]
async fn an_event_marked_processed_is_purged_when_old() {
    let (_dir, store) = temp_store();
    let record = event("core.st2.webhook");
    store.record_trigger_instance(&record).await.unwrap();
    store
        .mark_trigger_instance_processed_unflushed(&record.id)
        .unwrap();
    // Purge walks records by id (time) order: look from a year ahead.
    let stats = store
        .purge(Utc::now() + chrono::Duration::days(365))
        .unwrap();
    assert_eq!(stats.trigger_instances, 1);
    assert!(store.trigger_instance(&record.id).unwrap().is_none());
}

#[tokio::test]
async fn a_new_event_is_listed_pending_and_a_later_recording_of_it_finds_it_present() {
    let (_dir, store) = temp_store();
    let record = event("core.st2.webhook");
    store
        .record_new_trigger_instance_unflushed(&record)
        .unwrap();
    store.flush().await.unwrap();
    let pending = store
        .list_trigger_instances(&TriggerInstanceFilter {
            status: Some(Status::Pending),
            ..TriggerInstanceFilter::default()
        })
        .unwrap();
    assert_eq!(
        pending
            .items
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [record.id.as_str()]
    );
    // A redelivery takes the checked path and finds it.
    assert_eq!(
        store.record_trigger_instance(&record).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
    assert!(matches!(
        store.record_new_trigger_instance_unflushed(&TriggerInstanceRecord {
            id: "no/slashes".to_owned(),
            ..record
        }),
        Err(StoreError::InvalidId { .. })
    ));
}
