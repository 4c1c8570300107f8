//! Reading one task: `action` (with inline parameters), `input`, `next` (`when`, `publish`,
//! `do`), `join`, `with`, `retry` and `delay`.

use nerve_yaml::PathSegment;
use serde_json::{Map, Value};

use super::{
    ENGINE_COMMANDS, Join, Named, Reader, RetrySpec, TargetRef, TaskSpec, TransitionSpec, WithSpec,
    describe, key, parse_inline, split_action, split_items,
};
use crate::expr::{has_markup, has_yaql};
use crate::problem::join;

const TASK_FIELDS: &[&str] = &["action", "input", "next", "join", "with", "retry", "delay"];
const TRANSITION_FIELDS: &[&str] = &["when", "publish", "do"];
const WITH_FIELDS: &[&str] = &["items", "concurrency"];
const RETRY_FIELDS: &[&str] = &["when", "count", "delay"];

impl Reader<'_, '_> {
    pub(super) fn task(&mut self, name: &str, value: &Value) -> TaskSpec {
        let path = vec![key("tasks"), key(name)];
        let mut spec = TaskSpec::default();
        if ENGINE_COMMANDS.contains(&name) {
            self.problems.at_key(
                &path,
                format!("`{name}` is an engine command and cannot name a task"),
                Some(format!("reserved names: {}", ENGINE_COMMANDS.join(", "))),
            );
        } else if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            self.problems.at_key(
                &path,
                format!("task name `{name}` may only contain letters, digits and `_`"),
                None,
            );
        }
        let map = match value {
            Value::Object(map) => map.clone(),
            // A task with nothing in it does nothing and succeeds.
            Value::Null => Map::new(),
            other => {
                self.problem(
                    &path,
                    format!("task `{name}` is a mapping, not {}", describe(other)),
                );
                return spec;
            }
        };
        self.unknown_fields(&map, &path, TASK_FIELDS);
        if let Some(action) = map.get("action") {
            let action_path = join(&path, &[key("action")]);
            match action {
                Value::String(text) => {
                    self.sites(Some(name), &action_path, action);
                    let (reference, rest) = split_action(text);
                    match parse_inline(rest) {
                        Ok(params) => {
                            spec.action = Some(reference.to_owned());
                            spec.inline_input = params.into_iter().collect();
                        }
                        Err(message) => self.problem(
                            &action_path,
                            format!("cannot read the inline parameters of `{text}`: {message}"),
                        ),
                    }
                }
                Value::Null => {}
                other => self.problem(
                    &action_path,
                    format!("`action` is an action reference, not {}", describe(other)),
                ),
            }
        }
        if let Some(input) = map.get("input") {
            let input_path = join(&path, &[key("input")]);
            match input {
                Value::Null => {}
                Value::Object(_) | Value::String(_) => {
                    self.sites(Some(name), &input_path, input);
                    spec.input = Some(input.clone());
                }
                other => self.problem(
                    &input_path,
                    format!(
                        "`input` is a mapping of parameters, not {}",
                        describe(other)
                    ),
                ),
            }
        }
        if let Some(next) = map.get("next") {
            spec.next = self.transitions(name, &join(&path, &[key("next")]), next);
        }
        if let Some(value) = map.get("join") {
            let join_path = join(&path, &[key("join")]);
            spec.join = match value {
                Value::String(s) if s == "all" => Some(Join::All),
                Value::Number(n) if n.as_u64().is_some_and(|n| n >= 1) => n
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(Join::Count),
                other => {
                    self.problem(
                        &join_path,
                        format!("`join` is `all` or a count of at least 1, not {other}"),
                    );
                    None
                }
            };
        }
        if let Some(value) = map.get("with") {
            spec.with = self.with_items(name, &join(&path, &[key("with")]), value);
        }
        if let Some(value) = map.get("retry") {
            spec.retry = self.retry(name, &join(&path, &[key("retry")]), value);
        }
        if let Some(value) = map.get("delay") {
            let delay_path = join(&path, &[key("delay")]);
            if self.count_or_expression(name, &delay_path, value, "delay", 0) {
                spec.delay = Some(value.clone());
            }
        }
        spec
    }

    /// A non-negative integer (at least `min`) or an expression string; reports otherwise.
    fn count_or_expression(
        &mut self,
        task: &str,
        path: &[PathSegment],
        value: &Value,
        field: &str,
        min: u64,
    ) -> bool {
        match value {
            Value::Number(n) if n.as_u64().is_some_and(|n| n >= min) => true,
            Value::String(_) => {
                self.sites(Some(task), path, value);
                true
            }
            other => {
                self.problem(
                    path,
                    format!("`{field}` is a whole number of at least {min} or an expression, not {other}"),
                );
                false
            }
        }
    }

    fn transitions(
        &mut self,
        task: &str,
        path: &[PathSegment],
        value: &Value,
    ) -> Vec<TransitionSpec> {
        let entries = match value {
            Value::Null => return Vec::new(),
            Value::Array(entries) => entries,
            other => {
                self.collected.graph_complete = false;
                self.problem(
                    path,
                    format!("`next` is a list of transitions, not {}", describe(other)),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let entry_path = join(path, &[PathSegment::Index(i)]);
            let map = match entry {
                Value::Object(map) => map,
                Value::Null => {
                    out.push(TransitionSpec {
                        when: None,
                        publish: Vec::new(),
                        targets: vec!["continue".to_owned()],
                    });
                    continue;
                }
                other => {
                    self.collected.graph_complete = false;
                    self.problem(
                        &entry_path,
                        format!(
                            "a transition is a mapping with `when`, `publish` and `do`, not {}",
                            describe(other)
                        ),
                    );
                    continue;
                }
            };
            self.unknown_fields(map, &entry_path, TRANSITION_FIELDS);
            let mut transition = TransitionSpec {
                when: None,
                publish: Vec::new(),
                targets: Vec::new(),
            };
            match map.get("when") {
                None | Some(Value::Null) => {}
                Some(when @ (Value::String(_) | Value::Bool(_))) => {
                    self.sites(Some(task), &join(&entry_path, &[key("when")]), when);
                    transition.when = Some(when.clone());
                }
                Some(other) => self.problem(
                    &join(&entry_path, &[key("when")]),
                    format!("`when` is an expression, not {}", describe(other)),
                ),
            }
            if let Some(publish) = map.get("publish") {
                transition.publish =
                    self.publish(task, &join(&entry_path, &[key("publish")]), publish);
            }
            let do_path = join(&entry_path, &[key("do")]);
            match map.get("do") {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) => {
                    for target in text.split(|c: char| c == ',' || c.is_whitespace()) {
                        if !target.is_empty() {
                            self.target(task, &do_path, target, &mut transition.targets);
                        }
                    }
                }
                Some(Value::Array(items)) => {
                    for (j, item) in items.iter().enumerate() {
                        let item_path = join(&do_path, &[PathSegment::Index(j)]);
                        match item {
                            Value::String(target) => {
                                self.target(
                                    task,
                                    &item_path,
                                    target.trim(),
                                    &mut transition.targets,
                                );
                            }
                            other => {
                                self.collected.graph_complete = false;
                                self.problem(
                                    &item_path,
                                    format!("a `do` entry is a task name, not {}", describe(other)),
                                );
                            }
                        }
                    }
                }
                Some(other) => {
                    self.collected.graph_complete = false;
                    self.problem(
                        &do_path,
                        format!(
                            "`do` is a task name or a list of them, not {}",
                            describe(other)
                        ),
                    );
                }
            }
            if transition.targets.is_empty() {
                transition.targets.push("continue".to_owned());
            }
            out.push(transition);
        }
        out
    }

    fn target(
        &mut self,
        from: &str,
        path: &[PathSegment],
        target: &str,
        targets: &mut Vec<String>,
    ) {
        if target.contains("{{") || target.contains("<%") {
            self.problem(
                path,
                format!("`do` names tasks; `{target}` is an expression"),
            );
            return;
        }
        self.collected.targets.push(TargetRef {
            from: from.to_owned(),
            target: target.to_owned(),
            path: path.to_vec(),
        });
        targets.push(target.to_owned());
    }

    fn publish(&mut self, task: &str, path: &[PathSegment], value: &Value) -> Vec<Named> {
        let mut out = Vec::new();
        match value {
            Value::Null => {}
            Value::String(text) => match parse_inline(text) {
                Ok(pairs) => {
                    for (name, value) in pairs {
                        self.sites(Some(task), path, &value);
                        self.collected.published.push(name.clone());
                        out.push(Named { name, value });
                    }
                }
                Err(message) => {
                    self.problem(path, format!("cannot read `publish: {text}`: {message}"))
                }
            },
            Value::Array(_) | Value::Object(_) => {
                for (name, value) in self.named_list(path, value, false, Some(task)) {
                    self.collected.published.push(name.clone());
                    out.push(Named {
                        name,
                        value: value.unwrap_or(Value::Null),
                    });
                }
            }
            other => self.problem(
                path,
                format!(
                    "`publish` is a list of `name: value` mappings, not {}",
                    describe(other)
                ),
            ),
        }
        out
    }

    fn with_items(&mut self, task: &str, path: &[PathSegment], value: &Value) -> Option<WithSpec> {
        let (items, items_path, concurrency) = match value {
            Value::String(_) | Value::Array(_) => (value.clone(), path.to_vec(), None),
            Value::Object(map) => {
                self.unknown_fields(map, path, WITH_FIELDS);
                let concurrency = match map.get("concurrency") {
                    None | Some(Value::Null) => None,
                    Some(c) => {
                        let c_path = join(path, &[key("concurrency")]);
                        self.count_or_expression(task, &c_path, c, "concurrency", 1)
                            .then(|| c.clone())
                    }
                };
                match map.get("items") {
                    Some(items) => (items.clone(), join(path, &[key("items")]), concurrency),
                    None => {
                        self.problem(path, "`with` needs `items`".to_owned());
                        return None;
                    }
                }
            }
            other => {
                self.problem(
                    path,
                    format!(
                        "`with` is an items expression or a mapping with `items`, not {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        match items {
            Value::String(text) => {
                let (vars, expression) = split_items(&text);
                if !has_markup(expression) && !has_yaql(expression) {
                    self.problems.at(
                        &items_path,
                        format!("`{text}` has no items expression"),
                        Some("write `items: x in {{ ctx().list }}`, or give a list".to_owned()),
                    );
                    return None;
                }
                self.sites(
                    Some(task),
                    &items_path,
                    &Value::String(expression.to_owned()),
                );
                Some(WithSpec {
                    vars,
                    items: Value::String(expression.to_owned()),
                    concurrency,
                })
            }
            Value::Array(_) => {
                self.sites(Some(task), &items_path, &items);
                Some(WithSpec {
                    vars: Vec::new(),
                    items,
                    concurrency,
                })
            }
            other => {
                self.problem(
                    &items_path,
                    format!(
                        "`items` is an expression or a list, not {}",
                        describe(&other)
                    ),
                );
                None
            }
        }
    }

    fn retry(&mut self, task: &str, path: &[PathSegment], value: &Value) -> Option<RetrySpec> {
        let Value::Object(map) = value else {
            self.problem(
                path,
                format!(
                    "`retry` is a mapping with `count`, `when` and `delay`, not {}",
                    describe(value)
                ),
            );
            return None;
        };
        self.unknown_fields(map, path, RETRY_FIELDS);
        let when = match map.get("when") {
            None | Some(Value::Null) => None,
            Some(when @ (Value::String(_) | Value::Bool(_))) => {
                self.sites(Some(task), &join(path, &[key("when")]), when);
                Some(when.clone())
            }
            Some(other) => {
                self.problem(
                    &join(path, &[key("when")]),
                    format!("`when` is an expression, not {}", describe(other)),
                );
                None
            }
        };
        let delay = match map.get("delay") {
            None | Some(Value::Null) => None,
            Some(d) => self
                .count_or_expression(task, &join(path, &[key("delay")]), d, "delay", 0)
                .then(|| d.clone()),
        };
        let Some(count) = map.get("count") else {
            self.problem(path, "`retry` needs `count`".to_owned());
            return None;
        };
        self.count_or_expression(task, &join(path, &[key("count")]), count, "count", 0)
            .then(|| RetrySpec {
                when,
                count: count.clone(),
                delay,
            })
    }
}
