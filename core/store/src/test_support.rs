//! Helpers for this crate's unit tests: a store in a temporary directory.

use tempfile::TempDir;

use crate::{Store, StoreOptions};

/// A fresh store with default options, and the directory that holds it.
pub(crate) fn temp_store() -> (TempDir, Store) {
    temp_store_with(StoreOptions::default())
}

/// A fresh store with `options`.
pub(crate) fn temp_store_with(options: StoreOptions) -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), options).expect("open store");
    (dir, store)
}
