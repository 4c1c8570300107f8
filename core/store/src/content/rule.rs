//! A rule's enabled state, kept apart from its YAML: `nerve rule disable --reason …` survives a
//! reload of the rule file, and the reason is shown with the rule.

use chrono::Utc;
use nerve_model::Rule;
use serde::{Deserialize, Serialize};

use crate::change::{ChangeKind, ChangeOp};
use crate::id::check_id;
use crate::time::timestamp;
use crate::{Result, Store};

/// An operator's enable/disable decision for a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleState {
    /// Whether the rule is enabled, overriding the YAML's `enabled`.
    pub enabled: bool,
    /// Why it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// When it was set (RFC 3339, UTC).
    pub updated_at: String,
}

/// A rule with its effective enabled state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// The rule as loaded.
    pub rule: Rule,
    /// Effective: the operator's decision if there is one, else the YAML's `enabled`.
    pub enabled: bool,
    /// Why it is disabled, when an operator said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

impl Store {
    /// Enables or disables a rule (with a reason when disabling), independent of its YAML, and
    /// flushes. Works for a ref not loaded yet. Returns the state stored.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::InvalidId`], database and flush errors.
    pub async fn set_rule_enabled(
        &self,
        rule_ref: &str,
        enabled: bool,
        reason: Option<String>,
    ) -> Result<RuleState> {
        check_id("rule ref", rule_ref)?;
        let state = RuleState {
            enabled,
            disabled_reason: if enabled { None } else { reason },
            updated_at: timestamp(Utc::now()),
        };
        {
            let table = &self.inner.trees.rule_states;
            let key = rule_ref.as_bytes();
            let bytes = table.encode(key, &state)?;
            let _guard = self.inner.locks.lock(self.inner.trees.rules.name, key);
            table.insert_raw(key, bytes)?;
            self.inner
                .feed
                .send(ChangeKind::Rule, rule_ref, ChangeOp::Put);
        }
        self.flush().await?;
        Ok(state)
    }

    /// The operator's decision for a rule, if any.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn rule_state(&self, rule_ref: &str) -> Result<Option<RuleState>> {
        self.inner.trees.rule_states.get(rule_ref.as_bytes())
    }

    /// A rule with its effective enabled state.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn rule_record(&self, rule_ref: &str) -> Result<Option<RuleRecord>> {
        let Some(rule) = self.rules().get(rule_ref)? else {
            return Ok(None);
        };
        Ok(Some(self.with_state(rule_ref, rule)?))
    }

    /// Rules whose ref starts with `prefix`, with their effective enabled state, in ref order.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn rule_records(&self, prefix: &str) -> Result<Vec<RuleRecord>> {
        self.rules()
            .list(prefix)?
            .into_iter()
            .map(|(rule_ref, rule)| self.with_state(&rule_ref, rule))
            .collect()
    }

    /// Removes a rule and its enabled state (pack removal). Does not flush.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn remove_rule(&self, rule_ref: &str) -> Result<Option<Rule>> {
        let removed = self.rules().delete(rule_ref)?;
        let _guard = self
            .inner
            .locks
            .lock(self.inner.trees.rules.name, rule_ref.as_bytes());
        self.inner.trees.rule_states.remove(rule_ref.as_bytes())?;
        Ok(removed)
    }

    fn with_state(&self, rule_ref: &str, rule: Rule) -> Result<RuleRecord> {
        let state = self.rule_state(rule_ref)?;
        Ok(RuleRecord {
            enabled: state.as_ref().map_or(rule.enabled, |state| state.enabled),
            disabled_reason: state.and_then(|state| state.disabled_reason),
            rule,
        })
    }
}
