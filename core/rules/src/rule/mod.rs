//! A rule compiled once for evaluation: criteria compiled, action parameter templates
//! parsed, problems reported with the path of the field that has them.
//!
//! Matching follows `RuleFilter.filter`: a disabled rule never matches; a rule without
//! criteria always does; a rule with criteria never matches an empty or falsy payload
//! (even `nexists`); criteria are ANDed in file order and stop at the first false one.

use std::fmt;
use std::sync::Arc;

use nerve_model::{Rule, RuleKind};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::criteria::{CompiledCriterion, CriterionExplanation, Scene};
use crate::py;
use crate::template::{self, RenderContext, RenderError, Scope, TemplateSet, Variables};

#[cfg(test)]
mod tests;

/// Something wrong with a rule, found while compiling it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleProblem {
    /// The field, e.g. `["criteria", "trigger.x", "type"]` or
    /// `["action", "parameters", "cmd"]`; the pack loader maps it to a file position.
    pub path: Vec<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.path.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if segment.contains(['.', ' ', '[', ']', '\'']) || segment.is_empty() {
                write!(f, "{segment:?}")?;
            } else {
                f.write_str(segment)?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Action parameters with their templates checked.
#[derive(Debug, Clone)]
enum Parameter {
    /// A non-string value.
    Literal(Value),
    /// A string without markup, already rendered.
    Text(String),
    /// A template (syntax checked; parsed again when rendered, see [`compile_parameter`]).
    Template {
        source: String,
    },
    /// A template with a syntax error.
    Broken {
        source: String,
        error: String,
    },
    Array(Vec<Parameter>),
    Object(Vec<(String, Parameter)>),
}

/// A rule compiled once: operators resolved, static regexes/globs compiled, templates parsed.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// The rule as loaded.
    pub rule: Arc<Rule>,
    enabled: bool,
    backstop: bool,
    rule_ref: String,
    trigger_key: String,
    criteria: Vec<CompiledCriterion>,
    parameters: Vec<(String, Parameter)>,
    /// Some action parameter mentions `config_context` (the pack config is needed to render).
    uses_config: bool,
    templates: TemplateSet,
}

/// How a rule fared against an event, criterion by criterion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// `pack.name`.
    pub rule_ref: String,
    /// Whether the rule matches (the same answer as [`CompiledRule::matches`]).
    pub matched: bool,
    /// A reason that applies to the whole rule (disabled, empty payload), if any.
    pub reason: Option<String>,
    /// Every criterion, in order, evaluated even after the first false one.
    pub criteria: Vec<CriterionExplanation>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.matched {
            "matches"
        } else {
            "does not match"
        };
        write!(f, "rule `{}` {verdict}", self.rule_ref)?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        for criterion in &self.criteria {
            let mark = if criterion.result { "pass" } else { "FAIL" };
            write!(
                f,
                "\n  [{mark}] {} {}: {}",
                criterion.key,
                criterion.operator.as_deref().unwrap_or("<no type>"),
                criterion.reason
            )?;
        }
        Ok(())
    }
}

/// Compiles a rule: every criterion and action parameter template is checked and prepared.
///
/// # Errors
/// Every problem found: unknown operators (with a suggestion), `search` without a valid
/// `condition` or child criteria, invalid static regexes or timediff thresholds, Jinja
/// syntax errors in patterns or parameters, invalid criteria keys, criteria without `type`.
pub fn compile_rule(rule: Rule) -> Result<CompiledRule, Vec<RuleProblem>> {
    let (compiled, problems) = CompiledRule::compile_with_problems(rule);
    if problems.is_empty() {
        Ok(compiled)
    } else {
        Err(problems)
    }
}

impl CompiledRule {
    /// Compiles a rule even if it has problems; a criterion with a problem evaluates the way
    /// StackStorm would evaluate it (usually to false).
    pub(crate) fn compile_with_problems(rule: Rule) -> (CompiledRule, Vec<RuleProblem>) {
        let mut problems = Vec::new();
        let mut templates = TemplateSet::default();
        let criteria = rule
            .criteria
            .iter()
            .map(|(key, criterion)| {
                CompiledCriterion::compile_model(key, criterion, &mut templates, &mut problems)
            })
            .collect();
        let mut path = vec!["action".to_owned(), "parameters".to_owned()];
        let parameters = rule
            .action
            .parameters
            .iter()
            .map(|(name, value)| {
                path.push(name.clone());
                let parameter = compile_parameter(value, &mut path, &mut problems);
                path.pop();
                (name.clone(), parameter)
            })
            .collect();
        let uses_config = rule
            .action
            .parameters
            .values()
            .any(|value| mentions(value, "config_context"));
        let compiled = CompiledRule {
            uses_config,
            enabled: rule.enabled,
            backstop: rule.kind == RuleKind::Backstop,
            rule_ref: rule.rule_ref(),
            trigger_key: rule.trigger_key(),
            rule: Arc::new(rule),
            criteria,
            parameters,
            templates,
        };
        (compiled, problems)
    }
}

/// Whether a string anywhere in `value` contains `word`.
fn mentions(value: &Value, word: &str) -> bool {
    match value {
        Value::String(text) => text.contains(word),
        Value::Array(items) => items.iter().any(|item| mentions(item, word)),
        Value::Object(map) => map.values().any(|item| mentions(item, word)),
        _ => false,
    }
}

fn compile_parameter(
    value: &Value,
    path: &mut Vec<String>,
    problems: &mut Vec<RuleProblem>,
) -> Parameter {
    match value {
        Value::String(source) if !template::has_markup(source) => {
            match template::render_static(source) {
                Ok(text) => Parameter::Text(text),
                Err(error) => {
                    problems.push(RuleProblem {
                        path: path.clone(),
                        message: format!("invalid Jinja template: {error}"),
                    });
                    Parameter::Broken {
                        source: source.clone(),
                        error,
                    }
                }
            }
        }
        // Parameters are parsed again when rendered: a parsed template costs ~8 KB
        // (minijinja preallocates its instruction buffers), rendering happens only when the
        // rule matches, and parsing a parameter takes microseconds.
        Value::String(source) => match template::environment().template_from_str(source) {
            Ok(_) => Parameter::Template {
                source: source.clone(),
            },
            Err(e) => {
                let error = template::describe(&e);
                problems.push(RuleProblem {
                    path: path.clone(),
                    message: format!("invalid Jinja template: {error}"),
                });
                Parameter::Broken {
                    source: source.clone(),
                    error,
                }
            }
        },
        Value::Array(items) => Parameter::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    path.push(i.to_string());
                    let parameter = compile_parameter(item, path, problems);
                    path.pop();
                    parameter
                })
                .collect(),
        ),
        Value::Object(map) => Parameter::Object(
            map.iter()
                .map(|(key, item)| {
                    path.push(key.clone());
                    let parameter = compile_parameter(item, path, problems);
                    path.pop();
                    (key.clone(), parameter)
                })
                .collect(),
        ),
        other => Parameter::Literal(other.clone()),
    }
}

impl CompiledRule {
    /// `pack.name`.
    pub fn rule_ref(&self) -> &str {
        &self.rule_ref
    }

    /// The key the rule is indexed under ([`Rule::trigger_key`]).
    pub fn trigger_key(&self) -> &str {
        &self.trigger_key
    }

    /// Whether the rule is a `backstop` rule.
    pub fn is_backstop(&self) -> bool {
        self.backstop
    }

    /// Whether the rule is enabled (a disabled rule never matches).
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The compiled criteria, in order.
    pub(crate) fn criteria(&self) -> &[CompiledCriterion] {
        &self.criteria
    }

    /// Whether the rule matches the event in `ctx`. Static criteria are evaluated without
    /// allocating.
    pub fn matches(&self, ctx: &RenderContext<'_>) -> bool {
        if !self.enabled {
            return false;
        }
        if self.criteria.is_empty() {
            return true;
        }
        if !py::truthy(ctx.payload) {
            return false;
        }
        let scene = Scene::new("trigger", ctx.payload, ctx, &self.templates);
        self.criteria
            .iter()
            .all(|criterion| criterion.holds(&scene))
    }

    /// Why the rule does or does not match, criterion by criterion.
    pub fn explain(&self, ctx: &RenderContext<'_>) -> Explanation {
        let scene = Scene::new("trigger", ctx.payload, ctx, &self.templates);
        let criteria: Vec<CriterionExplanation> = self
            .criteria
            .iter()
            .map(|criterion| criterion.explain(&scene))
            .collect();
        let reason = if !self.enabled {
            Some("the rule is disabled".to_owned())
        } else if !criteria.is_empty() && !py::truthy(ctx.payload) {
            Some("the payload is empty; a rule with criteria never matches it".to_owned())
        } else if criteria.is_empty() {
            Some("the rule has no criteria".to_owned())
        } else {
            None
        };
        let matched = self.enabled
            && (criteria.is_empty()
                || (py::truthy(ctx.payload) && criteria.iter().all(|c| c.result)));
        Explanation {
            rule_ref: self.rule_ref.clone(),
            matched,
            reason,
            criteria,
        }
    }

    /// Whether an action parameter mentions `config_context`: only then does rendering need
    /// the pack config.
    pub fn uses_config_context(&self) -> bool {
        self.uses_config
    }

    /// Renders the action parameters for the event in `ctx` (st2-rule-tester semantics):
    /// every string leaf is rendered as Jinja and stays the string it renders to; other
    /// values pass through; lists and mappings recurse.
    ///
    /// # Errors
    /// The first parameter whose template fails (undefined variable, failing filter), with
    /// its path and source.
    pub fn render_action_parameters(
        &self,
        ctx: &RenderContext<'_>,
    ) -> Result<Map<String, Value>, RenderError> {
        let variables = Variables::new(ctx, Scope::Action);
        template::with_kv_passes(ctx, |session| {
            let context = variables.context(session);
            let mut path = Vec::new();
            let mut out = Map::with_capacity(self.parameters.len());
            for (name, parameter) in &self.parameters {
                path.push(name.clone());
                out.insert(
                    name.clone(),
                    self.render_parameter(parameter, &context, &mut path)?,
                );
                path.pop();
            }
            Ok(out)
        })
    }

    fn render_parameter(
        &self,
        parameter: &Parameter,
        context: &minijinja::Value,
        path: &mut Vec<String>,
    ) -> Result<Value, RenderError> {
        match parameter {
            Parameter::Literal(value) => Ok(value.clone()),
            Parameter::Text(text) => Ok(Value::String(text.clone())),
            Parameter::Template { source } => template::environment()
                .render_str(source, context)
                .map(Value::String)
                .map_err(|e| RenderError::new(path.clone(), source, &e)),
            Parameter::Broken { source, error } => Err(RenderError {
                path: path.clone(),
                template: source.clone(),
                message: error.clone(),
            }),
            Parameter::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    out.push(self.render_parameter(item, context, path)?);
                    path.pop();
                }
                Ok(Value::Array(out))
            }
            Parameter::Object(entries) => {
                let mut out = Map::with_capacity(entries.len());
                for (key, item) in entries {
                    path.push(key.clone());
                    out.insert(key.clone(), self.render_parameter(item, context, path)?);
                    path.pop();
                }
                Ok(Value::Object(out))
            }
        }
    }
}
