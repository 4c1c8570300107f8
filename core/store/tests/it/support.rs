//! Shared helpers: stores in temp dirs, execution and event builders, change-feed waits.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nerve_model::{Execution, ExecutionContext, ExecutionStatus, TriggerInstanceStatus};
use nerve_store::{
    Change, ChangeKind, Store, StoreOptions, TriggerInstanceRecord, new_id, timestamp,
};
use serde_json::json;
use tempfile::TempDir;
use tokio::sync::broadcast;

/// How long a test waits for a change before failing.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

pub(crate) fn temp_store() -> (TempDir, Store) {
    temp_store_with(StoreOptions::default())
}

pub(crate) fn temp_store_with(options: StoreOptions) -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path(), options);
    (dir, store)
}

pub(crate) fn open(dir: &Path, options: StoreOptions) -> Store {
    Store::open(dir, options).expect("open store")
}

/// A requested execution of `action`, started now.
pub(crate) fn execution(action: &str) -> Execution {
    Execution {
        id: new_id(),
        ..execution_at(action, Utc::now())
    }
}

/// A requested execution of `action` with an id and start time at `started`.
pub(crate) fn execution_at(action: &str, started: DateTime<Utc>) -> Execution {
    Execution {
        id: nerve_store::new_id_at(started),
        action: action.to_owned(),
        runner: "local-shell-cmd".to_owned(),
        parameters: json!({"cmd": "echo hi"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        status: ExecutionStatus::Requested,
        result: None,
        reason: None,
        context: ExecutionContext {
            user: "stanley".to_owned(),
            ..ExecutionContext::default()
        },
        start_timestamp: timestamp(started),
        end_timestamp: None,
        log: Vec::new(),
        children: Vec::new(),
        worker: None,
    }
}

/// A pending event of `trigger`, occurring now.
pub(crate) fn event(trigger: &str) -> TriggerInstanceRecord {
    TriggerInstanceRecord {
        id: new_id(),
        trigger: trigger.to_owned(),
        payload: json!({"msg": "hi"}),
        occurrence_time: timestamp(Utc::now()),
        status: TriggerInstanceStatus::Pending,
        trace_id: None,
        trace_tag: None,
    }
}

/// The next change of `kind` on the feed, failing the test after [`DEADLINE`].
pub(crate) async fn next_change(
    feed: &mut broadcast::Receiver<Change>,
    kind: ChangeKind,
) -> Change {
    let wait = async {
        loop {
            match feed.recv().await {
                Ok(change) if change.kind == kind => return change,
                Ok(_) => {}
                Err(error) => panic!("change feed failed: {error}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind:?} change within {DEADLINE:?}"))
}

/// Every file under `dir`, read whole.
pub(crate) fn read_all_files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                files.push((path, bytes));
            }
        }
    }
    files
}

/// Whether `needle` occurs in `haystack`.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
