//! The run of an orquesta workflow as a pure state machine: [`Workflow::start`] and
//! [`State::on_task_result`] (plus `pause`, `resume`, `cancel`) return the [`Command`]s the
//! engine carries out.
//!
//! The model is orquesta's: each task instance has an inbound context (a list of context
//! entries merged in order); a matching transition publishes into a new entry appended for
//! the tasks it names; a `join` task merges the contexts of its inbound branches; the
//! workflow's final context merges those of its terminal tasks, and `output` is rendered
//! from it.
//!
//! Fail-fast: a task failure that no matching transition handles (one naming anything but
//! `continue`), the `fail` command, or an expression error sets the status to `failed` at
//! once. From then on nothing new is dispatched (except the tasks named beside `fail` in the
//! same transition list, orquesta's "run on fail"); the engine gets one
//! [`Command::Finishing`] listing the executions still outstanding, then [`Command::Complete`]
//! when the last result is in. Results arriving meanwhile still publish, but start nothing.
//! Cancellation works the same way with `canceling` (and asks the engine to cancel the
//! outstanding executions). Pausing holds dispatching; results are still accepted.
//!
//! Engine commands in `do`: `continue` (the default; a failure still fails the workflow),
//! `noop` (a failure counts as handled), `fail`, and `retry` (the task runs again, up to 3
//! times and without delay; that completion's `publish` and other targets are skipped; once
//! exhausted it acts as `continue`).
//!
//! A task without `action` succeeds at once with a `null` result; a `with` items task over
//! no items succeeds with `[]`. Tasks without actions that loop forever are caught: after
//! 1,000 task starts within one call the workflow fails.
//!
//! Deliberate differences from orquesta, for determinism:
//! - a `with` items task dispatches no further items once one item failed or was canceled
//!   (orquesta keeps dispatching while other items are still running); it fails when the
//!   running ones are done;
//! - a `join: N` barrier fires once per round: an inbound branch arriving after it fired is
//!   absorbed unless that branch already arrived in the round (a loop), which starts a new
//!   round;
//! - a failure that a retry (`retry` or the `retry` command) will repeat is not logged; only
//!   final failures are;
//! - next tasks are dispatched in the order of `do`, not sorted by name;
//! - there are no routes: a task reached twice without `join` simply runs twice.

mod dispatch;
mod finish;
mod transitions;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nerve_rules::KvLookup;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::spec::{TaskSpec, Workflow};
use crate::command::{Command, ErrorEntry, ResultStatus, RunKey, StateError, WorkflowStatus};
use crate::expr::{Current, Evaluator, ExprError, Scope};

/// How many task instances one call may start before the run is taken to loop forever.
const MAX_STEPS_PER_CALL: usize = 1_000;

/// How many times the `retry` engine command repeats a task.
const COMMAND_RETRIES: u32 = 3;

/// A running (or finished) orquesta workflow. Serializable: the engine persists it between
/// steps, and a deserialized state continues exactly as the original would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    workflow: Workflow,
    status: WorkflowStatus,
    /// Context entries; entry 0 is the initial context (parent context, input, vars).
    contexts: Vec<Map<String, Value>>,
    /// Task instances, in the order they were created; the index is the instance id.
    tasks: Vec<TaskRecord>,
    /// Tasks waiting to be dispatched (barriers waiting for inbound branches, tasks staged
    /// while paused, retries).
    staged: Vec<Staged>,
    errors: Vec<ErrorEntry>,
    output: Value,
    /// The instance that completed last (a terminal task if the workflow ends with it).
    last_completed: Option<usize>,
    /// `Finishing` was emitted.
    announced: bool,
    /// `Complete` was emitted.
    finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RecordStatus {
    Running,
    Retrying,
    Succeeded,
    Failed,
    Canceled,
}

impl RecordStatus {
    fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Running => "running",
            RecordStatus::Retrying => "retrying",
            RecordStatus::Succeeded => "succeeded",
            RecordStatus::Failed => "failed",
            RecordStatus::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskRecord {
    name: String,
    /// An engine command (`continue`, `noop`, `fail`) rather than a task.
    command: bool,
    ctx_in: Vec<usize>,
    status: RecordStatus,
    attempt: u32,
    retry: Option<RetryState>,
    command_retries: u32,
    items: Option<Items>,
    /// Seconds each execution waits before it starts.
    delay: Option<u64>,
    /// A terminal task: its context is part of the workflow's final context.
    term: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RetryState {
    when: Option<Value>,
    count: u64,
    delay: u64,
    tally: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ItemStatus {
    NotRun,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Items {
    values: Vec<Value>,
    concurrency: Option<usize>,
    status: Vec<ItemStatus>,
    results: Vec<Value>,
    /// The first item not dispatched yet (items are dispatched in order).
    next: usize,
    running: usize,
    /// An item failed or was canceled: dispatch no more.
    stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Staged {
    task: String,
    ctxs: Vec<usize>,
    ready: bool,
    barrier: Option<Barrier>,
    /// Dispatched even though the workflow failed (named with `fail` in one completion).
    run_on_fail: bool,
    /// A retry of this instance.
    retry_of: Option<usize>,
    /// The delay of that retry, in seconds.
    retry_delay: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Barrier {
    arrivals: Vec<String>,
    fired: bool,
}

/// A task's outcome as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Failed,
    Canceled,
}

impl From<ResultStatus> for Outcome {
    fn from(status: ResultStatus) -> Self {
        match status {
            ResultStatus::Succeeded => Outcome::Succeeded,
            ResultStatus::Failed => Outcome::Failed,
            ResultStatus::Canceled => Outcome::Canceled,
        }
    }
}

fn expression_error(error: &ExprError) -> String {
    format!("JinjaEvaluationException: {error}")
}

impl Workflow {
    /// Starts a run with `input` (the action's parameters). Inputs not given take their
    /// defaults (expressions may use earlier inputs); `vars` are rendered next.
    ///
    /// An input declared without default must be present in `input` (a `null` value counts):
    /// otherwise the run fails at once with an error naming it.
    pub fn start(&self, input: Map<String, Value>, kv: &dyn KvLookup) -> (State, Vec<Command>) {
        self.start_with_context(input, Map::new(), kv)
    }

    /// Like [`Workflow::start`], with a parent context merged under the input: StackStorm
    /// gives every workflow `st2` (`action_execution_id`, `api_url`, `user`, `pack`) and a
    /// sub-workflow `parent`, readable as `ctx().st2` and `ctx().parent`.
    pub fn start_with_context(
        &self,
        input: Map<String, Value>,
        context: Map<String, Value>,
        kv: &dyn KvLookup,
    ) -> (State, Vec<Command>) {
        let ev = Evaluator::new(kv);
        let mut state = State {
            workflow: self.clone(),
            status: WorkflowStatus::Running,
            contexts: Vec::new(),
            tasks: Vec::new(),
            staged: Vec::new(),
            errors: Vec::new(),
            output: Value::Null,
            last_completed: None,
            announced: false,
            finished: false,
        };
        let mut commands = Vec::new();
        let mut ctx = context;
        let mut failed = false;
        for spec in &self.input {
            let value = match (input.get(&spec.name), &spec.default) {
                (Some(given), _) => given.clone(),
                (None, Some(default)) => {
                    let scope = Scope {
                        ctx: Arc::new(ctx.clone()),
                        ..Scope::default()
                    };
                    match ev.evaluate(default, &scope) {
                        Ok(value) => value,
                        Err(error) => {
                            state.log(ErrorEntry::new(expression_error(&error)));
                            failed = true;
                            continue;
                        }
                    }
                }
                (None, None) => {
                    state.log(ErrorEntry::new(format!(
                        "Input \"{}\" is required but was not given.",
                        spec.name
                    )));
                    failed = true;
                    continue;
                }
            };
            ctx.insert(spec.name.clone(), value);
        }
        if !failed {
            for var in &self.vars {
                let scope = Scope {
                    ctx: Arc::new(ctx.clone()),
                    ..Scope::default()
                };
                match ev.evaluate(&var.value, &scope) {
                    Ok(value) => {
                        ctx.insert(var.name.clone(), value);
                    }
                    Err(error) => {
                        state.log(ErrorEntry::new(expression_error(&error)));
                        failed = true;
                    }
                }
            }
        }
        if failed {
            state.status = WorkflowStatus::Failed;
            state.finish(&ev, &mut commands);
            return (state, commands);
        }
        state.contexts.push(ctx);
        for name in self.start_tasks() {
            state.staged.push(Staged {
                task: name.to_owned(),
                ctxs: vec![0],
                ready: true,
                barrier: None,
                run_on_fail: false,
                retry_of: None,
                retry_delay: 0,
            });
        }
        state.settle(&ev, &mut commands);
        (state, commands)
    }
}

impl State {
    /// The run's status.
    pub fn status(&self) -> WorkflowStatus {
        self.status
    }

    /// Whether the run is over: [`Command::Complete`] was emitted and nothing is outstanding.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The rendered workflow output (`null` until the run is over, or without `output`).
    pub fn output(&self) -> &Value {
        &self.output
    }

    /// Every error logged so far (task failures, including remediated ones, and expression
    /// errors).
    pub fn errors(&self) -> &[ErrorEntry] {
        &self.errors
    }

    /// The child executions the run is waiting for.
    pub fn outstanding(&self) -> Vec<RunKey> {
        let mut keys = Vec::new();
        for (instance, record) in self.tasks.iter().enumerate() {
            if record.status != RecordStatus::Running || record.command {
                continue;
            }
            match &record.items {
                Some(items) => keys.extend(
                    items
                        .status
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| **s == ItemStatus::Running)
                        .map(|(item, _)| RunKey {
                            instance,
                            item: Some(item),
                            attempt: record.attempt,
                        }),
                ),
                None => keys.push(RunKey {
                    instance,
                    item: None,
                    attempt: record.attempt,
                }),
            }
        }
        keys
    }

    /// The task name of an instance.
    pub fn task_name(&self, instance: usize) -> Option<&str> {
        self.tasks.get(instance).map(|t| t.name.as_str())
    }

    /// The latest status of task `name` (`running`, `retrying`, `succeeded`, `failed`,
    /// `canceled`), as `task_status(name)` reads it; `None` if it never ran.
    pub fn task_status(&self, name: &str) -> Option<&'static str> {
        self.tasks
            .iter()
            .rev()
            .find(|t| !t.command && t.name == name)
            .map(|t| t.status.as_str())
    }

    /// Feeds back the result of the execution `key` names.
    ///
    /// A result for an execution that is no longer awaited (a redelivery, or an attempt that
    /// a retry replaced) changes nothing and returns no commands.
    ///
    /// # Errors
    ///
    /// The key names no task instance of this run, or an item the task does not have.
    pub fn on_task_result(
        &mut self,
        key: RunKey,
        status: ResultStatus,
        result: Value,
        kv: &dyn KvLookup,
    ) -> Result<Vec<Command>, StateError> {
        let record = self.tasks.get(key.instance).filter(|r| !r.command).ok_or(
            StateError::UnknownInstance {
                instance: key.instance,
            },
        )?;
        if key.attempt != record.attempt || record.status != RecordStatus::Running {
            return Ok(Vec::new());
        }
        match (&record.items, key.item) {
            (None, None) => {}
            (Some(items), Some(item)) if item < items.values.len() => {
                if items.status[item] != ItemStatus::Running {
                    return Ok(Vec::new());
                }
            }
            _ => {
                return Err(StateError::UnknownItem {
                    task: record.name.clone(),
                    item: key.item,
                });
            }
        }
        let ev = Evaluator::new(kv);
        let mut commands = Vec::new();
        match key.item {
            None => self.complete_instance(key.instance, status.into(), result, &ev),
            Some(item) => self.complete_item(key.instance, item, status.into(), result, &ev),
        }
        self.settle(&ev, &mut commands);
        Ok(commands)
    }

    /// Requests a pause: running executions finish and their results are accepted, but
    /// nothing new is dispatched until [`State::resume`]. The status is `pausing` while
    /// executions are outstanding, then `paused`.
    ///
    /// # Errors
    ///
    /// The run is not running (pausing a paused run is fine).
    pub fn pause(&mut self) -> Result<(), StateError> {
        self.status = self.status.on_pause(!self.outstanding().is_empty())?;
        Ok(())
    }

    /// Resumes a paused (or pausing) run: dispatches what was staged meanwhile, or completes
    /// the run if nothing is left.
    ///
    /// # Errors
    ///
    /// The run is not paused or pausing (resuming a running run is fine).
    pub fn resume(&mut self, kv: &dyn KvLookup) -> Result<Vec<Command>, StateError> {
        match self.status {
            WorkflowStatus::Paused | WorkflowStatus::Pausing => {
                self.status = WorkflowStatus::Running;
                let ev = Evaluator::new(kv);
                let mut commands = Vec::new();
                self.settle(&ev, &mut commands);
                Ok(commands)
            }
            WorkflowStatus::Running => Ok(Vec::new()),
            status => Err(StateError::InvalidRequest {
                request: "resume",
                status,
            }),
        }
    }

    /// Requests cancellation: nothing new is dispatched, outstanding executions are to be
    /// canceled ([`Command::Finishing`] with `cancel: true`), and the run ends `canceled` when
    /// the last result is in.
    ///
    /// # Errors
    ///
    /// The run is already over or failed (canceling a canceling run is fine).
    pub fn cancel(&mut self, kv: &dyn KvLookup) -> Result<Vec<Command>, StateError> {
        match self.status {
            WorkflowStatus::Running | WorkflowStatus::Pausing | WorkflowStatus::Paused => {
                self.status = WorkflowStatus::Canceling;
                let ev = Evaluator::new(kv);
                let mut commands = Vec::new();
                self.settle(&ev, &mut commands);
                Ok(commands)
            }
            WorkflowStatus::Canceling => Ok(Vec::new()),
            status => Err(StateError::InvalidRequest {
                request: "cancel",
                status,
            }),
        }
    }

    fn log(&mut self, entry: ErrorEntry) {
        if !self.errors.contains(&entry) {
            self.errors.push(entry);
        }
    }

    /// Fail-fast: the workflow fails (a canceling workflow stays canceling).
    fn fail(&mut self) {
        if matches!(
            self.status,
            WorkflowStatus::Running | WorkflowStatus::Pausing | WorkflowStatus::Paused
        ) {
            self.status = WorkflowStatus::Failed;
        }
    }

    fn active(&self) -> bool {
        matches!(
            self.status,
            WorkflowStatus::Running | WorkflowStatus::Pausing | WorkflowStatus::Paused
        )
    }

    /// The merged context of a list of entries.
    fn merged(&self, ctxs: &[usize]) -> Map<String, Value> {
        let mut ctx = Map::new();
        for &idx in ctxs {
            if let Some(entry) = self.contexts.get(idx) {
                for (k, v) in entry {
                    ctx.insert(k.clone(), v.clone());
                }
            }
        }
        ctx
    }

    fn statuses(&self) -> BTreeMap<String, &'static str> {
        let mut latest: HashMap<&str, &'static str> = HashMap::new();
        for record in self.tasks.iter().filter(|t| !t.command) {
            latest.insert(record.name.as_str(), record.status.as_str());
        }
        latest
            .into_iter()
            .map(|(name, status)| (name.to_owned(), status))
            .collect()
    }

    fn scope(&self, ctxs: &[usize], current: Option<Current>) -> Scope {
        Scope {
            ctx: Arc::new(self.merged(ctxs)),
            current,
            statuses: Arc::new(self.statuses()),
            item: None,
        }
    }

    fn spec(&self, task: &str) -> TaskSpec {
        self.workflow.tasks.get(task).cloned().unwrap_or_default()
    }

    /// Dispatches everything that may run, then completes the run if nothing is left.
    fn settle(&mut self, ev: &Evaluator<'_>, commands: &mut Vec<Command>) {
        let mut budget = MAX_STEPS_PER_CALL;
        while self.dispatch_one(ev, commands) {
            budget -= 1;
            if budget == 0 {
                // Tasks without actions that loop back to each other would never yield.
                self.log(ErrorEntry::new(format!(
                    "WorkflowLoopError: more than {MAX_STEPS_PER_CALL} tasks started without \
                     waiting for any action; the workflow loops through tasks without actions."
                )));
                self.fail();
                break;
            }
        }
        self.check_completion(ev, commands);
        if !self.finished
            && !self.announced
            && matches!(
                self.status,
                WorkflowStatus::Failed | WorkflowStatus::Canceling
            )
        {
            self.announced = true;
            commands.push(Command::Finishing {
                status: self.status,
                cancel: self.status == WorkflowStatus::Canceling,
                outstanding: self.outstanding(),
            });
        }
    }
}
