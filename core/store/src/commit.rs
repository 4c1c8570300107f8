//! Group commit: many writers awaiting durability share one fsync.
//!
//! One flusher thread does every flush. A writer applies its write, then takes a ticket (a
//! counter bumped after the write) and wakes the flusher. The flusher notes the highest ticket
//! issued so far, flushes sled (write buffers + fsync) and publishes that every ticket up to that
//! one is durable; the writers wait for that publication. Tickets taken while a flush runs are
//! covered by the next one, which starts as soon as the running one ends. With N concurrent
//! writers this costs about two fsyncs per burst instead of N, and nobody waits behind more than
//! the flush that is running plus its own.
//!
//! The flusher is a plain thread calling sled's blocking `flush`, not `flush_async` awaited by
//! the writer that happens to lead: `flush_async` hands every flush to sled's thread pool, and
//! that hand-off wakes every idle pool thread (and starts new ones when none stays idle).
//!
//! **Gathering under load.** Each fsync costs CPU besides the wait (sled hands the write to its
//! thread pool, which wakes all its idle threads; the kernel writes back the pages): at a few
//! thousand events a second, flushing as soon as the previous flush ended made that a quarter of
//! the server's CPU, for batches of three or four writers. So when the flusher wakes to find
//! [`GATHER_FROM`] or more writers waiting, it lets more gather while they keep coming: it sleeps
//! [`GATHER_STEP`] and looks again, until a step brings no new writer, [`GATHER_MAX`] has
//! passed or [`GATHER_BATCH`] writers wait. A lone writer (an idle server, one request at a
//! time) is flushed at once, and a trickle of writers waits one step at most.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::{Result, StoreError};

/// Writers waiting when the flusher wakes from which it lets more gather. Below it are a lone
/// writer and the pairs of a latency-bound pipeline (an API call's write and the worker's that it
/// started), which gathering would only slow down.
const GATHER_FROM: u64 = 3;

/// One look-again interval while writers gather (see the module docs).
const GATHER_STEP: Duration = Duration::from_micros(100);

/// The longest writers gather before a flush.
const GATHER_MAX: Duration = Duration::from_micros(600);

/// Writers waiting from which the flusher stops gathering.
const GATHER_BATCH: u64 = 256;

/// Shared flush state.
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

struct Shared {
    /// Tickets handed out; a ticket is taken after the write it covers was applied.
    issued: AtomicU64,
    /// Guards the flusher's sleep (with `wake`); holds whether it must stop.
    stop: Mutex<bool>,
    wake: Condvar,
    /// What the flusher has made durable, or failed to.
    progress: watch::Sender<Progress>,
    flushes: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// The last flush failed: tickets up to `.0` (and above `durable`) are not known durable.
    failure: Option<(u64, sled::Error)>,
}

impl GroupCommit {
    /// Starts the flusher thread for `db`. It ends when this is dropped.
    ///
    /// # Errors
    ///
    /// [`StoreError::FlushThread`] when the thread cannot be started.
    pub(crate) fn start(db: sled::Db) -> Result<Self> {
        let shared = Arc::new(Shared {
            issued: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
            flushes: AtomicU64::new(0),
        });
        let flusher = std::thread::Builder::new()
            .name("nerve-flush".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run_flusher(&shared, &db)
            })
            .map_err(|source| StoreError::FlushThread { source })?;
        Ok(Self {
            shared,
            flusher: Some(flusher),
        })
    }

    /// Returns once everything written before the call is on disk.
    pub(crate) async fn flush(&self) -> Result<()> {
        let shared = &self.shared;
        let ticket = shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut progress = shared.progress.subscribe();
        // Taking the lock between the ticket and the notification means the flusher either saw
        // the ticket when it last checked, or is asleep and gets the notification.
        drop(shared.stop.lock().unwrap_or_else(PoisonError::into_inner));
        shared.wake.notify_one();
        loop {
            {
                let now = progress.borrow_and_update();
                if now.durable >= ticket {
                    return Ok(());
                }
                if let Some((failed_up_to, error)) = &now.failure
                    && *failed_up_to >= ticket
                {
                    return Err(StoreError::Flush {
                        source: error.clone(),
                    });
                }
            }
            // The sender lives as long as `self`, which the caller borrows.
            if progress.changed().await.is_err() {
                return Ok(());
            }
        }
    }

    /// (flush requests, fsyncs done).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.shared.issued.load(Ordering::Relaxed),
            self.shared.flushes.load(Ordering::Relaxed),
        )
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        *self
            .shared
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_one();
        if let Some(flusher) = self.flusher.take() {
            // The flusher holds a handle to the database: it must be gone before the database
            // can close (and release its lock for the next open).
            let _ = flusher.join();
        }
    }
}

/// The flusher: sleeps until a ticket is not covered yet, flushes, publishes, and again.
fn run_flusher(shared: &Shared, db: &sled::Db) {
    let mut covered = 0;
    loop {
        {
            let mut stop = shared.stop.lock().unwrap_or_else(PoisonError::into_inner);
            while !*stop && shared.issued.load(Ordering::SeqCst) <= covered {
                stop = shared
                    .wake
                    .wait(stop)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if *stop {
                return;
            }
        }
        gather(shared, covered);
        let target = shared.issued.load(Ordering::SeqCst);
        let flushed = db.flush();
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        covered = target;
        shared.progress.send_modify(|progress| match flushed {
            Ok(_) => {
                progress.durable = target;
                progress.failure = None;
            }
            Err(error) => {
                tracing::error!(%error, "Flushing the store failed.");
                progress.failure = Some((target, error));
            }
        });
    }
}

/// Under load, lets more writers take tickets before the flush (see the module docs).
fn gather(shared: &Shared, covered: u64) {
    let mut seen = shared.issued.load(Ordering::SeqCst);
    if seen - covered < GATHER_FROM {
        return;
    }
    let started = std::time::Instant::now();
    while seen - covered < GATHER_BATCH && started.elapsed() < GATHER_MAX {
        std::thread::sleep(GATHER_STEP);
        let now = shared.issued.load(Ordering::SeqCst);
        if now == seen {
            return;
        }
        seen = now;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::test_support::temp_store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_all_complete_and_share_fsyncs() {
        let (_dir, store) = temp_store();
        let barrier = Arc::new(tokio::sync::Barrier::new(32));
        let tasks: Vec<_> = (0..32)
            .map(|n| {
                let store = store.clone();
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    for line in 0..20 {
                        store.append_output(&format!("e{n}"), "stdout", &line.to_string())?;
                        store.flush().await?;
                    }
                    Ok::<(), crate::StoreError>(())
                })
            })
            .collect();
        let all = async {
            for task in tasks {
                task.await.unwrap().unwrap();
            }
        };
        // A lost wake-up would hang here: fail instead.
        tokio::time::timeout(std::time::Duration::from_secs(30), all)
            .await
            .expect("every flush returns");
        let stats = store.stats();
        assert_eq!(stats.flush_requests, 32 * 20);
        assert!(
            stats.flushes >= 1 && stats.flushes <= stats.flush_requests,
            "{stats:?}"
        );
    }

    #[tokio::test]
    async fn a_dropped_store_releases_its_database() {
        let (dir, store) = temp_store();
        store.flush().await.unwrap();
        drop(store);
        // The flusher thread held a handle to the database; the lock must be free again.
        let reopened = crate::Store::open(dir.path(), crate::StoreOptions::default());
        assert!(reopened.is_ok(), "{reopened:?}");
    }
}
