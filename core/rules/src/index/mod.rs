//! Compiled rules indexed by trigger key, so the cost of an event depends only on the rules
//! listening to its trigger. Matching applies StackStorm's two passes
//! (`st2reactor/rules/matcher.py`): standard rules first, `backstop` rules only when no
//! standard rule matched.
//!
//! Next to its rules, each key keeps a compact plan of their simple criteria (see `plan`),
//! rebuilt when a rule of that key changes, so matching an event reads a few contiguous
//! arrays instead of chasing pointers through every rule.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::rule::CompiledRule;
use crate::template::RenderContext;

mod plan;

#[cfg(test)]
mod tests;

/// The rules of one trigger key and their plan.
#[derive(Debug, Clone, Default)]
struct Bucket {
    rules: Vec<Arc<CompiledRule>>,
    plan: plan::Plan,
}

impl Bucket {
    fn rebuild(&mut self) {
        self.plan = plan::Plan::build(&self.rules);
    }
}

/// Rules indexed by trigger key ([`nerve_model::Rule::trigger_key`]).
#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    by_key: HashMap<String, Bucket>,
    key_of: HashMap<String, String>,
}

impl RuleIndex {
    /// An empty index.
    pub fn new() -> Self {
        RuleIndex::default()
    }

    /// Adds a rule, replacing the rule with the same ref (even if its trigger changed).
    /// Returns the replaced rule. A replaced rule keeps its place among its trigger's rules.
    pub fn insert(&mut self, rule: impl Into<Arc<CompiledRule>>) -> Option<Arc<CompiledRule>> {
        let mut touched = HashSet::new();
        let replaced = self.place(rule.into(), &mut touched);
        self.rebuild(touched);
        replaced
    }

    /// Adds many rules (as [`insert`](Self::insert) does), rebuilding each key's plan once.
    pub fn extend<R: Into<Arc<CompiledRule>>>(&mut self, rules: impl IntoIterator<Item = R>) {
        let mut touched = HashSet::new();
        for rule in rules {
            self.place(rule.into(), &mut touched);
        }
        self.rebuild(touched);
    }

    /// Puts `rule` in its bucket without rebuilding plans; records the keys it changed.
    fn place(
        &mut self,
        rule: Arc<CompiledRule>,
        touched: &mut HashSet<String>,
    ) -> Option<Arc<CompiledRule>> {
        let rule_ref = rule.rule_ref().to_owned();
        let key = rule.trigger_key().to_owned();
        touched.insert(key.clone());
        let bucket_rules = match self.key_of.get(&rule_ref) {
            Some(old_key) if *old_key == key => &mut self.by_key.entry(key).or_default().rules,
            Some(old_key) => {
                touched.insert(old_key.clone());
                let replaced = self.take(&rule_ref);
                self.key_of.insert(rule_ref, key.clone());
                self.by_key.entry(key).or_default().rules.push(rule);
                return replaced;
            }
            None => {
                self.key_of.insert(rule_ref.clone(), key.clone());
                &mut self.by_key.entry(key).or_default().rules
            }
        };
        match bucket_rules.iter_mut().find(|r| r.rule_ref() == rule_ref) {
            Some(slot) => Some(std::mem::replace(slot, rule)),
            None => {
                bucket_rules.push(rule);
                None
            }
        }
    }

    /// Takes `rule_ref` out of its bucket without rebuilding the plan.
    fn take(&mut self, rule_ref: &str) -> Option<Arc<CompiledRule>> {
        let key = self.key_of.remove(rule_ref)?;
        let bucket = self.by_key.get_mut(&key)?;
        let position = bucket.rules.iter().position(|r| r.rule_ref() == rule_ref)?;
        Some(bucket.rules.remove(position))
    }

    fn rebuild(&mut self, keys: HashSet<String>) {
        for key in keys {
            match self.by_key.get_mut(&key) {
                Some(bucket) if bucket.rules.is_empty() => {
                    self.by_key.remove(&key);
                }
                Some(bucket) => bucket.rebuild(),
                None => {}
            }
        }
    }

    /// Same as [`insert`](Self::insert): replaces the rule with the same ref.
    pub fn replace(&mut self, rule: impl Into<Arc<CompiledRule>>) -> Option<Arc<CompiledRule>> {
        self.insert(rule)
    }

    /// Removes the rule `rule_ref` (`pack.name`).
    pub fn remove(&mut self, rule_ref: &str) -> Option<Arc<CompiledRule>> {
        let key = self.key_of.get(rule_ref)?.clone();
        let removed = self.take(rule_ref);
        self.rebuild(HashSet::from([key]));
        removed
    }

    /// The rule `rule_ref`, if indexed.
    pub fn get(&self, rule_ref: &str) -> Option<&Arc<CompiledRule>> {
        let key = self.key_of.get(rule_ref)?;
        self.by_key
            .get(key)?
            .rules
            .iter()
            .find(|r| r.rule_ref() == rule_ref)
    }

    /// Every rule listening to `trigger_key`, enabled or not, in insertion order.
    pub fn candidates(&self, trigger_key: &str) -> &[Arc<CompiledRule>] {
        self.by_key
            .get(trigger_key)
            .map_or(&[], |bucket| bucket.rules.as_slice())
    }

    /// The rules that match the event: standard rules first; `backstop` rules only if no
    /// standard rule matched. Disabled rules never match.
    pub fn matching(&self, trigger_key: &str, ctx: &RenderContext<'_>) -> Vec<Arc<CompiledRule>> {
        let Some(bucket) = self.by_key.get(trigger_key) else {
            return Vec::new();
        };
        bucket.plan.matching(&bucket.rules, ctx)
    }

    /// The number of indexed rules.
    pub fn len(&self) -> usize {
        self.key_of.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.key_of.is_empty()
    }

    /// Every indexed rule.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<CompiledRule>> {
        self.by_key.values().flat_map(|bucket| bucket.rules.iter())
    }
}
