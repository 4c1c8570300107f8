//! Executions: idempotent creation, legal and illegal transitions with their log, refused
//! updates, listing through the indexes, recovery lookups.

use nerve_model::ExecutionStatus as S;
use nerve_store::{ExecutionFilter, InsertOutcome, StoreError, UpdateError};
use serde_json::json;

use crate::support::{execution, temp_store};

#[tokio::test]
async fn creation_is_idempotent_and_refuses_a_different_request() {
    let (_dir, store) = temp_store();
    let first = execution("core.local");
    assert_eq!(
        store.create_execution(&first).await.unwrap(),
        InsertOutcome::Inserted
    );
    store
        .transition(&first.id, S::Scheduled, None, None)
        .await
        .unwrap();
    // A redelivered request after the status moved on is the same request.
    assert_eq!(
        store.create_execution(&first).await.unwrap(),
        InsertOutcome::AlreadyPresent
    );
    let mut other = first.clone();
    other.action = "core.remote".to_owned();
    let error = store.create_execution(&other).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "execution `{}` already exists with different content",
            first.id
        )
    );
}

#[tokio::test]
async fn legal_transitions_log_each_status_and_end_final_ones() {
    let (_dir, store) = temp_store();
    let requested = execution("core.local");
    let id = requested.id.clone();
    store.create_execution(&requested).await.unwrap();
    store
        .transition(&id, S::Scheduled, None, None)
        .await
        .unwrap();
    let running = store.transition(&id, S::Running, None, None).await.unwrap();
    assert_eq!(running.execution.end_timestamp, None);
    // Repeating the current status is a no-op, not a second log entry.
    store.transition(&id, S::Running, None, None).await.unwrap();
    let done = store
        .transition(
            &id,
            S::Succeeded,
            Some("exit code 0".to_owned()),
            Some(json!({"stdout": "hi", "return_code": 0})),
        )
        .await
        .unwrap()
        .execution;
    let log: Vec<S> = done.log.iter().map(|change| change.status).collect();
    assert_eq!(log, [S::Requested, S::Scheduled, S::Running, S::Succeeded]);
    assert_eq!(done.log[0].timestamp, requested.start_timestamp);
    assert_eq!(
        done.end_timestamp.as_deref(),
        Some(done.log[3].timestamp.as_str())
    );
    assert_eq!(done.reason.as_deref(), Some("exit code 0"));
    assert_eq!(done.result, Some(json!({"stdout": "hi", "return_code": 0})));
    assert_eq!(store.get_execution(&id).unwrap(), Some(done.clone()));

    // Final is final.
    let error = store
        .transition(&id, S::Running, None, None)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::IllegalTransition {
            from: S::Succeeded,
            to: S::Running,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        format!("execution `{id}` cannot go from `succeeded` to `running`")
    );
    assert_eq!(store.get_execution(&id).unwrap(), Some(done));
}

#[tokio::test]
async fn illegal_transitions_from_unfinished_statuses_are_refused_too() {
    let (_dir, store) = temp_store();
    let requested = execution("core.local");
    store.create_execution(&requested).await.unwrap();
    let error = store
        .transition(&requested.id, S::Succeeded, None, None)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::IllegalTransition {
            from: S::Requested,
            ..
        }
    ));
    store
        .transition(&requested.id, S::Running, None, None)
        .await
        .unwrap();
    store
        .transition(&requested.id, S::Canceling, None, None)
        .await
        .unwrap();
    assert!(
        store
            .transition(&requested.id, S::Running, None, None)
            .await
            .is_err()
    );
    let canceled = store
        .transition(&requested.id, S::Canceled, None, None)
        .await
        .unwrap();
    assert_eq!(canceled.execution.log.len(), 4);
    let missing = store
        .transition("01NOPE", S::Running, None, None)
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "execution `01NOPE` not found");
}

#[tokio::test]
async fn a_refused_update_writes_nothing() {
    let (_dir, store) = temp_store();
    let requested = execution("core.local");
    store.create_execution(&requested).await.unwrap();
    let refused = store
        .update_execution(&requested.id, |execution| {
            execution.status = S::Running;
            Err("worker is draining")
        })
        .await;
    assert!(matches!(
        refused,
        Err(UpdateError::Refused("worker is draining"))
    ));
    let unchanged = store.get_execution(&requested.id).unwrap().unwrap();
    assert_eq!((unchanged.status, unchanged.log.len()), (S::Requested, 1));
    let updated = store
        .update_execution(&requested.id, |execution| {
            execution.worker = Some("node-1".to_owned());
            execution.id = "hijack".to_owned();
            Ok::<(), ()>(())
        })
        .await
        .unwrap();
    assert_eq!(updated.execution.id, requested.id, "the id cannot change");
    assert_eq!(updated.execution.worker.as_deref(), Some("node-1"));
}

#[tokio::test]
async fn list_filters_paginate_newest_first_with_totals() {
    let (_dir, store) = temp_store();
    let mut ids = Vec::new();
    for n in 0..10 {
        let mut requested = execution(if n % 2 == 0 {
            "core.local"
        } else {
            "core.http"
        });
        requested.context.rule = (n < 4).then(|| "p.on_hook".to_owned());
        requested.context.trigger_instance = (n == 3).then(|| "ti-3".to_owned());
        requested.context.parent = (n >= 8).then(|| "wf-1".to_owned());
        if n == 9 {
            requested.context.user = "alice".to_owned();
        }
        store.create_execution(&requested).await.unwrap();
        ids.push(requested.id);
    }
    for id in &ids[..3] {
        store.transition(id, S::Running, None, None).await.unwrap();
    }
    let list = |filter: ExecutionFilter| {
        let page = store.list_executions(&filter).unwrap();
        let got: Vec<String> = page.items.into_iter().map(|r| r.execution.id).collect();
        (got, page.total)
    };
    let ids_of =
        |indexes: &[usize]| -> Vec<String> { indexes.iter().map(|&i| ids[i].clone()).collect() };

    assert_eq!(list(ExecutionFilter::default()).1, 10);
    assert_eq!(
        list(ExecutionFilter {
            limit: Some(3),
            offset: 2,
            ..ExecutionFilter::default()
        }),
        (ids_of(&[7, 6, 5]), 10)
    );
    let local = ExecutionFilter {
        action: Some("core.local".to_owned()),
        ..ExecutionFilter::default()
    };
    assert_eq!(list(local.clone()), (ids_of(&[8, 6, 4, 2, 0]), 5));
    assert_eq!(
        list(ExecutionFilter {
            status: Some(S::Running),
            ..local.clone()
        }),
        (ids_of(&[2, 0]), 2)
    );
    assert_eq!(
        list(ExecutionFilter {
            status: Some(S::Requested),
            ..ExecutionFilter::default()
        }),
        (ids_of(&[9, 8, 7, 6, 5, 4, 3]), 7)
    );
    assert_eq!(
        list(ExecutionFilter {
            rule: Some("p.on_hook".to_owned()),
            limit: Some(2),
            ..ExecutionFilter::default()
        }),
        (ids_of(&[3, 2]), 4)
    );
    // Candidates from the rule's index, the action checked on each.
    assert_eq!(
        list(ExecutionFilter {
            rule: Some("p.on_hook".to_owned()),
            action: Some("core.http".to_owned()),
            ..ExecutionFilter::default()
        }),
        (ids_of(&[3, 1]), 2)
    );
    assert_eq!(
        list(ExecutionFilter {
            trigger_instance: Some("ti-3".to_owned()),
            ..ExecutionFilter::default()
        }),
        (ids_of(&[3]), 1)
    );
    assert_eq!(
        list(ExecutionFilter {
            parent: Some("wf-1".to_owned()),
            ..ExecutionFilter::default()
        }),
        (ids_of(&[9, 8]), 2)
    );
    assert_eq!(
        list(ExecutionFilter {
            user: Some("alice".to_owned()),
            ..ExecutionFilter::default()
        }),
        (ids_of(&[9]), 1)
    );
    let future = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    assert_eq!(
        list(ExecutionFilter {
            since: Some(future),
            ..ExecutionFilter::default()
        })
        .1,
        0
    );
    assert_eq!(
        list(ExecutionFilter {
            until: Some(future),
            ..local
        })
        .1,
        5
    );

    let recovering: Vec<String> = store
        .executions_with_status(&[S::Running, S::Scheduled])
        .unwrap()
        .into_iter()
        .map(|r| r.execution.id)
        .collect();
    assert_eq!(recovering, ids_of(&[0, 1, 2]));
}

/// A run that begins and ends at once (`noop`) goes through `running` to its end in one write,
/// with a log entry for each status; repeating it is a no-op and an illegal path writes nothing.
#[tokio::test]
async fn a_path_of_transitions_is_one_write_with_every_log_entry() {
    let (_dir, store) = temp_store();
    let scheduled = execution("core.noop");
    let id = scheduled.id.clone();
    store.create_execution(&scheduled).await.unwrap();
    store
        .transition(&id, S::Scheduled, None, None)
        .await
        .unwrap();
    let mut changes = store.subscribe();
    let done = store
        .transition_path_unflushed(&id, &[S::Running, S::Succeeded], None, Some(json!({})))
        .unwrap();
    store.flush().await.unwrap();
    let statuses: Vec<S> = done
        .execution
        .log
        .iter()
        .map(|entry| entry.status)
        .collect();
    assert_eq!(
        statuses,
        [S::Requested, S::Scheduled, S::Running, S::Succeeded]
    );
    assert_eq!(
        done.execution.log[2].timestamp,
        done.execution.log[3].timestamp
    );
    assert_eq!(
        done.execution.end_timestamp.as_deref(),
        Some(done.execution.log[3].timestamp.as_str())
    );
    assert_eq!(done.execution.result, Some(json!({})));
    assert!(changes.try_recv().is_ok(), "one change for the one write");
    assert!(changes.try_recv().is_err(), "and only one");

    let again = store
        .transition_path_unflushed(&id, &[S::Running, S::Succeeded], None, None)
        .unwrap();
    assert_eq!(again.execution.log.len(), 4);

    let requested = execution("core.noop");
    store.create_execution(&requested).await.unwrap();
    let error = store
        .transition_path_unflushed(&requested.id, &[S::Succeeded, S::Running], None, None)
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::IllegalTransition {
                from: S::Requested,
                to: S::Succeeded,
                ..
            }
        ),
        "{error}"
    );
    let unchanged = store.get_execution(&requested.id).unwrap().unwrap();
    assert_eq!((unchanged.status, unchanged.log.len()), (S::Requested, 1));
}

/// Finished executions have no status index entry (one write less per execution), yet every
/// lookup by a final status still finds them, and the live status index forgets them.
#[tokio::test]
async fn final_statuses_are_found_without_a_status_index() {
    let (_dir, store) = temp_store();
    let done = execution("core.local");
    let waiting = execution("core.local");
    for execution in [&done, &waiting] {
        store.create_execution(execution).await.unwrap();
    }
    for status in [S::Scheduled, S::Running, S::Succeeded] {
        store
            .transition(&done.id, status, None, None)
            .await
            .unwrap();
    }
    let ids = |filter: ExecutionFilter| -> (Vec<String>, usize) {
        let page = store.list_executions(&filter).unwrap();
        let ids = page.items.into_iter().map(|r| r.execution.id).collect();
        (ids, page.total)
    };
    assert_eq!(
        ids(ExecutionFilter {
            status: Some(S::Succeeded),
            ..ExecutionFilter::default()
        }),
        (vec![done.id.clone()], 1)
    );
    assert_eq!(
        ids(ExecutionFilter {
            status: Some(S::Succeeded),
            action: Some("core.local".to_owned()),
            limit: Some(0),
            ..ExecutionFilter::default()
        }),
        (vec![], 1)
    );
    assert_eq!(
        ids(ExecutionFilter {
            status: Some(S::Running),
            ..ExecutionFilter::default()
        }),
        (vec![], 0)
    );
    assert_eq!(
        ids(ExecutionFilter {
            status: Some(S::Requested),
            ..ExecutionFilter::default()
        }),
        (vec![waiting.id.clone()], 1)
    );
    let finished: Vec<String> = store
        .executions_with_status(&[S::Succeeded, S::Requested])
        .unwrap()
        .into_iter()
        .map(|r| r.execution.id)
        .collect();
    let mut expected = vec![done.id.clone(), waiting.id.clone()];
    expected.sort();
    assert_eq!(finished, expected);
}

/// The conditional path writes only when the execution as stored is accepted, and hands back
/// the unchanged execution otherwise (the worker's one read for a `noop`).
#[tokio::test]
async fn a_conditional_path_writes_only_what_it_accepts() {
    let (_dir, store) = temp_store();
    let scheduled = execution("core.noop");
    store.create_execution(&scheduled).await.unwrap();
    store
        .transition(&scheduled.id, S::Scheduled, None, None)
        .await
        .unwrap();

    let refused = store
        .transition_path_if_unflushed(
            &scheduled.id,
            &[S::Running, S::Succeeded],
            Some(json!({})),
            |execution| execution.action == "core.local",
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.status, S::Scheduled);
    let unchanged = store.get_execution(&scheduled.id).unwrap().unwrap();
    assert_eq!((unchanged.status, unchanged.log.len()), (S::Scheduled, 2));

    let done = store
        .transition_path_if_unflushed(
            &scheduled.id,
            &[S::Running, S::Succeeded],
            Some(json!({})),
            |execution| execution.status == S::Scheduled,
        )
        .unwrap()
        .unwrap();
    assert_eq!(done.execution.status, S::Succeeded);
    assert_eq!(done.execution.result, Some(json!({})));
    assert!(
        store
            .executions_with_status(&[S::Scheduled])
            .unwrap()
            .is_empty(),
        "the live status index forgot it"
    );

    let missing = store.transition_path_if_unflushed("nope", &[S::Running], None, |_| true);
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}
