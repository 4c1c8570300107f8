//! What the state machines ask of the engine ([`Command`]) and what the engine tells them
//! back ([`RunKey`], [`ResultStatus`]); shared by orquesta workflows and action chains.
//!
//! Nothing here does anything: the engine carries commands out (starts child executions,
//! records the workflow's status) and feeds results back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Names one child execution the state machine asked for: the task instance, the item of a
/// `with` items task, and the attempt (retries of the same instance count up from 1).
///
/// The engine stores it with the child execution and passes it back with the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunKey {
    /// The task instance (its position in the run's task sequence).
    pub instance: usize,
    /// The item of a `with` items task, in item order; `None` for other tasks.
    pub item: Option<usize>,
    /// The attempt, from 1; a retry runs the same instance with the next attempt.
    pub attempt: u32,
}

/// Start one child execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTask {
    /// The task instance this execution belongs to (see [`RunKey::instance`]).
    pub instance: usize,
    /// The task's name in the definition.
    pub task: String,
    /// The action reference to run, e.g. `core.local`. A task whose action is another
    /// workflow is run the same way: the engine starts that workflow as the child.
    pub action: String,
    /// The action's parameters, rendered.
    pub input: Map<String, Value>,
    /// The item of a `with` items task.
    pub item_index: Option<usize>,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Seconds to wait before starting the execution (task `delay`, or `retry.delay` on a
    /// retry).
    pub delay_secs: Option<u64>,
}

impl RunTask {
    /// The key to pass back with this execution's result.
    pub fn key(&self) -> RunKey {
        RunKey {
            instance: self.instance,
            item: self.item_index,
            attempt: self.attempt,
        }
    }
}

/// What the engine must do next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Start a child execution and feed its result back.
    RunTask(RunTask),
    /// The run's outcome is decided (`status` is `failed` or `canceling`) but the listed
    /// executions are still outstanding. Start nothing that is not listed (a listed execution
    /// still waiting out its delay may be dropped and reported `canceled`); when `cancel` is
    /// true, request cancellation of the listed executions. Feed every listed result back:
    /// [`Command::Complete`] follows once the last one is in. Emitted once, when the run
    /// enters that status.
    Finishing {
        /// The status the run is in (and the final one's cause).
        status: WorkflowStatus,
        /// Whether to cancel the outstanding executions (a cancel request) or let them finish
        /// (fail-fast, as StackStorm does).
        cancel: bool,
        /// Every execution still awaited, including those started in the same batch.
        outstanding: Vec<RunKey>,
    },
    /// The run is over; nothing is outstanding.
    Complete {
        /// `succeeded`, `failed` or `canceled`.
        status: WorkflowStatus,
        /// The rendered workflow `output` (an object, or `null` without outputs); for an
        /// action chain, its result `{"tasks": [...], "published": {...}}`.
        output: Value,
        /// The errors logged, when the run did not succeed.
        errors: Vec<ErrorEntry>,
    },
}

/// How a child execution ended, as the engine reports it.
///
/// StackStorm's `timeout` and `abandoned` count as `failed` (as orquesta treats them);
/// StackStorm's `canceled` is `Canceled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// The execution succeeded.
    Succeeded,
    /// The execution failed, timed out or was abandoned.
    Failed,
    /// The execution was canceled.
    Canceled,
}

/// The status of a workflow or chain run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Tasks are being dispatched.
    Running,
    /// A pause was requested; running executions finish, nothing new starts.
    Pausing,
    /// Paused with nothing running; `resume` continues.
    Paused,
    /// A cancel was requested (or a task was canceled); running executions are awaited.
    Canceling,
    /// Final: canceled.
    Canceled,
    /// Final: succeeded.
    Succeeded,
    /// Failed. Final once nothing is outstanding (see [`Command::Finishing`]).
    Failed,
}

impl WorkflowStatus {
    /// StackStorm's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Running => "running",
            WorkflowStatus::Pausing => "pausing",
            WorkflowStatus::Paused => "paused",
            WorkflowStatus::Canceling => "canceling",
            WorkflowStatus::Canceled => "canceled",
            WorkflowStatus::Succeeded => "succeeded",
            WorkflowStatus::Failed => "failed",
        }
    }

    /// The status after a pause request, for orquesta runs and chains alike: `pausing` while
    /// executions are still out (`busy`), else `paused`; pausing a paused run is fine.
    pub(crate) fn on_pause(self, busy: bool) -> Result<Self, crate::StateError> {
        match self {
            WorkflowStatus::Running if busy => Ok(WorkflowStatus::Pausing),
            WorkflowStatus::Running => Ok(WorkflowStatus::Paused),
            WorkflowStatus::Pausing | WorkflowStatus::Paused => Ok(self),
            status => Err(crate::StateError::InvalidRequest {
                request: "pause",
                status,
            }),
        }
    }
}

impl std::fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a run's error log, shaped like orquesta's
/// (`{"type": "error", "message": ..., "task_id": ..., "result": ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, e.g. `Execution failed. See result for details.`.
    pub message: String,
    /// The task concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The task transition concerned (`<next task>__t<index>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_transition_id: Option<String>,
    /// The failed execution's result, for a task failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl ErrorEntry {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ErrorEntry {
            kind: "error".to_owned(),
            message: message.into(),
            task_id: None,
            task_transition_id: None,
            result: None,
        }
    }

    pub(crate) fn task(mut self, task: &str) -> Self {
        self.task_id = Some(task.to_owned());
        self
    }

    pub(crate) fn transition(mut self, transition: String) -> Self {
        self.task_transition_id = Some(transition);
        self
    }

    pub(crate) fn result(mut self, result: Value) -> Self {
        self.result = Some(result);
        self
    }
}

/// A call the state machine cannot accept. The state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The key names no task instance of this run.
    #[error("no task instance {instance} in this run")]
    UnknownInstance {
        /// The instance given.
        instance: usize,
    },
    /// The key's item does not fit the task (an item for a task without items, or the reverse).
    #[error("task `{task}` has no item {item:?}")]
    UnknownItem {
        /// The task of the instance.
        task: String,
        /// The item given.
        item: Option<usize>,
    },
    /// The request does not apply in the run's status (e.g. resuming a running workflow).
    #[error("cannot {request} a run that is {status}")]
    InvalidRequest {
        /// `pause`, `resume` or `cancel`.
        request: &'static str,
        /// The run's status.
        status: WorkflowStatus,
    },
}
