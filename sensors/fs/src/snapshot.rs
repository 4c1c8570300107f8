//! The seen-state of a directory watch: a map from relative path to (size, mtime), split into
//! buckets so that it can be saved a bucket at a time, and the diff of an observation
//! against it.
//!
//! This module is pure (no IO): [`crate::scan`] observes the file system, [`crate::state`]
//! saves and loads snapshots.

use std::collections::{BTreeMap, BTreeSet};

use crate::params::FileEvent;

/// What the snapshot remembers of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileState {
    /// Size in bytes.
    pub(crate) size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub(crate) mtime_ns: i64,
}

/// Relative path → state, in `n` buckets by a stable hash of the path. Buckets changed since
/// the last save are marked dirty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    buckets: Vec<BTreeMap<String, FileState>>,
    dirty: BTreeSet<usize>,
}

impl Snapshot {
    /// An empty snapshot of `n` buckets (at least one).
    pub(crate) fn new(n: usize) -> Self {
        Self {
            buckets: vec![BTreeMap::new(); n.max(1)],
            dirty: BTreeSet::new(),
        }
    }

    /// A snapshot holding `files`, every bucket dirty.
    pub(crate) fn from_files(n: usize, files: BTreeMap<String, FileState>) -> Self {
        let mut snapshot = Self::new(n);
        for (relative, state) in files {
            snapshot.set(&relative, Some(state));
        }
        snapshot.dirty = (0..snapshot.buckets.len()).collect();
        snapshot
    }

    /// The same files in `n` buckets, every bucket dirty.
    pub(crate) fn rebucketed(&self, n: usize) -> Self {
        let files = self
            .iter()
            .map(|(relative, state)| (relative.to_owned(), state))
            .collect();
        Self::from_files(n, files)
    }

    pub(crate) fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.buckets.iter().map(BTreeMap::len).sum()
    }

    pub(crate) fn bucket_of(&self, relative: &str) -> usize {
        // Both operands fit: the bucket count is small.
        (fnv1a(relative.as_bytes()) % self.buckets.len() as u64) as usize
    }

    pub(crate) fn get(&self, relative: &str) -> Option<FileState> {
        self.buckets[self.bucket_of(relative)]
            .get(relative)
            .copied()
    }

    /// Sets or removes a file, marking its bucket dirty when that changes anything.
    pub(crate) fn set(&mut self, relative: &str, state: Option<FileState>) {
        let index = self.bucket_of(relative);
        let bucket = &mut self.buckets[index];
        let changed = match state {
            Some(state) => bucket.insert(relative.to_owned(), state) != Some(state),
            None => bucket.remove(relative).is_some(),
        };
        if changed {
            self.dirty.insert(index);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, FileState)> {
        self.buckets.iter().flat_map(|bucket| {
            bucket
                .iter()
                .map(|(relative, state)| (relative.as_str(), *state))
        })
    }

    pub(crate) fn bucket(&self, index: usize) -> &BTreeMap<String, FileState> {
        &self.buckets[index]
    }

    /// Replaces a bucket as loaded from the store (not dirty).
    pub(crate) fn load_bucket(&mut self, index: usize, files: BTreeMap<String, FileState>) {
        if let Some(bucket) = self.buckets.get_mut(index) {
            *bucket = files;
        }
    }

    pub(crate) fn dirty(&self) -> Vec<usize> {
        self.dirty.iter().copied().collect()
    }

    pub(crate) fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    pub(crate) fn mark_clean(&mut self, index: usize) {
        self.dirty.remove(&index);
    }

    pub(crate) fn mark_all_dirty(&mut self) {
        self.dirty = (0..self.buckets.len()).collect();
    }
}

/// The 64-bit FNV-1a hash: stable across builds and versions (unlike std's hasher), because
/// saved snapshots depend on it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The part of the tree an observation covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Everything.
    All,
    /// One relative path and, if it is a directory, everything below it.
    Under(String),
}

impl Scope {
    pub(crate) fn contains(&self, relative: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Under(prefix) => {
                relative == prefix
                    || (relative.starts_with(prefix.as_str())
                        && relative.as_bytes().get(prefix.len()) == Some(&b'/'))
            }
        }
    }
}

/// What is on disk within a scope now: the matching files, and the directories that could
/// not be read (their files are neither created nor deleted by this observation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    pub(crate) scope: Scope,
    pub(crate) files: BTreeMap<String, FileState>,
    pub(crate) unreadable: Vec<String>,
}

/// One file's change between the snapshot and an observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) relative: String,
    pub(crate) before: Option<FileState>,
    pub(crate) after: Option<FileState>,
}

impl Change {
    pub(crate) fn event(&self) -> FileEvent {
        match (self.before, self.after) {
            (None, _) => FileEvent::Created,
            (Some(_), Some(_)) => FileEvent::Modified,
            (Some(_), None) => FileEvent::Deleted,
        }
    }
}

/// The changes that turn `snapshot` into what `observation` saw, in path order.
pub(crate) fn diff(snapshot: &Snapshot, observation: &Observation) -> Vec<Change> {
    let unreadable = |relative: &str| {
        observation
            .unreadable
            .iter()
            .any(|dir| dir.is_empty() || Scope::Under(dir.clone()).contains(relative))
    };
    let mut changes: BTreeMap<&str, Change> = BTreeMap::new();
    for (relative, before) in snapshot.iter() {
        if !observation.scope.contains(relative) || unreadable(relative) {
            continue;
        }
        let after = observation.files.get(relative).copied();
        if after != Some(before) {
            changes.insert(
                relative,
                Change {
                    relative: relative.to_owned(),
                    before: Some(before),
                    after,
                },
            );
        }
    }
    for (relative, after) in &observation.files {
        if snapshot.get(relative).is_none() {
            changes.insert(
                relative,
                Change {
                    relative: relative.clone(),
                    before: None,
                    after: Some(*after),
                },
            );
        }
    }
    changes.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(size: u64) -> FileState {
        FileState { size, mtime_ns: 1 }
    }

    #[test]
    fn diff_finds_created_modified_deleted() {
        let mut snapshot = Snapshot::new(4);
        snapshot.set("a", Some(state(1)));
        snapshot.set("b", Some(state(1)));
        snapshot.set("d/c", Some(state(1)));
        let observation = Observation {
            scope: Scope::All,
            files: [
                ("a".to_owned(), state(1)),
                ("b".to_owned(), state(2)),
                ("e".to_owned(), state(3)),
            ]
            .into_iter()
            .collect(),
            unreadable: Vec::new(),
        };
        let events: Vec<_> = diff(&snapshot, &observation)
            .iter()
            .map(|change| (change.relative.clone(), change.event()))
            .collect();
        assert_eq!(
            events,
            [
                ("b".to_owned(), FileEvent::Modified),
                ("d/c".to_owned(), FileEvent::Deleted),
                ("e".to_owned(), FileEvent::Created),
            ]
        );
    }

    #[test]
    fn scoped_diff_leaves_the_rest_alone() {
        let mut snapshot = Snapshot::new(2);
        snapshot.set("d/x", Some(state(1)));
        snapshot.set("dx", Some(state(1)));
        snapshot.set("other", Some(state(1)));
        let observation = Observation {
            scope: Scope::Under("d".to_owned()),
            files: BTreeMap::new(),
            unreadable: Vec::new(),
        };
        let changes = diff(&snapshot, &observation);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].relative, "d/x");
        assert_eq!(changes[0].event(), FileEvent::Deleted);
    }

    #[test]
    fn unreadable_directories_are_not_deleted() {
        let mut snapshot = Snapshot::new(1);
        snapshot.set("locked/x", Some(state(1)));
        let observation = Observation {
            scope: Scope::All,
            files: BTreeMap::new(),
            unreadable: vec!["locked".to_owned()],
        };
        assert!(diff(&snapshot, &observation).is_empty());
    }

    #[test]
    fn buckets_are_stable_and_track_dirt() {
        let mut snapshot = Snapshot::new(16);
        assert_eq!(
            snapshot.bucket_of("incoming/a.csv"),
            snapshot.bucket_of("incoming/a.csv")
        );
        // FNV-1a of "a" is fixed forever; saved snapshots rely on it.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        snapshot.set("a", Some(state(1)));
        assert_eq!(snapshot.dirty(), [snapshot.bucket_of("a")]);
        snapshot.mark_clean(snapshot.bucket_of("a"));
        snapshot.set("a", Some(state(1)));
        assert!(!snapshot.is_dirty());
        let rebucketed = snapshot.rebucketed(64);
        assert_eq!(rebucketed.len(), 1);
        assert_eq!(rebucketed.get("a"), Some(state(1)));
        assert_eq!(rebucketed.dirty().len(), 64);
    }
}
