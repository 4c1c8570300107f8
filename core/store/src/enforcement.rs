//! Rule enforcements: the record that a rule fired for a trigger instance.
//!
//! `record_enforcement_once` is an atomic insert-if-absent (sled `compare_and_swap` from `None`)
//! keyed by `RuleEnforcement::key(trigger_instance_id, rule_ref)`. It is what makes "a rule fires at
//! most once per (rule, trigger instance)" hold under at-least-once delivery: the engine records
//! the enforcement before requesting the execution, and a redelivered event finds it.

use chrono::{DateTime, Utc};
use nerve_model::{EnforcementStatus, RuleEnforcement};

use crate::change::{ChangeKind, ChangeOp};
use crate::id::check_id;
use crate::time::within;
use crate::{Page, Result, Store, StoreError};

const KIND: &str = "rule enforcement";

/// What [`Store::record_enforcement_once`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum EnforcementOutcome {
    /// This call recorded it: go on and request the execution.
    Inserted,
    /// It was recorded before (by an earlier delivery or a concurrent task): do not fire again.
    AlreadyExists(RuleEnforcement),
}

/// Filter for [`Store::list_enforcements`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnforcementFilter {
    /// Only this rule ref.
    pub rule: Option<String>,
    /// Only this trigger instance.
    pub trigger_instance: Option<String>,
    /// Only this outcome.
    pub status: Option<EnforcementStatus>,
    /// Enforced at or after.
    pub since: Option<DateTime<Utc>>,
    /// Enforced at or before.
    pub until: Option<DateTime<Utc>>,
    /// Page size; `None` for all.
    pub limit: Option<usize>,
    /// Matches to skip.
    pub offset: usize,
}

impl EnforcementFilter {
    fn matches(&self, enforcement: &RuleEnforcement) -> bool {
        self.rule
            .as_ref()
            .is_none_or(|rule| &enforcement.rule == rule)
            && self
                .trigger_instance
                .as_ref()
                .is_none_or(|id| &enforcement.trigger_instance_id == id)
            && self
                .status
                .is_none_or(|status| enforcement.status == status)
            && within(&enforcement.enforced_at, self.since, self.until)
    }
}

impl Store {
    /// Records that `enforcement.rule` fired for `enforcement.trigger_instance_id`, unless that was
    /// already recorded; flushes either way (an existing record may not be durable yet). The key
    /// is `RuleEnforcement::key(trigger_instance_id, rule)`; `enforcement.id` is set to it.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidId`] for an empty trigger instance id or rule, database and flush
    /// errors.
    pub async fn record_enforcement_once(
        &self,
        enforcement: &RuleEnforcement,
    ) -> Result<EnforcementOutcome> {
        let outcome = self.record_enforcement_once_unflushed(enforcement)?;
        self.flush().await?;
        Ok(outcome)
    }

    /// [`Store::record_enforcement_once`] without the flush: the caller awaits
    /// [`Store::flush`] before acknowledging the event (also when the outcome is
    /// [`EnforcementOutcome::AlreadyExists`]: the existing record may not be durable yet).
    /// The insert-if-absent is atomic either way, so concurrent deliveries still fire once.
    ///
    /// # Errors
    ///
    /// As [`Store::record_enforcement_once`], without the flush errors.
    pub fn record_enforcement_once_unflushed(
        &self,
        enforcement: &RuleEnforcement,
    ) -> Result<EnforcementOutcome> {
        check_id("trigger instance id", &enforcement.trigger_instance_id)?;
        check_id("rule ref", &enforcement.rule)?;
        let key_text = RuleEnforcement::key(&enforcement.trigger_instance_id, &enforcement.rule);
        let mut enforcement = enforcement.clone();
        enforcement.id.clone_from(&key_text);
        let trees = &self.inner.trees;
        let table = &trees.enforcements;
        let key = key_text.as_bytes();
        let bytes = table.encode(key, &enforcement)?;
        // The index entry is the same for every attempt, so adding it first is harmless.
        let entries = [("rule", enforcement.rule.as_str())];
        trees.enforcements_idx.add(&key_text, &[], &entries)?;
        let _guard = self.inner.locks.lock(table.name, key);
        match table.compare_and_swap(key, None, Some(bytes))? {
            Ok(()) => {
                self.inner
                    .feed
                    .send(ChangeKind::Enforcement, key_text, ChangeOp::Put);
                Ok(EnforcementOutcome::Inserted)
            }
            Err(Some(current)) => Ok(EnforcementOutcome::AlreadyExists(
                table.decode(key, &current)?,
            )),
            Err(None) => Err(StoreError::Conflict {
                kind: KIND,
                id: key_text,
            }),
        }
    }

    /// Replaces a recorded enforcement (to add its execution id or failure reason) and flushes.
    /// The key comes from its trigger instance id and rule.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when it was never recorded; database and flush errors.
    pub async fn update_enforcement(&self, enforcement: &RuleEnforcement) -> Result<()> {
        self.update_enforcement_nowait(enforcement)?;
        self.flush().await
    }

    fn update_enforcement_nowait(&self, enforcement: &RuleEnforcement) -> Result<()> {
        let key_text = RuleEnforcement::key(&enforcement.trigger_instance_id, &enforcement.rule);
        let mut enforcement = enforcement.clone();
        enforcement.id.clone_from(&key_text);
        let table = &self.inner.trees.enforcements;
        let key = key_text.as_bytes();
        let bytes = table.encode(key, &enforcement)?;
        let _guard = self.inner.locks.lock(table.name, key);
        if table.get_raw(key)?.is_none() {
            return Err(StoreError::NotFound {
                kind: KIND,
                id: key_text,
            });
        }
        table.insert_raw(key, bytes)?;
        self.inner
            .feed
            .send(ChangeKind::Enforcement, key_text, ChangeOp::Put);
        Ok(())
    }

    /// One enforcement by trigger instance and rule.
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn enforcement(
        &self,
        trigger_instance_id: &str,
        rule_ref: &str,
    ) -> Result<Option<RuleEnforcement>> {
        let key = RuleEnforcement::key(trigger_instance_id, rule_ref);
        self.inner.trees.enforcements.get(key.as_bytes())
    }

    /// Enforcements matching `filter`, newest trigger instance first, with the total count.
    ///
    /// # Errors
    ///
    /// Database errors and [`StoreError::Corrupt`].
    pub fn list_enforcements(&self, filter: &EnforcementFilter) -> Result<Page<RuleEnforcement>> {
        let trees = &self.inner.trees;
        let table = &trees.enforcements;
        let decode = |entry: Result<(sled::IVec, sled::IVec)>| {
            entry.and_then(|(key, value)| table.decode(&key, &value))
        };
        let candidates: Box<dyn Iterator<Item = Result<RuleEnforcement>>> =
            match (&filter.trigger_instance, &filter.rule) {
                (Some(trigger_instance), _) => {
                    let prefix = format!("{trigger_instance}:");
                    Box::new(table.scan_prefix(prefix.as_bytes()).rev().map(decode))
                }
                (None, Some(rule)) => Box::new(
                    trees
                        .enforcements_idx
                        .ids("rule", rule, true)
                        .filter_map(|key| match key {
                            Err(error) => Some(Err(error)),
                            Ok(key) => table.get(key.as_bytes()).transpose(),
                        }),
                ),
                (None, None) => Box::new(table.scan_prefix(&[]).rev().map(decode)),
            };
        Page::collect(
            candidates,
            |e| filter.matches(e),
            filter.offset,
            filter.limit,
        )
    }
}
