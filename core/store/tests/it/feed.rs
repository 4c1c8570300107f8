//! The change feed: a Put per write in commit order for one key, Deletes, and lag.

use nerve_model::ExecutionStatus as S;
use nerve_store::{ChangeKind, ChangeOp, KvScope, KvWrite, StoreOptions};
use tokio::sync::broadcast::error::RecvError;

use crate::support::{event, execution, next_change, temp_store, temp_store_with};

#[tokio::test]
async fn every_write_to_one_execution_is_reported_in_order() {
    let (_dir, store) = temp_store();
    let mut feed = store.subscribe();
    let requested = execution("core.local");
    store.create_execution(&requested).await.unwrap();
    for status in [S::Scheduled, S::Running, S::Succeeded] {
        store
            .transition(&requested.id, status, None, None)
            .await
            .unwrap();
    }
    let mut revisions = Vec::new();
    // One Put for the create and one per transition.
    for _ in 0..4 {
        let change = next_change(&mut feed, ChangeKind::Execution).await;
        assert_eq!(
            (change.id.as_str(), change.op),
            (requested.id.as_str(), ChangeOp::Put)
        );
        revisions.push(change.revision);
    }
    assert!(
        revisions.windows(2).all(|pair| pair[0] < pair[1]),
        "{revisions:?}"
    );
    // A no-op transition writes nothing and reports nothing.
    store
        .transition(&requested.id, S::Succeeded, None, None)
        .await
        .unwrap();
    store
        .append_output(&requested.id, "stdout", "after")
        .unwrap();
    let next = next_change(&mut feed, ChangeKind::Output).await;
    assert_eq!(next.id, requested.id);
    assert!(feed.try_recv().is_err(), "nothing else was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_one_key_are_reported_once_each_in_commit_order() {
    let (_dir, store) = temp_store();
    let requested = execution("core.local");
    store.create_execution(&requested).await.unwrap();
    let mut feed = store.subscribe();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let id = requested.id.clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    store
                        .update_execution(&id, |execution| {
                            let count = execution
                                .parameters
                                .get("count")
                                .and_then(|v| v.as_u64())
                                .unwrap_or(0);
                            execution
                                .parameters
                                .insert("count".to_owned(), (count + 1).into());
                            Ok::<(), ()>(())
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut last_revision = 0;
    for _ in 0..80 {
        let change = next_change(&mut feed, ChangeKind::Execution).await;
        assert!(change.revision > last_revision);
        last_revision = change.revision;
    }
    let count = store
        .get_execution(&requested.id)
        .unwrap()
        .unwrap()
        .parameters["count"]
        .clone();
    assert_eq!(count, 80, "no update was lost");
    assert!(feed.try_recv().is_err());
}

#[tokio::test]
async fn deletes_are_reported() {
    let (_dir, store) = temp_store();
    let mut feed = store.subscribe();
    let write = KvWrite {
        name: "k".to_owned(),
        value: "v".to_owned(),
        ..KvWrite::default()
    };
    store.kv().set(&write).await.unwrap();
    store.kv().delete(KvScope::System, "k").await.unwrap();
    let put = next_change(&mut feed, ChangeKind::Kv).await;
    let delete = next_change(&mut feed, ChangeKind::Kv).await;
    assert_eq!((put.id.as_str(), put.op), ("system:k", ChangeOp::Put));
    assert_eq!(
        (delete.id.as_str(), delete.op),
        ("system:k", ChangeOp::Delete)
    );
}

#[tokio::test]
async fn a_lagging_subscriber_is_told_how_much_it_missed() {
    let options = StoreOptions {
        change_feed_capacity: 4,
        ..StoreOptions::default()
    };
    let (_dir, store) = temp_store_with(options);
    let mut feed = store.subscribe();
    for _ in 0..10 {
        store.record_trigger_instance(&event("a.b")).await.unwrap();
    }
    assert!(matches!(feed.recv().await, Err(RecvError::Lagged(6))));
    // After re-reading state it follows the feed again.
    assert_eq!(
        next_change(&mut feed, ChangeKind::TriggerInstance).await.op,
        ChangeOp::Put
    );
}
