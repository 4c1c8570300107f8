//! Per-key write locks: striped `std::sync::Mutex`es that serialize read-modify-write of one
//! key inside this process and keep the change feed in commit order per key.
//!
//! A lock is held only around synchronous sled calls, never across `.await`, and one operation
//! holds at most one stripe at a time, so stripes cannot deadlock.

use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

const STRIPES: usize = 256;

/// The stripes.
pub(crate) struct KeyLocks {
    stripes: Vec<Mutex<()>>,
}

impl KeyLocks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Locks the stripe of (`table`, `key`). A poisoned stripe is taken over: the data it guards
    /// lives in sled, which a panicking holder cannot leave half-written.
    pub(crate) fn lock(&self, table: &str, key: &[u8]) -> MutexGuard<'_, ()> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        table.hash(&mut hasher);
        key.hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % STRIPES as u64).unwrap_or(0);
        self.stripes[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
