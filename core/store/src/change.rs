//! The change feed: every committed write, reported after it is applied.
//!
//! A [`Change`] names what changed, not its new value: a subscriber re-reads the record. Changes to
//! one key are sent in commit order because the store sends them while it still holds that key's
//! write lock (see `crate::lock`); changes to different keys may interleave.
//!
//! The feed is a `tokio::sync::broadcast` channel with [`crate::StoreOptions::change_feed_capacity`]
//! slots per subscriber. A subscriber that falls that far behind gets
//! `RecvError::Lagged(n)` from its next `recv`: it has missed `n` changes and must re-read the state
//! it cares about (for example list executions again) before following the feed further. Writers
//! never wait for subscribers.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// What kind of record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A trigger instance (event); `id` is its id.
    TriggerInstance,
    /// A rule enforcement; `id` is `<trigger instance id>:<rule ref>`.
    Enforcement,
    /// An execution; `id` is its id.
    Execution,
    /// New output lines of an execution; `id` is the execution id (read from your last seq).
    Output,
    /// A trace; `id` is the trace id.
    Trace,
    /// A key-value pair; `id` is `<scope>:<name>` (`system:x`, `user:alice:x`).
    Kv,
    /// A pack; `id` is its ref.
    Pack,
    /// An action; `id` is its ref.
    Action,
    /// A rule, or its enabled state; `id` is its ref.
    Rule,
    /// A trigger type; `id` is its ref.
    TriggerType,
    /// A trigger; `id` is its ref.
    Trigger,
    /// A policy; `id` is its ref.
    Policy,
    /// A sensor; `id` is its ref.
    Sensor,
    /// The schedule state of a timer; `id` is the hash of its trigger key.
    Timer,
    /// The persisted state of a running workflow; `id` is the workflow execution's id.
    Workflow,
}

/// Whether the record was written or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// Created or updated.
    Put,
    /// Deleted (including purged and expired).
    Delete,
}

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What kind of record.
    pub kind: ChangeKind,
    /// Which record (see [`ChangeKind`] for the id of each kind).
    pub id: String,
    /// Written or removed.
    pub op: ChangeOp,
    /// Position in this process's feed, increasing; for one key it follows commit order.
    pub revision: u64,
}

/// The sending side, owned by the store.
pub(crate) struct ChangeFeed {
    sender: broadcast::Sender<Change>,
    revision: AtomicU64,
}

impl ChangeFeed {
    pub(crate) fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self {
            sender,
            revision: AtomicU64::new(0),
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// Reports a change. Call it while holding the key's write lock.
    pub(crate) fn send(&self, kind: ChangeKind, id: impl Into<String>, op: ChangeOp) {
        let revision = self.revision.fetch_add(1, Ordering::SeqCst) + 1;
        // No subscriber is not an error.
        let _ = self.sender.send(Change {
            kind,
            id: id.into(),
            op,
            revision,
        });
    }
}
