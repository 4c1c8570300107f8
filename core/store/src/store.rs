//! `Store`: opening the database, the trees it holds, durability (group-committed flush) and the
//! change feed. The record modules add their methods to `Store` in their own files.
//!
//! Tree layout (all values JSON unless noted):
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `trigger_instances` | id | `TriggerInstanceRecord` |
//! | `trigger_instances_idx` | `trigger\0<ref>\0id`; `status\0<s>\0id` while pending or processing | empty |
//! | `enforcements` | `<trigger instance id>:<rule ref>` | `RuleEnforcement` |
//! | `enforcements_idx` | `rule\0<ref>\0key` | empty |
//! | `executions` | id | execution + result-file bookkeeping |
//! | `executions_idx` | `<field>\0<value>\0id` for action, rule; status while unfinished | empty |
//! | `output` | `<execution id>\0<seq u64 big-endian>` | `OutputLine` |
//! | `output_meta` | execution id | dropped-line count |
//! | `traces` | trace id | `TraceRecord` |
//! | `traces_idx` | `tag\0<trace tag>\0id` | empty |
//! | `kv` | `<scope>\0<name>` | stored pair (secret values encrypted) |
//! | `kv_expiry` | `<expire ms u64 big-endian><scope>\0<name>` | empty |
//! | `meta` | `kv_key_check` | key-check ciphertext (raw bytes) |
//! | `packs`, `actions`, `rules`, `rule_states`, `trigger_types`, `triggers`, `policies`, `sensors` | ref | content record |

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::change::ChangeFeed;
use crate::commit::GroupCommit;
use crate::index::Index;
use crate::kv::SecretCipher;
use crate::lock::KeyLocks;
use crate::retention::PurgeCursors;
use crate::table::Table;
use crate::{Change, Result, StoreError, StoreOptions};

/// The platform's durable state. Cheap to clone (an `Arc`); `Send + Sync`.
///
/// Opening it takes sled's exclusive lock on `<data_dir>/db`: one process, one `Store` (clone it
/// to share).
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) trees: Trees,
    pub(crate) options: StoreOptions,
    pub(crate) data_dir: PathBuf,
    pub(crate) results_dir: PathBuf,
    pub(crate) feed: ChangeFeed,
    pub(crate) locks: KeyLocks,
    pub(crate) commit: GroupCommit,
    pub(crate) cipher: SecretCipher,
    pub(crate) purge_cursors: Mutex<PurgeCursors>,
}

pub(crate) struct Trees {
    pub(crate) trigger_instances: Table,
    pub(crate) trigger_instances_idx: Index,
    pub(crate) enforcements: Table,
    pub(crate) enforcements_idx: Index,
    pub(crate) executions: Table,
    pub(crate) executions_idx: Index,
    pub(crate) output: Table,
    pub(crate) output_meta: Table,
    pub(crate) traces: Table,
    pub(crate) traces_idx: Index,
    pub(crate) kv: Table,
    pub(crate) kv_expiry: Table,
    pub(crate) meta: Table,
    pub(crate) packs: Table,
    pub(crate) actions: Table,
    pub(crate) rules: Table,
    pub(crate) rule_states: Table,
    pub(crate) trigger_types: Table,
    pub(crate) triggers: Table,
    pub(crate) policies: Table,
    pub(crate) sensors: Table,
    pub(crate) timers: Table,
    pub(crate) workflows: Table,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Self> {
        let table = |name| Table::open(db, name);
        let index = |name| Table::open(db, name).map(Index::new);
        Ok(Self {
            trigger_instances: table("trigger_instances")?,
            trigger_instances_idx: index("trigger_instances_idx")?,
            enforcements: table("enforcements")?,
            enforcements_idx: index("enforcements_idx")?,
            executions: table("executions")?,
            executions_idx: index("executions_idx")?,
            output: table("output")?,
            output_meta: table("output_meta")?,
            traces: table("traces")?,
            traces_idx: index("traces_idx")?,
            kv: table("kv")?,
            kv_expiry: table("kv_expiry")?,
            meta: table("meta")?,
            packs: table("packs")?,
            actions: table("actions")?,
            rules: table("rules")?,
            rule_states: table("rule_states")?,
            trigger_types: table("trigger_types")?,
            triggers: table("triggers")?,
            policies: table("policies")?,
            sensors: table("sensors")?,
            timers: table("timers")?,
            workflows: table("workflows")?,
        })
    }
}

/// Counters for benchmarks and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StoreStats {
    /// Calls that waited for durability (explicit [`Store::flush`] and self-flushing writes).
    pub flush_requests: u64,
    /// fsyncs actually done; lower than `flush_requests` when group commit shared them.
    pub flushes: u64,
}

impl Store {
    /// Opens (creating if needed) the store under `data_dir`: the sled database at
    /// `<data_dir>/db`, result files in `<data_dir>/results/`, and the datastore key at
    /// `<data_dir>/keys/datastore.key` (created with mode 0600 on first open).
    ///
    /// # Errors
    ///
    /// [`StoreError::DataDir`] when a directory cannot be created, [`StoreError::Open`] when sled
    /// cannot open the database (for example because another process has it open), and the key
    /// file errors of [`crate::Kv`] ([`StoreError::MissingKey`], [`StoreError::WrongKey`],
    /// [`StoreError::MalformedKey`], [`StoreError::KeyFile`]).
    pub fn open(data_dir: &Path, options: StoreOptions) -> Result<Store> {
        let data_dir = data_dir.to_path_buf();
        let results_dir = data_dir.join("results");
        for dir in [&data_dir, &results_dir] {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        let db_path = data_dir.join("db");
        let mut config = sled::Config::new()
            .path(&db_path)
            .cache_capacity(options.cache_capacity_bytes)
            // Measured faster than `HighThroughput` for this store's small records (it compacts
            // segments sooner, which keeps the page cache denser).
            .mode(sled::Mode::LowSpace);
        config = config.flush_every_ms(
            options
                .background_flush
                .map(|every| u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1)),
        );
        let db = config.open().map_err(|source| StoreError::Open {
            path: db_path,
            source,
        })?;
        let trees = Trees::open(&db)?;
        let cipher = SecretCipher::open(&data_dir.join("keys"), &trees.meta)?;
        let feed = ChangeFeed::new(options.change_feed_capacity);
        let commit = GroupCommit::start(db.clone())?;
        tracing::debug!(data_dir = %data_dir.display(), recovered = db.was_recovered(), "Store opened.");
        Ok(Store {
            inner: Arc::new(Inner {
                trees,
                options,
                data_dir,
                results_dir,
                feed,
                locks: KeyLocks::new(),
                commit,
                cipher,
                purge_cursors: Mutex::new(PurgeCursors::default()),
            }),
        })
    }

    /// The data directory this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The options it was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// Makes every write applied before this call durable (written and fsynced). Concurrent
    /// callers share one fsync (group commit).
    ///
    /// Methods that flush themselves before returning: [`Store::record_trigger_instance`],
    /// [`Store::set_trigger_instance_status`], [`Store::record_enforcement_once`],
    /// [`Store::update_enforcement`], [`Store::create_execution`], [`Store::update_execution`],
    /// [`Store::transition`], [`Store::set_rule_enabled`] and the writes of [`crate::Kv`]. The rest
    /// (output lines, traces, content collections, purge) are applied at once and become durable
    /// with the next flush by anyone, or sled's background flush; call this before acknowledging
    /// them. So do the `_unflushed` variants of the self-flushing writes
    /// ([`Store::record_trigger_instance_unflushed`], [`Store::record_enforcement_once_unflushed`],
    /// [`Store::create_execution_unflushed`], [`Store::transition_unflushed`],
    /// [`Store::transition_path_unflushed`], [`Store::set_trigger_instance_status_unflushed`]),
    /// which let a caller make several writes durable with one wait.
    ///
    /// # Errors
    ///
    /// [`StoreError::Flush`] when the write or fsync fails.
    pub async fn flush(&self) -> Result<()> {
        self.inner.commit.flush().await
    }

    /// Subscribes to the change feed (see the `change` module docs for ordering and lag).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.feed.subscribe()
    }

    /// Flush counters.
    pub fn stats(&self) -> StoreStats {
        let (flush_requests, flushes) = self.inner.commit.counts();
        StoreStats {
            flush_requests,
            flushes,
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}
