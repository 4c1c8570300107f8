//! Nerve's platform core: events become executions.
//!
//! ```text
//! emit ──► store (trigger instance, flushed) ──► bus: nerve.trigger_instances
//!   rules engine ──► enforcement once per (rule, event) ──► execution `requested`
//!   scheduler (policies) ──► `scheduled` ──► bus: nerve.executions request.<runner>
//!   worker ──► `running` ──► runner child process ──► final status, output, actiontrigger
//! ```
//!
//! **Architecture invariant:** nothing is acknowledged before it is durably recorded, and every
//! step is idempotent under redelivery: a rule fires at most once per (rule, trigger instance)
//! (the enforcement is recorded insert-if-absent), an execution runs at most once (a worker
//! moves it `scheduled → running` atomically; a redelivered `running` one is `abandoned`).
//! After a crash, [`Engine::start`] re-publishes unfinished events and executions.

mod consumer;
mod content;
mod error;
mod ingest;
mod inquiries;
mod kv;
mod kv_triggers;
mod node;
mod nodes;
mod pack_config;
mod parameters;
mod rules_engine;
mod runtimes;
mod scheduler;
mod sensors;
mod timers;
mod worker;
mod workflows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use nerve_bus::Bus;
use nerve_model::{Execution, ExecutionContext, ExecutionStatus, Rule};
use nerve_packs::{LoadedPack, PackErrors};
use nerve_store::{RuleRecord, Store, TriggerInstanceRecord};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use content::{Content, WEBHOOK_TYPE};
pub use error::EngineError;
pub use nerve_sensor_host::{
    HostConfig as SensorHostConfig, LogLine as SensorLogLine, SensorState, SensorStatus,
};
pub use node::{NodeConfig, PackLoader, ServerLink, run_node};
pub use nodes::MISSED_BEATS;
pub use pack_config::PACK_CONFIG_PREFIX;
pub use parameters::{ParameterProblem, check_action_parameters};
pub use runtimes::{DetectedRuntime, RuntimeStatus, detect_runtimes, detect_runtimes_with};
pub use sensors::{SensorsConfig, single_sensor_spec};

/// Runtime knobs of the engine (not content).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The API URL actions use for the datastore (`ST2_ACTION_API_URL`).
    pub api_url: Option<String>,
    /// The token actions use for the API (`ST2_ACTION_AUTH_TOKEN`).
    pub auth_token: Option<String>,
    /// Executions a worker runs at once that start a process (shell, script, python runners).
    pub worker_concurrency: u16,
    /// Executions a worker runs at once that start no process (`noop`, `http-request`): they
    /// cost a task, not a process, so far more of them can wait on the store or the network.
    pub in_process_concurrency: u16,
    /// Trigger instances the rules engine handles at once (most of that time is waiting for the
    /// store's flush, which concurrent events share).
    pub rules_concurrency: u16,
    /// Grace between SIGTERM and SIGKILL for canceled or timed-out actions.
    pub kill_grace: Duration,
    /// The user recorded for rule-triggered executions (StackStorm's `stanley`).
    pub system_user: String,
    /// Environment passed to every action (PATH, HOME, LANG).
    pub base_env: Vec<(String, String)>,
    /// How often old records are purged (retention periods are the store's options).
    pub purge_interval: Duration,
    /// The sensor host.
    pub sensors: SensorsConfig,
    /// Operator override of the runtimes this node may use (`NERVE_RUNTIMES`); see
    /// [`detect_runtimes_with`].
    pub runtimes: Option<String>,
    /// Whether this process runs a worker (consumes execution requests). `nerve server`
    /// leaves running actions to `nerve worker` nodes.
    pub local_worker: bool,
    /// Whether remote nodes report to this process over the bus (`nerve server`, `nerve up
    /// --amqp`): it consumes execution reports and output, and sweeps gone nodes.
    pub remote_nodes: bool,
    /// Heartbeat interval nodes are told to keep; three missed ones and a node is gone.
    pub node_heartbeat: Duration,
    /// This process's node name (recorded as the worker of executions it runs for remote
    /// nodes' bookkeeping).
    pub node_name: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            api_url: None,
            auth_token: None,
            worker_concurrency: 32,
            in_process_concurrency: 256,
            rules_concurrency: 256,
            kill_grace: Duration::from_secs(5),
            system_user: "stanley".to_owned(),
            base_env: Vec::new(),
            purge_interval: Duration::from_secs(600),
            sensors: SensorsConfig::default(),
            runtimes: None,
            local_worker: true,
            remote_nodes: false,
            node_heartbeat: Duration::from_secs(2),
            node_name: "local".to_owned(),
        }
    }
}

/// What a caller asks to run.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// Action ref.
    pub action: String,
    /// Parameters as given (validated, defaults applied by the engine).
    pub parameters: Map<String, Value>,
    /// Who asks.
    pub user: String,
    /// Trace tag (`--trace-tag`).
    pub trace_tag: Option<String>,
    /// The execution this one re-runs.
    pub rerun_of: Option<String>,
}

/// The engine: cheap to clone, shared by the API, the CLI server role and tests.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: EngineConfig,
    store: Store,
    bus: Arc<dyn Bus>,
    content: RwLock<Arc<Content>>,
    packs: RwLock<Vec<Arc<LoadedPack>>>,
    runtimes: Vec<DetectedRuntime>,
    running: Mutex<HashMap<String, CancellationToken>>,
    policy_lock: tokio::sync::Mutex<()>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    sensor_host: std::sync::OnceLock<nerve_sensor_host::SensorHost<sensors::EngineServices>>,
    /// Bumped on every content change (timers and sensors follow it).
    content_version: tokio::sync::watch::Sender<u64>,
    /// Remote nodes (multi-node deployments).
    registry: Mutex<nodes::Registry>,
    /// Locks of workflow runs being advanced.
    workflow_locks: Mutex<workflows::RunLocks>,
}

impl Engine {
    /// Registers `packs` (the built-in ones first), detects runtimes, declares the bus topology,
    /// starts the rules engine and worker tasks on `tasks`, and recovers unfinished work.
    ///
    /// # Errors
    /// A store or bus failure at start-up.
    pub async fn start(
        config: EngineConfig,
        store: Store,
        bus: Arc<dyn Bus>,
        packs: Vec<(LoadedPack, String)>,
        cancel: CancellationToken,
        tasks: TaskTracker,
    ) -> Result<Engine, EngineError> {
        let mut loaded = Vec::new();
        for (pack, source) in packs {
            content::register_pack(&store, &pack).await?;
            content::record_pack(&store, &pack, &source).await?;
            loaded.push(Arc::new(pack));
        }
        let runtime_defs: Vec<nerve_model::RuntimeDef> = loaded
            .iter()
            .flat_map(|p| p.runtimes.iter().cloned())
            .collect();
        let runtimes = detect_runtimes_with(&runtime_defs, config.runtimes.as_deref()).await;
        let runner_names: Vec<&str> = nerve_model::builtin_runners()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        nerve_bus::topology::declare_server_topology(bus.as_ref(), &runner_names).await?;
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                store,
                bus,
                content: RwLock::new(Arc::new(Content::default())),
                packs: RwLock::new(loaded),
                runtimes,
                running: Mutex::new(HashMap::new()),
                policy_lock: tokio::sync::Mutex::new(()),
                cancel,
                tasks,
                sensor_host: std::sync::OnceLock::new(),
                content_version: tokio::sync::watch::Sender::new(0),
                registry: Mutex::new(nodes::Registry::default()),
                workflow_locks: Mutex::new(workflows::RunLocks::default()),
            }),
        };
        engine.rebuild_content()?;
        rules_engine::spawn(&engine).await?;
        if engine.inner.config.local_worker {
            worker::spawn(&engine).await?;
        }
        // Workflows need the store, so they are driven here whatever the worker role.
        workflows::spawn(&engine).await?;
        inquiries::spawn(&engine).await?;
        engine.spawn_node_consumers().await?;
        engine.recover().await?;
        engine.spawn_retention();
        engine.start_sensors();
        timers::spawn(&engine);
        Ok(engine)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The bus.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.inner.bus
    }

    /// The queues of the topology this server declares (for `/api/v1/bus/queues`).
    pub fn queue_names(&self) -> Vec<String> {
        let mut names = vec![
            nerve_bus::topology::RULES_ENGINE_QUEUE.to_owned(),
            nerve_bus::topology::EXECUTION_STATUS_QUEUE.to_owned(),
            nerve_bus::topology::OUTPUT_QUEUE.to_owned(),
        ];
        names.extend(
            nerve_model::builtin_runners()
                .iter()
                .filter_map(|r| nerve_bus::topology::worker_queue(&r.name).ok())
                .map(|q| q.name),
        );
        names
    }

    /// The content in force now.
    pub fn content(&self) -> Arc<Content> {
        self.inner
            .content
            .read()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |c| c.clone())
    }

    /// Runtimes detected at start.
    pub fn runtimes(&self) -> &[DetectedRuntime] {
        &self.inner.runtimes
    }

    /// Rebuilds the content snapshot from the registered packs and the stored rules.
    fn rebuild_content(&self) -> Result<(), EngineError> {
        let packs = self
            .inner
            .packs
            .read()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |p| p.clone());
        let records = self.inner.store.rule_records("")?;
        let content = Arc::new(Content::build(packs, records));
        match self.inner.content.write() {
            Ok(mut slot) => *slot = content,
            Err(poisoned) => *poisoned.into_inner() = content,
        }
        self.inner.content_version.send_modify(|v| *v += 1);
        self.reconcile_sensors();
        Ok(())
    }

    /// Registers (or re-registers) loaded packs: one code path for every way packs arrive.
    ///
    /// # Errors
    /// A store failure.
    pub async fn register_packs(
        &self,
        packs: Vec<LoadedPack>,
        source: &str,
    ) -> Result<Vec<String>, EngineError> {
        let mut refs = Vec::new();
        let mut installed = Vec::new();
        for pack in packs {
            content::register_pack(&self.inner.store, &pack).await?;
            refs.push(pack.pack_ref.clone());
            let pack = Arc::new(pack);
            installed.push(pack.clone());
            let mut slot = self
                .inner
                .packs
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let old: Vec<Arc<LoadedPack>> = slot
                .iter()
                .filter(|p| p.pack_ref == pack.pack_ref && p.content_hash != pack.content_hash)
                .cloned()
                .collect();
            slot.retain(|p| p.pack_ref != pack.pack_ref);
            slot.push(pack);
            drop(slot);
            self.remember_pack_hashes(&old);
        }
        self.rebuild_content()?;
        // The records (with the content hash) last: a reader that sees the new hash finds the
        // new content in force.
        for pack in &installed {
            content::record_pack(&self.inner.store, pack, source).await?;
        }
        Ok(refs)
    }

    /// Loads pack directories against the packs in force and registers those that load.
    ///
    /// # Errors
    /// The diagnostics of every pack that failed (nothing of those is registered).
    pub async fn register_pack_dirs(
        &self,
        dirs: &[PathBuf],
        source: &str,
    ) -> Result<Vec<String>, RegisterError> {
        let known: Vec<LoadedPack> = self.content().packs().map(|p| (**p).clone()).collect();
        let (loaded, failed) = nerve_packs::load_packs(dirs, &known);
        if !failed.is_empty() {
            return Err(RegisterError::Invalid(failed));
        }
        self.register_packs(loaded, source)
            .await
            .map_err(RegisterError::Engine)
    }

    /// Removes a pack and its content.
    ///
    /// # Errors
    /// [`EngineError::NotFound`] or a store failure.
    pub async fn remove_pack(&self, pack_ref: &str) -> Result<(), EngineError> {
        let store = &self.inner.store;
        if store.packs().delete(pack_ref)?.is_none() {
            return Err(EngineError::NotFound {
                kind: "pack",
                id: pack_ref.to_owned(),
            });
        }
        let prefix = format!("{pack_ref}.");
        for (key, _) in store.actions().list(&prefix)? {
            store.actions().delete(&key)?;
        }
        for (key, _) in store.trigger_types().list(&prefix)? {
            store.trigger_types().delete(&key)?;
        }
        for (key, _) in store.sensors().list(&prefix)? {
            store.sensors().delete(&key)?;
        }
        for (key, _) in store.policies().list(&prefix)? {
            store.policies().delete(&key)?;
        }
        for (key, _) in store.rules().list(&prefix)? {
            store.remove_rule(&key)?;
        }
        store.flush().await?;
        self.inner
            .packs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|p| p.pack_ref != pack_ref);
        self.rebuild_content()
    }

    /// Creates or replaces a rule given through the API.
    ///
    /// # Errors
    /// [`EngineError::Invalid`] with the compile problems, or a store failure.
    pub async fn create_rule(&self, rule: Rule) -> Result<RuleRecord, EngineError> {
        if let Err(problems) = nerve_rules::compile_rule(rule.clone()) {
            let details: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(EngineError::Invalid {
                message: format!("rule `{}` is invalid", rule.rule_ref()),
                details,
            });
        }
        content::store_rule(&self.inner.store, &rule).await?;
        self.rebuild_content()?;
        self.inner
            .store
            .rule_record(&rule.rule_ref())?
            .ok_or_else(|| EngineError::NotFound {
                kind: "rule",
                id: rule.rule_ref(),
            })
    }

    /// Deletes a rule.
    ///
    /// # Errors
    /// [`EngineError::NotFound`] or a store failure.
    pub async fn delete_rule(&self, rule_ref: &str) -> Result<(), EngineError> {
        if self.inner.store.remove_rule(rule_ref)?.is_none() {
            return Err(EngineError::NotFound {
                kind: "rule",
                id: rule_ref.to_owned(),
            });
        }
        self.inner.store.flush().await?;
        self.rebuild_content()
    }

    /// Enables or disables a rule, keeping the reason.
    ///
    /// # Errors
    /// [`EngineError::NotFound`] or a store failure.
    pub async fn set_rule_enabled(
        &self,
        rule_ref: &str,
        enabled: bool,
        reason: Option<String>,
    ) -> Result<RuleRecord, EngineError> {
        if self.inner.store.rules().get(rule_ref)?.is_none() {
            return Err(EngineError::NotFound {
                kind: "rule",
                id: rule_ref.to_owned(),
            });
        }
        self.inner
            .store
            .set_rule_enabled(rule_ref, enabled, reason)
            .await?;
        self.rebuild_content()?;
        self.inner
            .store
            .rule_record(rule_ref)?
            .ok_or_else(|| EngineError::NotFound {
                kind: "rule",
                id: rule_ref.to_owned(),
            })
    }

    /// Records an event and hands it to the rules engine. See [`ingest`](crate::ingest).
    ///
    /// # Errors
    /// Unknown trigger type or a payload that fails its schema ([`EngineError::Invalid`]).
    pub async fn emit(
        &self,
        trigger: &str,
        payload: Value,
        trace_tag: Option<String>,
    ) -> Result<TriggerInstanceRecord, EngineError> {
        ingest::emit(self, trigger, payload, trace_tag).await
    }

    /// Re-emits a recorded event as a new one (same trigger and payload).
    ///
    /// # Errors
    /// [`EngineError::NotFound`], or as [`Engine::emit`].
    pub async fn re_emit(
        &self,
        trigger_instance_id: &str,
    ) -> Result<TriggerInstanceRecord, EngineError> {
        let record = self
            .inner
            .store
            .trigger_instance(trigger_instance_id)?
            .ok_or_else(|| EngineError::NotFound {
                kind: "trigger instance",
                id: trigger_instance_id.to_owned(),
            })?;
        ingest::emit(self, &record.trigger, record.payload, record.trace_tag).await
    }

    /// Requests an execution (API / CLI `run`): parameters validated against the action.
    ///
    /// # Errors
    /// Unknown or disabled action, invalid parameters ([`EngineError::Invalid`]).
    pub async fn run(&self, request: RunRequest) -> Result<Execution, EngineError> {
        let content = self.content();
        let context = ExecutionContext {
            user: request.user.clone(),
            trace_tag: request.trace_tag.clone(),
            trace_id: Some(nerve_store::new_id()),
            rerun_of: request.rerun_of.clone(),
            ..ExecutionContext::default()
        };
        let execution = scheduler::request_execution(
            self,
            &content,
            &request.action,
            request.parameters,
            context,
            None,
        )
        .await?;
        Ok(execution)
    }

    /// Cancels an execution: a queued one is canceled at once, a running one gets SIGTERM, then
    /// SIGKILL after the grace period.
    ///
    /// # Errors
    /// [`EngineError::NotFound`], or [`EngineError::Conflict`] when it already finished.
    pub async fn cancel(&self, execution_id: &str) -> Result<Execution, EngineError> {
        scheduler::cancel(self, execution_id).await
    }

    /// Pauses a running workflow execution: no new task starts; it is `pausing` until its
    /// running tasks finish, then `paused`.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` for an execution that is not a running workflow.
    pub async fn pause(&self, execution_id: &str) -> Result<Execution, EngineError> {
        workflows::pause(self, execution_id).await
    }

    /// Resumes a paused (or pausing) workflow execution.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` for an execution that is not a paused workflow.
    pub async fn resume(&self, execution_id: &str) -> Result<Execution, EngineError> {
        workflows::resume(self, execution_id).await
    }

    /// The inquiries (`core.ask` executions) waiting for a response, newest first.
    ///
    /// # Errors
    /// Store failures.
    pub fn inquiries(&self) -> Result<Vec<Execution>, EngineError> {
        inquiries::pending(self)
    }

    /// An inquiry, whatever its status.
    ///
    /// # Errors
    /// `NotFound` when `id` is not an inquiry.
    pub fn inquiry(&self, id: &str) -> Result<Execution, EngineError> {
        inquiries::get(self, id)
    }

    /// Answers a pending inquiry on behalf of `user`: the response is checked against the
    /// inquiry's schema, the inquiry succeeds with it, and a workflow waiting on it goes on.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when it is not pending or `user` is not among its `users`;
    /// `Invalid` naming each field of the response that does not match the schema.
    pub async fn respond_inquiry(
        &self,
        id: &str,
        response: serde_json::Value,
        user: &str,
    ) -> Result<Execution, EngineError> {
        inquiries::respond(self, id, response, user).await
    }

    /// Runs an execution's action again with its parameters (overridden by `overrides`).
    ///
    /// # Errors
    /// As [`Engine::run`].
    pub async fn rerun(
        &self,
        execution_id: &str,
        overrides: Map<String, Value>,
        user: &str,
    ) -> Result<Execution, EngineError> {
        let previous = self
            .inner
            .store
            .get_execution(execution_id)?
            .ok_or_else(|| EngineError::NotFound {
                kind: "execution",
                id: execution_id.to_owned(),
            })?;
        let content = self.content();
        let mut parameters = parameters::caller_parameters(&content, &previous);
        parameters.extend(overrides);
        self.run(RunRequest {
            action: previous.action,
            parameters,
            user: user.to_owned(),
            trace_tag: previous.context.trace_tag,
            rerun_of: Some(execution_id.to_owned()),
        })
        .await
    }

    /// Purges records past their retention every [`EngineConfig::purge_interval`]; each pass
    /// is bounded (see `Store::purge`), so it never stalls the store.
    fn spawn_retention(&self) {
        let store = self.inner.store.clone();
        let cancel = self.inner.cancel.clone();
        let interval = self.inner.config.purge_interval;
        self.inner.tasks.spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.purge(chrono::Utc::now())).await {
                    Ok(Ok(stats)) => tracing::debug!(?stats, "Retention pass done."),
                    Ok(Err(error)) => tracing::error!(%error, "Retention pass failed."),
                    Err(error) => tracing::error!(%error, "Retention pass panicked."),
                }
            }
        });
    }

    /// Re-publishes work a crash left unfinished: pending events to the rules engine,
    /// requested executions to the scheduler, scheduled ones to the workers; executions that
    /// were running when the process died are `abandoned` (they may have had effects).
    async fn recover(&self) -> Result<(), EngineError> {
        let store = &self.inner.store;
        let pending = store.pending_trigger_instances()?;
        for record in &pending {
            ingest::republish(self, record).await?;
        }
        let unfinished = store.executions_with_status(&[
            ExecutionStatus::Requested,
            ExecutionStatus::Scheduled,
            ExecutionStatus::Running,
            ExecutionStatus::Canceling,
            ExecutionStatus::Pausing,
            ExecutionStatus::Paused,
        ])?;
        let content = self.content();
        for record in unfinished {
            let execution = record.execution;
            let remote = execution
                .worker
                .as_deref()
                .is_some_and(|node| node != self.inner.config.node_name);
            match execution.status {
                // A workflow run resumes where its persisted state left it.
                ExecutionStatus::Running
                | ExecutionStatus::Canceling
                | ExecutionStatus::Pausing
                | ExecutionStatus::Paused
                    if workflows::is_workflow_runner(&execution.runner) =>
                {
                    workflows::recover(self, &execution).await?;
                }
                ExecutionStatus::Pausing | ExecutionStatus::Paused => {}
                // A remote worker may still be running it: its report, or the sweeper once
                // the node is gone, finishes it.
                ExecutionStatus::Running | ExecutionStatus::Canceling if remote => {}
                ExecutionStatus::Running | ExecutionStatus::Canceling => {
                    let reason = "the node running it stopped before it finished".to_owned();
                    let to = if execution.status == ExecutionStatus::Canceling {
                        ExecutionStatus::Canceled
                    } else {
                        ExecutionStatus::Abandoned
                    };
                    let record = store
                        .transition(&execution.id, to, Some(reason), None)
                        .await?;
                    worker::after_final(self, &record.execution).await;
                }
                ExecutionStatus::Requested => {
                    scheduler::schedule(self, &content, execution).await?
                }
                _ => scheduler::dispatch(self, &execution).await?,
            }
        }
        if !pending.is_empty() {
            tracing::info!(events = pending.len(), "Recovered unprocessed events.");
        }
        Ok(())
    }
}

/// Why pack directories were not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Some packs have errors; nothing of them was registered.
    #[error("{} pack(s) failed to load", .0.len())]
    Invalid(Vec<PackErrors>),
    /// The platform failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}
