//! Jinja rendering as StackStorm does it (`st2common/util/jinja.py`, `util/templating.py`):
//! strict undefined variables, `trim_blocks` and `lstrip_blocks`, StackStorm's custom filters,
//! Python's `str()` for printed values, Python string/dict methods (`.lower()`, `.get()`).
//!
//! Context variables: `trigger` (the payload), `st2kv` and its alias `kv` (datastore,
//! `.system.<key>` / `.user.<key>`), `config_context` (pack config), `action_context`.
//! Criteria patterns see only the payload (`trigger`, or `item` inside `search`) and the
//! datastore, as in StackStorm.
//!
//! Rendering does no IO: datastore reads go through the caller's [`KvLookup`] snapshot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value as MjValue;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{Map, Value};

mod convert;
mod filters;
mod kv;

#[cfg(test)]
mod tests;

pub use filters::decrypt_kv;
pub use kv::{KvLookup, KvScope, KvSession, KvValue, NoKv, kv_root, kv_scope, kv_text};

/// How many times a template is re-rendered to answer datastore keys it discovered.
const MAX_KV_PASSES: usize = 16;

static NULL: Value = Value::Null;

/// Everything a template or criterion can see besides the rule itself.
#[derive(Clone, Copy)]
pub struct RenderContext<'a> {
    /// The event payload: `trigger` in templates and criteria keys.
    pub payload: &'a Value,
    /// Datastore snapshot for `st2kv.system.*` / `st2kv.user.*`.
    pub kv: &'a dyn KvLookup,
    /// The pack config, `config_context` in templates.
    pub config: &'a Value,
    /// `action_context` in templates.
    pub action_context: &'a Value,
    /// The current time, for `timediff_lt`/`timediff_gt`. Nothing reads the clock.
    pub now: DateTime<Utc>,
}

impl std::fmt::Debug for RenderContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderContext")
            .field("payload", self.payload)
            .field("config", self.config)
            .field("action_context", self.action_context)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl<'a> RenderContext<'a> {
    /// A context with an empty pack config and action context.
    pub fn new(payload: &'a Value, kv: &'a dyn KvLookup, now: DateTime<Utc>) -> Self {
        RenderContext {
            payload,
            kv,
            config: &NULL,
            action_context: &NULL,
            now,
        }
    }

    /// Sets `config_context`.
    #[must_use]
    pub fn with_config(mut self, config: &'a Value) -> Self {
        self.config = config;
        self
    }

    /// Sets `action_context`.
    #[must_use]
    pub fn with_action_context(mut self, action_context: &'a Value) -> Self {
        self.action_context = action_context;
        self
    }
}

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to render {}`{template}`: {message}", location(.path))]
pub struct RenderError {
    /// Where the template sits, e.g. `["cmd"]` or `["env", "0"]` for action parameters;
    /// empty for a standalone template.
    pub path: Vec<String>,
    /// The template source.
    pub template: String,
    /// What went wrong, e.g. `undefined value: 'dict object' has no attribute 'x'`.
    pub message: String,
}

fn location(path: &[String]) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("parameter `{}` ", path.join("."))
    }
}

impl RenderError {
    pub(crate) fn new(path: Vec<String>, template: &str, error: &minijinja::Error) -> Self {
        RenderError {
            path,
            template: template.to_owned(),
            message: describe(error),
        }
    }
}

/// A template error as one line: its kind and detail, without internal template names.
pub(crate) fn describe(error: &minijinja::Error) -> String {
    let mut message = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    if let Some(line) = error.line() {
        let _ = write!(message, " (line {line})");
    }
    message
}

/// Renders `template` with the given top-level variables (StackStorm's parameter defaults that
/// refer to other parameters, `{{ message }}`), with the same environment and filters.
///
/// # Errors
/// A syntax error or an undefined variable.
pub fn render_with_variables(
    template: &str,
    variables: &Map<String, Value>,
) -> Result<String, RenderError> {
    let context: std::collections::BTreeMap<&str, MjValue> = variables
        .iter()
        .map(|(k, v)| (k.as_str(), convert::from_json(v)))
        .collect();
    environment()
        .render_str(template, context)
        .map_err(|error| RenderError {
            path: Vec::new(),
            template: template.to_owned(),
            message: error.to_string(),
        })
}

/// The Jinja environment with StackStorm's settings and every custom filter, built once.
pub fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(build_environment)
}

fn build_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(convert::format_value);
    env.set_unknown_method_callback(|state, value, method, args| {
        // Datastore references behave like the strings they stand for.
        match convert::text_of(value).filter(|_| value.as_str().is_none()) {
            Some(text) => minijinja_contrib::pycompat::unknown_method_callback(
                state,
                &MjValue::from(text),
                method,
                args,
            ),
            None => {
                minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
            }
        }
    });
    filters::register(&mut env);
    env
}

/// Which variables a template sees.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Action parameters and standalone templates: `trigger`, `config_context`,
    /// `action_context`, `st2kv`, `kv`.
    Action,
    /// Criteria patterns: `<prefix>` (`trigger`, or `item` inside `search`), `st2kv`, `kv`.
    Criteria { prefix: &'a str, payload: &'a Value },
}

/// Template variables converted once, reused across render passes.
pub(crate) struct Variables {
    values: Vec<(String, MjValue)>,
}

impl Variables {
    pub(crate) fn new(ctx: &RenderContext<'_>, scope: Scope<'_>) -> Self {
        let values = match scope {
            Scope::Action => vec![
                ("trigger".to_owned(), convert::from_json(ctx.payload)),
                ("config_context".to_owned(), convert::from_json(ctx.config)),
                (
                    "action_context".to_owned(),
                    convert::from_json(ctx.action_context),
                ),
            ],
            Scope::Criteria { prefix, payload } => {
                vec![(prefix.to_owned(), convert::from_json(payload))]
            }
        };
        Variables { values }
    }

    /// The template context for one pass of a session.
    pub(crate) fn context(&self, session: &Arc<KvSession>) -> MjValue {
        let mut map: BTreeMap<String, MjValue> = self.values.iter().cloned().collect();
        let kv = kv::KvRoot::value(session);
        map.insert("st2kv".to_owned(), kv.clone());
        map.insert("kv".to_owned(), kv);
        MjValue::from_object(map)
    }
}

/// Runs `pass` until it no longer asks for datastore keys it has not seen (at most
/// [`MAX_KV_PASSES`] times) and returns its last result.
pub(crate) fn with_kv_passes<T>(
    ctx: &RenderContext<'_>,
    mut pass: impl FnMut(&Arc<KvSession>) -> T,
) -> T {
    let session = Arc::new(KvSession::default());
    let mut result = pass(&session);
    for _ in 1..MAX_KV_PASSES {
        if !session.resolve_misses(ctx.kv) {
            break;
        }
        result = pass(&session);
    }
    result
}

/// Templates parsed once and rendered many times: a rule's patterns and parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateSet {
    env: Option<Environment<'static>>,
    count: usize,
}

/// A template in a [`TemplateSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateId(String);

impl TemplateSet {
    /// Parses `source`; the error is a syntax error.
    pub(crate) fn add(&mut self, source: &str) -> Result<TemplateId, minijinja::Error> {
        let env = self.env.get_or_insert_with(|| environment().clone());
        let name = format!("t{}", self.count);
        env.add_template_owned(name.clone(), source.to_owned())?;
        self.count += 1;
        Ok(TemplateId(name))
    }

    /// Renders a template added to this set.
    pub(crate) fn render(
        &self,
        id: &TemplateId,
        context: &MjValue,
    ) -> Result<String, minijinja::Error> {
        let env = self.env.as_ref().ok_or_else(|| {
            minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, "no templates")
        })?;
        env.get_template(&id.0)?.render(context)
    }
}

/// Renders a template that references no variables (text without markup).
pub(crate) fn render_static(source: &str) -> Result<String, String> {
    environment()
        .render_str(source, ())
        .map_err(|e| describe(&e))
}

/// True if the text contains Jinja markup (`{{`, `{%` or `{#`); anything else renders to
/// itself apart from a trailing newline.
pub(crate) fn has_markup(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Renders one template with `trigger`, `st2kv`/`kv`, `config_context` and `action_context`.
///
/// # Errors
/// A syntax error, an undefined variable, or a failing filter.
pub fn render_template(template: &str, ctx: &RenderContext<'_>) -> Result<String, RenderError> {
    let compiled = environment()
        .template_from_str(template)
        .map_err(|e| RenderError::new(Vec::new(), template, &e))?;
    let variables = Variables::new(ctx, Scope::Action);
    with_kv_passes(ctx, |session| compiled.render(variables.context(session)))
        .map_err(|e| RenderError::new(Vec::new(), template, &e))
}

/// Renders every string inside `value` (recursively through arrays and objects); each string
/// stays the string it renders to, other values pass through unchanged.
///
/// # Errors
/// The first template that fails, with its path inside `value`.
pub fn render_value(value: &Value, ctx: &RenderContext<'_>) -> Result<Value, RenderError> {
    let variables = Variables::new(ctx, Scope::Action);
    with_kv_passes(ctx, |session| {
        let context = variables.context(session);
        let mut path = Vec::new();
        render_tree(value, &context, &mut path)
    })
}

fn render_tree(
    value: &Value,
    context: &MjValue,
    path: &mut Vec<String>,
) -> Result<Value, RenderError> {
    match value {
        Value::String(source) => environment()
            .render_str(source, context)
            .map(Value::String)
            .map_err(|e| RenderError::new(path.clone(), source, &e)),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(render_tree(item, context, path)?);
                path.pop();
            }
            Ok(Value::Array(out))
        }
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                path.push(key.clone());
                out.insert(key.clone(), render_tree(item, context, path)?);
                path.pop();
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}
