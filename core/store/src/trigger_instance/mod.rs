//! Trigger instances (events): recorded once per id before the event is acknowledged, then moved
//! through `pending → processing → processed | processing_failed` by the rules engine.
//!
//! Indexed by status (so recovery finds unfinished events without a full scan) and by trigger.

use chrono::{DateTime, Utc};
use nerve_model::{TriggerInstance, TriggerInstanceStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::change::{ChangeKind, ChangeOp};
use crate::id::check_id;
use crate::index::Entry;
use crate::time::within;
use crate::{InsertOutcome, Page, Result, Store, StoreError};

const KIND: &str = "trigger instance";

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerInstanceRecord {
    /// Id (ULID, see [`crate::new_id`]).
    pub id: String,
    /// The trigger ref.
    pub trigger: String,
    /// The payload.
    #[serde(default)]
    pub payload: Value,
    /// When it happened (RFC 3339, UTC).
    pub occurrence_time: String,
    /// Processing status.
    pub status: TriggerInstanceStatus,
    /// The trace it starts or belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The user-visible trace tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_tag: Option<String>,
}

impl TriggerInstanceRecord {
    /// The model's view of the event (what rules see).
    pub fn to_trigger_instance(&self) -> TriggerInstance {
        TriggerInstance {
            id: Some(self.id.clone()),
            trigger: self.trigger.clone(),
            payload: self.payload.clone(),
            occurrence_time: Some(self.occurrence_time.clone()),
        }
    }

    /// Same event: everything but the status (which moves on after the first delivery).
    fn same_event(&self, other: &Self) -> bool {
        self.trigger == other.trigger
            && self.payload == other.payload
            && self.occurrence_time == other.occurrence_time
            && self.trace_id == other.trace_id
            && self.trace_tag == other.trace_tag
    }

    /// Indexed by trigger always, by status only while unfinished (what recovery looks for):
    /// finishing an event then costs one index removal instead of a removal and an insert.
    pub(crate) fn index_entries(&self) -> Vec<Entry<'_>> {
        let mut entries = vec![("trigger", self.trigger.as_str())];
        if !is_done(self.status) {
            entries.push(("status", trigger_instance_status_name(self.status)));
        }
        entries
    }
}

/// Filter for [`Store::list_trigger_instances`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerInstanceFilter {
    /// Only this trigger ref.
    pub trigger: Option<String>,
    /// Only this status.
    pub status: Option<TriggerInstanceStatus>,
    /// Occurred at or after.
    pub since: Option<DateTime<Utc>>,
    /// Occurred at or before.
    pub until: Option<DateTime<Utc>>,
    /// Page size; `None` for all.
    pub limit: Option<usize>,
    /// Matches to skip.
    pub offset: usize,
}

/// StackStorm's name for a trigger-instance status.
pub fn trigger_instance_status_name(status: TriggerInstanceStatus) -> &'static str {
    match status {
        TriggerInstanceStatus::Pending => "pending",
        TriggerInstanceStatus::Processing => "processing",
        TriggerInstanceStatus::Processed => "processed",
        TriggerInstanceStatus::ProcessingFailed => "processing_failed",
    }
}

/// Whether the rules engine is done with an event in this status (processed or failed).
pub(crate) fn is_done(status: TriggerInstanceStatus) -> bool {
    matches!(
        status,
        TriggerInstanceStatus::Processed | TriggerInstanceStatus::ProcessingFailed
    )
}

impl Store {
    /// Records an event, insert-if-absent by id, and flushes. Recording the same event again (a
    /// redelivery, whatever its status now) is [`InsertOutcome::AlreadyPresent`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the id is taken by a different event,
    /// [`StoreError::InvalidId`], and database or flush errors.
    pub async fn record_trigger_instance(
        &self,
        record: &TriggerInstanceRecord,
    ) -> Result<InsertOutcome> {
        let outcome = self.record_trigger_instance_unflushed(record)?;
        self.flush().await?;
        Ok(outcome)
    }

    /// [`Store::record_trigger_instance`] without the flush: the event is visible at once and
    /// durable after the next [`Store::flush`], which the caller awaits before acknowledging
    /// the event to whoever sent it.
    ///
    /// # Errors
    ///
    /// As [`Store::record_trigger_instance`], without the flush errors.
    pub fn record_trigger_instance_unflushed(
        &self,
        record: &TriggerInstanceRecord,
    ) -> Result<InsertOutcome> {
        check_id("trigger instance id", &record.id)?;
        let trees = &self.inner.trees;
        let table = &trees.trigger_instances;
        let key = record.id.as_bytes();
        let bytes = table.encode(key, record)?;
        let index = &trees.trigger_instances_idx;
        let entries = record.index_entries();
        // Every writer of this record holds its lock, so nothing changes between the check
        // and the insert. The index is left alone for a record that exists: its missing status
        // entry may be what says it was processed.
        let _guard = self.inner.locks.lock(table.name, key);
        if let Some(current) = table.get_raw(key)? {
            let existing: TriggerInstanceRecord = table.decode(key, &current)?;
            return if existing.same_event(record) {
                Ok(InsertOutcome::AlreadyPresent)
            } else {
                Err(StoreError::Conflict {
                    kind: KIND,
                    id: record.id.clone(),
                })
            };
        }
        // Index entries first: a crash before the record leaves an extra entry, never a missing one.
        index.add(&record.id, &[], &entries)?;
        table.insert_raw(key, bytes)?;
        self.inner
            .feed
            .send(ChangeKind::TriggerInstance, &record.id, ChangeOp::Put);
        Ok(InsertOutcome::Inserted)
    }

    /// Records an event whose id this process has just minted with [`crate::new_id`], without
    /// the flush, the record lock or the existence check of
    /// [`Store::record_trigger_instance_unflushed`]: no other writer can know that id yet, so
    /// there is nothing to check against (an ingest path's saving of a read per event).
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidId`] and database errors.
    pub fn record_new_trigger_instance_unflushed(
        &self,
        record: &TriggerInstanceRecord,
    ) -> Result<()> {
        check_id("trigger instance id", &record.id)?;
        let trees = &self.inner.trees;
        let table = &trees.trigger_instances;
        let key = record.id.as_bytes();
        let bytes = table.encode(key, record)?;
        // Index entries first: a crash before the record leaves an extra entry, never a missing one.
        trees
            .trigger_instances_idx
            .add(&record.id, &[], &record.index_entries())?;
        table.insert_raw(key, bytes)?;
        self.inner
            .feed
            .send(ChangeKind::TriggerInstance, &record.id, ChangeOp::Put);
        Ok(())
    }

    /// Sets an event's processing status and flushes; returns the updated record.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown id; database or flush errors.
    pub async fn set_trigger_instance_status(
        &self,
        id: &str,
        status: TriggerInstanceStatus,
    ) -> Result<TriggerInstanceRecord> {
        let record = self.set_trigger_instance_status_unflushed(id, status)?;
        self.flush().await?;
        Ok(record)
    }

    /// [`Store::set_trigger_instance_status`] without the flush: the status is durable after
    /// the next [`Store::flush`] by anyone (or sled's background flush).
    ///
    /// # Errors
    ///
    /// As [`Store::set_trigger_instance_status`], without the flush errors.
    pub fn set_trigger_instance_status_unflushed(
        &self,
        id: &str,
        status: TriggerInstanceStatus,
    ) -> Result<TriggerInstanceRecord> {
        let trees = &self.inner.trees;
        let table = &trees.trigger_instances;
        let key = id.as_bytes();
        let _guard = self.inner.locks.lock(table.name, key);
        let stored: TriggerInstanceRecord =
            table.get(key)?.ok_or_else(|| StoreError::NotFound {
                kind: KIND,
                id: id.to_owned(),
            })?;
        let old = self.effective_trigger_instance(stored.clone())?;
        if old.status == status {
            return Ok(old);
        }
        let mut new = old.clone();
        new.status = status;
        let index = &trees.trigger_instances_idx;
        if status == TriggerInstanceStatus::Processed {
            // The record keeps its unfinished status; dropping the status entry is what makes
            // it processed (see `effective_trigger_instance`), without rewriting the payload.
            index.remove(id, &stored.index_entries(), &new.index_entries())?;
        } else {
            let bytes = table.encode(key, &new)?;
            index.add(id, &old.index_entries(), &new.index_entries())?;
            table.insert_raw(key, bytes)?;
            index.remove(id, &stored.index_entries(), &new.index_entries())?;
        }
        self.inner
            .feed
            .send(ChangeKind::TriggerInstance, id, ChangeOp::Put);
        Ok(new)
    }

    /// Marks an event processed without reading or rewriting its record: the rules engine's
    /// last write per event. Equivalent to
    /// [`Store::set_trigger_instance_status_unflushed`] with `Processed`, for an event that is
    /// still pending or processing.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub fn mark_trigger_instance_processed_unflushed(&self, id: &str) -> Result<()> {
        let trees = &self.inner.trees;
        let key = id.as_bytes();
        let _guard = self.inner.locks.lock(trees.trigger_instances.name, key);
        let unfinished = [
            (
                "status",
                trigger_instance_status_name(TriggerInstanceStatus::Pending),
            ),
            (
                "status",
                trigger_instance_status_name(TriggerInstanceStatus::Processing),
            ),
        ];
        trees.trigger_instances_idx.remove(id, &unfinished, &[])?;
        self.inner
            .feed
            .send(ChangeKind::TriggerInstance, id, ChangeOp::Put);
        Ok(())
    }

    /// The status an event really has: a record that says pending or processing whose status
    /// index entry is gone was processed (the rules engine marks an event processed by removing
    /// that entry; entries are added before the record is written, so a missing one is never
    /// a crash artefact).
    pub(crate) fn effective_trigger_instance(
        &self,
        mut record: TriggerInstanceRecord,
    ) -> Result<TriggerInstanceRecord> {
        if !is_done(record.status)
            && !self.inner.trees.trigger_instances_idx.contains(
                "status",
                trigger_instance_status_name(record.status),
                &record.id,
            )?
        {
            record.status = TriggerInstanceStatus::Processed;
        }
        Ok(record)
    }

    /// One event by id.
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn trigger_instance(&self, id: &str) -> Result<Option<TriggerInstanceRecord>> {
        self.inner
            .trees
            .trigger_instances
            .get(id.as_bytes())?
            .map(|record| self.effective_trigger_instance(record))
            .transpose()
    }

    /// Events matching `filter`, newest first, with the total count.
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn list_trigger_instances(
        &self,
        filter: &TriggerInstanceFilter,
    ) -> Result<Page<TriggerInstanceRecord>> {
        let trees = &self.inner.trees;
        let table = &trees.trigger_instances;
        let index = &trees.trigger_instances_idx;
        let candidates: Box<dyn Iterator<Item = Result<TriggerInstanceRecord>>> =
            match (&filter.trigger, filter.status) {
                (Some(trigger), _) => Box::new(self.load_ids(index.ids("trigger", trigger, true))),
                (None, Some(status)) if !is_done(status) => Box::new(self.load_ids(index.ids(
                    "status",
                    trigger_instance_status_name(status),
                    true,
                ))),
                (None, _) => Box::new(table.scan_prefix(&[]).rev().map(|entry| {
                    entry
                        .and_then(|(key, value)| table.decode(&key, &value))
                        .and_then(|record| self.effective_trigger_instance(record))
                })),
            };
        Page::collect(
            candidates,
            |record| {
                filter
                    .trigger
                    .as_ref()
                    .is_none_or(|trigger| &record.trigger == trigger)
                    && filter.status.is_none_or(|status| record.status == status)
                    && within(&record.occurrence_time, filter.since, filter.until)
            },
            filter.offset,
            filter.limit,
        )
    }

    /// Events the rules engine has not finished (pending or processing), oldest first: replay
    /// them after a restart.
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn pending_trigger_instances(&self) -> Result<Vec<TriggerInstanceRecord>> {
        let index = &self.inner.trees.trigger_instances_idx;
        let mut records = Vec::new();
        for status in [
            TriggerInstanceStatus::Pending,
            TriggerInstanceStatus::Processing,
        ] {
            for record in
                self.load_ids(index.ids("status", trigger_instance_status_name(status), false))
            {
                let record = record?;
                if record.status == status {
                    records.push(record);
                }
            }
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }

    /// Loads the records an index points at, skipping ids whose record is gone.
    fn load_ids<'a>(
        &'a self,
        ids: impl Iterator<Item = Result<String>> + 'a,
    ) -> impl Iterator<Item = Result<TriggerInstanceRecord>> + 'a {
        let table = &self.inner.trees.trigger_instances;
        ids.filter_map(move |id| match id {
            Err(error) => Some(Err(error)),
            Ok(id) => table
                .get(id.as_bytes())
                .and_then(|record| {
                    record
                        .map(|record| self.effective_trigger_instance(record))
                        .transpose()
                })
                .transpose(),
        })
    }
}

#[cfg(test)]
mod tests;
