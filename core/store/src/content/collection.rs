//! `Collection<T>`: put/get/list/delete of one kind of content record, keyed by ref, with change
//! events. One generic helper instead of a copy per kind.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::change::{ChangeKind, ChangeOp};
use crate::id::check_id;
use crate::table::Table;
use crate::{Result, Store};

/// Records of one kind, keyed by ref. Cheap to create (`store.actions()`), holds a store clone.
pub struct Collection<T> {
    store: Store,
    table: Table,
    kind: ChangeKind,
    record: PhantomData<fn() -> T>,
}

impl<T> Clone for Collection<T> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            table: self.table.clone(),
            kind: self.kind,
            record: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Collection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("tree", &self.table.name)
            .finish_non_exhaustive()
    }
}

/// What [`Collection::put`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome<T> {
    /// There was no record under this ref.
    Created,
    /// The record changed; here is the old one.
    Updated(T),
    /// The same record was already stored; nothing was written and no change was reported.
    Unchanged,
}

impl<T: Serialize + DeserializeOwned> Collection<T> {
    pub(crate) fn new(store: &Store, table: &Table, kind: ChangeKind) -> Self {
        Self {
            store: store.clone(),
            table: table.clone(),
            kind,
            record: PhantomData,
        }
    }

    /// Stores `value` under `key` (a ref). Does not flush.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::InvalidId`] for an unusable ref and database errors.
    pub fn put(&self, key: &str, value: &T) -> Result<PutOutcome<T>> {
        check_id("ref", key)?;
        let bytes = self.table.encode(key.as_bytes(), value)?;
        let _guard = self.store.inner.locks.lock(self.table.name, key.as_bytes());
        let outcome = match self.table.get_raw(key.as_bytes())? {
            None => PutOutcome::Created,
            Some(old) if old.as_ref() == bytes.as_slice() => return Ok(PutOutcome::Unchanged),
            // An undecodable old record is simply replaced.
            Some(old) => match self.table.decode(key.as_bytes(), &old) {
                Ok(old) => PutOutcome::Updated(old),
                Err(error) => {
                    tracing::warn!(%error, "Replacing a corrupt content record.");
                    PutOutcome::Created
                }
            },
        };
        self.table.insert_raw(key.as_bytes(), bytes)?;
        self.store.inner.feed.send(self.kind, key, ChangeOp::Put);
        Ok(outcome)
    }

    /// Stores `value` under `key` like [`Collection::put`], without decoding the record it
    /// replaces (for large records rewritten often). Does not flush.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::InvalidId`] for an unusable ref and database errors.
    pub fn replace(&self, key: &str, value: &T) -> Result<()> {
        check_id("ref", key)?;
        let bytes = self.table.encode(key.as_bytes(), value)?;
        let _guard = self.store.inner.locks.lock(self.table.name, key.as_bytes());
        if let Some(old) = self.table.get_raw(key.as_bytes())?
            && old.as_ref() == bytes.as_slice()
        {
            return Ok(());
        }
        self.table.insert_raw(key.as_bytes(), bytes)?;
        self.store.inner.feed.send(self.kind, key, ChangeOp::Put);
        Ok(())
    }

    /// The record under `key`.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn get(&self, key: &str) -> Result<Option<T>> {
        self.table.get(key.as_bytes())
    }

    /// Removes the record under `key`, returning it. Does not flush.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn delete(&self, key: &str) -> Result<Option<T>> {
        let _guard = self.store.inner.locks.lock(self.table.name, key.as_bytes());
        let Some(old) = self.table.remove(key.as_bytes())? else {
            return Ok(None);
        };
        self.store.inner.feed.send(self.kind, key, ChangeOp::Delete);
        self.table.decode(key.as_bytes(), &old).map(Some)
    }

    /// All records whose key starts with `prefix` (`""` for all, `"mypack."` for one pack), in
    /// key order.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, T)>> {
        self.table
            .scan_prefix(prefix.as_bytes())
            .map(|entry| {
                let (key, value) = entry?;
                let record = self.table.decode(&key, &value)?;
                Ok((String::from_utf8_lossy(&key).into_owned(), record))
            })
            .collect()
    }

    /// Number of records (walks the tree).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
