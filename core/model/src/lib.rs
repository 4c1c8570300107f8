//! Nerve's domain vocabulary (being filled in): refs, rules, triggers.

mod refs;
mod rule;
mod trigger;

pub use refs::{RefError, ResourceRef};
pub use rule::{ActionInvocation, Criterion, Rule, RuleKind, RuleTrigger};
pub use trigger::{Trigger, TriggerInstance, TriggerType};
