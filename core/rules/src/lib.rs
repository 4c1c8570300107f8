//! StackStorm-compatible rule evaluation: criteria operators, jsonpath criteria keys, and
//! Jinja rendering of patterns and action parameters with StackStorm's filters.
//!
//! **Architecture invariant:** this crate is pure — no IO, no async, no clock reads except
//! through the injected [`RenderContext::now`]. Evaluation is a function of (event, rules,
//! kv snapshot, now): the same inputs always give the same matches and parameters.
//!
//! Behaviour follows StackStorm (`st2reactor/rules/filter.py`, `st2common/operators.py`,
//! `st2common/util/payload.py`, `st2common/util/jinja.py`, `st2common/expressions/functions`),
//! Python value semantics included (`1 == 1.0`, `"5" != 5`, `TypeError` ⇒ false).
//!
//! ```
//! use chrono::Utc;
//! use nerve_rules::{NoKv, RenderContext, RuleIndex, compile_rule};
//! use serde_json::json;
//!
//! let rule = serde_json::from_value(json!({
//!     "name": "greet", "pack": "examples", "enabled": true,
//!     "trigger": {"type": "examples.event"},
//!     "criteria": {"trigger.name": {"type": "equals", "pattern": "world"}},
//!     "action": {"ref": "core.echo", "parameters": {"message": "hello {{ trigger.name }}"}}
//! }))?;
//! let mut index = RuleIndex::new();
//! index.insert(compile_rule(rule).map_err(|p| format!("{p:?}"))?);
//!
//! let payload = json!({"name": "world"});
//! let ctx = RenderContext::new(&payload, &NoKv, Utc::now());
//! let matched = index.matching("examples.event", &ctx);
//! assert_eq!(matched.len(), 1);
//! let parameters = matched[0].render_action_parameters(&ctx)?;
//! assert_eq!(parameters["message"], "hello world");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod criteria;
mod index;
mod jsonpath;
mod operators;
mod py;
mod rule;
mod template;

#[cfg(test)]
mod test_support;

pub use criteria::CriterionExplanation;
pub use index::RuleIndex;
pub use operators::{OPERATOR_NAMES, Operator};
pub use rule::{CompiledRule, Explanation, RuleProblem, compile_rule};
pub use template::{
    KvLookup, KvScope, KvSession, KvValue, NoKv, RenderContext, RenderError, decrypt_kv,
    environment, kv_root, kv_scope, kv_text, render_template, render_value, render_with_variables,
};
