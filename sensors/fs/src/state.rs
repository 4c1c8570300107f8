//! Saved state in the sensor's key-value store (through the host, so it survives restarts of
//! the sensor and of the host).
//!
//! A directory watch's snapshot is saved under `seen:<trigger id>` (the layout: watched path,
//! filter, generation, bucket count) and `seen:<trigger id>:<generation>:<bucket>` (JSON maps
//! of relative path → `[size, mtime_ns]`). Only changed buckets are rewritten, and each file
//! lives in exactly one bucket, so every file's saved state is always one that was true once,
//! whichever writes a crash interrupted. A bucket that grows past [`BUCKET_LIMIT`] (the host
//! caps protocol lines at 1 MiB) makes the next save write a new generation with more
//! buckets; the layout key is written after the new buckets, so a crash in between leaves the
//! old generation in force. A line watch's cursor is one key, `cursor:<trigger id>`.
//!
//! Nothing here decides *when* to save; the watch tasks do.

use std::collections::BTreeMap;

use nerve_sensor_sdk::{KvOptions, LogLevel, RequestError, SensorContext};
use serde::{Deserialize, Serialize};

use crate::params::FileWatchSpec;
use crate::snapshot::{FileState, Snapshot};
use crate::tail::Cursor;

/// Largest saved bucket, in bytes of JSON.
pub(crate) const BUCKET_LIMIT: usize = 256 * 1024;
/// Most buckets a snapshot is split into.
const MAX_BUCKETS: usize = 4096;
/// Version of the saved layout.
const LAYOUT_VERSION: u32 = 1;

/// The saved layout of a snapshot, and what it was taken of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotMeta {
    pub(crate) v: u32,
    /// The watched path.
    pub(crate) path: String,
    /// The glob in force when the snapshot was taken.
    #[serde(default)]
    pub(crate) glob: Option<String>,
    /// Whether the watch was recursive.
    #[serde(default)]
    pub(crate) recursive: bool,
    generation: u64,
    buckets: usize,
    /// A generation being replaced (its keys are deleted on the next save).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<Layout>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Layout {
    generation: u64,
    buckets: usize,
}

/// A directory watch's saved snapshot.
#[derive(Debug)]
pub(crate) struct SnapshotStore {
    ctx: SensorContext,
    trigger_id: String,
    meta: Option<SnapshotMeta>,
}

impl SnapshotStore {
    pub(crate) fn new(ctx: SensorContext, trigger_id: &str) -> Self {
        Self {
            ctx,
            trigger_id: trigger_id.to_owned(),
            meta: None,
        }
    }

    fn meta_key(trigger_id: &str) -> String {
        format!("seen:{trigger_id}")
    }

    fn bucket_key(trigger_id: &str, generation: u64, index: usize) -> String {
        format!("seen:{trigger_id}:{generation}:{index}")
    }

    /// The saved snapshot and what it was taken of; `None` when nothing (usable) is saved.
    ///
    /// # Errors
    /// The host did not answer; the caller retries (starting afresh would lose events).
    pub(crate) async fn load(&mut self) -> Result<Option<(SnapshotMeta, Snapshot)>, RequestError> {
        let Some(meta) = read_meta(&self.ctx, &self.trigger_id).await? else {
            return Ok(None);
        };
        let mut snapshot = Snapshot::new(meta.buckets);
        for index in 0..meta.buckets {
            let key = Self::bucket_key(&self.trigger_id, meta.generation, index);
            let Some(text) = self.ctx.kv_get(&key).await? else {
                continue;
            };
            match serde_json::from_str::<BTreeMap<String, (u64, i64)>>(&text) {
                Ok(files) => {
                    let files = files
                        .into_iter()
                        .map(|(relative, (size, mtime_ns))| {
                            (relative, FileState { size, mtime_ns })
                        })
                        .collect();
                    snapshot.load_bucket(index, files);
                }
                Err(error) => {
                    let message = format!(
                        "saved state `{key}` is unreadable ({error}); its files will be reported again"
                    );
                    self.ctx.log(LogLevel::Warning, message).await;
                }
            }
        }
        self.meta = Some(meta.clone());
        Ok(Some((meta, snapshot)))
    }

    /// Saves the snapshot's dirty buckets (or a whole new generation when the layout must
    /// change), and the layout when it changed.
    ///
    /// # Errors
    /// A write failed; the buckets not written stay dirty.
    pub(crate) async fn save(
        &mut self,
        snapshot: &mut Snapshot,
        spec: &FileWatchSpec,
    ) -> Result<(), RequestError> {
        let layout_fits = self
            .meta
            .as_ref()
            .is_some_and(|meta| meta.buckets == snapshot.bucket_count());
        let mut encoded = Vec::new();
        let mut oversized = false;
        for index in snapshot.dirty() {
            let text = encode_bucket(snapshot.bucket(index));
            oversized |= text.len() > BUCKET_LIMIT;
            encoded.push((index, text));
        }
        if !layout_fits || oversized {
            return self.save_generation(snapshot, spec).await;
        }
        let Some(meta) = self.meta.clone() else {
            return Ok(());
        };
        for (index, text) in encoded {
            let key = Self::bucket_key(&self.trigger_id, meta.generation, index);
            if snapshot.bucket(index).is_empty() {
                self.ctx.kv_delete(&key).await?;
            } else {
                self.ctx.kv_set(&key, text, &KvOptions::default()).await?;
            }
            snapshot.mark_clean(index);
        }
        let wanted = SnapshotMeta {
            path: spec.path.to_string_lossy().into_owned(),
            glob: spec.glob.clone(),
            recursive: spec.recursive,
            previous: None,
            ..meta.clone()
        };
        if wanted != meta {
            if let Some(previous) = meta.previous {
                self.delete_layout(previous).await;
            }
            self.write_meta(wanted).await?;
        }
        Ok(())
    }

    async fn save_generation(
        &mut self,
        snapshot: &mut Snapshot,
        spec: &FileWatchSpec,
    ) -> Result<(), RequestError> {
        let old = self.meta.as_ref().map(|meta| Layout {
            generation: meta.generation,
            buckets: meta.buckets,
        });
        let generation = old.map_or(0, |layout| layout.generation + 1);
        let total: usize = (0..snapshot.bucket_count())
            .map(|index| encode_bucket(snapshot.bucket(index)).len())
            .sum();
        let mut buckets = snapshot.bucket_count();
        while buckets < MAX_BUCKETS && total / buckets > BUCKET_LIMIT / 4 {
            buckets *= 4;
        }
        if buckets == snapshot.bucket_count() {
            snapshot.mark_all_dirty();
        } else {
            *snapshot = snapshot.rebucketed(buckets);
        }
        for index in 0..buckets {
            let bucket = snapshot.bucket(index);
            if !bucket.is_empty() {
                let key = Self::bucket_key(&self.trigger_id, generation, index);
                let text = encode_bucket(bucket);
                self.ctx.kv_set(&key, text, &KvOptions::default()).await?;
            }
        }
        let meta = SnapshotMeta {
            v: LAYOUT_VERSION,
            path: spec.path.to_string_lossy().into_owned(),
            glob: spec.glob.clone(),
            recursive: spec.recursive,
            generation,
            buckets,
            previous: old,
        };
        // The new generation is in force from here on.
        self.write_meta(meta.clone()).await?;
        for index in 0..buckets {
            snapshot.mark_clean(index);
        }
        if let Some(old) = old {
            self.delete_layout(old).await;
            self.write_meta(SnapshotMeta {
                previous: None,
                ..meta
            })
            .await?;
        }
        Ok(())
    }

    async fn write_meta(&mut self, meta: SnapshotMeta) -> Result<(), RequestError> {
        let text = serde_json::to_string(&meta).unwrap_or_default();
        let key = Self::meta_key(&self.trigger_id);
        self.ctx.kv_set(&key, text, &KvOptions::default()).await?;
        self.meta = Some(meta);
        Ok(())
    }

    /// Best effort: a key left behind is only clutter.
    async fn delete_layout(&self, layout: Layout) {
        for index in 0..layout.buckets {
            let key = Self::bucket_key(&self.trigger_id, layout.generation, index);
            let _ = self.ctx.kv_delete(&key).await;
        }
    }

    /// Deletes everything saved for a trigger's directory watch.
    ///
    /// # Errors
    /// A request failed.
    pub(crate) async fn delete(ctx: &SensorContext, trigger_id: &str) -> Result<(), RequestError> {
        if let Some(meta) = read_meta(ctx, trigger_id).await? {
            let store = SnapshotStore::new(ctx.clone(), trigger_id);
            for layout in [
                Some(Layout {
                    generation: meta.generation,
                    buckets: meta.buckets,
                }),
                meta.previous,
            ]
            .into_iter()
            .flatten()
            {
                store.delete_layout(layout).await;
            }
        }
        ctx.kv_delete(&Self::meta_key(trigger_id)).await?;
        Ok(())
    }
}

async fn read_meta(
    ctx: &SensorContext,
    trigger_id: &str,
) -> Result<Option<SnapshotMeta>, RequestError> {
    let key = SnapshotStore::meta_key(trigger_id);
    let Some(text) = ctx.kv_get(&key).await? else {
        return Ok(None);
    };
    match serde_json::from_str::<SnapshotMeta>(&text) {
        Ok(meta) if meta.v == LAYOUT_VERSION && (1..=MAX_BUCKETS).contains(&meta.buckets) => {
            Ok(Some(meta))
        }
        Ok(_) | Err(_) => {
            let message = format!("saved state `{key}` is unreadable; starting afresh");
            ctx.log(LogLevel::Warning, message).await;
            Ok(None)
        }
    }
}

fn encode_bucket(bucket: &BTreeMap<String, FileState>) -> String {
    let plain: BTreeMap<&str, (u64, i64)> = bucket
        .iter()
        .map(|(relative, state)| (relative.as_str(), (state.size, state.mtime_ns)))
        .collect();
    serde_json::to_string(&plain).unwrap_or_default()
}

/// A line watch's saved cursor.
#[derive(Debug)]
pub(crate) struct CursorStore {
    ctx: SensorContext,
    key: String,
}

impl CursorStore {
    pub(crate) fn new(ctx: SensorContext, trigger_id: &str) -> Self {
        Self {
            ctx,
            key: Self::key(trigger_id),
        }
    }

    fn key(trigger_id: &str) -> String {
        format!("cursor:{trigger_id}")
    }

    /// The saved cursor; `None` when nothing (usable) is saved.
    ///
    /// # Errors
    /// The host did not answer; the caller retries.
    pub(crate) async fn load(&self) -> Result<Option<Cursor>, RequestError> {
        let Some(text) = self.ctx.kv_get(&self.key).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<Cursor>(&text) {
            Ok(cursor) => Ok(Some(cursor)),
            Err(error) => {
                let message = format!(
                    "saved cursor `{}` is unreadable ({error}); starting afresh",
                    self.key
                );
                self.ctx.log(LogLevel::Warning, message).await;
                Ok(None)
            }
        }
    }

    /// # Errors
    /// The write failed.
    pub(crate) async fn save(&self, cursor: &Cursor) -> Result<(), RequestError> {
        let text = serde_json::to_string(cursor).unwrap_or_default();
        self.ctx
            .kv_set(&self.key, text, &KvOptions::default())
            .await
    }

    /// # Errors
    /// The request failed.
    pub(crate) async fn delete(ctx: &SensorContext, trigger_id: &str) -> Result<(), RequestError> {
        ctx.kv_delete(&Self::key(trigger_id)).await?;
        Ok(())
    }
}
