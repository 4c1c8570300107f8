//! The content registry: the packs and rules in force, as one immutable snapshot swapped on
//! every change, and their registration into the store.
//!
//! Every registration path (server start, API, CLI, later `--watch`) goes through
//! [`Content::build`], so all of them register the same things.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use nerve_model::{Policy, PolicyType, Rule};
use nerve_packs::{LoadedAction, LoadedPack, LoadedTriggerType};
use nerve_rules::{RuleIndex, compile_rule};
use nerve_store::{RuleRecord, Store};

use crate::EngineError;

/// What is in force: packs, their actions and trigger types, the rule index, policies.
#[derive(Default)]
pub struct Content {
    packs: BTreeMap<String, Arc<LoadedPack>>,
    actions: HashMap<String, (Arc<LoadedPack>, usize)>,
    trigger_types: HashMap<String, (Arc<LoadedPack>, usize)>,
    rules: RuleIndex,
    rule_records: BTreeMap<String, RuleRecord>,
    policies: HashMap<String, Vec<Policy>>,
    webhook_urls: HashSet<String>,
}

impl Content {
    /// Builds a snapshot from loaded packs and the rule records in the store (pack rules with
    /// their operator-set enabled state, and rules created through the API).
    pub fn build(packs: Vec<Arc<LoadedPack>>, rule_records: Vec<RuleRecord>) -> Self {
        let mut content = Content::default();
        for pack in packs {
            for (index, action) in pack.actions.iter().enumerate() {
                content
                    .actions
                    .insert(action.action.action_ref(), (pack.clone(), index));
            }
            for (index, trigger_type) in pack.trigger_types.iter().enumerate() {
                content
                    .trigger_types
                    .insert(trigger_type.trigger_type.type_ref(), (pack.clone(), index));
            }
            for policy in &pack.policies {
                if policy.policy.enabled {
                    content
                        .policies
                        .entry(policy.policy.resource_ref.clone())
                        .or_default()
                        .push(policy.policy.clone());
                }
            }
            content.packs.insert(pack.pack_ref.clone(), pack);
        }
        for record in rule_records {
            let mut rule = record.rule.clone();
            rule.enabled = record.enabled;
            match compile_rule(rule) {
                Ok(compiled) => {
                    content.rules.insert(compiled);
                }
                Err(problems) => {
                    tracing::error!(rule = %record.rule.rule_ref(), ?problems, "Stored rule does not compile; it is not in force.");
                }
            }
            if record.rule.trigger.trigger_type == WEBHOOK_TYPE
                && let Some(url) = record
                    .rule
                    .trigger
                    .parameters
                    .get("url")
                    .and_then(|v| v.as_str())
            {
                content.webhook_urls.insert(url.to_owned());
            }
            content.rule_records.insert(record.rule.rule_ref(), record);
        }
        content
    }

    /// Packs by ref.
    pub fn packs(&self) -> impl Iterator<Item = &Arc<LoadedPack>> {
        self.packs.values()
    }

    /// One pack.
    pub fn pack(&self, pack_ref: &str) -> Option<&Arc<LoadedPack>> {
        self.packs.get(pack_ref)
    }

    /// An action with its pack.
    pub fn action(&self, action_ref: &str) -> Option<(&LoadedPack, &LoadedAction)> {
        let (pack, index) = self.actions.get(action_ref)?;
        Some((pack, &pack.actions[*index]))
    }

    /// Every action ref, sorted.
    pub fn action_refs(&self) -> Vec<String> {
        let mut refs: Vec<String> = self.actions.keys().cloned().collect();
        refs.sort();
        refs
    }

    /// A trigger type.
    pub fn trigger_type(&self, type_ref: &str) -> Option<&LoadedTriggerType> {
        let (pack, index) = self.trigger_types.get(type_ref)?;
        Some(&pack.trigger_types[*index])
    }

    /// Every trigger type ref, sorted.
    pub fn trigger_type_refs(&self) -> Vec<String> {
        let mut refs: Vec<String> = self.trigger_types.keys().cloned().collect();
        refs.sort();
        refs
    }

    /// The rule index.
    pub fn rules(&self) -> &RuleIndex {
        &self.rules
    }

    /// Rule records (effective enabled state), by ref.
    pub fn rule_records(&self) -> impl Iterator<Item = &RuleRecord> {
        self.rule_records.values()
    }

    /// Policies of an action.
    pub fn policies(&self, action_ref: &str) -> &[Policy] {
        self.policies.get(action_ref).map_or(&[], Vec::as_slice)
    }

    /// The first enabled policy of a type for an action.
    pub fn policy(&self, action_ref: &str, policy_type: PolicyType) -> Option<&Policy> {
        self.policies(action_ref)
            .iter()
            .find(|p| PolicyType::from_name(&p.policy_type) == Some(policy_type))
    }

    /// Whether a rule uses `core.st2.webhook` with this `url` (a custom webhook exists).
    pub fn has_webhook(&self, url: &str) -> bool {
        self.webhook_urls.contains(url)
    }
}

/// The custom webhook trigger type.
pub const WEBHOOK_TYPE: &str = "core.st2.webhook";

/// Writes a pack's record (version, source, content hash) and flushes: done once its content
/// is in force, so whoever sees the new hash sees the new content.
///
/// # Errors
/// A store failure.
pub(crate) async fn record_pack(
    store: &Store,
    pack: &LoadedPack,
    source: &str,
) -> Result<(), EngineError> {
    let record = nerve_store::PackRecord {
        meta: pack.meta.clone(),
        dir: pack.dir.clone(),
        content_hash: pack.content_hash.clone(),
        installed_at: nerve_store::timestamp(chrono::Utc::now()),
        source: source.to_owned(),
    };
    store.packs().put(&pack.pack_ref, &record)?;
    store.flush().await?;
    Ok(())
}

/// Writes a loaded pack's content into the store: actions, trigger types, sensors, policies and
/// rules; rules of the pack that are gone are removed. Idempotent. The pack's record is
/// [`record_pack`]'s.
///
/// # Errors
/// A store failure.
pub(crate) async fn register_pack(store: &Store, pack: &LoadedPack) -> Result<(), EngineError> {
    for action in &pack.actions {
        store
            .actions()
            .put(&action.action.action_ref(), &action.action)?;
    }
    for trigger_type in &pack.trigger_types {
        store.trigger_types().put(
            &trigger_type.trigger_type.type_ref(),
            &trigger_type.trigger_type,
        )?;
    }
    for sensor in &pack.sensors {
        store
            .sensors()
            .put(&sensor.sensor.sensor_ref(), &sensor.sensor)?;
    }
    for policy in &pack.policies {
        store
            .policies()
            .put(&policy.policy.policy_ref(), &policy.policy)?;
    }
    let prefix = format!("{}.", pack.pack_ref);
    let current: Vec<String> = pack.rules.iter().map(|r| r.rule.rule_ref()).collect();
    for (rule_ref, _) in store.rules().list(&prefix)? {
        if !current.contains(&rule_ref) {
            store.remove_rule(&rule_ref)?;
        }
    }
    for rule in &pack.rules {
        store.rules().put(&rule.rule.rule_ref(), &rule.rule)?;
    }
    store.flush().await?;
    Ok(())
}

/// Stores a rule created through the API (its pack may be any, `default` when absent).
///
/// # Errors
/// A store failure.
pub(crate) async fn store_rule(store: &Store, rule: &Rule) -> Result<(), EngineError> {
    store.rules().put(&rule.rule_ref(), rule)?;
    store.flush().await?;
    Ok(())
}
