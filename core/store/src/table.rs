//! `Table`: one sled tree with its name, JSON encoding and error mapping, so every failure names
//! the tree and the key.
//!
//! It does no locking and sends no change events; the record modules do that around it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::IVec;

use crate::{Result, StoreError};

/// A named sled tree holding JSON values.
#[derive(Clone)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    tree: sled::Tree,
}

impl Table {
    pub(crate) fn open(db: &sled::Db, name: &'static str) -> Result<Self> {
        let tree = db
            .open_tree(name)
            .map_err(|source| StoreError::Db { tree: name, source })?;
        Ok(Self { name, tree })
    }

    fn db_error(&self, source: sled::Error) -> StoreError {
        StoreError::Db {
            tree: self.name,
            source,
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, key: &[u8], bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
            tree: self.name,
            key: printable_key(key),
            source,
        })
    }

    /// Like [`Table::decode`] for types that borrow from `bytes`.
    pub(crate) fn decode_borrowed<'de, T: serde::Deserialize<'de>>(
        &self,
        key: &[u8],
        bytes: &'de [u8],
    ) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
            tree: self.name,
            key: printable_key(key),
            source,
        })
    }

    pub(crate) fn encode<T: Serialize>(&self, key: &[u8], value: &T) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            tree: self.name,
            key: printable_key(key),
            source,
        })
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<IVec>> {
        self.tree.get(key).map_err(|source| self.db_error(source))
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.get_raw(key)? {
            Some(bytes) => self.decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn insert_raw(&self, key: &[u8], value: impl Into<IVec>) -> Result<Option<IVec>> {
        self.tree
            .insert(key, value)
            .map_err(|source| self.db_error(source))
    }

    pub(crate) fn remove(&self, key: &[u8]) -> Result<Option<IVec>> {
        self.tree
            .remove(key)
            .map_err(|source| self.db_error(source))
    }

    /// Atomic compare-and-swap; `Ok(Err(current))` when the current value was not `old`.
    pub(crate) fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<Vec<u8>>,
    ) -> Result<std::result::Result<(), Option<IVec>>> {
        match self.tree.compare_and_swap(key, old, new) {
            Ok(Ok(())) => Ok(Ok(())),
            Ok(Err(error)) => Ok(Err(error.current)),
            Err(source) => Err(self.db_error(source)),
        }
    }

    pub(crate) fn apply_batch(&self, batch: sled::Batch) -> Result<()> {
        self.tree
            .apply_batch(batch)
            .map_err(|source| self.db_error(source))
    }

    /// Entries whose key starts with `prefix`, in key order (reversible).
    pub(crate) fn scan_prefix<'a>(
        &'a self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = Result<(IVec, IVec)>> + use<'a> {
        self.tree
            .scan_prefix(prefix)
            .map(move |entry| entry.map_err(|source| self.db_error(source)))
    }

    /// Entries with key in `range`, in key order (reversible).
    pub(crate) fn range<R>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<(IVec, IVec)>> + '_
    where
        R: std::ops::RangeBounds<Vec<u8>>,
    {
        self.tree
            .range(range)
            .map(move |entry| entry.map_err(|source| self.db_error(source)))
    }

    /// The last entry under `prefix`.
    pub(crate) fn last_with_prefix(&self, prefix: &[u8]) -> Result<Option<(IVec, IVec)>> {
        self.scan_prefix(prefix).next_back().transpose()
    }

    /// Number of entries (walks the tree).
    pub(crate) fn len(&self) -> usize {
        self.tree.len()
    }
}

/// A key as text for error messages: NUL separators shown as `/`, non-UTF-8 bytes escaped.
pub(crate) fn printable_key(key: &[u8]) -> String {
    String::from_utf8_lossy(key).replace('\0', "/")
}
