//! The compact evaluation plan of one trigger key: every rule's simple criteria (a plain
//! `trigger.a.b` key, a common operator, a static pattern) laid out in a few contiguous
//! arrays, with each distinct key path resolved at most once per event.
//!
//! It exists for cache locality: with 10,000 rules, the rules of one key are scattered over
//! the heap, and chasing their pointers costs more than comparing values. The plan gives the
//! same answers as [`CompiledRule::matches`]; a rule with any criterion outside the simple
//! shapes is evaluated by `matches` itself.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

use crate::operators::Operator;
use crate::py;
use crate::rule::CompiledRule;
use crate::template::RenderContext;

/// Key paths resolved per event without a heap allocation; further paths are resolved per
/// criterion.
const CACHED_PATHS: usize = 16;

/// A string literal or a scalar that needs no allocation.
#[derive(Debug, Clone)]
enum Literal {
    /// `None`.
    None,
    /// A string, as a range of [`Plan::text`].
    Str(Range<u32>),
    /// A bool or a number.
    Scalar(Value),
}

#[derive(Debug, Clone)]
enum SimpleOp {
    Equals(Literal),
    NEquals(Literal),
    LessThan(Literal),
    GreaterThan(Literal),
    StartsWith(Literal),
    EndsWith(Literal),
    Exists,
    NExists,
}

#[derive(Debug, Clone)]
struct SimpleCriterion {
    /// Index into [`Plan::paths`].
    path: u32,
    op: SimpleOp,
}

#[derive(Debug, Clone)]
struct PlannedRule {
    enabled: bool,
    backstop: bool,
    /// Evaluate with [`CompiledRule::matches`] (some criterion is not simple).
    general: bool,
    /// Range of [`Plan::criteria`].
    criteria: Range<u32>,
}

/// The plan for the rules of one trigger key, in the same order as the rules.
#[derive(Debug, Clone, Default)]
pub(super) struct Plan {
    rules: Vec<PlannedRule>,
    criteria: Vec<SimpleCriterion>,
    /// Each path is a range of `segments`.
    paths: Vec<Range<u32>>,
    /// Each segment is a range of `text`.
    segments: Vec<Range<u32>>,
    text: String,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn range(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

impl Plan {
    /// Builds the plan for `rules`.
    pub(super) fn build(rules: &[Arc<CompiledRule>]) -> Plan {
        let mut plan = Plan::default();
        let mut known_paths = HashMap::new();
        for rule in rules {
            let start = to_u32(plan.criteria.len());
            let mut general = false;
            for criterion in rule.criteria() {
                match criterion.simple_form().and_then(|(fields, op, pattern)| {
                    plan.simple(fields, op, pattern, &mut known_paths)
                }) {
                    Some(simple) => plan.criteria.push(simple),
                    None => general = true,
                }
            }
            if general {
                plan.criteria.truncate(start as usize);
            }
            plan.rules.push(PlannedRule {
                enabled: rule.is_enabled(),
                backstop: rule.is_backstop(),
                general,
                criteria: start..to_u32(plan.criteria.len()),
            });
        }
        plan
    }

    fn intern_text(&mut self, text: &str) -> Range<u32> {
        let start = to_u32(self.text.len());
        self.text.push_str(text);
        start..to_u32(self.text.len())
    }

    fn path_index(&mut self, fields: &[String], known: &mut HashMap<Vec<String>, u32>) -> u32 {
        if let Some(index) = known.get(fields) {
            return *index;
        }
        let start = to_u32(self.segments.len());
        for field in fields {
            let segment = self.intern_text(field);
            self.segments.push(segment);
        }
        self.paths.push(start..to_u32(self.segments.len()));
        let index = to_u32(self.paths.len() - 1);
        known.insert(fields.to_vec(), index);
        index
    }

    fn literal(&mut self, pattern: Option<&Value>) -> Option<Literal> {
        match pattern {
            None | Some(Value::Null) => Some(Literal::None),
            Some(Value::String(s)) => Some(Literal::Str(self.intern_text(s))),
            Some(scalar @ (Value::Bool(_) | Value::Number(_))) => {
                Some(Literal::Scalar(scalar.clone()))
            }
            Some(_) => None,
        }
    }

    fn simple(
        &mut self,
        fields: &[String],
        op: Operator,
        pattern: Option<&Value>,
        known: &mut HashMap<Vec<String>, u32>,
    ) -> Option<SimpleCriterion> {
        let op = match op {
            Operator::Exists => SimpleOp::Exists,
            Operator::NExists => SimpleOp::NExists,
            Operator::Equals => SimpleOp::Equals(self.literal(pattern)?),
            Operator::NEquals => SimpleOp::NEquals(self.literal(pattern)?),
            Operator::LessThan => SimpleOp::LessThan(self.literal(pattern)?),
            Operator::GreaterThan => SimpleOp::GreaterThan(self.literal(pattern)?),
            Operator::StartsWith => SimpleOp::StartsWith(self.literal(pattern)?),
            Operator::EndsWith => SimpleOp::EndsWith(self.literal(pattern)?),
            _ => return None,
        };
        Some(SimpleCriterion {
            path: self.path_index(fields, known),
            op,
        })
    }

    /// The rules that match: standard rules first, backstop rules only if no standard rule
    /// matched. `rules` are the rules the plan was built from.
    pub(super) fn matching(
        &self,
        rules: &[Arc<CompiledRule>],
        ctx: &RenderContext<'_>,
    ) -> Vec<Arc<CompiledRule>> {
        let mut event = Event {
            plan: self,
            payload: ctx.payload,
            payload_truthy: py::truthy(ctx.payload),
            resolved: [None; CACHED_PATHS],
        };
        let mut matched = Vec::new();
        for backstop in [false, true] {
            for (i, planned) in self.rules.iter().enumerate() {
                if planned.backstop == backstop && event.rule_matches(planned, &rules[i], ctx) {
                    if matched.is_empty() {
                        // One allocation for every match of this pass.
                        matched.reserve(self.rules.len() - i);
                    }
                    matched.push(Arc::clone(&rules[i]));
                }
            }
            if !matched.is_empty() {
                break;
            }
        }
        matched
    }
}

/// Per-event state: which key paths have been resolved.
struct Event<'p, 'v> {
    plan: &'p Plan,
    payload: &'v Value,
    payload_truthy: bool,
    resolved: [Option<Option<&'v Value>>; CACHED_PATHS],
}

impl<'v> Event<'_, 'v> {
    fn rule_matches(
        &mut self,
        planned: &PlannedRule,
        rule: &CompiledRule,
        ctx: &RenderContext<'_>,
    ) -> bool {
        if !planned.enabled {
            return false;
        }
        if planned.general {
            return rule.matches(ctx);
        }
        if planned.criteria.is_empty() {
            return true;
        }
        if !self.payload_truthy {
            return false;
        }
        range(&planned.criteria).all(|i| {
            let criterion = &self.plan.criteria[i];
            let value = self.value(criterion.path);
            self.plan.holds(&criterion.op, value)
        })
    }

    /// The value at a key path (`None` when missing or `null`).
    fn value(&mut self, path: u32) -> Option<&'v Value> {
        let index = path as usize;
        if let Some(Some(cached)) = self.resolved.get(index) {
            return *cached;
        }
        let plan = self.plan;
        let mut current = self.payload;
        let mut found = true;
        for segment in &plan.segments[range(&plan.paths[index])] {
            match current {
                Value::Object(map) => match map.get(&plan.text[range(segment)]) {
                    Some(next) => current = next,
                    None => {
                        found = false;
                        break;
                    }
                },
                _ => {
                    found = false;
                    break;
                }
            }
        }
        let value = (found && !current.is_null()).then_some(current);
        if let Some(slot) = self.resolved.get_mut(index) {
            *slot = Some(value);
        }
        value
    }
}

impl Plan {
    /// How many rules the plan leaves to [`CompiledRule::matches`].
    #[cfg(test)]
    pub(super) fn general_rules(&self) -> usize {
        self.rules.iter().filter(|r| r.general).count()
    }

    fn text(&self, r: &Range<u32>) -> &str {
        &self.text[range(r)]
    }

    /// The operator on a value, exactly as `operators::apply` answers it (a Python exception
    /// is `false`).
    fn holds(&self, op: &SimpleOp, value: Option<&Value>) -> bool {
        match op {
            SimpleOp::Exists => value.is_some(),
            SimpleOp::NExists => value.is_none(),
            SimpleOp::Equals(literal) => match (literal, value) {
                (Literal::None, _) | (_, None) => false,
                (Literal::Str(s), Some(v)) => v.as_str() == Some(self.text(s)),
                (Literal::Scalar(p), Some(v)) => py::eq(v, p),
            },
            SimpleOp::NEquals(literal) => match (literal, value) {
                (Literal::None, v) => v.is_some(),
                (_, None) => true,
                (Literal::Str(s), Some(v)) => v.as_str() != Some(self.text(s)),
                (Literal::Scalar(p), Some(v)) => !py::eq(v, p),
            },
            SimpleOp::LessThan(literal) | SimpleOp::GreaterThan(literal) => {
                let less = matches!(op, SimpleOp::LessThan(_));
                match (literal, value) {
                    (Literal::None, _) | (_, None) => false,
                    (Literal::Str(s), Some(Value::String(v))) => {
                        let p = self.text(s);
                        if less { v.as_str() < p } else { v.as_str() > p }
                    }
                    (Literal::Str(_), Some(_)) => false,
                    (Literal::Scalar(p), Some(v)) => {
                        if less { py::lt(v, p) } else { py::gt(v, p) }.unwrap_or(false)
                    }
                }
            }
            SimpleOp::StartsWith(literal) | SimpleOp::EndsWith(literal) => {
                let starts = matches!(op, SimpleOp::StartsWith(_));
                match (literal, value) {
                    (Literal::Str(s), Some(Value::String(v))) => {
                        let p = self.text(s);
                        if starts {
                            v.starts_with(p)
                        } else {
                            v.ends_with(p)
                        }
                    }
                    _ => false,
                }
            }
        }
    }
}
