//! Secondary indexes: a tree of empty values keyed `<field>\0<value>\0<id>`, so that listing by
//! one field value is a prefix scan (newest first when ids are ULIDs) instead of a full scan.
//!
//! The record is the truth; an index entry is a hint. Writers add new entries before writing the
//! record and remove outdated ones after, so a crash can leave an extra entry but never lose one;
//! readers re-check each record against the filter. One exception, on the event path: an event
//! is marked processed by removing its `status` entry alone, so for a trigger instance whose
//! record still says pending, the missing entry is the truth (`effective_trigger_instance`).

use sled::IVec;

use crate::Result;
use crate::table::Table;

/// An index tree.
#[derive(Clone)]
pub(crate) struct Index {
    table: Table,
}

/// One (field, value) pair a record is indexed under.
pub(crate) type Entry<'a> = (&'static str, &'a str);

impl Index {
    pub(crate) fn new(table: Table) -> Self {
        Self { table }
    }

    fn prefix(field: &str, value: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(field.len() + value.len() + 2);
        key.extend_from_slice(field.as_bytes());
        key.push(0);
        key.extend_from_slice(value.as_bytes());
        key.push(0);
        key
    }

    fn key(field: &str, value: &str, id: &str) -> Vec<u8> {
        let mut key = Self::prefix(field, value);
        key.extend_from_slice(id.as_bytes());
        key
    }

    /// Adds the entries of `new` that are not in `old` (call before writing the record).
    pub(crate) fn add(&self, id: &str, old: &[Entry<'_>], new: &[Entry<'_>]) -> Result<()> {
        for entry in new.iter().filter(|entry| !old.contains(entry)) {
            self.table
                .insert_raw(&Self::key(entry.0, entry.1, id), IVec::default())?;
        }
        Ok(())
    }

    /// Removes the entries of `old` that are not in `new` (call after writing the record).
    pub(crate) fn remove(&self, id: &str, old: &[Entry<'_>], new: &[Entry<'_>]) -> Result<()> {
        for entry in old.iter().filter(|entry| !new.contains(entry)) {
            self.table.remove(&Self::key(entry.0, entry.1, id))?;
        }
        Ok(())
    }

    /// Whether `id` is indexed under `field = value`.
    pub(crate) fn contains(&self, field: &str, value: &str, id: &str) -> Result<bool> {
        Ok(self.table.get_raw(&Self::key(field, value, id))?.is_some())
    }

    /// Ids indexed under `field = value`, in id order, newest first when `newest_first`.
    pub(crate) fn ids<'a>(
        &'a self,
        field: &str,
        value: &str,
        newest_first: bool,
    ) -> Box<dyn Iterator<Item = Result<String>> + 'a> {
        let prefix = Self::prefix(field, value);
        let skip = prefix.len();
        let entries = self.table.scan_prefix(&prefix);
        let entries: Box<dyn Iterator<Item = Result<(IVec, IVec)>> + 'a> = if newest_first {
            Box::new(entries.rev())
        } else {
            Box::new(entries)
        };
        Box::new(entries.filter_map(move |entry| match entry {
            Err(error) => Some(Err(error)),
            Ok((key, _)) => {
                let id = key.get(skip..)?;
                // A value containing NUL could make another value's prefix match: skip those.
                if id.contains(&0) {
                    return None;
                }
                String::from_utf8(id.to_vec()).ok().map(Ok)
            }
        }))
    }
}
