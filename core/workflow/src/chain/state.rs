//! The run of an action chain: one node at a time, `on-success` / `on-failure` to the next.
//!
//! As StackStorm's runner: `vars` are rendered once with the chain's parameters; a node's
//! `params` render against the parameters, every earlier node's result by node name
//! (`{{ c1.stdout }}`, also under `__results`), and the chain variables (vars and everything
//! published so far), plus `st2kv.system.<key>` / `system.<key>`; `publish` renders after the
//! node completes (succeeded or failed) with the node's own result by its name too. Rendered
//! values are strings (Jinja's output): the engine casts them to the action's parameter types,
//! as StackStorm's `cast_params` does. The chain's status is that of the last node that ran.
//!
//! The result is `{"tasks": [...], "published": {...}}` (plus `error` when the chain broke
//! off); each task entry is `{"id", "name", "state", "result", "workflow": null}`. StackStorm's
//! entries also carry `execution_id`, `liveaction_id`, `created_at` and `updated_at`, which
//! only the engine knows: it may add them.

use nerve_rules::KvLookup;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Chain;
use crate::command::{
    Command, ErrorEntry, ResultStatus, RunKey, RunTask, StateError, WorkflowStatus,
};
use crate::expr::{Evaluator, has_markup};

/// A running (or finished) action chain. Serializable, like [`State`](crate::State).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainState {
    chain: Chain,
    status: WorkflowStatus,
    params: Map<String, Value>,
    /// `action_context`, `config_context` and other variables given by the engine.
    context: Map<String, Value>,
    /// The chain variables: rendered `vars`, then everything published.
    vars: Map<String, Value>,
    /// Each node's latest result, by node name.
    results: Map<String, Value>,
    tasks: Vec<Value>,
    published: Map<String, Value>,
    /// The node running now, and its instance (its position in `tasks`).
    running: Option<(String, usize)>,
    /// The node to run when a paused chain resumes.
    paused_next: Option<String>,
    /// The status of the last node that ran.
    last_status: WorkflowStatus,
    error: Option<String>,
    finished: bool,
}

impl Chain {
    /// Starts a run with the chain action's parameters.
    pub fn start(
        &self,
        params: Map<String, Value>,
        kv: &dyn KvLookup,
    ) -> (ChainState, Vec<Command>) {
        self.start_with_context(params, Map::new(), kv)
    }

    /// Like [`Chain::start`], with more template variables for `params`: StackStorm gives
    /// `action_context` (with `parent`) and `config_context` (the pack's config).
    pub fn start_with_context(
        &self,
        params: Map<String, Value>,
        context: Map<String, Value>,
        kv: &dyn KvLookup,
    ) -> (ChainState, Vec<Command>) {
        let ev = Evaluator::new(kv);
        let mut state = ChainState {
            chain: self.clone(),
            status: WorkflowStatus::Running,
            params,
            context,
            vars: Map::new(),
            results: Map::new(),
            tasks: Vec::new(),
            published: Map::new(),
            running: None,
            paused_next: None,
            last_status: WorkflowStatus::Succeeded,
            error: None,
            finished: false,
        };
        let mut commands = Vec::new();
        match ev.render_strings(&Value::Object(self.vars.clone()), &state.params) {
            Ok(Value::Object(vars)) => state.vars = vars,
            Ok(_) => {}
            Err(error) => {
                state.break_off(format!("Failed initializing ``vars`` in chain. {error}"));
                state.finish(&mut commands);
                return (state, commands);
            }
        }
        match self.start_node().map(str::to_owned) {
            Some(first) => state.run_node(&first, &ev, &mut commands),
            None => state.finish(&mut commands),
        }
        (state, commands)
    }
}

impl ChainState {
    /// The run's status.
    pub fn status(&self) -> WorkflowStatus {
        self.status
    }

    /// Whether the run is over ([`Command::Complete`] was emitted).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The chain's result so far: `{"tasks": [...], "published": {...}}`.
    pub fn result(&self) -> Value {
        let mut result = json!({"tasks": self.tasks, "published": self.published});
        if let Some(error) = &self.error {
            result["error"] = Value::String(error.clone());
        }
        result
    }

    /// The child execution the run is waiting for, if any.
    pub fn outstanding(&self) -> Option<RunKey> {
        self.running.as_ref().map(|(_, instance)| RunKey {
            instance: *instance,
            item: None,
            attempt: 1,
        })
    }

    /// Feeds back the result of the running node's execution.
    ///
    /// A result for an execution that is no longer awaited (a redelivery) changes nothing.
    ///
    /// # Errors
    ///
    /// The key names no execution of this run.
    pub fn on_result(
        &mut self,
        key: RunKey,
        status: ResultStatus,
        result: Value,
        kv: &dyn KvLookup,
    ) -> Result<Vec<Command>, StateError> {
        let Some((name, instance)) = self.running.clone() else {
            return self.stale(key);
        };
        if key.instance != instance || key.item.is_some() || key.attempt != 1 {
            return self.stale(key);
        }
        self.running = None;
        let ev = Evaluator::new(kv);
        let mut commands = Vec::new();
        let state = match status {
            ResultStatus::Succeeded => "succeeded",
            ResultStatus::Failed => "failed",
            ResultStatus::Canceled => "canceled",
        };
        self.results.insert(name.clone(), result.clone());
        let node = self.chain.node(&name).map(|(_, n)| n.clone());
        let mut publish_error = None;
        if let Some(node) = &node {
            if !node.publish.is_empty() {
                let mut variables = self.params.clone();
                variables.insert(name.clone(), result.clone());
                variables.extend(self.results.clone());
                variables.extend(self.vars.clone());
                variables.insert("__results".to_owned(), Value::Object(self.results.clone()));
                match ev.render_strings(&Value::Object(node.publish.clone()), &variables) {
                    Ok(Value::Object(published)) => {
                        self.vars.extend(published.clone());
                        self.published.extend(published);
                    }
                    Ok(_) => {}
                    Err(error) => {
                        publish_error = Some(format!(
                            "Failed rendering value for publish parameter in task \"{name}\": {error}"
                        ));
                    }
                }
            }
        }
        self.tasks.push(json!({
            "id": name,
            "name": name,
            "state": state,
            "result": result,
            "workflow": null,
        }));
        if let Some(error) = publish_error {
            self.last_status = WorkflowStatus::Failed;
            self.break_off(error);
            self.finish(&mut commands);
            return Ok(commands);
        }
        if status == ResultStatus::Canceled || self.status == WorkflowStatus::Canceling {
            self.status = WorkflowStatus::Canceled;
            self.finish(&mut commands);
            return Ok(commands);
        }
        self.last_status = if status == ResultStatus::Succeeded {
            WorkflowStatus::Succeeded
        } else {
            WorkflowStatus::Failed
        };
        let next = node.and_then(|n| {
            if status == ResultStatus::Succeeded {
                n.on_success
            } else {
                n.on_failure
            }
        });
        let next = match next {
            Some(next) if has_markup(&next) => {
                let mut variables = self.variables();
                variables.extend(self.context.clone());
                match ev.render_strings(&Value::String(next.clone()), &variables) {
                    Ok(Value::String(rendered)) if !rendered.trim().is_empty() => {
                        Some(rendered.trim().to_owned())
                    }
                    Ok(_) => None,
                    Err(error) => {
                        self.last_status = WorkflowStatus::Failed;
                        self.break_off(format!("Failed to get next node \"{name}\". {error}"));
                        self.finish(&mut commands);
                        return Ok(commands);
                    }
                }
            }
            other => other,
        };
        match next {
            Some(next) if self.status == WorkflowStatus::Pausing => {
                self.paused_next = Some(next);
                self.status = WorkflowStatus::Paused;
            }
            Some(next) => self.run_node(&next, &ev, &mut commands),
            None => self.finish(&mut commands),
        }
        Ok(commands)
    }

    fn stale(&self, key: RunKey) -> Result<Vec<Command>, StateError> {
        if key.instance < self.tasks.len() {
            Ok(Vec::new())
        } else {
            Err(StateError::UnknownInstance {
                instance: key.instance,
            })
        }
    }

    /// Requests a pause: the running node finishes, the next one waits for
    /// [`ChainState::resume`].
    ///
    /// # Errors
    ///
    /// The run is not running (pausing a paused run is fine).
    pub fn pause(&mut self) -> Result<(), StateError> {
        self.status = self.status.on_pause(self.running.is_some())?;
        Ok(())
    }

    /// Resumes a paused chain with the node that was next.
    ///
    /// # Errors
    ///
    /// The run is not paused or pausing.
    pub fn resume(&mut self, kv: &dyn KvLookup) -> Result<Vec<Command>, StateError> {
        match self.status {
            WorkflowStatus::Pausing => {
                self.status = WorkflowStatus::Running;
                Ok(Vec::new())
            }
            WorkflowStatus::Paused => {
                self.status = WorkflowStatus::Running;
                let ev = Evaluator::new(kv);
                let mut commands = Vec::new();
                match self.paused_next.take() {
                    Some(next) => self.run_node(&next, &ev, &mut commands),
                    None => self.finish(&mut commands),
                }
                Ok(commands)
            }
            WorkflowStatus::Running => Ok(Vec::new()),
            status => Err(StateError::InvalidRequest {
                request: "resume",
                status,
            }),
        }
    }

    /// Requests cancellation: the running node's execution is to be canceled
    /// ([`Command::Finishing`]); the chain ends `canceled` when its result is in.
    ///
    /// # Errors
    ///
    /// The run is already over.
    pub fn cancel(&mut self) -> Result<Vec<Command>, StateError> {
        match self.status {
            WorkflowStatus::Running | WorkflowStatus::Pausing | WorkflowStatus::Paused => {
                let mut commands = Vec::new();
                match self.outstanding() {
                    Some(key) => {
                        self.status = WorkflowStatus::Canceling;
                        commands.push(Command::Finishing {
                            status: WorkflowStatus::Canceling,
                            cancel: true,
                            outstanding: vec![key],
                        });
                    }
                    None => {
                        self.status = WorkflowStatus::Canceled;
                        self.finish(&mut commands);
                    }
                }
                Ok(commands)
            }
            WorkflowStatus::Canceling => Ok(Vec::new()),
            status => Err(StateError::InvalidRequest {
                request: "cancel",
                status,
            }),
        }
    }

    /// The template variables for a node's `params`.
    fn variables(&self) -> Map<String, Value> {
        let mut variables = self.params.clone();
        variables.extend(self.results.clone());
        variables.extend(self.vars.clone());
        variables.insert("__results".to_owned(), Value::Object(self.results.clone()));
        variables
    }

    fn run_node(&mut self, name: &str, ev: &Evaluator<'_>, commands: &mut Vec<Command>) {
        let Some((_, node)) = self.chain.node(name).map(|(i, n)| (i, n.clone())) else {
            self.last_status = WorkflowStatus::Failed;
            self.break_off(format!("Unable to find node with name \"{name}\"."));
            self.finish(commands);
            return;
        };
        let mut variables = self.variables();
        for (k, v) in &self.context {
            variables.entry(k.clone()).or_insert_with(|| v.clone());
        }
        match ev.render_strings(&Value::Object(node.params.clone()), &variables) {
            Ok(Value::Object(input)) => {
                let instance = self.tasks.len();
                self.running = Some((node.name.clone(), instance));
                commands.push(Command::RunTask(RunTask {
                    instance,
                    task: node.name.clone(),
                    action: node.action.clone(),
                    input,
                    item_index: None,
                    attempt: 1,
                    delay_secs: None,
                }));
            }
            Ok(_) => {}
            Err(error) => {
                self.last_status = WorkflowStatus::Failed;
                self.break_off(format!(
                    "Failed to run task \"{name}\". Parameter rendering failed. {error}"
                ));
                self.finish(commands);
            }
        }
    }

    fn break_off(&mut self, error: String) {
        self.error = Some(error);
        self.status = WorkflowStatus::Failed;
    }

    fn finish(&mut self, commands: &mut Vec<Command>) {
        if self.status != WorkflowStatus::Canceled && self.error.is_none() {
            self.status = self.last_status;
        }
        self.finished = true;
        let errors = match &self.error {
            Some(error) => vec![ErrorEntry::new(error.clone())],
            None => Vec::new(),
        };
        commands.push(Command::Complete {
            status: self.status,
            output: self.result(),
            errors,
        });
    }
}
