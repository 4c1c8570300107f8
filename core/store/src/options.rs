//! Tuning knobs of the store, with the defaults the platform runs with.
//!
//! This is runtime configuration handed in by the binary's `Config`; nothing here is read from
//! the environment.

use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// How the store keeps, caps and purges data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long a processed trigger instance (event) is kept after it occurred.
    /// Default: 7 days. Pending and processing ones are never purged.
    pub trigger_instance_retention: Duration,
    /// How long a finished execution and its output, result file and trace references are kept
    /// after it ended. Default: 30 days. Unfinished executions are never purged.
    pub execution_retention: Duration,
    /// How long a rule enforcement is kept after it was recorded. Default: 30 days.
    pub enforcement_retention: Duration,
    /// Output lines kept per execution. Beyond it one marker line is written and further lines
    /// are counted and dropped. Default: 100 000.
    pub max_output_lines: u64,
    /// Largest result (serialized JSON bytes) kept inline in the execution record. A larger
    /// result goes to `<data_dir>/results/<execution_id>.json` and the record keeps a preview.
    /// Default: 256 KiB.
    pub max_inline_result_bytes: usize,
    /// Length of the preview kept in the record for a result written to a file. Default: 4 KiB.
    pub result_preview_bytes: usize,
    /// Upper bound of records examined or deleted per kind in one [`crate::Store::purge`] call,
    /// so a periodic purge never pauses the platform for long. Default: 1 000.
    pub purge_batch: usize,
    /// Changes buffered for each change-feed subscriber before it lags. Default: 4 096.
    pub change_feed_capacity: usize,
    /// sled page-cache size in bytes. Default: 128 MiB.
    pub cache_capacity_bytes: u64,
    /// sled's background flush interval; acknowledged writes never rely on it (they flush
    /// themselves). `None` turns it off. Default: 500 ms.
    pub background_flush: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            trigger_instance_retention: 7 * DAY,
            execution_retention: 30 * DAY,
            enforcement_retention: 30 * DAY,
            max_output_lines: 100_000,
            max_inline_result_bytes: 256 * 1024,
            result_preview_bytes: 4 * 1024,
            purge_batch: 1_000,
            change_feed_capacity: 4_096,
            cache_capacity_bytes: 128 * 1024 * 1024,
            background_flush: Some(Duration::from_millis(500)),
        }
    }
}
