//! Pack content: packs, actions, rules, trigger types, triggers, policies and sensors, each a
//! [`Collection`] keyed by ref in its own tree.
//!
//! Content writes do not flush: a pack registration writes many records, then calls
//! [`Store::flush`] once before answering. Rules keep their enabled state apart from the YAML
//! (see [`RuleState`]) so that reloading a rule file does not undo `nerve rule disable`.

mod collection;
mod pack;
mod rule;

pub use collection::{Collection, PutOutcome};
pub use pack::PackRecord;
pub use rule::{RuleRecord, RuleState};

use nerve_model::{Action, Policy, Rule, SensorType, Trigger, TriggerType};

use crate::Store;
use crate::change::ChangeKind;

impl Store {
    /// Installed packs by pack ref.
    pub fn packs(&self) -> Collection<PackRecord> {
        Collection::new(self, &self.inner.trees.packs, ChangeKind::Pack)
    }

    /// Actions by `pack.name`.
    pub fn actions(&self) -> Collection<Action> {
        Collection::new(self, &self.inner.trees.actions, ChangeKind::Action)
    }

    /// Rules (as loaded from YAML) by `pack.name`; see [`Store::rule_record`] for the effective
    /// enabled state.
    pub fn rules(&self) -> Collection<Rule> {
        Collection::new(self, &self.inner.trees.rules, ChangeKind::Rule)
    }

    /// Trigger types by `pack.name`.
    pub fn trigger_types(&self) -> Collection<TriggerType> {
        Collection::new(
            self,
            &self.inner.trees.trigger_types,
            ChangeKind::TriggerType,
        )
    }

    /// Triggers by `pack.name`.
    pub fn triggers(&self) -> Collection<Trigger> {
        Collection::new(self, &self.inner.trees.triggers, ChangeKind::Trigger)
    }

    /// Policies by `pack.name`.
    pub fn policies(&self) -> Collection<Policy> {
        Collection::new(self, &self.inner.trees.policies, ChangeKind::Policy)
    }

    /// Sensors by `pack.ClassName`.
    pub fn sensors(&self) -> Collection<SensorType> {
        Collection::new(self, &self.inner.trees.sensors, ChangeKind::Sensor)
    }

    /// Timer schedule states (`core.st2.*Timer` triggers), kept so a restart resumes each
    /// timer's schedule: JSON chosen by the engine, keyed by a hash of the trigger key.
    pub fn timers(&self) -> Collection<serde_json::Value> {
        Collection::new(self, &self.inner.trees.timers, ChangeKind::Timer)
    }

    /// Workflow run states (orquesta and action-chain executions), kept so a restart resumes
    /// each run where it was: JSON of the engine's type `T`, keyed by the workflow execution's
    /// id.
    pub fn workflows<T: serde::Serialize + serde::de::DeserializeOwned>(&self) -> Collection<T> {
        Collection::new(self, &self.inner.trees.workflows, ChangeKind::Workflow)
    }
}

#[cfg(test)]
mod tests;
