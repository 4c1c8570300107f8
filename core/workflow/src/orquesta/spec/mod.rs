//! Reading an orquesta definition (a parsed YAML document) into [`Workflow`], reporting every
//! structural problem with its place, and noting what validation needs: the `do` targets and
//! every expression string with its path.
//!
//! Semantic checks (unknown targets, reachability, variables, expressions) are in `validate`.

use indexmap::IndexMap;
use nerve_yaml::{PathSegment, YamlDocument};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::problem::{Problems, did_you_mean, join, with_suggestion};

/// The engine commands usable in `do`; reserved as task names.
pub(crate) const ENGINE_COMMANDS: &[&str] = &["continue", "fail", "noop", "retry"];

mod inline;
mod task;

pub(crate) use inline::{parse_inline, split_action, split_items};

const WORKFLOW_FIELDS: &[&str] = &["version", "description", "input", "vars", "tasks", "output"];

/// An orquesta workflow definition (`version: 1.0`).
///
/// It is part of a run's [`State`](crate::State), so a run keeps the definition it started
/// with even if the file changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub(crate) description: Option<String>,
    pub(crate) input: Vec<InputSpec>,
    pub(crate) vars: Vec<Named>,
    pub(crate) output: Vec<Named>,
    pub(crate) tasks: IndexMap<String, TaskSpec>,
}

/// One workflow input: required when it has no default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InputSpec {
    pub(crate) name: String,
    pub(crate) default: Option<Value>,
}

/// A `name: value` entry of `vars`, `output` or `publish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Named {
    pub(crate) name: String,
    pub(crate) value: Value,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct TaskSpec {
    /// The action reference (possibly an expression); `None` for a task without action.
    pub(crate) action: Option<String>,
    /// Parameters given inline in `action` (`core.echo message=hi`).
    pub(crate) inline_input: Map<String, Value>,
    /// `input`: a mapping, or an expression that evaluates to one.
    pub(crate) input: Option<Value>,
    pub(crate) next: Vec<TransitionSpec>,
    pub(crate) join: Option<Join>,
    pub(crate) with: Option<WithSpec>,
    pub(crate) retry: Option<RetrySpec>,
    pub(crate) delay: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TransitionSpec {
    pub(crate) when: Option<Value>,
    pub(crate) publish: Vec<Named>,
    /// Tasks and engine commands; `["continue"]` when `do` is absent.
    pub(crate) targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Join {
    All,
    Count(usize),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WithSpec {
    /// Names given to the item's values (`x, y in ...`); empty for plain items.
    pub(crate) vars: Vec<String>,
    /// The items: an expression, or a list.
    pub(crate) items: Value,
    pub(crate) concurrency: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RetrySpec {
    pub(crate) when: Option<Value>,
    pub(crate) count: Value,
    pub(crate) delay: Option<Value>,
}

/// A `do` target as written, for validation.
pub(crate) struct TargetRef {
    pub(crate) from: String,
    pub(crate) target: String,
    pub(crate) path: Vec<PathSegment>,
}

/// A string that may hold an expression, for validation.
pub(crate) struct Site {
    pub(crate) task: Option<String>,
    pub(crate) path: Vec<PathSegment>,
    pub(crate) text: String,
}

/// What validation needs besides the definition.
#[derive(Default)]
pub(crate) struct Collected {
    pub(crate) targets: Vec<TargetRef>,
    pub(crate) sites: Vec<Site>,
    /// Names defined by `publish`, anywhere.
    pub(crate) published: Vec<String>,
    /// Tasks whose `next` could be read (reachability is only checked when all could).
    pub(crate) graph_complete: bool,
}

fn key(name: &str) -> PathSegment {
    PathSegment::Key(name.to_owned())
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

struct Reader<'d, 'p> {
    problems: &'p mut Problems<'d>,
    collected: Collected,
}

/// Reads the definition, reporting structural problems; what could not be read is left out.
pub(crate) fn read(doc: &YamlDocument, problems: &mut Problems<'_>) -> (Workflow, Collected) {
    let mut reader = Reader {
        problems,
        collected: Collected {
            graph_complete: true,
            ..Collected::default()
        },
    };
    let workflow = reader.workflow(&doc.value);
    (workflow, reader.collected)
}

impl Reader<'_, '_> {
    fn problem(&mut self, path: &[PathSegment], message: String) {
        self.problems.at(path, message, None);
    }

    fn unknown_fields(&mut self, map: &Map<String, Value>, path: &[PathSegment], known: &[&str]) {
        for name in map.keys() {
            if !known.contains(&name.as_str()) {
                let suggestion = did_you_mean(name, known.iter().copied());
                let field_path = join(path, &[key(name)]);
                let message =
                    with_suggestion(format!("unknown field `{name}`"), suggestion.as_deref());
                self.problems.at_key(
                    &field_path,
                    message,
                    Some(format!("known fields: {}", known.join(", "))),
                );
            }
        }
    }

    /// Notes every string inside `value` as a possible expression.
    fn sites(&mut self, task: Option<&str>, path: &[PathSegment], value: &Value) {
        match value {
            Value::String(text) => self.collected.sites.push(Site {
                task: task.map(str::to_owned),
                path: path.to_vec(),
                text: text.clone(),
            }),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.sites(task, &join(path, &[PathSegment::Index(i)]), item);
                }
            }
            Value::Object(map) => {
                for (name, item) in map {
                    let item_path = join(path, &[key(name)]);
                    if name.contains("{{") || name.contains("<%") {
                        self.collected.sites.push(Site {
                            task: task.map(str::to_owned),
                            path: item_path.clone(),
                            text: name.clone(),
                        });
                    }
                    self.sites(task, &item_path, item);
                }
            }
            _ => {}
        }
    }

    fn workflow(&mut self, value: &Value) -> Workflow {
        let mut workflow = Workflow {
            description: None,
            input: Vec::new(),
            vars: Vec::new(),
            output: Vec::new(),
            tasks: IndexMap::new(),
        };
        let Value::Object(root) = value else {
            self.problem(
                &[],
                format!(
                    "an orquesta workflow is a mapping with `version` and `tasks`, not {}",
                    describe(value)
                ),
            );
            return workflow;
        };
        self.unknown_fields(root, &[], WORKFLOW_FIELDS);
        match root.get("version") {
            None => self.problems.at(
                &[],
                "missing `version`".to_owned(),
                Some("orquesta workflows start with `version: 1.0`".to_owned()),
            ),
            Some(Value::Number(n)) if n.as_f64() == Some(1.0) => {}
            Some(Value::String(s)) if s.trim() == "1.0" || s.trim() == "1" => {}
            Some(other) => self.problems.at(
                &[key("version")],
                format!("unsupported version {other}"),
                Some("Nerve runs orquesta workflows of `version: 1.0`".to_owned()),
            ),
        }
        match root.get("description") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => workflow.description = Some(s.clone()),
            Some(other) => self.problem(
                &[key("description")],
                format!("`description` is text, not {}", describe(other)),
            ),
        }
        if let Some(input) = root.get("input") {
            for (name, default) in self.named_list(&[key("input")], input, true, None) {
                workflow.input.push(InputSpec { name, default });
            }
        }
        if let Some(vars) = root.get("vars") {
            for (name, value) in self.named_list(&[key("vars")], vars, false, None) {
                workflow.vars.push(Named {
                    name,
                    value: value.unwrap_or(Value::Null),
                });
            }
        }
        if let Some(output) = root.get("output") {
            for (name, value) in self.named_list(&[key("output")], output, false, None) {
                workflow.output.push(Named {
                    name,
                    value: value.unwrap_or(Value::Null),
                });
            }
        }
        match root.get("tasks") {
            None => self.problems.at(
                &[],
                "missing `tasks`".to_owned(),
                Some("a workflow needs at least one task under `tasks`".to_owned()),
            ),
            Some(Value::Object(tasks)) if tasks.is_empty() => {
                self.problem(&[key("tasks")], "`tasks` is empty".to_owned());
            }
            Some(Value::Object(tasks)) => {
                for (name, task) in tasks {
                    let spec = self.task(name, task);
                    workflow.tasks.insert(name.clone(), spec);
                }
            }
            Some(other) => {
                self.collected.graph_complete = false;
                self.problem(
                    &[key("tasks")],
                    format!("`tasks` maps task names to tasks, not {}", describe(other)),
                );
            }
        }
        workflow
    }

    /// `input`, `vars` or `output`: a list of names or one-key mappings (a mapping is accepted
    /// too). With `names_allowed`, a bare name has no value (`None`); otherwise it is `null`.
    fn named_list(
        &mut self,
        path: &[PathSegment],
        value: &Value,
        names_allowed: bool,
        task: Option<&str>,
    ) -> Vec<(String, Option<Value>)> {
        let field = match path.last() {
            Some(PathSegment::Key(k)) => k.clone(),
            _ => String::new(),
        };
        let mut out: Vec<(String, Option<Value>)> = Vec::new();
        let mut push =
            |reader: &mut Self, entry_path: &[PathSegment], name: &str, value: Option<&Value>| {
                if out.iter().any(|(n, _)| n == name) {
                    reader.problem(
                        entry_path,
                        format!("`{name}` is defined twice in `{field}`"),
                    );
                    return;
                }
                if let Some(value) = value {
                    reader.sites(task, entry_path, value);
                }
                out.push((name.to_owned(), value.cloned()));
            };
        match value {
            Value::Null => {}
            Value::Array(entries) => {
                for (i, entry) in entries.iter().enumerate() {
                    let entry_path = join(path, &[PathSegment::Index(i)]);
                    match entry {
                        Value::String(name) if names_allowed || field == "vars" => {
                            push(self, &entry_path, name, None);
                        }
                        Value::Object(map) if map.len() == 1 => {
                            if let Some((name, value)) = map.iter().next() {
                                let value_path = join(&entry_path, &[key(name)]);
                                push(self, &value_path, name, Some(value));
                            }
                        }
                        other => self.problem(
                            &entry_path,
                            format!(
                                "each entry of `{field}` is {}, not {}",
                                if names_allowed {
                                    "a name or a one-key mapping `name: default`"
                                } else {
                                    "a one-key mapping `name: value`"
                                },
                                describe(other)
                            ),
                        ),
                    }
                }
            }
            Value::Object(map) => {
                for (name, value) in map {
                    let value_path = join(path, &[key(name)]);
                    push(self, &value_path, name, Some(value));
                }
            }
            other => self.problem(
                path,
                format!("`{field}` is a list, not {}", describe(other)),
            ),
        }
        out
    }
}
