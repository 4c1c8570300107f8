//! Jinja expressions in workflow definitions, evaluated the way orquesta evaluates them.
//!
//! The environment is `nerve_rules::environment()` (StackStorm's filters and settings: strict
//! undefined, `trim_blocks`, Python `str()` printing) extended with orquesta's context
//! functions: `ctx()`, `ctx(name)`, `result()`, `succeeded()`, `failed()`, `completed()`,
//! `task_status(name)`, `item()`, `item(name)`, `st2kv(key, decrypt=false, default=...)`,
//! `json(text)`, `zip(a, b, ...)`, and StackStorm's filters callable as functions
//! (`from_json_string(x)`), as orquesta registers them.
//!
//! A string that is exactly one `{{ expr }}` evaluates to the expression's native value; any
//! other string with markup renders to a string; a string without markup is itself.
//! Objects and arrays are evaluated element by element (object keys too).
//!
//! No IO: datastore reads go through the caller's [`KvLookup`]. Template functions cannot
//! borrow it, so they read from a [`KvSession`] and note what they could not answer; the
//! evaluation is then repeated with those keys looked up (a pure function of the snapshot the
//! lookup exposes, as in `nerve_rules`).
//!
//! This module does not know workflows: callers build a [`Scope`] with the context values.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::{Arc, OnceLock};

use minijinja::value::{Object, ObjectRepr, Rest, Value as MjValue, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use nerve_rules::{KvLookup, KvSession};
use serde_json::{Map, Number, Value};

mod kv;
mod scan;

#[cfg(test)]
mod tests;

pub(crate) use scan::{ctx_references, has_markup, has_yaql, quote_bare_names, single_expression};

/// How many times an evaluation is repeated to answer datastore keys it discovered.
const MAX_KV_PASSES: usize = 16;

/// The name of the hidden template variable holding the [`Frame`].
const FRAME_VAR: &str = "__nerve";

/// StackStorm's filters that orquesta also registers as functions.
const FILTERS_AS_FUNCTIONS: &[&str] = &[
    "from_json_string",
    "from_yaml_string",
    "json_escape",
    "jsonpath_query",
    "to_complex",
    "to_json_string",
    "to_yaml_string",
    "use_none",
    "regex_match",
    "regex_replace",
    "regex_search",
    "regex_substring",
    "to_human_time_from_seconds",
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
    "basename",
    "dirname",
];

/// The workflow environment, built once from `nerve_rules::environment()`.
pub(crate) fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = nerve_rules::environment().clone();
        env.add_function("ctx", ctx_function);
        env.add_function("result", result_function);
        env.add_function("succeeded", succeeded_function);
        env.add_function("failed", failed_function);
        env.add_function("completed", completed_function);
        env.add_function("task_status", task_status_function);
        env.add_function("item", item_function);
        env.add_function("st2kv", kv::st2kv_function);
        env.add_function("json", json_function);
        env.add_function("zip", zip_function);
        env.add_filter("decrypt_kv", nerve_rules::decrypt_kv);
        for name in FILTERS_AS_FUNCTIONS {
            env.add_function(*name, move |state: &mut State, args: Rest<MjValue>| {
                state.apply_filter(name, &args.0)
            });
        }
        env
    })
}

/// The status of a task as expressions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// Not completed yet (or the task is being rendered).
    Running,
    Succeeded,
    Failed,
}

/// The task an expression is evaluated for: `result()`, `succeeded()` and friends.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub(crate) state: TaskState,
    pub(crate) result: Value,
}

/// What an orquesta expression sees.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// The workflow context: `ctx()`.
    pub(crate) ctx: Arc<Map<String, Value>>,
    /// The current task, if any.
    pub(crate) current: Option<Current>,
    /// Each task's latest status: `task_status(name)`.
    pub(crate) statuses: Arc<BTreeMap<String, &'static str>>,
    /// The current item of a `with` items task: `item()`.
    pub(crate) item: Option<Value>,
}

/// The per-evaluation object behind the context functions.
#[derive(Debug)]
pub(crate) struct Frame {
    scope: Scope,
    kv: Arc<KvSession>,
}

impl Object for Frame {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("")
    }
}

fn frame(state: &State) -> Result<Arc<Frame>, Error> {
    state
        .lookup(FRAME_VAR)
        .and_then(|value| value.downcast_object::<Frame>())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "workflow functions are only available in workflow expressions",
            )
        })
}

/// An expression that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExprError {
    /// The expression (the whole string containing it).
    pub(crate) expression: String,
    /// The evaluation error.
    pub(crate) message: String,
}

impl fmt::Display for ExprError {
    /// Orquesta's wording: `Unable to evaluate expression '{{ x }}'. UndefinedError: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Unable to evaluate expression '{}'. {}",
            self.expression, self.message
        )
    }
}

/// Evaluates expressions for one operation of a state machine, sharing datastore answers.
pub(crate) struct Evaluator<'k> {
    kv: &'k dyn KvLookup,
    cache: Arc<KvSession>,
}

impl<'k> Evaluator<'k> {
    pub(crate) fn new(kv: &'k dyn KvLookup) -> Self {
        Evaluator {
            kv,
            cache: Arc::new(KvSession::default()),
        }
    }

    /// Evaluates every expression in `value` for an orquesta workflow.
    pub(crate) fn evaluate(&self, value: &Value, scope: &Scope) -> Result<Value, ExprError> {
        let frame = MjValue::from_object(Frame {
            scope: scope.clone(),
            kv: Arc::clone(&self.cache),
        });
        let mut context = BTreeMap::new();
        context.insert(FRAME_VAR.to_owned(), frame);
        let context = MjValue::from(context);
        self.with_kv_passes(|| evaluate_tree(value, &context, Mode::Native))
    }

    /// Evaluates a condition (`when`): Python truthiness of the value.
    pub(crate) fn condition(&self, expression: &Value, scope: &Scope) -> Result<bool, ExprError> {
        self.evaluate(expression, scope).map(|value| truthy(&value))
    }

    /// Renders every string in `value` as a Jinja template over `variables`, the way the
    /// action-chain runner does: strings stay strings, other values pass unchanged. Also
    /// visible: `st2kv.system.<key>` / `st2kv.user.<key>`, and `system.<key>`.
    pub(crate) fn render_strings(
        &self,
        value: &Value,
        variables: &Map<String, Value>,
    ) -> Result<Value, ExprError> {
        let mut context: BTreeMap<String, MjValue> = variables
            .iter()
            .map(|(k, v)| (k.clone(), from_json(v)))
            .collect();
        let st2kv = nerve_rules::kv_root(&self.cache);
        context.insert("st2kv".to_owned(), st2kv);
        context.insert(
            "system".to_owned(),
            nerve_rules::kv_scope(&self.cache, nerve_rules::KvScope::System),
        );
        context.insert("__context".to_owned(), from_json(variables));
        let context = MjValue::from(context);
        self.with_kv_passes(|| evaluate_tree(value, &context, Mode::Text))
    }

    fn with_kv_passes<T>(&self, mut pass: impl FnMut() -> T) -> T {
        let mut result = pass();
        for _ in 1..MAX_KV_PASSES {
            if !self.cache.resolve_misses(self.kv) {
                break;
            }
            result = pass();
        }
        result
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Orquesta: a lone `{{ expr }}` is its native value.
    Native,
    /// Action chain: every template renders to text.
    Text,
}

fn evaluate_tree(value: &Value, context: &MjValue, mode: Mode) -> Result<Value, ExprError> {
    match value {
        Value::String(text) => evaluate_str(text, context, mode),
        Value::Array(items) => items
            .iter()
            .map(|item| evaluate_tree(item, context, mode))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                let key = if has_markup(key) {
                    match evaluate_str(key, context, mode)? {
                        Value::String(s) => s,
                        other => py_str_of_json(&other),
                    }
                } else {
                    key.clone()
                };
                out.insert(key, evaluate_tree(item, context, mode)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn evaluate_str(text: &str, context: &MjValue, mode: Mode) -> Result<Value, ExprError> {
    if !has_markup(text) {
        return Ok(Value::String(text.to_owned()));
    }
    let failed = |error: &Error| ExprError {
        expression: text.to_owned(),
        message: describe(error),
    };
    let env = environment();
    let source = match mode {
        Mode::Native => quote_bare_names(text),
        Mode::Text => std::borrow::Cow::Borrowed(text),
    };
    if mode == Mode::Native {
        if let Some(expression) = single_expression(&source) {
            if let Ok(compiled) = env.compile_expression(expression) {
                let value = compiled.eval(context.clone()).map_err(|e| failed(&e))?;
                return to_json(&value).map_err(|e| failed(&e));
            }
        }
    }
    env.render_str(&source, context.clone())
        .map(Value::String)
        .map_err(|e| failed(&e))
}

/// Checks the Jinja syntax of a string; the error is a one-line description.
pub(crate) fn check_syntax(text: &str) -> Result<(), String> {
    if !has_markup(text) {
        return Ok(());
    }
    let env = environment();
    if let Some(expression) = single_expression(text) {
        if env.compile_expression(expression).is_ok() {
            return Ok(());
        }
    }
    env.template_from_str(text)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// A template error as one line, in the style of Python's exception names.
fn describe(error: &Error) -> String {
    let kind = match error.kind() {
        ErrorKind::UndefinedError => "UndefinedError",
        ErrorKind::SyntaxError => "TemplateSyntaxError",
        ErrorKind::UnknownFunction | ErrorKind::UnknownFilter | ErrorKind::UnknownTest => {
            "TemplateAssertionError"
        }
        _ => "TemplateError",
    };
    let mut message = match error.detail() {
        Some(detail) => format!("{kind}: {detail}"),
        None => format!("{kind}: {}", error.kind()),
    };
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let _ = write!(message, ": {inner}");
        source = inner.source();
    }
    message
}

/// Python truthiness of a JSON value.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `str()` of a JSON value, for keys that evaluated to non-strings.
fn py_str_of_json(value: &Value) -> String {
    environment()
        .render_str("{{ v }}", minijinja::context! { v => from_json(value) })
        .unwrap_or_else(|_| value.to_string())
}

fn not_serializable(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("the expression's value ({what}) cannot be stored as JSON"),
    )
}

/// A template value as JSON. An undefined value is an error (strict undefined).
pub(crate) fn to_json(value: &MjValue) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Undefined => Err(Error::new(
            ErrorKind::UndefinedError,
            "the expression's value is undefined (a missing variable, key or attribute)",
        )),
        ValueKind::None => Ok(Value::Null),
        ValueKind::Bool => Ok(Value::Bool(value.is_true())),
        ValueKind::Number => {
            if let Ok(i) = i64::try_from(value.clone()) {
                Ok(Value::from(i))
            } else if let Ok(u) = u64::try_from(value.clone()) {
                Ok(Value::from(u))
            } else {
                let f = f64::try_from(value.clone()).map_err(|_| not_serializable("number"))?;
                Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| not_serializable("a float out of range"))
            }
        }
        ValueKind::String => Ok(Value::String(value.as_str().unwrap_or_default().to_owned())),
        ValueKind::Seq | ValueKind::Iterable => value
            .try_iter()?
            .map(|item| to_json(&item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        ValueKind::Map => {
            let mut map = Map::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                let key = match key.as_str() {
                    Some(s) => s.to_owned(),
                    None => key.to_string(),
                };
                map.insert(key, to_json(&item)?);
            }
            Ok(Value::Object(map))
        }
        ValueKind::Bytes => Err(not_serializable("bytes")),
        _ => match nerve_rules::kv_text(value) {
            Some(text) => Ok(Value::String(text)),
            None => Err(not_serializable(&value.to_string())),
        },
    }
}

fn function_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// `ctx()`: the workflow context without private (`__`) keys; `ctx(name)`: one variable.
fn ctx_function(state: &State, name: Option<MjValue>) -> Result<MjValue, Error> {
    let frame = frame(state)?;
    let ctx = &frame.scope.ctx;
    match name {
        None => {
            let visible: Map<String, Value> = ctx
                .iter()
                .filter(|(k, _)| !k.starts_with("__"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Ok(from_json(&visible))
        }
        Some(name) if name.is_undefined() => Err(Error::new(
            ErrorKind::UndefinedError,
            "ctx() was given an undefined variable as the name",
        )),
        Some(name) => {
            let Some(key) = name.as_str() else {
                return Err(function_error(format!(
                    "ctx() takes a variable name, not {}",
                    name.kind()
                )));
            };
            match ctx.get(key) {
                Some(value) => Ok(from_json(value)),
                None => Err(Error::new(
                    ErrorKind::UndefinedError,
                    format!("the variable \"{key}\" is not defined in the workflow context"),
                )),
            }
        }
    }
}

fn current(frame: &Frame, function: &str) -> Result<Current, Error> {
    frame.scope.current.clone().ok_or_else(|| {
        function_error(format!(
            "{function}() is only available in the expressions of a task"
        ))
    })
}

/// `result()`: the current task's result (a list in item order for a `with` items task).
fn result_function(state: &State) -> Result<MjValue, Error> {
    let frame = frame(state)?;
    Ok(from_json(&current(&frame, "result")?.result))
}

/// `succeeded()`: whether the current task succeeded.
fn succeeded_function(state: &State) -> Result<bool, Error> {
    let frame = frame(state)?;
    Ok(current(&frame, "succeeded")?.state == TaskState::Succeeded)
}

/// `failed()`: whether the current task failed.
fn failed_function(state: &State) -> Result<bool, Error> {
    let frame = frame(state)?;
    Ok(current(&frame, "failed")?.state == TaskState::Failed)
}

/// `completed()`: whether the current task completed (succeeded or failed; a canceled task
/// follows no transitions).
fn completed_function(state: &State) -> Result<bool, Error> {
    let frame = frame(state)?;
    Ok(current(&frame, "completed")?.state != TaskState::Running)
}

/// `task_status(name)`: the latest status of a task, `"null"` if it never ran (orquesta's
/// `UNSET`).
fn task_status_function(state: &State, name: String) -> Result<String, Error> {
    let frame = frame(state)?;
    Ok(frame
        .scope
        .statuses
        .get(&name)
        .copied()
        .unwrap_or("null")
        .to_owned())
}

/// `item()`: the current item; `item(name)`: one named value of it (`x in ...` items).
fn item_function(state: &State, name: Option<MjValue>) -> Result<MjValue, Error> {
    let frame = frame(state)?;
    let name = match name {
        None => None,
        Some(name) if name.is_undefined() => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "item() was given an undefined variable as the name",
            ));
        }
        Some(name) => Some(
            name.as_str()
                .map_or_else(|| name.to_string(), str::to_owned),
        ),
    };
    let item =
        frame.scope.item.as_ref().ok_or_else(|| {
            function_error("item() is only available in a task with `with` items")
        })?;
    match name {
        None => Ok(from_json(item)),
        Some(name) => match item {
            Value::Object(map) => match map.get(name.as_str()) {
                Some(value) => Ok(from_json(value)),
                None => Err(function_error(format!(
                    "Item does not have key \"{name}\".",
                ))),
            },
            _ => Err(function_error("Item is not type of dict.")),
        },
    }
}

/// `json(text)`: parses JSON text.
fn json_function(text: String) -> Result<MjValue, Error> {
    serde_json::from_str::<Value>(&text)
        .map(|value| from_json(&value))
        .map_err(|e| function_error(format!("json(): invalid JSON: {e}")))
}

/// `zip(a, b, ...)`: lists of the n-th elements, as long as the shortest input.
fn zip_function(lists: Rest<MjValue>) -> Result<MjValue, Error> {
    let mut columns = Vec::with_capacity(lists.0.len());
    for list in &lists.0 {
        columns.push(list.try_iter()?.collect::<Vec<_>>());
    }
    let len = columns.iter().map(Vec::len).min().unwrap_or(0);
    let rows: Vec<MjValue> = (0..len)
        .map(|i| MjValue::from(columns.iter().map(|c| c[i].clone()).collect::<Vec<_>>()))
        .collect();
    Ok(MjValue::from(rows))
}

/// A JSON value (or object) as a template value.
pub(crate) fn from_json<T: serde::Serialize>(value: &T) -> MjValue {
    MjValue::from(minijinja::value::Serde(value))
}
