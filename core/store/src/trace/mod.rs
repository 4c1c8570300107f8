//! Traces: what one event caused (trigger instances → rule enforcements → executions), found by
//! id, by the user-visible trace tag, or listed newest first (StackStorm's `TraceDB`).
//!
//! Adding a component is idempotent: the same component id is updated in place, not repeated.
//! Trace writes do not flush; they are derived records and become durable with the next flush
//! (which the write that caused them performs).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sled::IVec;

use crate::change::{ChangeKind, ChangeOp};
use crate::id::{check_id, is_ulid};
use crate::table::Table;
use crate::time::timestamp;
use crate::{Page, Result, Store};

/// The trace a tag names by itself: the default tags `trigger_instance-<id>` (an event's own
/// trace) and `<id>` (a run's own trace) name trace `<id>`. A trace whose tag names it this way
/// gets no entry in the tag index (one write less per event); [`Store::find_traces_by_tag`]
/// looks it up directly.
fn derived_trace_id(trace_tag: &str) -> Option<&str> {
    let id = trace_tag
        .strip_prefix("trigger_instance-")
        .unwrap_or(trace_tag);
    (!id.is_empty()).then_some(id)
}

/// The kind of a trace component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceComponentKind {
    /// An event.
    TriggerInstance,
    /// A rule firing.
    RuleEnforcement,
    /// An execution.
    Execution,
}

/// What caused a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausedBy {
    /// The cause's kind.
    pub kind: TraceComponentKind,
    /// The cause's id.
    pub id: String,
}

/// One component of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceComponent {
    /// The record's id.
    pub id: String,
    /// Its ref: trigger ref, rule ref or action ref.
    #[serde(rename = "ref")]
    pub component_ref: String,
    /// What caused it (none for the first event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<CausedBy>,
    /// When it was added or last updated (RFC 3339, UTC).
    pub updated_at: String,
}

/// A trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Trace id.
    pub id: String,
    /// User-visible tag (`St2-Trace-Tag`, `--trace-tag`, `trigger_instance-<id>` by default).
    pub trace_tag: String,
    /// When its first component was added (RFC 3339, UTC).
    pub started_at: String,
    /// Events.
    #[serde(default)]
    pub trigger_instances: Vec<TraceComponent>,
    /// Rule firings.
    #[serde(default)]
    pub rule_enforcements: Vec<TraceComponent>,
    /// Executions.
    #[serde(default)]
    pub executions: Vec<TraceComponent>,
}

/// Filter for [`Store::list_traces`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceFilter {
    /// Only traces with this tag.
    pub trace_tag: Option<String>,
    /// Page size; `None` for all.
    pub limit: Option<usize>,
    /// Matches to skip.
    pub offset: usize,
}

impl TraceRecord {
    /// The component list of `kind`.
    pub fn components_mut(&mut self, kind: TraceComponentKind) -> &mut Vec<TraceComponent> {
        match kind {
            TraceComponentKind::TriggerInstance => &mut self.trigger_instances,
            TraceComponentKind::RuleEnforcement => &mut self.rule_enforcements,
            TraceComponentKind::Execution => &mut self.executions,
        }
    }

    /// No components left.
    pub fn is_empty(&self) -> bool {
        self.trigger_instances.is_empty()
            && self.rule_enforcements.is_empty()
            && self.executions.is_empty()
    }
}

impl Store {
    /// Adds (or updates, by component id) a component of trace `trace_id`, creating the trace with
    /// `trace_tag` if it is new. Returns the trace. Does not flush.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::InvalidId`] and database errors.
    pub fn add_to_trace(
        &self,
        trace_id: &str,
        trace_tag: &str,
        kind: TraceComponentKind,
        component: TraceComponent,
    ) -> Result<TraceRecord> {
        self.add_components_to_trace(trace_id, trace_tag, vec![(kind, component)])
    }

    /// [`Store::add_to_trace`] for several components in one read-modify-write of the trace
    /// (a rule firing adds its enforcement and its execution together). Does not flush.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::InvalidId`] and database errors.
    pub fn add_components_to_trace(
        &self,
        trace_id: &str,
        trace_tag: &str,
        components: Vec<(TraceComponentKind, TraceComponent)>,
    ) -> Result<TraceRecord> {
        check_id("trace id", trace_id)?;
        let trees = &self.inner.trees;
        let table = &trees.traces;
        let key = trace_id.as_bytes();
        let _guard = self.inner.locks.lock(table.name, key);
        let mut trace = match table.get::<TraceRecord>(key)? {
            Some(trace) => trace,
            None => {
                if derived_trace_id(trace_tag) != Some(trace_id) {
                    trees.traces_idx.add(trace_id, &[], &[("tag", trace_tag)])?;
                }
                // A trace starts when its first component happened (the rules engine writes an
                // event's trace after the event was recorded).
                let started_at = components
                    .iter()
                    .map(|(_, component)| component.updated_at.as_str())
                    .min()
                    .map_or_else(|| timestamp(Utc::now()), str::to_owned);
                TraceRecord {
                    id: trace_id.to_owned(),
                    trace_tag: trace_tag.to_owned(),
                    started_at,
                    trigger_instances: Vec::new(),
                    rule_enforcements: Vec::new(),
                    executions: Vec::new(),
                }
            }
        };
        for (kind, component) in components {
            let components = trace.components_mut(kind);
            match components.iter_mut().find(|c| c.id == component.id) {
                Some(existing) => *existing = component,
                None => components.push(component),
            }
        }
        let bytes = table.encode(key, &trace)?;
        table.insert_raw(key, bytes)?;
        self.inner
            .feed
            .send(ChangeKind::Trace, trace_id, ChangeOp::Put);
        Ok(trace)
    }

    /// One trace by id.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn get_trace(&self, trace_id: &str) -> Result<Option<TraceRecord>> {
        self.inner.trees.traces.get(trace_id.as_bytes())
    }

    /// Traces with this tag, newest first.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn find_traces_by_tag(&self, trace_tag: &str) -> Result<Vec<TraceRecord>> {
        let table = &self.inner.trees.traces;
        let mut traces = Vec::new();
        let derived = derived_trace_id(trace_tag).map(|id| Ok(id.to_owned()));
        let indexed = self.inner.trees.traces_idx.ids("tag", trace_tag, true);
        for id in indexed.chain(derived) {
            if let Some(trace) = table.get::<TraceRecord>(id?.as_bytes())? {
                if trace.trace_tag == trace_tag
                    && !traces.iter().any(|t: &TraceRecord| t.id == trace.id)
                {
                    traces.push(trace);
                }
            }
        }
        traces.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(traces)
    }

    /// Traces matching `filter`, newest first, with the total count. Trace ids are ULIDs, so
    /// newest first is a reverse scan of the `traces` tree; ids that are not ULIDs carry no time
    /// and come after them, in key order. With a tag, the order is [`Store::find_traces_by_tag`]'s.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn list_traces(&self, filter: &TraceFilter) -> Result<Page<TraceRecord>> {
        if let Some(trace_tag) = &filter.trace_tag {
            let traces = self.find_traces_by_tag(trace_tag)?;
            return Page::collect(
                traces.into_iter().map(Ok),
                |_| true,
                filter.offset,
                filter.limit,
            );
        }
        let table = &self.inner.trees.traces;
        // Only the records on the page are decoded; the others are only counted.
        let page = Page::collect(newest_first(table), |_| true, filter.offset, filter.limit)?;
        let items = page
            .items
            .into_iter()
            .map(|(key, bytes)| table.decode(&key, &bytes))
            .collect::<Result<_>>()?;
        Ok(Page {
            items,
            total: page.total,
        })
    }

    /// Removes component `component_id` of `kind` from a trace (purge); with
    /// `with_enforcements`, also the enforcements of that trigger instance. Deletes the trace when
    /// nothing is left and returns whether it did.
    pub(crate) fn remove_from_trace(
        &self,
        trace_id: &str,
        kind: TraceComponentKind,
        component_id: &str,
        with_enforcements: bool,
    ) -> Result<bool> {
        let trees = &self.inner.trees;
        let table = &trees.traces;
        let key = trace_id.as_bytes();
        let _guard = self.inner.locks.lock(table.name, key);
        let Some(mut trace) = table.get::<TraceRecord>(key)? else {
            return Ok(false);
        };
        let before = trace.clone();
        trace.components_mut(kind).retain(|c| c.id != component_id);
        if with_enforcements {
            let prefix = format!("{component_id}:");
            trace
                .rule_enforcements
                .retain(|c| !c.id.starts_with(&prefix));
        }
        if trace == before {
            return Ok(false);
        }
        if trace.is_empty() {
            table.remove(key)?;
            trees
                .traces_idx
                .remove(trace_id, &[("tag", trace.trace_tag.as_str())], &[])?;
            self.inner
                .feed
                .send(ChangeKind::Trace, trace_id, ChangeOp::Delete);
            return Ok(true);
        }
        let bytes = table.encode(key, &trace)?;
        table.insert_raw(key, bytes)?;
        self.inner
            .feed
            .send(ChangeKind::Trace, trace_id, ChangeOp::Put);
        Ok(false)
    }
}

/// Every entry of `table`: ULID keys newest first (a reverse scan), then the other keys in key
/// order. Those are held back until the scan ends; there are few or none.
fn newest_first(table: &Table) -> impl Iterator<Item = Result<(IVec, IVec)>> + '_ {
    let mut entries = table.scan_prefix(&[]).rev();
    let mut scanning = true;
    // Gathered in descending key order, so popping gives ascending key order.
    let mut others = Vec::new();
    std::iter::from_fn(move || {
        while scanning {
            match entries.next() {
                Some(Ok((key, value))) if is_ulid(&key) => return Some(Ok((key, value))),
                Some(Ok(entry)) => others.push(entry),
                Some(Err(error)) => return Some(Err(error)),
                None => scanning = false,
            }
        }
        others.pop().map(Ok)
    })
}

#[cfg(test)]
mod tests;
