//! Executions: insert-if-absent creation, atomic read-modify-write updates, the legal status
//! transitions with their log entries, listing through secondary indexes, and the result size cap.
//!
//! Updates of one execution are serialized by its key lock; the record is then written with a
//! compare-and-swap against the bytes that were read, so nothing can slip in between.

mod result;
mod transition;

use std::borrow::Cow;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use nerve_model::{Execution, ExecutionStatus, StatusChange};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::IVec;

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

/// The fields an [`ExecutionFilter`] looks at, read from a stored record without decoding the
/// rest: strings are borrowed from the record's bytes where they have no escapes, and
/// parameters, result, log and the rest are skipped by the parser. Filtering (and counting
/// matches for `X-Total-Count` and `/metrics`) so costs a skim of each candidate record; only the
/// records on the requested page are decoded in full.
#[derive(Deserialize)]
struct FilterView<'a> {
    #[serde(borrow)]
    execution: ExecutionView<'a>,
}

#[derive(Deserialize)]
struct ExecutionView<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    status: ExecutionStatus,
    #[serde(borrow)]
    start_timestamp: Cow<'a, str>,
    #[serde(borrow, default)]
    context: ContextView<'a>,
}

#[derive(Default, Deserialize)]
struct ContextView<'a> {
    #[serde(borrow, default)]
    user: Cow<'a, str>,
    #[serde(borrow, default)]
    trigger_instance: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    rule: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    parent: Option<Cow<'a, str>>,
}

impl ExecutionFilter {
    fn matches(&self, execution: &ExecutionView<'_>) -> bool {
        let context = &execution.context;
        let same = |wanted: &Option<String>, actual: Option<&str>| {
            wanted
                .as_deref()
                .is_none_or(|wanted| actual == Some(wanted))
        };
        same(&self.action, Some(&execution.action))
            && self.status.is_none_or(|status| execution.status == status)
            && same(&self.rule, context.rule.as_deref())
            && same(&self.trigger_instance, context.trigger_instance.as_deref())
            && same(&self.parent, context.parent.as_deref())
            && same(&self.user, Some(&context.user))
            && within(&execution.start_timestamp, self.since, self.until)
    }

    /// The most selective index for this filter. Unfinished statuses hold few executions at any
    /// time (the scheduler asks "which are delayed/running?" after every completion), so they win
    /// over rule and action, which grow without bound. Final statuses are not indexed (see
    /// [`index_entries`]): a filter on one alone scans, which costs about what walking its index
    /// would, since most executions are finished.
    fn index_entry(&self) -> Option<Entry<'_>> {
        let live_status = self
            .status
            .filter(|status| !status.is_final())
            .map(|status| ("status", status.as_str()));
        live_status
            .or_else(|| self.rule.as_deref().map(|rule| ("rule", rule)))
            .or_else(|| self.action.as_deref().map(|action| ("action", action)))
    }
}

/// The (field, value) pairs an execution is indexed under: action, rule, and its status while
/// it is unfinished (what recovery, the scheduler's policies and "what is running?" ask for).
/// Each entry costs a sled write, so finished statuses are left out: finishing an execution then
/// costs one index removal instead of a removal and an insert, and the largest index set is not
/// kept at all. The other filters (trigger instance, parent, user, time) scan newest first: a
/// workflow's children are in the parent's `children`, and an event's executions are in its
/// enforcements.
pub(crate) fn index_entries(execution: &Execution) -> Vec<Entry<'_>> {
    let mut entries = vec![("action", execution.action.as_str())];
    if !execution.status.is_final() {
        entries.push(("status", execution.status.as_str()));
    }
    if let Some(rule) = execution.context.rule.as_deref() {
        entries.push(("rule", rule));
    }
    entries
}

/// [`index_entries`] plus the status entry a finished execution had before final statuses
/// stopped being indexed: what removing the execution must remove.
pub(crate) fn index_entries_with_legacy(execution: &Execution) -> Vec<Entry<'_>> {
    let mut entries = index_entries(execution);
    if execution.status.is_final() {
        entries.push(("status", execution.status.as_str()));
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
        let outcome = self.create_execution_unflushed(execution)?;
        self.flush().await?;
        Ok(outcome)
    }

    /// [`Store::create_execution`] without the flush: the execution is visible at once and
    /// durable after the next [`Store::flush`], which the caller awaits before acknowledging
    /// anything that depends on it.
    ///
    /// # Errors
    ///
    /// As [`Store::create_execution`], without the flush errors.
    pub fn create_execution_unflushed(&self, execution: &Execution) -> Result<InsertOutcome> {
        let id = execution.id.as_str();
        check_id("execution id", id)?;
        let trees = &self.inner.trees;
        let table = &trees.executions;
        let key = id.as_bytes();
        let _guard = self.inner.locks.lock(table.name, key);
        let existing_outcome = |existing: &Execution| {
            if same_request(existing, execution) {
                Ok(InsertOutcome::AlreadyPresent)
            } else {
                Err(StoreError::Conflict {
                    kind: KIND,
                    id: id.to_owned(),
                })
            }
        };
        // A result may go to a file named after the id, which must not be written for an id
        // that is taken: look first. Without one (the usual creation), the compare-and-swap
        // below finds an existing record by itself.
        if execution.result.is_some()
            && let Some(existing) = self.load_execution(id)?
        {
            return existing_outcome(&existing.execution);
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
        let entries = index_entries(&stored.execution);
        // Index entries first: a crash before the record leaves an extra entry, never a missing
        // one.
        trees.executions_idx.add(id, &[], &entries)?;
        if let Err(current) = table.compare_and_swap(key, None, Some(bytes))? {
            let Some(current) = current else {
                return Err(StoreError::Conflict {
                    kind: KIND,
                    id: id.to_owned(),
                });
            };
            let existing: StoredExecution = table.decode(key, &current)?;
            trees
                .executions_idx
                .remove(id, &entries, &index_entries(&existing.execution))?;
            return existing_outcome(&existing.execution);
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
        let record = self.transition_path_unflushed(id, &[to], reason, result)?;
        self.flush().await?;
        Ok(record)
    }

    /// [`Store::transition`] without the flush: the new status is visible at once and durable
    /// after the next [`Store::flush`] by anyone.
    ///
    /// # Errors
    ///
    /// As [`Store::transition`], without the flush errors.
    pub fn transition_unflushed(
        &self,
        id: &str,
        to: ExecutionStatus,
        reason: Option<String>,
        result: Option<Value>,
    ) -> Result<ExecutionRecord> {
        self.transition_path_unflushed(id, &[to], reason, result)
    }

    /// Moves an execution through every status of `path` in order, in one write: each step must
    /// be legal (as in [`Store::transition`]) and gets its log entry, all with the same time.
    /// For work that begins and ends at once (a `noop` run is `running` and `succeeded` in the
    /// same instant). Already being in the last status is a no-op; a step to the current status
    /// is skipped. `reason` and `result` apply to the last status. Does not flush.
    ///
    /// # Errors
    ///
    /// [`StoreError::IllegalTransition`] for the first illegal step (nothing is written),
    /// [`StoreError::NotFound`], result-file and database errors.
    pub fn transition_path_unflushed(
        &self,
        id: &str,
        path: &[ExecutionStatus],
        reason: Option<String>,
        result: Option<Value>,
    ) -> Result<ExecutionRecord> {
        let now = timestamp(Utc::now());
        let applied = self.update_execution_nowait(id, |execution| {
            apply_path(execution, path, &now, reason, result)
        });
        applied.map_err(|error| match error {
            UpdateError::Store(error) | UpdateError::Refused(error) => error,
        })
    }

    /// [`Store::transition_path_unflushed`] if `accept` approves of the execution as it is
    /// now, read once for both: `Ok(Err(current))` (nothing written) when it does not. For a
    /// worker that decides from the stored execution whether to run it at once (a `noop`).
    ///
    /// # Errors
    ///
    /// As [`Store::transition_path_unflushed`].
    pub fn transition_path_if_unflushed(
        &self,
        id: &str,
        path: &[ExecutionStatus],
        result: Option<Value>,
        accept: impl FnOnce(&Execution) -> bool,
    ) -> Result<std::result::Result<ExecutionRecord, Box<Execution>>> {
        let now = timestamp(Utc::now());
        let applied = self.update_execution_nowait(id, |execution| {
            if !accept(execution) {
                return Err(PathRefusal::NotAccepted(Box::new(execution.clone())));
            }
            apply_path(execution, path, &now, None, result).map_err(PathRefusal::Store)
        });
        match applied {
            Ok(record) => Ok(Ok(record)),
            Err(UpdateError::Refused(PathRefusal::NotAccepted(current))) => Ok(Err(current)),
            Err(UpdateError::Refused(PathRefusal::Store(error)) | UpdateError::Store(error)) => {
                Err(error)
            }
        }
    }

    /// Moves a `scheduled` execution to `running` on worker `node`, in one flushed write: a
    /// remote worker's claim. Returns the execution as it is after the call and whether this
    /// call claimed it (`false`: it was not `scheduled`, and is unchanged).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], database and flush errors.
    pub async fn claim_execution(&self, id: &str, node: &str) -> Result<(Execution, bool)> {
        let now = timestamp(Utc::now());
        let mut claimed = false;
        let applied = self.update_execution_nowait(id, |execution| {
            if execution.status == ExecutionStatus::Scheduled {
                execution.status = ExecutionStatus::Running;
                execution.log.push(StatusChange {
                    status: ExecutionStatus::Running,
                    timestamp: now.clone(),
                });
                execution.worker = Some(node.to_owned());
                claimed = true;
            }
            Ok::<(), StoreError>(())
        });
        let record = applied.map_err(|error| match error {
            UpdateError::Store(error) | UpdateError::Refused(error) => error,
        })?;
        self.flush().await?;
        Ok((record.execution, claimed))
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
        let candidates: Box<dyn Iterator<Item = Result<(IVec, IVec)>>> = match filter.index_entry()
        {
            Some((field, value)) => Box::new(self.load_indexed_raw(field, value, true)),
            None => Box::new(table.scan_prefix(&[]).rev()),
        };
        let page = Page::try_collect(
            candidates,
            |(key, bytes)| {
                let view: FilterView<'_> = table.decode_borrowed(key, bytes)?;
                Ok(filter.matches(&view.execution))
            },
            filter.offset,
            filter.limit,
        )?;
        let items = page
            .items
            .into_iter()
            .map(|(key, bytes)| {
                let stored: StoredExecution = table.decode(&key, &bytes)?;
                Ok(self.to_record(stored))
            })
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total: page.total,
        })
    }

    /// Executions in any of `statuses`, oldest first: after a restart, the ones to resume,
    /// re-queue or mark abandoned (requested, scheduled, running, ...). Unfinished statuses are
    /// read through the status index; a final status scans every execution.
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
            if status.is_final() {
                let page = self.list_executions(&ExecutionFilter {
                    status: Some(*status),
                    ..ExecutionFilter::default()
                })?;
                found.extend(page.items);
                continue;
            }
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

    /// Like `load_indexed`, without decoding: (key, stored bytes) of each record.
    fn load_indexed_raw<'a>(
        &'a self,
        field: &str,
        value: &str,
        newest_first: bool,
    ) -> impl Iterator<Item = Result<(IVec, IVec)>> + use<'a> {
        let table = &self.inner.trees.executions;
        self.inner
            .trees
            .executions_idx
            .ids(field, value, newest_first)
            .filter_map(move |id| match id {
                Err(error) => Some(Err(error)),
                Ok(id) => match table.get_raw(id.as_bytes()) {
                    Ok(Some(bytes)) => Some(Ok((IVec::from(id.as_bytes()), bytes))),
                    Ok(None) => None,
                    Err(error) => Some(Err(error)),
                },
            })
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
/// Why [`Store::transition_path_if_unflushed`] wrote nothing.
enum PathRefusal {
    NotAccepted(Box<Execution>),
    Store(StoreError),
}

/// Moves `execution` through `path` (see [`Store::transition_path_unflushed`]).
fn apply_path(
    execution: &mut Execution,
    path: &[ExecutionStatus],
    now: &str,
    reason: Option<String>,
    result: Option<Value>,
) -> Result<()> {
    let Some(&last) = path.last() else {
        return Ok(());
    };
    if execution.status == last {
        return Ok(());
    }
    for &to in path {
        if execution.status == to {
            continue;
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
            timestamp: now.to_owned(),
        });
        if to.is_final() {
            execution.end_timestamp = Some(now.to_owned());
        }
    }
    if reason.is_some() {
        execution.reason = reason;
    }
    if result.is_some() {
        execution.result = result;
    }
    Ok(())
}
