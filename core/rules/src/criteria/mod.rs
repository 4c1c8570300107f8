//! One criterion, compiled and evaluated as `RuleFilter._check_criterion` does it:
//! missing `type` ⇒ false; render the pattern (Jinja, with the `to_complex` rewrite for
//! `{{ … }}` patterns); strip the key after `#`, look it up with jsonpath (first match, none
//! ⇒ `None`); apply the operator; any exception ⇒ false. `search` evaluates child criteria
//! against each item of a list with the same machinery, recursively.
//!
//! Everything static is prepared by [`CompiledCriterion::compile`]: the key's jsonpath, the
//! operator, non-template patterns (pre-rendered), their regexes and thresholds, and the
//! parsed templates of dynamic patterns. Evaluating a static criterion does not allocate.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use serde::Serialize;
use serde_json::Value;

use crate::jsonpath::JsonPath;
use crate::operators::{self, Compiled, OpError, Operator};
use crate::py;
use crate::rule::RuleProblem;
use crate::template::{self, RenderContext, Scope, TemplateId, TemplateSet, Variables};

#[cfg(test)]
mod tests;

/// StackStorm's `MATCH_CRITERIA`: a pattern with `{{ … }}` is first rendered as
/// `{{ … | to_complex }}` and JSON-decoded, so `"{{ trigger.list }}"` yields a real list.
static MATCH_CRITERIA: LazyLock<Option<fancy_regex::Regex>> =
    LazyLock::new(|| fancy_regex::Regex::new(r"(\{\{)\s*(.*)\s*(\}\})").ok());

/// A criterion as written: `{type, pattern, condition}`.
struct Spec<'s> {
    operator: Option<&'s Value>,
    pattern: &'s Value,
    condition: Option<&'s Value>,
}

/// A pattern ready to evaluate.
#[derive(Debug, Clone)]
enum Pattern {
    /// Python `None`.
    None,
    /// A non-string, or a string without Jinja markup (already rendered).
    Static(Value),
    /// A template: the plain form and, for `{{ … }}` patterns, the `to_complex` form.
    Template {
        plain: TemplateId,
        complex: Option<TemplateId>,
    },
    /// A template with a syntax error: rendering always fails.
    Broken { error: String },
}

/// What a criterion checks.
#[derive(Debug, Clone)]
enum Check {
    /// No `type`: never true.
    MissingType,
    /// `get_operator` raises for this name.
    UnknownOperator(String),
    /// An operator other than `search`.
    Op {
        op: Operator,
        pattern: Pattern,
        compiled: Result<Compiled, OpError>,
    },
    /// `search`.
    Search {
        condition: Option<String>,
        pattern: Pattern,
        children: Children,
    },
}

/// The child criteria of a `search`.
#[derive(Debug, Clone)]
enum Children {
    /// A mapping of child criteria.
    Criteria(Arc<[CompiledCriterion]>),
    /// Evaluating the children raises (the pattern is not a mapping, or a child has an
    /// unknown operator); only reached when the list has items.
    Raises(String),
}

/// A compiled criterion.
#[derive(Debug, Clone)]
pub(crate) struct CompiledCriterion {
    key: String,
    path: Result<JsonPath, String>,
    operator: Option<String>,
    check: Check,
}

/// How one criterion fared against an event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriterionExplanation {
    /// The criterion key as written (with any `#tag`).
    pub key: String,
    /// The operator as written.
    pub operator: Option<String>,
    /// The rendered pattern (`None` for a `None` pattern or when rendering failed).
    pub pattern: Option<Value>,
    /// The value found at the key (`None`: not found, or JSON `null`).
    pub value: Option<Value>,
    /// Whether the criterion holds.
    pub result: bool,
    /// Why, in words.
    pub reason: String,
}

/// Where evaluation happens: the lookup root and everything templates need.
pub(crate) struct Scene<'e> {
    prefix: &'e str,
    payload: &'e Value,
    ctx: &'e RenderContext<'e>,
    templates: &'e TemplateSet,
    variables: OnceCell<Variables>,
}

impl<'e> Scene<'e> {
    pub(crate) fn new(
        prefix: &'e str,
        payload: &'e Value,
        ctx: &'e RenderContext<'e>,
        templates: &'e TemplateSet,
    ) -> Self {
        Scene {
            prefix,
            payload,
            ctx,
            templates,
            variables: OnceCell::new(),
        }
    }

    fn variables(&self) -> &Variables {
        self.variables.get_or_init(|| {
            Variables::new(
                self.ctx,
                Scope::Criteria {
                    prefix: self.prefix,
                    payload: self.payload,
                },
            )
        })
    }
}

/// Why a criterion did not simply evaluate to a boolean.
#[derive(Debug)]
enum Verdict {
    Decided(bool),
    MissingType,
    UnknownOperator(String),
    PatternFailed(String),
    KeyFailed(String),
    OperatorFailed(String),
    Searched {
        condition: String,
        matched_items: Vec<usize>,
        items: usize,
        result: bool,
    },
}

impl Verdict {
    fn result(&self) -> bool {
        match self {
            Verdict::Decided(result) | Verdict::Searched { result, .. } => *result,
            _ => false,
        }
    }
}

struct Outcome<'v> {
    pattern: Option<Cow<'v, Value>>,
    value: Option<Cow<'v, Value>>,
    verdict: Verdict,
}

impl CompiledCriterion {
    /// Compiles a top-level criterion of a rule, reporting problems under
    /// `["criteria", key, …]`.
    pub(crate) fn compile_model(
        key: &str,
        criterion: &nerve_model::Criterion,
        templates: &mut TemplateSet,
        problems: &mut Vec<RuleProblem>,
    ) -> CompiledCriterion {
        let operator = criterion
            .operator
            .as_ref()
            .map(|s| Value::String(s.clone()));
        let condition = criterion
            .condition
            .as_ref()
            .map(|s| Value::String(s.clone()));
        let spec = Spec {
            operator: operator.as_ref(),
            pattern: &criterion.pattern,
            condition: condition.as_ref(),
        };
        let path = vec!["criteria".to_owned(), key.to_owned()];
        Self::compile(key, &spec, &path, templates, problems)
    }

    fn compile(
        key: &str,
        spec: &Spec<'_>,
        at: &[String],
        templates: &mut TemplateSet,
        problems: &mut Vec<RuleProblem>,
    ) -> CompiledCriterion {
        let problem = |problems: &mut Vec<RuleProblem>, field: Option<&str>, message: String| {
            let mut path = at.to_vec();
            path.extend(field.map(str::to_owned));
            problems.push(RuleProblem { path, message });
        };
        let lookup_key = key.split('#').next().unwrap_or_default();
        let path = JsonPath::parse(lookup_key);
        if let Err(e) = &path {
            problem(
                problems,
                None,
                format!("invalid criteria key `{lookup_key}`: {e}"),
            );
        }
        let operator = spec.operator.map(|v| match v {
            Value::String(s) => s.clone(),
            other => py::to_str(other),
        });
        let check = match spec.operator {
            None => {
                problem(
                    problems,
                    None,
                    "criterion has no `type` (operator); it never matches".to_owned(),
                );
                Check::MissingType
            }
            Some(Value::String(name)) => match Operator::from_name(name) {
                None => {
                    let hint = Operator::suggest(name)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    problem(
                        problems,
                        Some("type"),
                        format!("unknown operator `{name}`{hint}"),
                    );
                    Check::UnknownOperator(name.clone())
                }
                Some(Operator::Search) if name == "search" => {
                    Self::compile_search(spec, at, templates, problems)
                }
                Some(op) => {
                    let pattern = compile_pattern(spec.pattern, at, templates, problems);
                    let compiled = match &pattern {
                        Pattern::Static(p) => Compiled::for_pattern(op, p),
                        Pattern::None => Ok(Compiled::Nothing),
                        _ => Ok(Compiled::Nothing),
                    };
                    if let Err(e) = &compiled {
                        problem(
                            problems,
                            Some("pattern"),
                            format!("pattern is invalid for `{name}`: {e}"),
                        );
                    }
                    if op == Operator::Search {
                        problem(
                            problems,
                            Some("type"),
                            format!(
                                "`search` must be written in lower case (StackStorm fails on `{name}`)"
                            ),
                        );
                    }
                    Check::Op {
                        op,
                        pattern,
                        compiled,
                    }
                }
            },
            Some(other) => {
                problem(
                    problems,
                    Some("type"),
                    format!("operator must be a string, not {}", py::type_name(other)),
                );
                Check::UnknownOperator(py::to_str(other))
            }
        };
        CompiledCriterion {
            key: key.to_owned(),
            path,
            operator,
            check,
        }
    }

    fn compile_search(
        spec: &Spec<'_>,
        at: &[String],
        templates: &mut TemplateSet,
        problems: &mut Vec<RuleProblem>,
    ) -> Check {
        let field = |name: &str| {
            let mut path = at.to_vec();
            path.push(name.to_owned());
            path
        };
        let condition = spec.condition.map(py::to_str);
        match condition.as_deref() {
            Some("any" | "all" | "all2any" | "any2any") => {}
            Some(other) => problems.push(RuleProblem {
                path: field("condition"),
                message: format!(
                    "unknown search condition `{other}`; expected `any`, `all`, `all2any` or `any2any`"
                ),
            }),
            None => problems.push(RuleProblem {
                path: field("condition"),
                message: "`search` needs a `condition`: `any`, `all`, `all2any` or `any2any`".to_owned(),
            }),
        }
        // A string pattern is rendered (and then fails to be a mapping); a mapping is kept
        // as written so explanations can show it.
        let pattern = match spec.pattern {
            Value::String(_) => compile_pattern(spec.pattern, at, templates, problems),
            Value::Null => Pattern::None,
            other => Pattern::Static(other.clone()),
        };
        let children = match spec.pattern {
            Value::Object(children) => {
                let mut compiled = Vec::with_capacity(children.len());
                let mut raises = None;
                for (child_key, child) in children {
                    let mut child_at = field("pattern");
                    child_at.push(child_key.clone());
                    let child_compiled = match child {
                        Value::Object(map) => {
                            let child_spec = Spec {
                                operator: map.get("type"),
                                pattern: map.get("pattern").unwrap_or(&Value::Null),
                                condition: map.get("condition"),
                            };
                            Self::compile(child_key, &child_spec, &child_at, templates, problems)
                        }
                        other => {
                            problems.push(RuleProblem {
                                path: child_at,
                                message:
                                    "a child criterion must be a mapping with `type` and `pattern`"
                                        .to_owned(),
                            });
                            if non_mapping_child_raises(other) {
                                raises.get_or_insert_with(|| {
                                    format!(
                                        "TypeError: child criterion `{child_key}` is not a mapping"
                                    )
                                });
                            }
                            CompiledCriterion {
                                key: child_key.clone(),
                                path: JsonPath::parse(
                                    child_key.split('#').next().unwrap_or_default(),
                                ),
                                operator: None,
                                check: Check::MissingType,
                            }
                        }
                    };
                    if let Check::UnknownOperator(name) = &child_compiled.check {
                        raises.get_or_insert_with(|| {
                            format!("Exception: Invalid operator: {}", name.to_lowercase())
                        });
                    }
                    compiled.push(child_compiled);
                }
                match raises {
                    Some(message) => Children::Raises(message),
                    None => Children::Criteria(compiled.into()),
                }
            }
            other => {
                problems.push(RuleProblem {
                    path: field("pattern"),
                    message: "`search` needs a mapping of child criteria as its pattern".to_owned(),
                });
                Children::Raises(format!(
                    "AttributeError: '{}' object has no attribute 'items'",
                    py::type_name(other)
                ))
            }
        };
        Check::Search {
            condition,
            pattern,
            children,
        }
    }

    /// The criterion in the shape the index's compact plan handles: a plain `trigger.a.b`
    /// key (field names after `trigger`), an operator, and a static pattern (`None` for a
    /// `None` pattern). `None` if the criterion needs the general machinery.
    pub(crate) fn simple_form(&self) -> Option<(&[String], Operator, Option<&Value>)> {
        let fields = self.path.as_ref().ok()?.plain_fields()?;
        let (head, rest) = fields.split_first()?;
        if head != "trigger" {
            return None;
        }
        match &self.check {
            Check::Op {
                op,
                pattern,
                compiled: Ok(_),
            } => match pattern {
                Pattern::Static(value) => Some((rest, *op, Some(value))),
                Pattern::None => Some((rest, *op, None)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the criterion holds: the hot path.
    pub(crate) fn holds(&self, scene: &Scene<'_>) -> bool {
        self.evaluate(scene).verdict.result()
    }

    /// The criterion's evaluation in words.
    pub(crate) fn explain(&self, scene: &Scene<'_>) -> CriterionExplanation {
        let outcome = self.evaluate(scene);
        let result = outcome.verdict.result();
        let reason = self.reason(&outcome);
        CriterionExplanation {
            key: self.key.clone(),
            operator: self.operator.clone(),
            pattern: outcome.pattern.map(Cow::into_owned),
            value: outcome.value.map(Cow::into_owned),
            result,
            reason,
        }
    }

    fn evaluate<'v>(&'v self, scene: &'v Scene<'v>) -> Outcome<'v> {
        let failed = |verdict| Outcome {
            pattern: None,
            value: None,
            verdict,
        };
        let (pattern_spec, op) = match &self.check {
            Check::MissingType => return failed(Verdict::MissingType),
            Check::Op { op, pattern, .. } => (pattern, Some(*op)),
            Check::Search { pattern, .. } => (pattern, None),
            Check::UnknownOperator(_) => (&Pattern::None, None),
        };
        let pattern = match render_pattern(pattern_spec, scene) {
            Ok(p) => p,
            Err(e) => return failed(Verdict::PatternFailed(e)),
        };
        let value = match &self.path {
            Ok(path) => match path.first(scene.prefix, scene.payload) {
                // JSON `null` is Python's `None`, the same as a missing key.
                Ok(found) => found.filter(|v| !v.is_null()),
                Err(e) => {
                    return Outcome {
                        pattern,
                        value: None,
                        verdict: Verdict::KeyFailed(e.to_string()),
                    };
                }
            },
            Err(e) => {
                return Outcome {
                    pattern,
                    value: None,
                    verdict: Verdict::KeyFailed(format!("invalid jsonpath: {e}")),
                };
            }
        };
        let verdict = match (&self.check, op) {
            (Check::UnknownOperator(name), _) => Verdict::UnknownOperator(name.clone()),
            (Check::Op { compiled, .. }, Some(op)) => match compiled {
                Err(e) => Verdict::OperatorFailed(e.to_string()),
                Ok(compiled) => match operators::apply(
                    op,
                    value.as_deref(),
                    pattern.as_deref(),
                    compiled,
                    scene.ctx.now,
                ) {
                    Ok(result) => Verdict::Decided(result),
                    Err(e) => Verdict::OperatorFailed(e.to_string()),
                },
            },
            (
                Check::Search {
                    condition,
                    children,
                    ..
                },
                _,
            ) => search(condition.as_deref(), children, value.as_deref(), scene),
            _ => Verdict::Decided(false),
        };
        Outcome {
            pattern,
            value,
            verdict,
        }
    }

    fn reason(&self, outcome: &Outcome<'_>) -> String {
        match &outcome.verdict {
            Verdict::MissingType => "criterion has no `type`".to_owned(),
            Verdict::UnknownOperator(name) => format!("unknown operator `{name}`"),
            Verdict::PatternFailed(e) => format!("pattern rendering failed: {e}"),
            Verdict::KeyFailed(e) => format!("key lookup failed: {e}"),
            Verdict::OperatorFailed(e) => format!("operator error: {e}"),
            Verdict::Searched {
                condition,
                matched_items,
                items,
                result,
            } => format!(
                "search `{condition}`: items {matched_items:?} of {items} matched their child criteria, so the search is {result}"
            ),
            Verdict::Decided(result) => {
                let op = match &self.check {
                    Check::Op { op, .. } => *op,
                    _ => return result.to_string(),
                };
                describe_decision(
                    op,
                    outcome.value.as_deref(),
                    outcome.pattern.as_deref(),
                    *result,
                )
            }
        }
    }
}

/// A non-mapping child criterion makes StackStorm raise unless `'type' in child` is simply
/// false (a string or list without `type`).
fn non_mapping_child_raises(child: &Value) -> bool {
    match child {
        Value::String(s) => s.contains("type"),
        Value::Array(items) => items.iter().any(|i| i == "type"),
        _ => true,
    }
}

fn compile_pattern(
    pattern: &Value,
    at: &[String],
    templates: &mut TemplateSet,
    problems: &mut Vec<RuleProblem>,
) -> Pattern {
    let source = match pattern {
        Value::Null => return Pattern::None,
        Value::String(s) => s,
        other => return Pattern::Static(other.clone()),
    };
    let mut problem_path = at.to_vec();
    problem_path.push("pattern".to_owned());
    if !template::has_markup(source) {
        // Text without markup renders to itself, minus one trailing newline.
        return match template::render_static(source) {
            Ok(rendered) => Pattern::Static(Value::String(rendered)),
            Err(error) => {
                problems.push(RuleProblem {
                    path: problem_path,
                    message: format!("invalid Jinja template: {error}"),
                });
                Pattern::Broken { error }
            }
        };
    }
    let plain = match templates.add(source) {
        Ok(id) => id,
        Err(e) => {
            let error = template::describe(&e);
            problems.push(RuleProblem {
                path: problem_path,
                message: format!("invalid Jinja template: {error}"),
            });
            return Pattern::Broken { error };
        }
    };
    let complex = MATCH_CRITERIA.as_ref().and_then(|re| {
        if !re.is_match(source).unwrap_or(false) {
            return None;
        }
        let rewritten = re.replace_all(source, "$1$2 | to_complex$3");
        templates.add(&rewritten).ok()
    });
    Pattern::Template { plain, complex }
}

/// `_render_criteria_pattern`: the `to_complex` form JSON-decoded if that works, otherwise
/// the plain rendering as a string.
fn render_pattern<'v>(
    pattern: &'v Pattern,
    scene: &'v Scene<'v>,
) -> Result<Option<Cow<'v, Value>>, String> {
    match pattern {
        Pattern::None => Ok(None),
        Pattern::Static(value) => Ok(Some(Cow::Borrowed(value))),
        Pattern::Broken { error, .. } => Err(error.clone()),
        Pattern::Template { plain, complex, .. } => {
            let render = |id: &TemplateId| {
                let variables = scene.variables();
                template::with_kv_passes(scene.ctx, |session| {
                    scene.templates.render(id, &variables.context(session))
                })
            };
            if let Some(complex) = complex {
                if let Ok(text) = render(complex) {
                    if let Ok(decoded) = serde_json::from_str::<Value>(&text) {
                        return Ok(Some(Cow::Owned(decoded)));
                    }
                }
            }
            render(plain)
                .map(|text| Some(Cow::Owned(Value::String(text))))
                .map_err(|e| template::describe(&e))
        }
    }
}

/// The `search` operator.
fn search(
    condition: Option<&str>,
    children: &Children,
    value: Option<&Value>,
    scene: &Scene<'_>,
) -> Verdict {
    let (any_item, any_child) = match condition {
        Some("any") => (true, false),
        Some("all") => (false, false),
        Some("all2any") => (false, true),
        Some("any2any") => (true, true),
        other => {
            return Verdict::OperatorFailed(format!(
                "UnrecognizedConditionError: The '{}' condition is not recognized for type search, 'any', 'all', 'any2any' and 'all2any' are allowed",
                other.unwrap_or("None")
            ));
        }
    };
    let items: Vec<Cow<'_, Value>> = match value {
        Some(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
        Some(object @ Value::Object(_)) => vec![Cow::Borrowed(object)],
        Some(Value::String(s)) => s
            .chars()
            .map(|c| Cow::Owned(Value::String(c.to_string())))
            .collect(),
        Some(other) => {
            return Verdict::OperatorFailed(format!(
                "TypeError: '{}' object is not iterable",
                py::type_name(other)
            ));
        }
        None => {
            return Verdict::OperatorFailed(
                "TypeError: 'NoneType' object is not iterable".to_owned(),
            );
        }
    };
    let children: &[CompiledCriterion] = match children {
        Children::Criteria(children) => children,
        Children::Raises(message) if !items.is_empty() => {
            return Verdict::OperatorFailed(message.clone());
        }
        Children::Raises(_) => &[],
    };
    let condition = condition.unwrap_or_default().to_owned();
    let mut matched_items = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let child_scene = Scene::new("item", item, scene.ctx, scene.templates);
        let item_matches = if any_child {
            children.iter().any(|c| c.holds(&child_scene))
        } else {
            children.iter().all(|c| c.holds(&child_scene))
        };
        if item_matches {
            matched_items.push(index);
        }
    }
    let result = if any_item {
        !matched_items.is_empty()
    } else {
        matched_items.len() == items.len()
    };
    Verdict::Searched {
        condition,
        matched_items,
        items: items.len(),
        result,
    }
}

fn show(value: Option<&Value>) -> String {
    match value {
        None => "None".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// The reason text for an operator that answered.
fn describe_decision(
    op: Operator,
    value: Option<&Value>,
    pattern: Option<&Value>,
    result: bool,
) -> String {
    let v = show(value);
    let p = show(pattern);
    let mut text = match op {
        Operator::Exists | Operator::NExists => {
            return match value {
                None => "key not found (or null)".to_owned(),
                Some(_) => format!("key exists with value {v}"),
            };
        }
        _ if value.is_none() && op != Operator::NEquals => {
            if pattern.is_none() {
                return "pattern is None".to_owned();
            }
            format!("key not found; `{}` of None and {p} is {result}", op.name())
        }
        _ if pattern.is_none() => return "pattern is None".to_owned(),
        Operator::Equals => {
            if result {
                format!("value {v} equals {p}")
            } else {
                format!("value {v} is not equal to {p}")
            }
        }
        Operator::NEquals => {
            if result {
                format!("value {v} is not equal to {p}")
            } else {
                format!("value {v} equals {p}")
            }
        }
        _ => format!("`{}` of value {v} and pattern {p} is {result}", op.name()),
    };
    if let (Some(value), Some(pattern), Operator::Equals | Operator::NEquals) = (value, pattern, op)
    {
        let numeric = |x: &Value| x.is_number() || x.is_boolean();
        if py::type_name(value) != py::type_name(pattern) && !(numeric(value) && numeric(pattern)) {
            let _ = write!(text, " (no type coercion)");
        }
    }
    text
}
