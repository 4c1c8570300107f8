//! Executions: insert-if-absent creation, atomic read-modify-write updates, the legal status
//! transitions with their log entries, listing through secondary indexes, and the result size cap.
//!
//! Updates of one execution are serialized by its key lock; the record is then written with a
//! compare-and-swap against the bytes that were read, so nothing can slip in between.

mod result;
mod transition;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use nerve_model::{Execution, ExecutionStatus, StatusChange};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use transition::is_legal_transition;

use crate::change::{ChangeKind, ChangeOp};
use crate::id::check_id;
use crate::index::Entry;
use crate::time::{timestamp, within};
use crate::{InsertOutcome, Page, Result, Store, StoreError, UpdateError};

const KIND: &str = "execution";

/// The stored form: the execution (with a preview in place of an oversized result) and where the
/// full result is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredExecution {
    pub(crate) execution: Execution,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) result_file: Option<String>,
    #[serde(default)]
    pub(crate) result_size: u64,
}

/// An execution as listed: when its result was too large to keep inline, `execution.result` is a
/// string preview and `result_file` holds the full result ([`Store::get_execution`] reads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The execution.
    pub execution: Execution,
    /// The file holding the full result, when it is not inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_file: Option<PathBuf>,
    /// Size of the full result as JSON, in bytes (0 without a result).
    pub result_size: u64,
}

/// Filter for [`Store::list_executions`]; every field set must match. Rule, action and status
/// are served by an index; the other fields alone scan newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionFilter {
    /// Action ref.
    pub action: Option<String>,
    /// Status.
    pub status: Option<ExecutionStatus>,
    /// Rule ref (`context.rule`).
    pub rule: Option<String>,
    /// Trigger instance id (`context.trigger_instance`).
    pub trigger_instance: Option<String>,
    /// Parent execution id (`context.parent`).
    pub parent: Option<String>,
    /// User (`context.user`).
    pub user: Option<String>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started at or before.
    pub until: Option<DateTime<Utc>>,
    /// Page size; `None` for all.
    pub limit: Option<usize>,
    /// Matches to skip.
    pub offset: usize,
}

impl ExecutionFilter {
    fn matches(&self, execution: &Execution) -> bool {
        let context = &execution.context;
        let same = |wanted: &Option<String>, actual: Option<&String>| {
            wanted.as_ref().is_none_or(|wanted| actual == Some(wanted))
        };
        same(&self.action, Some(&execution.action))
            && self.status.is_none_or(|status| execution.status == status)
            && same(&self.rule, context.rule.as_ref())
            && same(&self.trigger_instance, context.trigger_instance.as_ref())
            && same(&self.parent, context.parent.as_ref())
            && same(&self.user, Some(&context.user))
            && within(&execution.start_timestamp, self.since, self.until)
    }

    /// The most selective indexed field that is set.
    /// The most selective index for this filter. Unfinished statuses hold few executions at any
    /// time (the scheduler asks "which are delayed/running?" after every completion), so they win
    /// over rule and action, which grow without bound; final statuses are the largest sets, so
    /// they lose to rule and action.
    fn index_entry(&self) -> Option<Entry<'_>> {
        let live_status = self
            .status
            .filter(|status| !status.is_final())
            .map(|status| ("status", status.as_str()));
        live_status
            .or_else(|| self.rule.as_deref().map(|rule| ("rule", rule)))
            .or_else(|| self.action.as_deref().map(|action| ("action", action)))
            .or_else(|| self.status.map(|status| ("status", status.as_str())))
    }
}

/// The (field, value) pairs an execution is indexed under: status, action and rule. Each entry
/// costs a sled write on creation (and status ones on every transition), so the other filters
/// (trigger instance, parent, user, time) scan newest first instead: a workflow's children are in
/// the parent's `children`, and an event's executions are in its enforcements.
pub(crate) fn index_entries(execution: &Execution) -> Vec<Entry<'_>> {
    let mut entries = vec![
        ("status", execution.status.as_str()),
        ("action", execution.action.as_str()),
    ];
    if let Some(rule) = execution.context.rule.as_deref() {
        entries.push(("rule", rule));
    }
    entries
}

/// Same request: the fields fixed at creation. Status, result, log and the rest move on.
fn same_request(a: &Execution, b: &Execution) -> bool {
    a.action == b.action
        && a.runner == b.runner
        && a.parameters == b.parameters
        && a.context == b.context
        && a.start_timestamp == b.start_timestamp
}

impl Store {
    fn to_record(&self, stored: StoredExecution) -> ExecutionRecord {
        ExecutionRecord {
            result_file: stored
                .result_file
                .as_deref()
                .map(|name| self.result_path(name)),
            result_size: stored.result_size,
            execution: stored.execution,
        }
    }

    fn load_execution(&self, id: &str) -> Result<Option<StoredExecution>> {
        self.inner.trees.executions.get(id.as_bytes())
    }

    /// Records a new execution, insert-if-absent by id, and flushes. Creating the same request
    /// again (a redelivery, whatever its status now) is [`InsertOutcome::AlreadyPresent`]. An
    /// empty `log` gets its first entry: the initial status at `start_timestamp`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the id is taken by a different request,
    /// [`StoreError::InvalidId`], result-file, database and flush errors.
    pub async fn create_execution(&self, execution: &Execution) -> Result<InsertOutcome> {
        let outcome = self.create_execution_nowait(execution)?;
        self.flush().await?;
        Ok(outcome)
    }

    fn create_execution_nowait(&self, execution: &Execution) -> Result<InsertOutcome> {
        let id = execution.id.as_str();
        check_id("execution id", id)?;
        let trees = &self.inner.trees;
        let table = &trees.executions;
        let key = id.as_bytes();
        let _guard = self.inner.locks.lock(table.name, key);
        if let Some(existing) = self.load_execution(id)? {
            return if same_request(&existing.execution, execution) {
                Ok(InsertOutcome::AlreadyPresent)
            } else {
                Err(StoreError::Conflict {
                    kind: KIND,
                    id: id.to_owned(),
                })
            };
        }
        let mut execution = execution.clone();
        if execution.log.is_empty() {
            execution.log.push(StatusChange {
                status: execution.status,
                timestamp: execution.start_timestamp.clone(),
            });
        }
        let placement = self.place_result(id, &mut execution.result)?;
        let stored = StoredExecution {
            execution,
            result_file: placement.file_name,
            result_size: placement.size,
        };
        let bytes = table.encode(key, &stored)?;
        trees
            .executions_idx
            .add(id, &[], &index_entries(&stored.execution))?;
        if table.compare_and_swap(key, None, Some(bytes))?.is_err() {
            return Err(StoreError::Conflict {
                kind: KIND,
                id: id.to_owned(),
            });
        }
        self.inner
            .feed
            .send(ChangeKind::Execution, id, ChangeOp::Put);
        Ok(InsertOutcome::Inserted)
    }

    /// Atomically reads, changes and writes one execution, then flushes. `change` sees the
    /// current execution (an oversized result appears as its preview; leave it alone to keep the
    /// full result) and may refuse by returning `Err`, in which case nothing is written. The id
    /// cannot be changed. Returns the execution as stored.
    ///
    /// `change` runs under the execution's write lock: it must be quick and must not call back
    /// into the store. A result larger than the inline cap is written to its file under that lock
    /// too, before the record that points at it.
    ///
    /// # Errors
    ///
    /// [`UpdateError::Refused`] with the closure's error; [`UpdateError::Store`] with
    /// [`StoreError::NotFound`] for an unknown id, result-file, database and flush errors.
    pub async fn update_execution<E>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Execution) -> std::result::Result<(), E>,
    ) -> Result<ExecutionRecord, UpdateError<E>> {
        let record = self.update_execution_nowait(id, change)?;
        self.flush().await?;
        Ok(record)
    }

    fn update_execution_nowait<E>(
        &self,
        id: &str,
        change: impl FnOnce(&mut Execution) -> std::result::Result<(), E>,
    ) -> Result<ExecutionRecord, UpdateError<E>> {
        let trees = &self.inner.trees;
        let table = &trees.executions;
        let key = id.as_bytes();
        let _guard = self.inner.locks.lock(table.name, key);
        let old_bytes = table.get_raw(key)?.ok_or_else(|| StoreError::NotFound {
            kind: KIND,
            id: id.to_owned(),
        })?;
        let old: StoredExecution = table.decode(key, &old_bytes)?;
        let mut execution = old.execution.clone();
        change(&mut execution).map_err(UpdateError::Refused)?;
        execution.id = id.to_owned();
        if execution == old.execution {
            return Ok(self.to_record(old));
        }
        let mut new = StoredExecution {
            execution,
            result_file: old.result_file.clone(),
            result_size: old.result_size,
        };
        if new.execution.result != old.execution.result {
            let placement = self.place_result(id, &mut new.execution.result)?;
            new.result_file = placement.file_name;
            new.result_size = placement.size;
        }
        let bytes = table.encode(key, &new)?;
        let old_entries = index_entries(&old.execution);
        let new_entries = index_entries(&new.execution);
        trees.executions_idx.add(id, &old_entries, &new_entries)?;
        if table
            .compare_and_swap(key, Some(&old_bytes), Some(bytes))?
            .is_err()
        {
            return Err(StoreError::Conflict {
                kind: KIND,
                id: id.to_owned(),
            }
            .into());
        }
        trees
            .executions_idx
            .remove(id, &old_entries, &new_entries)?;
        if let Some(stale) = old.result_file.as_deref() {
            if new.result_file.is_none() {
                self.remove_result_file(stale)?;
            }
        }
        self.inner
            .feed
            .send(ChangeKind::Execution, id, ChangeOp::Put);
        Ok(self.to_record(new))
    }

    /// Moves an execution to status `to` if the life cycle allows it (see
    /// [`is_legal_transition`]), appending a log entry; a final status also sets `end_timestamp`.
    /// `reason` and `result`, when given, replace the execution's. Moving to the current status is
    /// a no-op (redelivered messages). Flushes.
    ///
    /// # Errors
    ///
    /// [`StoreError::IllegalTransition`] naming both statuses, [`StoreError::NotFound`],
    /// result-file, database and flush errors.
    pub async fn transition(
        &self,
        id: &str,
        to: ExecutionStatus,
        reason: Option<String>,
        result: Option<Value>,
    ) -> Result<ExecutionRecord> {
        let now = timestamp(Utc::now());
        let applied = self
            .update_execution(id, |execution| {
                if execution.status == to {
                    return Ok(());
                }
                if !is_legal_transition(execution.status, to) {
                    return Err(StoreError::IllegalTransition {
                        id: execution.id.clone(),
                        from: execution.status,
                        to,
                    });
                }
                execution.status = to;
                execution.log.push(StatusChange {
                    status: to,
                    timestamp: now.clone(),
                });
                if to.is_final() {
                    execution.end_timestamp = Some(now);
                }
                if reason.is_some() {
                    execution.reason = reason;
                }
                if result.is_some() {
                    execution.result = result;
                }
                Ok(())
            })
            .await;
        applied.map_err(|error| match error {
            UpdateError::Store(error) | UpdateError::Refused(error) => error,
        })
    }

    /// One execution with its full result (read from its result file when it has one).
    ///
    /// # Errors
    ///
    /// [`StoreError::ResultFile`] or [`StoreError::CorruptResultFile`] when the result file is
    /// unreadable; database errors and [`StoreError::Corrupt`].
    pub fn get_execution(&self, id: &str) -> Result<Option<Execution>> {
        let Some(stored) = self.load_execution(id)? else {
            return Ok(None);
        };
        let mut execution = stored.execution;
        if let Some(file_name) = stored.result_file.as_deref() {
            execution.result = Some(self.read_result_file(file_name)?);
        }
        Ok(Some(execution))
    }

    /// One execution as stored (an oversized result as its preview; no file read).
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn execution_record(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        Ok(self
            .load_execution(id)?
            .map(|stored| self.to_record(stored)))
    }

    /// Executions matching `filter`, newest first, with the total count. Uses a secondary index
    /// when the filter names an indexed field (rule, action, status); otherwise scans.
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn list_executions(&self, filter: &ExecutionFilter) -> Result<Page<ExecutionRecord>> {
        let table = &self.inner.trees.executions;
        let candidates: Box<dyn Iterator<Item = Result<StoredExecution>>> =
            match filter.index_entry() {
                Some((field, value)) => Box::new(self.load_indexed(field, value, true)),
                None => Box::new(
                    table
                        .scan_prefix(&[])
                        .rev()
                        .map(|entry| entry.and_then(|(key, value)| table.decode(&key, &value))),
                ),
            };
        let page = Page::collect(
            candidates,
            |stored| filter.matches(&stored.execution),
            filter.offset,
            filter.limit,
        )?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|stored| self.to_record(stored))
                .collect(),
            total: page.total,
        })
    }

    /// Executions in any of `statuses`, oldest first: after a restart, the ones to resume,
    /// re-queue or mark abandoned (requested, scheduled, running, ...).
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn executions_with_status(
        &self,
        statuses: &[ExecutionStatus],
    ) -> Result<Vec<ExecutionRecord>> {
        let mut found = Vec::new();
        for status in statuses {
            for stored in self.load_indexed("status", status.as_str(), false) {
                let stored = stored?;
                if stored.execution.status == *status {
                    found.push(self.to_record(stored));
                }
            }
        }
        found.sort_by(|a, b| a.execution.id.cmp(&b.execution.id));
        found.dedup_by(|a, b| a.execution.id == b.execution.id);
        Ok(found)
    }

    fn load_indexed<'a>(
        &'a self,
        field: &str,
        value: &str,
        newest_first: bool,
    ) -> impl Iterator<Item = Result<StoredExecution>> + use<'a> {
        self.inner
            .trees
            .executions_idx
            .ids(field, value, newest_first)
            .filter_map(|id| match id {
                Err(error) => Some(Err(error)),
                Ok(id) => self.load_execution(&id).transpose(),
            })
    }
}
