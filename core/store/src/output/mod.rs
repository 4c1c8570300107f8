//! Execution output: stdout/stderr lines, numbered per execution from 0.
//!
//! Lines live in the `output` tree under `<execution id>\0<seq, 8 bytes big-endian>`, so reading
//! from a sequence number is a range scan and the next number after a restart is the last key
//! plus one. At most `max_output_lines` lines are kept per execution; the next one is replaced by a
//! single marker line and later ones are counted (in `output_meta`) and dropped.
//!
//! Appends do not flush (output is not acknowledged to anyone); they become durable with the next
//! flush.

use chrono::Utc;
use nerve_model::OutputLine;
use serde::{Deserialize, Serialize};

use crate::change::{ChangeKind, ChangeOp};
use crate::id::check_id;
use crate::time::timestamp;
use crate::{Result, Store};

/// The stream name of the marker line written when the cap is reached.
pub const OUTPUT_MARKER_STREAM: &str = "nerve";

/// Counts of one execution's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutputStats {
    /// The sequence number the next stored line would get (= lines stored, marker included).
    pub next_seq: u64,
    /// Lines dropped after the cap.
    pub dropped: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct OutputMeta {
    dropped: u64,
}

pub(crate) fn line_prefix(execution_id: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(execution_id.len() + 1);
    prefix.extend_from_slice(execution_id.as_bytes());
    prefix.push(0);
    prefix
}

fn line_key(execution_id: &str, seq: u64) -> Vec<u8> {
    let mut key = line_prefix(execution_id);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn key_seq(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

impl Store {
    /// Appends one line (without its newline) to an execution's output. Returns its sequence
    /// number, or `None` when the execution is over its cap and the line was counted and dropped.
    /// Sequence numbers increase by one per stored line and continue after a restart. The
    /// execution need not be recorded yet (output can race its record); output is purged with its
    /// execution.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::InvalidId`] and database errors.
    pub fn append_output(
        &self,
        execution_id: &str,
        stream: &str,
        data: &str,
    ) -> Result<Option<u64>> {
        check_id("execution id", execution_id)?;
        let trees = &self.inner.trees;
        let table = &trees.output;
        let cap = self.inner.options.max_output_lines;
        let _guard = self.inner.locks.lock(table.name, execution_id.as_bytes());
        let next_seq = self.next_output_seq(execution_id)?;
        if next_seq > cap {
            let meta_key = execution_id.as_bytes();
            let mut meta: OutputMeta = trees.output_meta.get(meta_key)?.unwrap_or_default();
            meta.dropped += 1;
            let bytes = trees.output_meta.encode(meta_key, &meta)?;
            trees.output_meta.insert_raw(meta_key, bytes)?;
            return Ok(None);
        }
        let line = if next_seq == cap {
            OutputLine {
                execution_id: execution_id.to_owned(),
                seq: next_seq,
                stream: OUTPUT_MARKER_STREAM.to_owned(),
                data: format!(
                    "output limit of {cap} lines reached; further lines are counted and dropped"
                ),
                timestamp: timestamp(Utc::now()),
            }
        } else {
            OutputLine {
                execution_id: execution_id.to_owned(),
                seq: next_seq,
                stream: stream.to_owned(),
                data: data.to_owned(),
                timestamp: timestamp(Utc::now()),
            }
        };
        let key = line_key(execution_id, next_seq);
        let bytes = table.encode(&key, &line)?;
        table.insert_raw(&key, bytes)?;
        self.inner
            .feed
            .send(ChangeKind::Output, execution_id, ChangeOp::Put);
        if next_seq == cap {
            // The line that hit the cap is dropped too.
            let meta_key = execution_id.as_bytes();
            let bytes = trees
                .output_meta
                .encode(meta_key, &OutputMeta { dropped: 1 })?;
            trees.output_meta.insert_raw(meta_key, bytes)?;
            return Ok(None);
        }
        Ok(Some(next_seq))
    }

    fn next_output_seq(&self, execution_id: &str) -> Result<u64> {
        let last = self
            .inner
            .trees
            .output
            .last_with_prefix(&line_prefix(execution_id))?;
        Ok(last
            .and_then(|(key, _)| key_seq(&key))
            .map_or(0, |seq| seq + 1))
    }

    /// Up to `limit` lines of an execution's output starting at sequence number `from_seq`.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn output(
        &self,
        execution_id: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<OutputLine>> {
        let table = &self.inner.trees.output;
        let start = line_key(execution_id, from_seq);
        let end = line_key(execution_id, u64::MAX);
        table
            .range(start..=end)
            .take(limit)
            .map(|entry| entry.and_then(|(key, value)| table.decode(&key, &value)))
            .collect()
    }

    /// How many lines an execution has stored and dropped.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn output_stats(&self, execution_id: &str) -> Result<OutputStats> {
        let meta: OutputMeta = self
            .inner
            .trees
            .output_meta
            .get(execution_id.as_bytes())?
            .unwrap_or_default();
        Ok(OutputStats {
            next_seq: self.next_output_seq(execution_id)?,
            dropped: meta.dropped,
        })
    }
}

#[cfg(test)]
mod tests;
