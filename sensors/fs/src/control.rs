//! What the sensor tells its watch tasks: when to stop and what to do with their state, and
//! how fast to work.

use std::time::Duration;

use tokio::time::Instant;

/// A watch task's instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Keep watching.
    Running,
    /// Stop, after handling what is pending and saving the state (sensor shutdown, or an
    /// update that keeps the state).
    Keep,
    /// Stop at once; the state is about to be deleted (trigger removed).
    Discard,
}

/// The timing of the watch tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    /// How long notify events are gathered before they are looked at.
    pub(crate) debounce: Duration,
    /// Shortest time between two saves of a watch's state.
    pub(crate) persist_every: Duration,
    /// How often a missing path is looked for, a failed watcher restarted, a line watch
    /// checked without being woken, and failed work retried.
    pub(crate) retry_every: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(50),
            persist_every: Duration::from_millis(200),
            retry_every: Duration::from_secs(1),
        }
    }
}

/// Sleeps until `at`, or forever when there is no `at` (for optional `select!` arms).
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
