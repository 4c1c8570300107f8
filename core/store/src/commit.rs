//! Group commit: many writers awaiting durability share one fsync.
//!
//! A writer applies its write, then takes a ticket. If no flush is running it becomes the leader:
//! it notes the highest ticket issued so far, flushes sled (`flush_async`: write buffers + fsync)
//! and publishes that every ticket up to that one is durable. Writers arriving while a flush runs
//! wait for that publication; the ones it covers return at once, the rest elect the next leader,
//! whose flush covers all of them. With N concurrent writers this costs about two fsyncs per burst
//! instead of N, and nobody waits behind more than the flush that is running plus its own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

use crate::{Result, StoreError};

/// Shared flush state.
pub(crate) struct GroupCommit {
    issued: AtomicU64,
    flushing: AtomicBool,
    durable: watch::Sender<u64>,
    flushes: AtomicU64,
}

/// The running flush. Dropping it (also when the leader's future is cancelled) frees the leader
/// slot first and then wakes the waiters, so a waiter woken by it always finds the slot free or
/// taken by a new leader that will wake it again.
struct Leader<'a> {
    commit: &'a GroupCommit,
    covered: Option<u64>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.commit.flushing.store(false, Ordering::SeqCst);
        let covered = self.covered;
        self.commit.durable.send_modify(|durable| {
            if let Some(covered) = covered {
                *durable = (*durable).max(covered);
            }
        });
    }
}

impl GroupCommit {
    pub(crate) fn new() -> Self {
        Self {
            issued: AtomicU64::new(0),
            flushing: AtomicBool::new(false),
            durable: watch::Sender::new(0),
            flushes: AtomicU64::new(0),
        }
    }

    /// Returns once everything written before the call is on disk.
    pub(crate) async fn flush(&self, db: &sled::Db) -> Result<()> {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut durable = self.durable.subscribe();
        loop {
            if *durable.borrow_and_update() >= ticket {
                return Ok(());
            }
            if self
                .flushing
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                let mut leader = Leader {
                    commit: self,
                    covered: None,
                };
                if *self.durable.borrow() >= ticket {
                    return Ok(());
                }
                let covered = self.issued.load(Ordering::SeqCst);
                db.flush_async()
                    .await
                    .map_err(|source| StoreError::Flush { source })?;
                self.flushes.fetch_add(1, Ordering::Relaxed);
                leader.covered = Some(covered);
                return Ok(());
            }
            // A flush is running; it wakes us when it ends (the sender lives as long as `self`).
            if durable.changed().await.is_err() {
                return Ok(());
            }
        }
    }

    /// (flush requests, fsyncs done).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.issued.load(Ordering::Relaxed),
            self.flushes.load(Ordering::Relaxed),
        )
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
}
