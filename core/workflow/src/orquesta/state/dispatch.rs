//! Starting task instances: staged tasks, `with` items up to their concurrency, and the
//! rendering of a task's action and input.

use serde_json::{Map, Value};

use super::{
    ItemStatus, Items, Outcome, RecordStatus, RetryState, Staged, State, TaskRecord,
    expression_error,
};
use crate::command::{Command, ErrorEntry, RunTask, WorkflowStatus};
use crate::expr::{Current, Evaluator, Scope, TaskState};
use crate::orquesta::spec::TaskSpec;

impl State {
    /// Starts one staged task, or more items of a `with` items task; false if nothing could.
    pub(super) fn dispatch_one(&mut self, ev: &Evaluator<'_>, commands: &mut Vec<Command>) -> bool {
        let running = self.status == WorkflowStatus::Running;
        let failed = self.status == WorkflowStatus::Failed;
        let next = self.staged.iter().position(|s| {
            s.ready
                && !s.barrier.as_ref().is_some_and(|b| b.fired)
                && (running || (failed && s.run_on_fail))
        });
        if let Some(position) = next {
            let entry = match &mut self.staged[position].barrier {
                // A fired barrier stays staged to absorb late branches.
                Some(barrier) => {
                    barrier.fired = true;
                    self.staged[position].clone()
                }
                None => self.staged.remove(position),
            };
            self.start_instance(entry, ev, commands);
            return true;
        }
        if running {
            let hungry: Vec<usize> = self
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.status == RecordStatus::Running
                        && t.items.as_ref().is_some_and(|i| {
                            !i.stopped
                                && i.next < i.values.len()
                                && i.concurrency.is_none_or(|c| i.running < c)
                        })
                })
                .map(|(i, _)| i)
                .collect();
            if !hungry.is_empty() {
                for instance in hungry {
                    self.dispatch_items(instance, ev, commands);
                }
                return true;
            }
        }
        false
    }

    fn render_error(&mut self, instance: usize, message: String) {
        let name = self.tasks[instance].name.clone();
        self.tasks[instance].status = RecordStatus::Failed;
        self.log(ErrorEntry::new(message).task(&name));
        self.fail();
    }

    /// Creates (or, for a retry, re-arms) a task instance and dispatches it.
    pub(super) fn start_instance(
        &mut self,
        entry: Staged,
        ev: &Evaluator<'_>,
        commands: &mut Vec<Command>,
    ) {
        let spec = self.spec(&entry.task);
        let instance = match entry.retry_of {
            Some(instance) => {
                let record = &mut self.tasks[instance];
                record.attempt += 1;
                record.status = RecordStatus::Running;
                record.items = None;
                record.delay = Some(entry.retry_delay).filter(|d| *d > 0);
                instance
            }
            None => {
                self.tasks.push(TaskRecord {
                    name: entry.task.clone(),
                    command: false,
                    ctx_in: entry.ctxs.clone(),
                    status: RecordStatus::Running,
                    attempt: 1,
                    retry: None,
                    command_retries: 0,
                    items: None,
                    delay: None,
                    term: false,
                });
                self.tasks.len() - 1
            }
        };
        let current = Current {
            state: TaskState::Running,
            result: Value::Null,
        };
        let scope = self.scope(&entry.ctxs, Some(current));
        if entry.retry_of.is_none() {
            if let Err(message) = self.setup_instance(instance, &spec, &scope, ev) {
                self.render_error(instance, message);
                return;
            }
        }
        if let Some(with) = &spec.with {
            let items = match ev.evaluate(&with.items, &scope) {
                Ok(Value::Array(items)) => items,
                Ok(_) => {
                    self.render_error(
                        instance,
                        format!(
                            "TypeError: The value of \"{}\" is not type of list.",
                            with.items.as_str().unwrap_or_default()
                        ),
                    );
                    return;
                }
                Err(error) => {
                    self.render_error(instance, expression_error(&error));
                    return;
                }
            };
            let concurrency = match &with.concurrency {
                None => None,
                Some(value) => match ev.evaluate(value, &scope) {
                    Ok(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
                        n.as_u64().and_then(|n| usize::try_from(n).ok())
                    }
                    Ok(other) => {
                        self.render_error(
                            instance,
                            format!("TypeError: The value of concurrency {other} is not a positive integer."),
                        );
                        return;
                    }
                    Err(error) => {
                        self.render_error(instance, expression_error(&error));
                        return;
                    }
                },
            };
            let values: Vec<Value> = items
                .into_iter()
                .map(|item| name_item(&with.vars, item))
                .collect();
            let count = values.len();
            self.tasks[instance].items = Some(Items {
                values,
                concurrency,
                status: vec![ItemStatus::NotRun; count],
                results: vec![Value::Null; count],
                next: 0,
                running: 0,
                stopped: false,
            });
            if count == 0 {
                self.complete_instance(instance, Outcome::Succeeded, Value::Array(Vec::new()), ev);
            } else {
                self.dispatch_items(instance, ev, commands);
            }
            return;
        }
        if spec.action.is_none() {
            // A task without action succeeds at once (StackStorm fast-forwards it).
            self.complete_instance(instance, Outcome::Succeeded, Value::Null, ev);
            return;
        }
        match render_action(&spec, &scope, ev) {
            Ok((action, input)) => {
                let record = &self.tasks[instance];
                commands.push(Command::RunTask(RunTask {
                    instance,
                    task: record.name.clone(),
                    action,
                    input,
                    item_index: None,
                    attempt: record.attempt,
                    delay_secs: record.delay,
                }));
            }
            Err(message) => self.render_error(instance, message),
        }
    }

    /// Evaluates what is fixed for the life of an instance: `delay` and `retry`.
    fn setup_instance(
        &mut self,
        instance: usize,
        spec: &TaskSpec,
        scope: &Scope,
        ev: &Evaluator<'_>,
    ) -> Result<(), String> {
        let whole = |value: &Value, what: &str| -> Result<u64, String> {
            match ev.evaluate(value, scope) {
                Ok(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(0)),
                Ok(other) => Err(format!(
                    "TypeError: The value of {what} is not type of integer: {other}"
                )),
                Err(error) => Err(expression_error(&error)),
            }
        };
        let delay = match &spec.delay {
            Some(value) => Some(whole(value, "task delay")?).filter(|d| *d > 0),
            None => None,
        };
        let retry = match &spec.retry {
            Some(retry) => Some(RetryState {
                when: retry.when.clone(),
                count: whole(&retry.count, "retry count")?,
                delay: match &retry.delay {
                    Some(value) => whole(value, "retry delay")?,
                    None => 0,
                },
                tally: 0,
            }),
            None => None,
        };
        let record = &mut self.tasks[instance];
        record.delay = delay;
        record.retry = retry;
        Ok(())
    }

    /// Dispatches items of a `with` items task up to its concurrency.
    pub(super) fn dispatch_items(
        &mut self,
        instance: usize,
        ev: &Evaluator<'_>,
        commands: &mut Vec<Command>,
    ) {
        let spec = self.spec(&self.tasks[instance].name);
        let record = &self.tasks[instance];
        let current = Current {
            state: TaskState::Running,
            result: Value::Null,
        };
        let base = self.scope(&record.ctx_in, Some(current));
        loop {
            if self.status != WorkflowStatus::Running {
                return;
            }
            let record = &mut self.tasks[instance];
            let (attempt, delay, name) = (record.attempt, record.delay, record.name.clone());
            let Some(items) = record.items.as_mut() else {
                return;
            };
            if items.stopped
                || items.next >= items.values.len()
                || items.concurrency.is_some_and(|c| items.running >= c)
            {
                return;
            }
            let item = items.next;
            items.next += 1;
            items.running += 1;
            items.status[item] = ItemStatus::Running;
            let scope = Scope {
                item: Some(items.values[item].clone()),
                ..base.clone()
            };
            match render_action(&spec, &scope, ev) {
                Ok((action, input)) => commands.push(Command::RunTask(RunTask {
                    instance,
                    task: name,
                    action,
                    input,
                    item_index: Some(item),
                    attempt,
                    delay_secs: delay,
                })),
                Err(message) => {
                    if let Some(items) = self.tasks[instance].items.as_mut() {
                        items.running -= 1;
                        items.status[item] = ItemStatus::Failed;
                        items.stopped = true;
                    }
                    self.log(ErrorEntry::new(message).task(&name));
                    self.fail();
                    return;
                }
            }
        }
    }
}

/// Names an item's values: `x in ...` gives `{x: item}`; `x, y in ...` pairs the names with a
/// list item's values.
fn name_item(vars: &[String], item: Value) -> Value {
    match (vars.len(), item) {
        (0, item) => item,
        (_, Value::Array(values)) => Value::Object(
            vars.iter()
                .cloned()
                .zip(values)
                .collect::<Map<String, Value>>(),
        ),
        (1, item) => {
            let mut map = Map::new();
            map.insert(vars[0].clone(), item);
            Value::Object(map)
        }
        (_, item) => item,
    }
}

/// Renders a task's action reference and its input (inline parameters, then `input`).
fn render_action(
    spec: &TaskSpec,
    scope: &Scope,
    ev: &Evaluator<'_>,
) -> Result<(String, Map<String, Value>), String> {
    let reference = spec.action.clone().unwrap_or_default();
    let action = match ev.evaluate(&Value::String(reference), scope) {
        Ok(Value::String(action)) if !action.trim().is_empty() => action.trim().to_owned(),
        Ok(other) => {
            return Err(format!(
                "TypeError: The action reference {other} is not a string."
            ));
        }
        Err(error) => return Err(expression_error(&error)),
    };
    let mut input = match ev.evaluate(&Value::Object(spec.inline_input.clone()), scope) {
        Ok(Value::Object(map)) => map,
        Ok(_) => Map::new(),
        Err(error) => return Err(expression_error(&error)),
    };
    match &spec.input {
        None => {}
        Some(value) => match ev.evaluate(value, scope) {
            Ok(Value::Object(map)) => input.extend(map),
            Ok(Value::Null) => {}
            Ok(other) => {
                return Err(format!(
                    "TypeError: The task input {other} is not a mapping."
                ));
            }
            Err(error) => return Err(expression_error(&error)),
        },
    }
    Ok((action, input))
}
