//! The workflow driver: runs `orquesta` and `action-chain` executions on the server with
//! `nerve-workflow`'s state machines, each task as a child execution.
//!
//! A workflow execution is consumed from its runner's queue like any other (never by remote
//! worker nodes: the driver needs the store), moved `scheduled → running`, and its definition
//! (the action's entry point) is started. Every step of a run goes through [`advance`], under
//! the run's lock: load the persisted [`Run`], feed the state machine (start, a child's
//! result, a cancel), turn the commands into a plan (children to create, children to cancel,
//! the final status), persist the run and flush, and only then carry the plan out. A child is
//! created with an id chosen and recorded before it exists, so after a crash recovery creates
//! exactly the children recorded but missing, and feeds the results of those that finished
//! while the process was down; a [`RunKey`] never gets a second child.
//!
//! Pause and resume go through [`advance`] as well: a pause with tasks running makes the
//! workflow `pausing` (no new task starts; the running ones finish), then `paused`; resume
//! dispatches what was staged meanwhile. The execution's status follows the run's.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use nerve_model::{Execution, ExecutionContext, ExecutionStatus};
use nerve_store::StoreError;
use nerve_workflow::{
    Chain, ChainState, Command, KvLookup, ResultStatus, RunKey, RunTask, State, StateError,
    Workflow, WorkflowStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::kv::StoreKv;
use crate::scheduler::{self, NewExecution};
use crate::{Engine, EngineError};

/// Runners whose executions this driver runs.
pub(crate) const WORKFLOW_RUNNERS: &[&str] = &["orquesta", "action-chain"];

/// Workflow executions started or advanced at once.
const CONCURRENCY: usize = 64;

/// Whether `runner` is driven here rather than by a worker.
pub(crate) fn is_workflow_runner(runner: &str) -> bool {
    WORKFLOW_RUNNERS.contains(&runner)
}

/// The state machine of a run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "snake_case")]
enum Machine {
    Orquesta(Box<State>),
    Chain(Box<ChainState>),
}

impl Machine {
    fn on_result(
        &mut self,
        key: RunKey,
        status: ResultStatus,
        result: Value,
        kv: &dyn KvLookup,
    ) -> Result<Vec<Command>, StateError> {
        match self {
            Machine::Orquesta(state) => state.on_task_result(key, status, result, kv),
            Machine::Chain(state) => state.on_result(key, status, result, kv),
        }
    }

    fn cancel(&mut self, kv: &dyn KvLookup) -> Result<Vec<Command>, StateError> {
        match self {
            Machine::Orquesta(state) => state.cancel(kv),
            Machine::Chain(state) => state.cancel(),
        }
    }

    /// The `Complete` command of a finished run (recovery after a crash between persisting
    /// the finished state and recording the final status).
    fn completion(&self) -> Option<Command> {
        match self {
            Machine::Orquesta(state) if state.is_finished() => Some(Command::Complete {
                status: state.status(),
                output: state.output().clone(),
                errors: state.errors().to_vec(),
            }),
            Machine::Chain(state) if state.is_finished() => Some(Command::Complete {
                status: state.status(),
                output: state.result(),
                errors: Vec::new(),
            }),
            _ => None,
        }
    }

    fn pause(&mut self) -> Result<(), StateError> {
        match self {
            Machine::Orquesta(state) => state.pause(),
            Machine::Chain(state) => state.pause(),
        }
    }

    fn resume(&mut self, kv: &dyn KvLookup) -> Result<Vec<Command>, StateError> {
        match self {
            Machine::Orquesta(state) => state.resume(kv),
            Machine::Chain(state) => state.resume(kv),
        }
    }

    fn status(&self) -> WorkflowStatus {
        match self {
            Machine::Orquesta(state) => state.status(),
            Machine::Chain(state) => state.status(),
        }
    }

    fn is_chain(&self) -> bool {
        matches!(self, Machine::Chain(_))
    }
}

/// A run as persisted: the state machine and the child execution of every [`RunKey`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Run {
    machine: Machine,
    children: Vec<Child>,
}

/// A child execution: recorded (with its id and parameters) before it is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Child {
    key: RunKey,
    id: String,
    task: String,
    action: String,
    parameters: Map<String, Value>,
    #[serde(default)]
    delay_secs: u64,
    /// When a delayed child is due (RFC 3339), recorded with it so a restart waits only
    /// for what is left of the delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_before: Option<String>,
    /// Its result was fed to the state machine.
    #[serde(default)]
    done: bool,
}

/// What moves a run.
enum Step {
    /// Start the run (or, for a run already persisted, resume it: see `Step::Recover`).
    Start,
    /// Resume after a restart: create recorded children that do not exist, feed the results
    /// of finished ones.
    Recover,
    /// Child executions finished: their results wait in the run's inbox, so that one step
    /// (one save, one flush) takes all that arrived while the previous step ran.
    ChildrenFinished,
    /// A cancel was requested.
    Cancel,
    /// A pause was requested.
    Pause,
    /// A resume was requested.
    Resume,
    /// A child started or stopped waiting for people (an inquiry became `pending`, a
    /// sub-workflow `paused` or running again): only the execution's status is looked at again.
    Refresh,
}

/// What a step leaves to do once the run is persisted.
#[derive(Default)]
struct Plan {
    create: Vec<Child>,
    cancel: Vec<String>,
    complete: Option<(WorkflowStatus, Value)>,
}

/// Starts the consumers of the workflow runners' queues.
pub(crate) async fn spawn(engine: &Engine) -> Result<(), EngineError> {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    for runner in WORKFLOW_RUNNERS {
        crate::consumer::spawn_server_runner(
            engine,
            runner,
            slots.clone(),
            "workflow request",
            |engine, id| async move { start(&engine, &id).await },
        )
        .await?;
    }
    Ok(())
}

/// Moves a scheduled workflow execution to `running` (flushed) and starts its run. A
/// redelivered request for a running one resumes it (nothing is created twice).
async fn start(engine: &Engine, execution_id: &str) -> Result<(), EngineError> {
    let store = engine.store();
    let Some(execution) = store.get_execution(execution_id)? else {
        tracing::warn!(
            execution_id,
            "Workflow request for an unknown execution; dropped."
        );
        return Ok(());
    };
    match execution.status {
        ExecutionStatus::Scheduled => {}
        ExecutionStatus::Running
        | ExecutionStatus::Canceling
        | ExecutionStatus::Pausing
        | ExecutionStatus::Paused => {
            return advance(engine, &execution, Step::Recover).await;
        }
        _ => return Ok(()),
    }
    let record = match store
        .transition(execution_id, ExecutionStatus::Running, None, None)
        .await
    {
        Ok(record) => record,
        Err(StoreError::IllegalTransition { .. }) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    advance(engine, &record.execution, Step::Start).await
}

/// Resumes a running workflow after a restart (see [`Step::Recover`]).
pub(crate) async fn recover(engine: &Engine, execution: &Execution) -> Result<(), EngineError> {
    advance(engine, execution, Step::Recover).await
}

/// Execution `id` if it is a workflow that has not finished: the parent a child's news is for.
fn unfinished_workflow(engine: &Engine, id: &str) -> Result<Option<Execution>, EngineError> {
    Ok(engine
        .store()
        .get_execution(id)?
        .filter(|parent| is_workflow_runner(&parent.runner) && !parent.status.is_final()))
}

/// Feeds a finished child's result to its parent workflow, if the parent is one.
pub(crate) async fn on_child_final(engine: &Engine, child: &Execution) {
    let Some(parent_id) = child.context.parent.as_deref() else {
        return;
    };
    let fed = async {
        let Some(parent) = unfinished_workflow(engine, parent_id)? else {
            return Ok(());
        };
        // The full result (the record after a transition holds only a preview of a large one).
        let child = engine
            .store()
            .get_execution(&child.id)?
            .unwrap_or_else(|| child.clone());
        deliver(engine, &parent, child.clone()).await
    };
    if let Err(error) = fed.await {
        tracing::error!(%error, workflow = parent_id, child = %child.id, "Feeding a task result to its workflow failed.");
    }
}

/// Cancels a running workflow: its running children are canceled, and it ends `canceled` once
/// their results are in. The execution is already `canceling`.
/// Boxed as a `Send` future: canceling the children goes through the scheduler's cancel again.
pub(crate) fn cancel<'a>(
    engine: &'a Engine,
    execution: &'a Execution,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        if let Err(error) = advance(engine, execution, Step::Cancel).await {
            tracing::error!(%error, workflow = %execution.id, "Canceling a workflow failed.");
        }
    })
}

/// One step of a run; see the module docs.
async fn advance(engine: &Engine, workflow: &Execution, step: Step) -> Result<(), EngineError> {
    let slot = run_slot(engine, &workflow.id);
    let mut guard = slot.run.lock().await;
    let store = engine.store();
    let Some(workflow) = store.get_execution(&workflow.id)? else {
        return Ok(());
    };
    if workflow.status.is_final() {
        forget(engine, &workflow.id)?;
        return Ok(());
    }
    let kv = StoreKv(store.kv().view());
    let mut plan = Plan::default();
    // The cached run is what was last persisted; taken out, it is put back only once the
    // step's result is persisted too (a failed step leaves the store's version to reload).
    let cached = guard.take();
    let stored = match cached.map_or_else(|| load(engine, &workflow.id), |run| Ok(Ok(Some(run))))? {
        Ok(stored) => stored,
        Err(reason) => {
            drop(guard);
            return fail_run(engine, &workflow.id, reason).await;
        }
    };
    let (mut run, commands) = match (stored, step) {
        (None, Step::Start | Step::Recover) => match begin(engine, &workflow, &kv) {
            Ok((machine, commands)) => (
                Run {
                    machine,
                    children: Vec::new(),
                },
                commands,
            ),
            Err(reason) => {
                drop(guard);
                return fail_run(engine, &workflow.id, reason).await;
            }
        },
        (None, Step::Cancel) => {
            drop(guard);
            return finish(
                engine,
                &workflow.id,
                ExecutionStatus::Canceled,
                Some("the workflow was canceled before it started".to_owned()),
                Value::Null,
            )
            .await;
        }
        (None, Step::ChildrenFinished | Step::Pause | Step::Resume | Step::Refresh) => {
            return Ok(());
        }
        (Some(run), Step::Start) => (run, Vec::new()),
        (Some(mut run), Step::Recover) => {
            let mut commands: Vec<Command> = run.machine.completion().into_iter().collect();
            let waiting: Vec<usize> = (0..run.children.len())
                .filter(|i| !run.children[*i].done)
                .collect();
            for index in waiting {
                let child = &run.children[index];
                match store.get_execution(&child.id)? {
                    None => plan.create.push(child.clone()),
                    Some(execution) if execution.status.is_final() => {
                        commands.extend(feed(&mut run, &execution, &kv));
                    }
                    Some(_) => {}
                }
            }
            (run, commands)
        }
        (Some(mut run), Step::ChildrenFinished) => {
            let finished = std::mem::take(
                &mut *slot
                    .inbox
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if finished.is_empty() {
                // An earlier step took them.
                *guard = Some(run);
                return Ok(());
            }
            let mut commands = Vec::new();
            for child in &finished {
                commands.extend(feed(&mut run, child, &kv));
            }
            (run, commands)
        }
        (Some(mut run), Step::Cancel) => match run.machine.cancel(&kv) {
            Ok(commands) => (run, commands),
            Err(error) => {
                tracing::info!(%error, workflow = %workflow.id, "Cancel of the workflow run not applied.");
                (run, Vec::new())
            }
        },
        (Some(mut run), Step::Pause) => {
            if let Err(error) = run.machine.pause() {
                tracing::info!(%error, workflow = %workflow.id, "Pause of the workflow run not applied.");
            }
            (run, Vec::new())
        }
        (Some(run), Step::Refresh) => (run, Vec::new()),
        (Some(mut run), Step::Resume) => match run.machine.resume(&kv) {
            Ok(commands) => (run, commands),
            Err(error) => {
                tracing::info!(%error, workflow = %workflow.id, "Resume of the workflow run not applied.");
                (run, Vec::new())
            }
        },
    };
    let content = engine.content();
    let mut queue: VecDeque<Command> = commands.into();
    while let Some(command) = queue.pop_front() {
        match command {
            Command::RunTask(task) => {
                let key = task.key();
                if run.children.iter().any(|c| c.key == key) {
                    continue;
                }
                match task_parameters(&content, &task, run.machine.is_chain()) {
                    Ok(parameters) => {
                        let child = Child {
                            key,
                            id: nerve_store::new_id(),
                            task: task.task.clone(),
                            action: task.action.clone(),
                            parameters,
                            delay_secs: task.delay_secs.unwrap_or(0),
                            not_before: task.delay_secs.filter(|secs| *secs > 0).map(|secs| {
                                nerve_store::timestamp(
                                    chrono::Utc::now()
                                        + chrono::Duration::seconds(
                                            i64::try_from(secs).unwrap_or(i64::MAX / 1000),
                                        ),
                                )
                            }),
                            done: false,
                        };
                        run.children.push(child.clone());
                        plan.create.push(child);
                    }
                    Err(reason) => {
                        tracing::info!(workflow = %workflow.id, task = %task.task, %reason, "Task input refused; the task fails.");
                        let result = json!({"error": reason});
                        match run
                            .machine
                            .on_result(key, ResultStatus::Failed, result, &kv)
                        {
                            Ok(more) => queue.extend(more),
                            Err(error) => {
                                tracing::error!(%error, workflow = %workflow.id, "Task failure not accepted by the run.");
                            }
                        }
                    }
                }
            }
            Command::Finishing {
                cancel,
                outstanding,
                ..
            } => {
                if cancel {
                    for key in outstanding {
                        if let Some(child) = run.children.iter().find(|c| c.key == key) {
                            plan.cancel.push(child.id.clone());
                        }
                    }
                }
            }
            Command::Complete {
                status,
                output,
                errors,
            } => {
                let result = if run.machine.is_chain() {
                    output
                } else if status == WorkflowStatus::Succeeded {
                    json!({"output": output})
                } else {
                    json!({"output": output, "errors": errors})
                };
                plan.complete = Some((status, result));
            }
        }
    }
    save(engine, &workflow.id, &run)?;
    let mut waiting_changed = false;
    if plan.complete.is_none() {
        let waiting = waiting_for_people(engine, &run)?;
        waiting_changed = follow_pause(engine, &workflow, run.machine.status(), waiting).await?;
    }
    store.flush().await?;
    *guard = Some(run);
    drop(guard);
    if waiting_changed {
        // A parent workflow waiting only on this one waits (or goes on) with it.
        on_child_waiting(engine, &workflow).await;
    }

    create_children(engine, &workflow, plan.create).await?;
    for child_id in plan.cancel {
        match scheduler::cancel(engine, &child_id).await {
            Ok(_) | Err(EngineError::Conflict(_) | EngineError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    if let Some((status, result)) = plan.complete {
        let (to, reason) = match status {
            WorkflowStatus::Succeeded => (ExecutionStatus::Succeeded, None),
            WorkflowStatus::Canceled | WorkflowStatus::Canceling => (
                ExecutionStatus::Canceled,
                Some("the workflow was canceled".to_owned()),
            ),
            _ => (
                ExecutionStatus::Failed,
                Some("the workflow failed; see its result for the errors".to_owned()),
            ),
        };
        finish(engine, &workflow.id, to, reason, result).await?;
    }
    Ok(())
}

/// Moves the workflow execution between `running`, `pausing` and `paused` as its run moved.
/// A run whose every unfinished task waits for people (`waiting`: an inquiry `pending`, a
/// sub-workflow `paused`) shows `paused`, as StackStorm shows it, and `running` again once a
/// task ends. Returns whether the execution went into or out of `paused`.
async fn follow_pause(
    engine: &Engine,
    workflow: &Execution,
    status: WorkflowStatus,
    waiting: Option<String>,
) -> Result<bool, EngineError> {
    let (to, reason) = match (status, waiting) {
        (WorkflowStatus::Running | WorkflowStatus::Pausing, Some(waiting)) => {
            (ExecutionStatus::Paused, waiting)
        }
        (WorkflowStatus::Running, None) => (ExecutionStatus::Running, "resumed".to_owned()),
        (WorkflowStatus::Pausing, None) => (
            ExecutionStatus::Pausing,
            "pause requested; waiting for the running tasks to finish".to_owned(),
        ),
        (WorkflowStatus::Paused, _) => (ExecutionStatus::Paused, "paused".to_owned()),
        _ => return Ok(false),
    };
    let movable = matches!(
        workflow.status,
        ExecutionStatus::Running | ExecutionStatus::Pausing | ExecutionStatus::Paused
    );
    if !movable || workflow.status == to {
        return Ok(false);
    }
    match engine
        .store()
        .transition(&workflow.id, to, Some(reason), None)
        .await
    {
        Ok(_) => Ok(to == ExecutionStatus::Paused || workflow.status == ExecutionStatus::Paused),
        Err(StoreError::IllegalTransition { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Why the run waits for people, if every task it has not finished does: each is an inquiry
/// that is `pending` or a sub-workflow that is `paused`. `None` as soon as one task is
/// anything else (read without touching the store when its action is neither).
fn waiting_for_people(engine: &Engine, run: &Run) -> Result<Option<String>, EngineError> {
    let content = engine.content();
    let outstanding: Vec<&Child> = run.children.iter().filter(|child| !child.done).collect();
    if outstanding.is_empty() {
        return Ok(None);
    }
    let runner_of = |action: &str| {
        content.action(action).map(|(_, action)| {
            let runner = action.action.runner_type.as_str();
            nerve_model::runner_alias(runner)
                .unwrap_or(runner)
                .to_owned()
        })
    };
    let mut runners = Vec::with_capacity(outstanding.len());
    for child in &outstanding {
        match runner_of(&child.action) {
            Some(runner) if runner == crate::inquiries::INQUIRER || is_workflow_runner(&runner) => {
                runners.push(runner);
            }
            _ => return Ok(None),
        }
    }
    let mut inquiries = Vec::new();
    let mut workflows = Vec::new();
    for (child, runner) in outstanding.iter().zip(&runners) {
        let Some(record) = engine.store().execution_record(&child.id)? else {
            return Ok(None);
        };
        match record.execution.status {
            ExecutionStatus::Pending if runner == crate::inquiries::INQUIRER => {
                inquiries.push(child.id.as_str());
            }
            ExecutionStatus::Paused if is_workflow_runner(runner) => {
                workflows.push(child.id.as_str());
            }
            _ => return Ok(None),
        }
    }
    let mut reasons = Vec::new();
    if !inquiries.is_empty() {
        reasons.push(format!(
            "waiting for a response to inquiry {} (`nerve inquiry respond`)",
            inquiries.join(", ")
        ));
    }
    if !workflows.is_empty() {
        reasons.push(format!(
            "waiting on paused sub-workflow {}",
            workflows.join(", ")
        ));
    }
    Ok(Some(reasons.join("; ")))
}

/// A child of a workflow started or stopped waiting for people: its workflow looks at its own
/// status again (see [`follow_pause`]). Failures are logged; the child's own status is recorded.
/// Boxed as a `Send` future: a workflow that changes goes on to its own parent.
pub(crate) fn on_child_waiting<'a>(
    engine: &'a Engine,
    child: &'a Execution,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let Some(parent_id) = child.context.parent.as_deref() else {
            return;
        };
        let refreshed = async {
            match unfinished_workflow(engine, parent_id)? {
                Some(parent) => advance(engine, &parent, Step::Refresh).await,
                None => Ok(()),
            }
        };
        if let Err(error) = refreshed.await {
            tracing::error!(%error, workflow = parent_id, child = %child.id, "Updating the workflow's status for a waiting task failed.");
        }
    })
}

/// Pauses a running workflow; see the module docs. Returns the execution as it is now.
pub(crate) async fn pause(engine: &Engine, execution_id: &str) -> Result<Execution, EngineError> {
    let workflow = running_workflow(engine, execution_id, "paused")?;
    // A workflow shown `paused` while it waits for an inquiry still runs: paused now, it stays
    // paused once the answer comes.
    if matches!(
        workflow.status,
        ExecutionStatus::Running | ExecutionStatus::Paused
    ) {
        advance(engine, &workflow, Step::Pause).await?;
    }
    current(engine, execution_id)
}

/// Resumes a paused (or pausing) workflow. Returns the execution as it is now.
pub(crate) async fn resume(engine: &Engine, execution_id: &str) -> Result<Execution, EngineError> {
    let workflow = running_workflow(engine, execution_id, "resumed")?;
    if workflow.status != ExecutionStatus::Running {
        advance(engine, &workflow, Step::Resume).await?;
    }
    current(engine, execution_id)
}

/// The workflow execution `execution_id`, if it is running, pausing or paused.
fn running_workflow(
    engine: &Engine,
    execution_id: &str,
    what: &str,
) -> Result<Execution, EngineError> {
    let execution = current(engine, execution_id)?;
    if !is_workflow_runner(&execution.runner) {
        return Err(EngineError::Conflict(format!(
            "execution `{execution_id}` runs `{}` with the `{}` runner; only workflows (orquesta, action-chain) can be {what}",
            execution.action, execution.runner
        )));
    }
    match execution.status {
        ExecutionStatus::Running | ExecutionStatus::Pausing | ExecutionStatus::Paused => {
            Ok(execution)
        }
        status => Err(EngineError::Conflict(format!(
            "workflow execution `{execution_id}` is {status}; only a running, pausing or paused workflow can be {what}"
        ))),
    }
}

fn current(engine: &Engine, execution_id: &str) -> Result<Execution, EngineError> {
    engine
        .store()
        .get_execution(execution_id)?
        .ok_or_else(|| EngineError::NotFound {
            kind: "execution",
            id: execution_id.to_owned(),
        })
}

/// Feeds a finished child's result to the run (once per child).
fn feed(run: &mut Run, child: &Execution, kv: &dyn KvLookup) -> Vec<Command> {
    let Some(entry) = run.children.iter_mut().find(|c| c.id == child.id) else {
        return Vec::new();
    };
    if entry.done {
        return Vec::new();
    }
    entry.done = true;
    let key = entry.key;
    let status = match child.status {
        ExecutionStatus::Succeeded => ResultStatus::Succeeded,
        ExecutionStatus::Canceled => ResultStatus::Canceled,
        _ => ResultStatus::Failed,
    };
    let result = child.result.clone().unwrap_or(Value::Null);
    match run.machine.on_result(key, status, result, kv) {
        Ok(commands) => commands,
        Err(error) => {
            tracing::error!(%error, child = %child.id, "Task result not accepted by the run.");
            Vec::new()
        }
    }
}

/// Reads the workflow definition and starts its state machine.
fn begin(
    engine: &Engine,
    workflow: &Execution,
    kv: &dyn KvLookup,
) -> Result<(Machine, Vec<Command>), String> {
    let content = engine.content();
    let Some((pack, action)) = content.action(&workflow.action) else {
        return Err(format!(
            "action `{}` is no longer registered",
            workflow.action
        ));
    };
    let Some(file) = action.entry_point.as_deref() else {
        return Err(format!("action `{}` has no entry point", workflow.action));
    };
    let text = std::fs::read_to_string(file)
        .map_err(|error| format!("cannot read workflow `{}`: {error}", file.display()))?;
    let invalid = |problems: Vec<nerve_workflow::Problem>| {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!(
            "workflow `{}` is invalid: {}",
            file.display(),
            listed.join("; ")
        )
    };
    let parent = workflow
        .context
        .parent
        .as_ref()
        .map(|id| json!({"execution_id": id}));
    if workflow.runner == "action-chain" {
        let chain = Chain::parse(&text).map_err(invalid)?;
        let mut action_context = json!({
            "user": workflow.context.user,
            "execution_id": workflow.id,
            "pack": pack.pack_ref,
        });
        if let Some(parent) = parent {
            action_context["parent"] = parent;
        }
        let mut context = Map::new();
        context.insert("action_context".to_owned(), action_context);
        let (state, commands) = chain.start_with_context(workflow.parameters.clone(), context, kv);
        return Ok((Machine::Chain(Box::new(state)), commands));
    }
    let definition = Workflow::parse(&text).map_err(invalid)?;
    let mut input = workflow.parameters.clone();
    for name in action.parameters.keys() {
        input.entry(name.clone()).or_insert(Value::Null);
    }
    let mut context = Map::new();
    context.insert(
        "st2".to_owned(),
        json!({
            "action_execution_id": workflow.id,
            "api_url": engine.inner.config.api_url,
            "user": workflow.context.user,
            "pack": pack.pack_ref,
        }),
    );
    if let Some(parent) = parent {
        context.insert("parent".to_owned(), parent);
    }
    let (state, commands) = definition.start_with_context(input, context, kv);
    Ok((Machine::Orquesta(Box::new(state)), commands))
}

/// A task's parameters, checked as for any execution (a chain's rendered strings cast to the
/// action's types first).
fn task_parameters(
    content: &crate::Content,
    task: &RunTask,
    cast: bool,
) -> Result<Map<String, Value>, String> {
    let mut given = task.input.clone();
    if cast && let Some((_, action)) = content.action(&task.action) {
        given = given
            .into_iter()
            .map(|(name, value)| {
                let value = nerve_model::cast_parameter(&action.parameters, &name, value);
                (name, value)
            })
            .collect();
    }
    crate::parameters::prepare(content, &task.action, given).map_err(|error| error.to_string())
}

/// Creates the children (after their delay), then lists them in the workflow's `children`.
async fn create_children(
    engine: &Engine,
    workflow: &Execution,
    children: Vec<Child>,
) -> Result<(), EngineError> {
    if children.is_empty() {
        return Ok(());
    }
    let mut now = Vec::new();
    for child in children {
        if child.delay_secs == 0 {
            now.push(child);
            continue;
        }
        let delay = remaining_delay(&child, chrono::Utc::now());
        if delay.is_zero() {
            now.push(child);
            continue;
        }
        let engine = engine.clone();
        let workflow = workflow.clone();
        engine.inner.tasks.clone().spawn(async move {
            tokio::select! {
                () = engine.inner.cancel.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            if let Err(error) = create_now(&engine, &workflow, vec![child]).await {
                tracing::error!(%error, workflow = %workflow.id, "Creating a delayed task failed.");
            }
        });
    }
    create_now(engine, workflow, now).await
}

/// What is left of a delayed child's delay at `now`: counted from its recorded due time (a
/// run recovered after a restart waits only for the rest), or its whole delay without one.
fn remaining_delay(child: &Child, now: chrono::DateTime<chrono::Utc>) -> std::time::Duration {
    let whole = std::time::Duration::from_secs(child.delay_secs);
    let Some(due) = child
        .not_before
        .as_deref()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    else {
        return whole;
    };
    (due.with_timezone(&chrono::Utc) - now)
        .to_std()
        .unwrap_or_default()
        .min(whole)
}

async fn create_now(
    engine: &Engine,
    workflow: &Execution,
    children: Vec<Child>,
) -> Result<(), EngineError> {
    if children.is_empty() {
        return Ok(());
    }
    let content = engine.content();
    let mut created = Vec::new();
    for child in children {
        let mut extra = Map::new();
        extra.insert(
            "workflow_task".to_owned(),
            json!({
                "task": child.task,
                "instance": child.key.instance,
                "item": child.key.item,
                "attempt": child.key.attempt,
            }),
        );
        let context = ExecutionContext {
            user: workflow.context.user.clone(),
            trace_id: workflow.context.trace_id.clone(),
            trace_tag: workflow.context.trace_tag.clone(),
            parent: Some(workflow.id.clone()),
            extra,
            ..ExecutionContext::default()
        };
        let new = NewExecution {
            action_ref: &child.action,
            parameters: child.parameters.clone(),
            context,
            id: child.id.clone(),
            caused_by_enforcement: None,
        };
        match scheduler::create_unflushed(engine, &content, new, Vec::new()) {
            Ok(execution) => {
                execution.proceed(engine, &content).await?;
                created.push(child.id);
            }
            Err(EngineError::Invalid { message, details }) => {
                // The action went away since the task was planned: the task fails.
                let reason = EngineError::Invalid { message, details }.to_string();
                tracing::warn!(workflow = %workflow.id, task = %child.task, %reason, "Task could not be created.");
                fail_uncreated(engine, workflow, &child, reason).await?;
            }
            Err(error) => return Err(error),
        }
    }
    engine.store().flush().await?;
    if !created.is_empty() {
        engine
            .store()
            .update_execution::<std::convert::Infallible>(&workflow.id, |execution| {
                for id in &created {
                    if !execution.children.contains(id) {
                        execution.children.push(id.clone());
                    }
                }
                Ok(())
            })
            .await
            .map_err(|error| match error {
                nerve_store::UpdateError::Store(error) => EngineError::Store(error),
                _ => EngineError::invalid("the workflow's child list was not updated"),
            })?;
    }
    Ok(())
}

/// A recorded child that cannot be created: its task fails with the reason. Boxed as a `Send`
/// future: it advances the run again, from within a step.
fn fail_uncreated<'a>(
    engine: &'a Engine,
    workflow: &'a Execution,
    child: &Child,
    reason: String,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), EngineError>> + Send + 'a>> {
    let failed = Execution {
        id: child.id.clone(),
        action: child.action.clone(),
        runner: String::new(),
        parameters: child.parameters.clone(),
        status: ExecutionStatus::Failed,
        result: Some(json!({"error": reason})),
        reason: Some(reason),
        context: ExecutionContext {
            parent: Some(workflow.id.clone()),
            ..ExecutionContext::default()
        },
        start_timestamp: nerve_store::timestamp(chrono::Utc::now()),
        end_timestamp: None,
        log: Vec::new(),
        children: Vec::new(),
        worker: None,
    };
    Box::pin(deliver(engine, workflow, failed))
}

/// Records the workflow's final status and result, then what follows any final status.
/// Ends a workflow that cannot run (its state or definition is unusable) as `failed`.
async fn fail_run(engine: &Engine, workflow_id: &str, reason: String) -> Result<(), EngineError> {
    let result = json!({"output": null, "errors": [error_entry(&reason)]});
    finish(
        engine,
        workflow_id,
        ExecutionStatus::Failed,
        Some(reason),
        result,
    )
    .await
}

async fn finish(
    engine: &Engine,
    workflow_id: &str,
    status: ExecutionStatus,
    reason: Option<String>,
    result: Value,
) -> Result<(), EngineError> {
    let record = match engine
        .store()
        .transition(workflow_id, status, reason, Some(result))
        .await
    {
        Ok(record) => record,
        Err(StoreError::IllegalTransition { .. }) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    forget(engine, workflow_id)?;
    tracing::info!(workflow = %workflow_id, status = %record.execution.status, "Workflow finished.");
    crate::worker::after_final(engine, &record.execution).await;
    Ok(())
}

/// An entry of a run's error log, orquesta-shaped, for a run that could not start.
fn error_entry(message: &str) -> Value {
    json!({"type": "error", "message": message})
}

/// Hands a finished child to its workflow's run (see [`Step::ChildrenFinished`]).
async fn deliver(
    engine: &Engine,
    workflow: &Execution,
    child: Execution,
) -> Result<(), EngineError> {
    run_slot(engine, &workflow.id)
        .inbox
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(child);
    advance(engine, workflow, Step::ChildrenFinished).await
}

/// The slot of one run: its lock (serializing the steps), holding the run as last persisted
/// once a step loaded it, and the inbox of finished children.
fn run_slot(engine: &Engine, workflow_id: &str) -> Arc<RunSlot> {
    engine
        .inner
        .workflow_locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(workflow_id.to_owned())
        .or_default()
        .clone()
}

/// Drops a finished run's persisted state and lock.
fn forget(engine: &Engine, workflow_id: &str) -> Result<(), EngineError> {
    engine.store().workflows::<Value>().delete(workflow_id)?;
    engine
        .inner
        .workflow_locks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(workflow_id);
    Ok(())
}

/// The persisted run; `Err` with a reason when it is unreadable (the run cannot go on: starting
/// it again could run tasks twice).
fn load(engine: &Engine, workflow_id: &str) -> Result<Result<Option<Run>, String>, EngineError> {
    match engine.store().workflows::<Run>().get(workflow_id) {
        Ok(run) => Ok(Ok(run)),
        Err(StoreError::Corrupt { source, .. }) => Ok(Err(format!(
            "the stored state of the workflow run is unreadable: {source}"
        ))),
        Err(error) => Err(error.into()),
    }
}

fn save(engine: &Engine, workflow_id: &str, run: &Run) -> Result<(), EngineError> {
    engine.store().workflows().replace(workflow_id, run)?;
    Ok(())
}

/// A run's lock with its cached state, and the children whose results wait to be fed.
#[derive(Debug, Default)]
pub(crate) struct RunSlot {
    run: tokio::sync::Mutex<Option<Run>>,
    inbox: std::sync::Mutex<Vec<Execution>>,
}

/// Runs in progress, by workflow execution id.
pub(crate) type RunLocks = HashMap<String, Arc<RunSlot>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn delayed(delay_secs: u64, not_before: Option<&str>) -> Child {
        Child {
            key: RunKey {
                instance: 0,
                item: None,
                attempt: 1,
            },
            id: "child".to_owned(),
            task: "wait".to_owned(),
            action: "core.noop".to_owned(),
            parameters: Map::new(),
            delay_secs,
            not_before: not_before.map(str::to_owned),
            done: false,
        }
    }

    #[test]
    fn a_recovered_delay_waits_only_for_what_is_left() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:10Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let left = remaining_delay(&delayed(30, Some("2026-01-01T00:00:30Z")), now);
        assert_eq!(left, std::time::Duration::from_secs(20));
        let past = remaining_delay(&delayed(30, Some("2026-01-01T00:00:05Z")), now);
        assert_eq!(past, std::time::Duration::ZERO, "due while down: now");
        let legacy = remaining_delay(&delayed(30, None), now);
        assert_eq!(
            legacy,
            std::time::Duration::from_secs(30),
            "no due time recorded"
        );
        let skewed = remaining_delay(&delayed(30, Some("2026-01-01T01:00:00Z")), now);
        assert_eq!(
            skewed,
            std::time::Duration::from_secs(30),
            "never more than the delay"
        );
    }
}
