//! Retention: [`Store::purge`] removes what is past its retention, in bounded steps.
//!
//! * Trigger instances that are processed (or failed) and occurred before
//!   `now - trigger_instance_retention`; their index entries and their trace references (with the
//!   enforcement references of that event).
//! * Rule enforcements recorded before `now - enforcement_retention`.
//! * Executions in a final status that ended before `now - execution_retention`, with their
//!   output lines, dropped-line count, result file, index entries and trace reference. Unfinished
//!   executions are kept however old.
//! * Key-value pairs past their `expire_at` (through the `kv_expiry` index).
//! * A trace left without components.
//!
//! Each call examines or deletes at most `purge_batch` units (records or output lines) per kind,
//! so it can run every few seconds without pausing the platform. Records are keyed by ULID, so a
//! sweep walks from the oldest and stops at the first id newer than the cutoff; a sweep that runs
//! out of budget resumes where it stopped on the next call (the cursor is kept in memory). Purge is
//! idempotent and does not flush: losing a purge in a crash only means doing it again.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use nerve_model::RuleEnforcement;
use serde::{Deserialize, Serialize};
use sled::IVec;

use crate::change::{ChangeKind, ChangeOp};
use crate::execution::{StoredExecution, index_entries_with_legacy};
use crate::id::id_time;
use crate::output::line_prefix;
use crate::table::Table;
use crate::time::{cutoff, parse_time};
use crate::trace::TraceComponentKind;
use crate::trigger_instance::is_done;
use crate::{Result, Store, TriggerInstanceRecord};

/// Where each sweep stopped.
#[derive(Debug, Default)]
pub(crate) struct PurgeCursors {
    trigger_instances: Option<Vec<u8>>,
    enforcements: Option<Vec<u8>>,
    executions: Option<Vec<u8>>,
}

/// What one [`Store::purge`] call removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PurgeStats {
    /// Trigger instances removed.
    pub trigger_instances: usize,
    /// Rule enforcements removed.
    pub enforcements: usize,
    /// Executions removed.
    pub executions: usize,
    /// Output lines removed.
    pub output_lines: usize,
    /// Result files removed.
    pub result_files: usize,
    /// Traces removed (left empty).
    pub traces: usize,
    /// Expired key-value pairs removed.
    pub kv_expired: usize,
    /// `false` when a sweep ran out of budget: call again soon to finish.
    pub complete: bool,
}

/// What a sweep's visitor says about one record.
enum Step {
    /// Done with this record (kept or removed).
    Next,
    /// Ran out of budget part-way: retry this record on the next call.
    OutOfBudget,
}

impl Store {
    /// Removes what is past its retention (see the module docs), at most
    /// [`crate::StoreOptions::purge_batch`] units per kind per call. Idempotent.
    ///
    /// # Errors
    ///
    /// Database and result-file errors. Corrupt records are logged and kept, not an error.
    pub fn purge(&self, now: DateTime<Utc>) -> Result<PurgeStats> {
        let options = &self.inner.options;
        let batch = options.purge_batch.max(1);
        let mut stats = PurgeStats::default();
        let mut more = false;

        let cursor = self.take_cursor(|cursors| &mut cursors.executions);
        let executions_cutoff = cutoff(now, options.execution_retention);
        let (cursor, pending) = self.sweep(
            &self.inner.trees.executions,
            cursor,
            executions_cutoff,
            batch,
            |store, key, value, budget| {
                store.purge_execution(key, value, executions_cutoff, budget, &mut stats)
            },
        )?;
        self.put_cursor(|cursors| &mut cursors.executions, cursor);
        more |= pending;

        let cursor = self.take_cursor(|cursors| &mut cursors.trigger_instances);
        let events_cutoff = cutoff(now, options.trigger_instance_retention);
        let (cursor, pending) = self.sweep(
            &self.inner.trees.trigger_instances,
            cursor,
            events_cutoff,
            batch,
            |store, key, value, _| {
                store.purge_trigger_instance(key, value, events_cutoff, &mut stats)
            },
        )?;
        self.put_cursor(|cursors| &mut cursors.trigger_instances, cursor);
        more |= pending;

        let cursor = self.take_cursor(|cursors| &mut cursors.enforcements);
        let enforcements_cutoff = cutoff(now, options.enforcement_retention);
        let (cursor, pending) = self.sweep(
            &self.inner.trees.enforcements,
            cursor,
            enforcements_cutoff,
            batch,
            |store, key, value, _| {
                store.purge_enforcement(key, value, enforcements_cutoff, &mut stats)
            },
        )?;
        self.put_cursor(|cursors| &mut cursors.enforcements, cursor);
        more |= pending;

        let (kv_expired, pending) = self.kv().purge_expired(now, batch)?;
        stats.kv_expired = kv_expired;
        more |= pending;

        stats.complete = !more;
        let removed = stats.trigger_instances
            + stats.enforcements
            + stats.executions
            + stats.output_lines
            + stats.kv_expired;
        if removed > 0 {
            tracing::info!(?stats, "Purged records past their retention.");
        }
        Ok(stats)
    }

    fn take_cursor(
        &self,
        field: impl FnOnce(&mut PurgeCursors) -> &mut Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let mut cursors = self
            .inner
            .purge_cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        field(&mut cursors).take()
    }

    fn put_cursor(
        &self,
        field: impl FnOnce(&mut PurgeCursors) -> &mut Option<Vec<u8>>,
        cursor: Option<Vec<u8>>,
    ) {
        let mut cursors = self
            .inner
            .purge_cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *field(&mut cursors) = cursor;
    }

    /// Walks `table` in key order after `cursor`, handing each record to `visit` with the budget
    /// left, until the budget is spent (returns the cursor to resume from and `true`) or it
    /// reaches an id newer than `cutoff` or the end (returns `None` and `false`).
    fn sweep(
        &self,
        table: &Table,
        cursor: Option<Vec<u8>>,
        cutoff: DateTime<Utc>,
        batch: usize,
        mut visit: impl FnMut(&Store, &[u8], &IVec, &mut usize) -> Result<Step>,
    ) -> Result<(Option<Vec<u8>>, bool)> {
        let start = match &cursor {
            Some(key) => Bound::Excluded(key.clone()),
            None => Bound::Unbounded,
        };
        let mut budget = batch;
        let mut last = cursor;
        for entry in table.range((start, Bound::Unbounded)) {
            let (key, value) = entry?;
            if id_time(&key).is_some_and(|time| time > cutoff) {
                return Ok((None, false));
            }
            if budget == 0 {
                return Ok((last, true));
            }
            budget -= 1;
            match visit(self, &key, &value, &mut budget)? {
                Step::Next => last = Some(key.to_vec()),
                Step::OutOfBudget => return Ok((last, true)),
            }
        }
        Ok((None, false))
    }

    fn purge_execution(
        &self,
        key: &[u8],
        value: &IVec,
        cutoff: DateTime<Utc>,
        budget: &mut usize,
        stats: &mut PurgeStats,
    ) -> Result<Step> {
        let trees = &self.inner.trees;
        let table = &trees.executions;
        let stored: StoredExecution = match table.decode(key, value) {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, "Keeping a corrupt execution record.");
                return Ok(Step::Next);
            }
        };
        let execution = &stored.execution;
        let ended = execution
            .end_timestamp
            .as_deref()
            .and_then(parse_time)
            .or_else(|| parse_time(&execution.start_timestamp))
            .or_else(|| id_time(key));
        if !execution.status.is_final() || ended.is_none_or(|ended| ended > cutoff) {
            return Ok(Step::Next);
        }
        let id = execution.id.as_str();
        // Output first, in budget-sized bites; the record goes last so a later call finds it.
        let lines: Vec<IVec> = trees
            .output
            .scan_prefix(&line_prefix(id))
            .take(budget.saturating_add(1))
            .map(|entry| entry.map(|(key, _)| key))
            .collect::<Result<_>>()?;
        let more_lines = lines.len() > *budget;
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for line in lines.into_iter().take(*budget) {
            batch.remove(line);
            removed += 1;
        }
        trees.output.apply_batch(batch)?;
        stats.output_lines += removed;
        *budget -= removed;
        if more_lines {
            return Ok(Step::OutOfBudget);
        }
        {
            let _guard = self.inner.locks.lock(table.name, key);
            if table.compare_and_swap(key, Some(value), None)?.is_err() {
                return Ok(Step::Next);
            }
            trees
                .executions_idx
                .remove(id, &index_entries_with_legacy(execution), &[])?;
            trees.output_meta.remove(id.as_bytes())?;
            self.inner
                .feed
                .send(ChangeKind::Execution, id, ChangeOp::Delete);
        }
        stats.executions += 1;
        if let Some(file_name) = stored.result_file.as_deref() {
            if self.remove_result_file(file_name)? {
                stats.result_files += 1;
            }
        }
        if let Some(trace_id) = execution.context.trace_id.as_deref() {
            if self.remove_from_trace(trace_id, TraceComponentKind::Execution, id, false)? {
                stats.traces += 1;
            }
        }
        Ok(Step::Next)
    }

    fn purge_trigger_instance(
        &self,
        key: &[u8],
        value: &IVec,
        cutoff: DateTime<Utc>,
        stats: &mut PurgeStats,
    ) -> Result<Step> {
        let trees = &self.inner.trees;
        let table = &trees.trigger_instances;
        let record: TriggerInstanceRecord = match table
            .decode(key, value)
            .and_then(|record| self.effective_trigger_instance(record))
        {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%error, "Keeping a corrupt trigger instance record.");
                return Ok(Step::Next);
            }
        };
        let occurred = parse_time(&record.occurrence_time).or_else(|| id_time(key));
        if !is_done(record.status) || occurred.is_none_or(|occurred| occurred > cutoff) {
            return Ok(Step::Next);
        }
        {
            let _guard = self.inner.locks.lock(table.name, key);
            if table.compare_and_swap(key, Some(value), None)?.is_err() {
                return Ok(Step::Next);
            }
            trees
                .trigger_instances_idx
                .remove(&record.id, &record.index_entries(), &[])?;
            self.inner
                .feed
                .send(ChangeKind::TriggerInstance, &record.id, ChangeOp::Delete);
        }
        stats.trigger_instances += 1;
        if let Some(trace_id) = record.trace_id.as_deref() {
            if self.remove_from_trace(
                trace_id,
                TraceComponentKind::TriggerInstance,
                &record.id,
                true,
            )? {
                stats.traces += 1;
            }
        }
        Ok(Step::Next)
    }

    fn purge_enforcement(
        &self,
        key: &[u8],
        value: &IVec,
        cutoff: DateTime<Utc>,
        stats: &mut PurgeStats,
    ) -> Result<Step> {
        let trees = &self.inner.trees;
        let table = &trees.enforcements;
        let enforcement: RuleEnforcement = match table.decode(key, value) {
            Ok(enforcement) => enforcement,
            Err(error) => {
                tracing::warn!(%error, "Keeping a corrupt rule enforcement record.");
                return Ok(Step::Next);
            }
        };
        let enforced = parse_time(&enforcement.enforced_at).or_else(|| id_time(key));
        if enforced.is_none_or(|enforced| enforced > cutoff) {
            return Ok(Step::Next);
        }
        let _guard = self.inner.locks.lock(table.name, key);
        if table.compare_and_swap(key, Some(value), None)?.is_err() {
            return Ok(Step::Next);
        }
        let id = String::from_utf8_lossy(key).into_owned();
        trees
            .enforcements_idx
            .remove(&id, &[("rule", enforcement.rule.as_str())], &[])?;
        self.inner
            .feed
            .send(ChangeKind::Enforcement, id, ChangeOp::Delete);
        stats.enforcements += 1;
        Ok(Step::Next)
    }
}
