//! The remote roles of a multi-node deployment: `nerve worker` (runs actions) and `nerve
//! sensors` (runs sensors), each a process of its own, connected to the server through the bus
//! (work and reports) and its API (heartbeat, claims, sensors' key-value requests).
//!
//! A node has no store. It loads its packs itself and reports their content hashes with every
//! heartbeat; the server answers with what the node must do (the sensors it runs, executions
//! to cancel, packs at a version it does not accept).
//!
//! **Worker.** For each execution request: a `noop` is reported done at once (nothing to run
//! twice); anything else is claimed first (`scheduled → running` on the server, flushed), then
//! run, its output published in batches as it comes, its end published with a publisher
//! confirm, and only then is the request acked. A worker that dies mid-run leaves the request
//! unacked: the broker gives it to another worker, whose claim finds it `running` and has the
//! server abandon it rather than run it twice.
//!
//! **Sensor node.** Runs the sensors the server assigned to it, with the triggers the server
//! computed; a dispatch is checked against the node's trigger types and published as a
//! trigger instance (the server records it before matching, and acks only after its flush), so
//! an event whose dispatch was answered is never lost.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nerve_bus::topology::{
    EXECUTIONS, OUTPUT, TRIGGER_INSTANCES, execution_status_key, output_key, worker_queue,
};
use nerve_bus::{Bus, Delivery, Message};
use nerve_model::{
    ClaimReply, ClaimRequest, ExecutionReport, ExecutionStatus, HeartbeatReply, NodeHeartbeat,
    NodeKvReply, NodeKvRequest, NodeRole, NodeRuntime, NodeSensorState, OutputReport,
};
use nerve_packs::LoadedPack;
use nerve_sensor_host::{HostServices, KvOp, LogLine, ProcessEvent, SensorHost};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::runtimes::{DetectedRuntime, RuntimeStatus};
use crate::sensors::{SpecInputs, assigned_spec};
use crate::worker::{IN_PROCESS_RUNNERS, LOCAL_RUNNERS, RunSettings, run_action};
use crate::{Content, EngineError, SensorsConfig};

/// Output lines sent in one message at most.
const OUTPUT_BATCH: usize = 256;

/// How many finished executions a worker node remembers to recognise late duplicate requests.
const FINISHED_REMEMBERED: usize = 4_096;

/// How a node reaches the server's API.
#[derive(Clone, Debug)]
pub struct ServerLink {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl ServerLink {
    /// A link to the server at `base` (`http://host:port`) with an admin token or API key.
    pub fn new(base: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            base: base.into().trim_end_matches('/').to_owned(),
            token: token.into(),
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn post<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .post(&url)
            .header("X-Auth-Token", &self.token)
            .json(body)
            .send()
            .await
            .map_err(|error| format!("the server at {} is not reachable: {error}", self.base))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("POST {path} answered {status}: {text}"));
        }
        response
            .json()
            .await
            .map_err(|error| format!("POST {path}: unexpected answer: {error}"))
    }

    async fn heartbeat(&self, heartbeat: &NodeHeartbeat) -> Result<HeartbeatReply, String> {
        self.post(
            &format!("/api/v1/nodes/{}/heartbeat", heartbeat.node),
            heartbeat,
        )
        .await
    }

    async fn claim(&self, execution_id: &str, claim: &ClaimRequest) -> Result<ClaimReply, String> {
        self.post(&format!("/api/v1/executions/{execution_id}/claim"), claim)
            .await
    }

    async fn kv(&self, node: &str, request: &NodeKvRequest) -> Result<NodeKvReply, String> {
        self.post(&format!("/api/v1/nodes/{node}/kv"), request)
            .await
    }
}

/// A worker or sensor node.
#[derive(Clone)]
pub struct NodeConfig {
    /// The node's name: one routing-key word, unique among the nodes.
    pub name: String,
    /// What it does.
    pub role: NodeRole,
    /// The server's API.
    pub server: ServerLink,
    /// Heartbeat interval until the server says otherwise.
    pub heartbeat: Duration,
    /// Executions run at once that start a process.
    pub worker_concurrency: u16,
    /// Executions run at once that start no process (`http-request`).
    pub in_process_concurrency: u16,
    /// Grace between SIGTERM and SIGKILL for canceled or timed-out actions.
    pub kill_grace: Duration,
    /// Environment passed to every action and sensor (PATH, HOME, LANG).
    pub base_env: Vec<(String, String)>,
    /// Operator override of the runtimes (`NERVE_RUNTIMES`).
    pub runtimes: Option<String>,
    /// The sensor host (sensor nodes).
    pub sensors: SensorsConfig,
    /// Reads the node's packs from disk again; called when the server reports drift, so a
    /// node whose pack directory the operator updated (or shares with the server) catches up
    /// without a restart.
    pub reload: Option<PackLoader>,
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("server", &self.server.url())
            .finish_non_exhaustive()
    }
}

/// Loads a node's packs (built-in ones included); `None` when they do not load (the packs in
/// force stay).
pub type PackLoader = Arc<dyn Fn() -> Option<Vec<LoadedPack>> + Send + Sync>;

struct NodeState {
    config: NodeConfig,
    bus: Arc<dyn Bus>,
    /// The packs in force here and their content hashes, swapped whole on a reload.
    packs: std::sync::RwLock<(Arc<Content>, BTreeMap<String, String>)>,
    runtimes: Vec<DetectedRuntime>,
    started_at: String,
    running: Mutex<HashMap<String, CancellationToken>>,
    /// Executions this node finished lately (the last [`FINISHED_REMEMBERED`]): a request
    /// delivered again after its run ended, before the server recorded the report, is acked
    /// instead of claimed (a claim would find it `running` and abandon it).
    finished: Mutex<(HashSet<String>, VecDeque<String>)>,
    sensor_host: OnceLock<SensorHost<NodeServices>>,
    runners: Vec<String>,
}

impl NodeState {
    fn content(&self) -> Arc<Content> {
        self.packs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    fn pack_hashes(&self) -> BTreeMap<String, String> {
        self.packs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .clone()
    }

    fn set_packs(&self, packs: Vec<LoadedPack>) {
        let hashes = packs
            .iter()
            .map(|p| (p.pack_ref.clone(), p.content_hash.clone()))
            .collect();
        let content = Arc::new(Content::build(
            packs.into_iter().map(Arc::new).collect(),
            Vec::new(),
        ));
        *self
            .packs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (content, hashes);
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn finished(&self) -> std::sync::MutexGuard<'_, (HashSet<String>, VecDeque<String>)> {
        self.finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers that this node finished `execution_id`, then forgets it as running.
    fn finish(&self, execution_id: &str) {
        {
            let mut finished = self.finished();
            let (set, order) = &mut *finished;
            if set.insert(execution_id.to_owned()) {
                order.push_back(execution_id.to_owned());
            }
            while order.len() > FINISHED_REMEMBERED {
                if let Some(oldest) = order.pop_front() {
                    set.remove(&oldest);
                }
            }
        }
        self.running().remove(execution_id);
    }
}

/// Starts a node on `tasks`: loads nothing itself (`packs` are its packs, built-in ones
/// included), detects runtimes, declares the topology, and runs until `cancel`.
///
/// # Errors
/// A bus failure at start-up.
pub async fn run_node(
    config: NodeConfig,
    bus: Arc<dyn Bus>,
    packs: Vec<LoadedPack>,
    cancel: CancellationToken,
    tasks: TaskTracker,
) -> Result<(), EngineError> {
    let runtime_defs: Vec<nerve_model::RuntimeDef> = packs
        .iter()
        .flat_map(|p| p.runtimes.iter().cloned())
        .collect();
    let runtimes = crate::detect_runtimes_with(&runtime_defs, config.runtimes.as_deref()).await;
    let all_runners: Vec<&str> = nerve_model::builtin_runners()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    nerve_bus::topology::declare_server_topology(bus.as_ref(), &all_runners).await?;
    let python = matches!(
        crate::worker::python(&runtimes),
        nerve_runner::Interpreter::Verified(_)
    );
    let runners: Vec<String> = if config.role == NodeRole::Worker {
        LOCAL_RUNNERS
            .iter()
            .filter(|runner| **runner != "python-script" || python)
            .map(|r| (*r).to_owned())
            .collect()
    } else {
        Vec::new()
    };
    let state = Arc::new(NodeState {
        config,
        bus,
        packs: std::sync::RwLock::new((Arc::new(Content::default()), BTreeMap::new())),
        runtimes,
        started_at: nerve_store::timestamp(chrono::Utc::now()),
        running: Mutex::new(HashMap::new()),
        finished: Mutex::new((HashSet::new(), VecDeque::new())),
        sensor_host: OnceLock::new(),
        runners,
    });
    state.set_packs(packs);
    match state.config.role {
        NodeRole::Worker => spawn_worker(&state, &cancel, &tasks).await?,
        NodeRole::Sensors => {
            let services = Arc::new(NodeServices {
                state: Arc::downgrade(&state),
            });
            let host = SensorHost::new(
                services,
                state.config.sensors.host.clone(),
                cancel.clone(),
                tasks.clone(),
            );
            let _ = state.sensor_host.set(host);
        }
    }
    spawn_heartbeat(state, cancel, &tasks);
    Ok(())
}

fn spawn_heartbeat(state: Arc<NodeState>, cancel: CancellationToken, tasks: &TaskTracker) {
    tasks.spawn(async move {
        let mut interval = state.config.heartbeat;
        let mut failing = false;
        loop {
            let heartbeat = heartbeat_of(&state);
            match state.config.server.heartbeat(&heartbeat).await {
                Ok(reply) => {
                    if failing {
                        tracing::info!(server = %state.config.server.url(), "Server reachable again.");
                        failing = false;
                    }
                    if reply.interval_secs > 0.0 {
                        interval = Duration::from_secs_f64(reply.interval_secs);
                    }
                    if !reply.drift.is_empty() && reload(&state).await {
                        // Report the reloaded packs at once rather than a beat later.
                        continue;
                    }
                    apply(&state, reply);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "Heartbeat failed; retrying.");
                        failing = true;
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    });
}

/// Reloads the node's packs from disk when the server says some drifted (a pack directory
/// shared with the server, or updated by the operator); `true` when anything changed.
async fn reload(state: &Arc<NodeState>) -> bool {
    let Some(loader) = state.config.reload.clone() else {
        return false;
    };
    let Ok(Some(packs)) = tokio::task::spawn_blocking(move || loader()).await else {
        return false;
    };
    let hashes: BTreeMap<String, String> = packs
        .iter()
        .map(|p| (p.pack_ref.clone(), p.content_hash.clone()))
        .collect();
    if hashes == state.pack_hashes() {
        return false;
    }
    tracing::info!(packs = hashes.len(), "Packs changed on disk; reloaded.");
    state.set_packs(packs);
    true
}

fn heartbeat_of(state: &NodeState) -> NodeHeartbeat {
    let config = &state.config;
    let sensors = state
        .sensor_host
        .get()
        .map(|host| {
            host.statuses()
                .into_iter()
                .map(|status| NodeSensorState {
                    sensor_ref: status.sensor.clone(),
                    state: serde_json::to_value(status.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    restarts: status.restarts,
                    last_error: status.last_error.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    NodeHeartbeat {
        node: config.name.clone(),
        role: config.role,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        pid: std::process::id(),
        started_at: state.started_at.clone(),
        runtimes: state
            .runtimes
            .iter()
            .map(|r| match &r.status {
                RuntimeStatus::Available { version, .. } => NodeRuntime {
                    name: r.name.clone(),
                    available: true,
                    version: version.clone(),
                },
                RuntimeStatus::Missing { .. } => NodeRuntime {
                    name: r.name.clone(),
                    available: false,
                    version: None,
                },
            })
            .collect(),
        runners: state.runners.clone(),
        capacity: match config.role {
            NodeRole::Worker => u32::from(config.worker_concurrency),
            NodeRole::Sensors => u32::MAX,
        },
        packs: state.pack_hashes(),
        running: state.running().keys().cloned().collect(),
        sensors,
    }
}

fn apply(state: &NodeState, reply: HeartbeatReply) {
    for execution_id in &reply.cancel {
        if let Some(token) = state.running().get(execution_id) {
            tracing::info!(execution_id, "Canceling on the server's request.");
            token.cancel();
        }
    }
    for drift in &reply.drift {
        tracing::error!(pack = %drift.pack, "{}", drift.remedy);
    }
    if let Some(host) = state.sensor_host.get() {
        let content = state.content();
        let inputs = SpecInputs {
            content: &content,
            runtimes: &state.runtimes,
            config: &state.config.sensors,
            env: sensor_env(&state.config),
        };
        let specs = reply
            .sensors
            .iter()
            .filter_map(|assignment| {
                let spec = assigned_spec(&inputs, assignment);
                if spec.is_none() {
                    tracing::error!(sensor = %assignment.sensor_ref, "Assigned a sensor this node does not have; its pack is missing here.");
                }
                spec
            })
            .collect();
        host.reconcile(specs);
    }
}

fn sensor_env(config: &NodeConfig) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = config
        .base_env
        .iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    env.push(("ST2_API_URL".into(), config.server.url().into()));
    env.push(("ST2_AUTH_TOKEN".into(), config.server.token.clone().into()));
    env
}

async fn spawn_worker(
    state: &Arc<NodeState>,
    cancel: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), EngineError> {
    let config = &state.config;
    let processes = Arc::new(Semaphore::new(usize::from(config.worker_concurrency)));
    let in_process = Arc::new(Semaphore::new(usize::from(config.in_process_concurrency)));
    for runner in &state.runners {
        let (semaphore, concurrency) = if IN_PROCESS_RUNNERS.contains(&runner.as_str()) {
            (in_process.clone(), config.in_process_concurrency)
        } else {
            (processes.clone(), config.worker_concurrency)
        };
        let queue = worker_queue(runner)?;
        let mut consumer = state
            .bus
            .consume(&queue.name, concurrency.saturating_mul(2))
            .await?;
        let state = state.clone();
        let cancel = cancel.clone();
        let inner_tasks = tasks.clone();
        let runner = runner.clone();
        tasks.spawn(async move {
            loop {
                let delivery = tokio::select! {
                    () = cancel.cancelled() => break,
                    delivery = consumer.next() => delivery,
                };
                let Some(delivery) = delivery else { break };
                let Ok(permit) = semaphore.clone().acquire_owned().await else {
                    break;
                };
                let state = state.clone();
                let runner = runner.clone();
                let cancel = cancel.clone();
                inner_tasks.spawn(async move {
                    handle_request(&state, &runner, delivery, &cancel).await;
                    drop(permit);
                });
            }
        });
    }
    Ok(())
}

async fn handle_request(
    state: &NodeState,
    runner: &str,
    delivery: Delivery,
    cancel: &CancellationToken,
) {
    let Some((delivery, execution_id)) =
        crate::consumer::execution_id(delivery, "execution request").await
    else {
        return;
    };
    if state.running().contains_key(&execution_id) {
        // Delivered again (a channel was lost and recovered) while this node runs it: its
        // report will finish it.
        let _ = delivery.ack().await;
        return;
    }
    if runner == "noop" {
        let report = ExecutionReport {
            execution_id: execution_id.clone(),
            node: state.config.name.clone(),
            status: ExecutionStatus::Succeeded,
            result: json!({}),
            reason: None,
            unclaimed: true,
        };
        settle_after(delivery, publish_report(state, &report).await).await;
        return;
    }
    // Registered before the claim, so a second delivery of the same request (the server
    // re-dispatched it after a restart while this claim waited for the server) is acked above
    // instead of claiming an execution this node is about to run, which would abandon it.
    let token = CancellationToken::new();
    let finished_here = state.finished().0.contains(&execution_id);
    let duplicate = finished_here || {
        let mut running = state.running();
        let duplicate = running.contains_key(&execution_id);
        if !duplicate {
            running.insert(execution_id.clone(), token.clone());
        }
        duplicate
    };
    if duplicate {
        let _ = delivery.ack().await;
        return;
    }
    let claimed = claim(state, &execution_id, cancel).await;
    if !matches!(claimed, Some(ClaimReply::Run { .. })) {
        state.running().remove(&execution_id);
    }
    let execution = match claimed {
        Some(ClaimReply::Run { execution }) => execution,
        Some(ClaimReply::Skip { status }) => {
            tracing::debug!(execution_id, %status, "Not run: no longer scheduled.");
            let _ = delivery.ack().await;
            return;
        }
        Some(ClaimReply::Refused { reason }) => {
            tracing::error!(execution_id, "Claim refused: {reason}");
            // Back to the queue for a worker with the right pack, after a pause so this node
            // does not take it straight back.
            tokio::select! {
                () = cancel.cancelled() => {}
                () = tokio::time::sleep(state.config.heartbeat) => {}
            }
            let _ = delivery.nack(true).await;
            return;
        }
        None => {
            let _ = delivery.nack(true).await;
            return;
        }
    };
    let settings = RunSettings {
        api_url: Some(state.config.server.url().to_owned()),
        auth_token: Some(state.config.server.token.clone()),
        kill_grace: state.config.kill_grace,
        base_env: state.config.base_env.clone(),
        python: crate::worker::python(&state.runtimes),
        pack_config: serde_json::Map::new(),
    };
    let (lines_tx, lines_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let forwarder = tokio::spawn(forward_output(
        state.bus.clone(),
        execution_id.clone(),
        lines_rx,
    ));
    let (status, result, reason) = run_action(
        &state.content(),
        &settings,
        &execution,
        token,
        move |stream, line| {
            let _ = lines_tx.send((stream.to_owned(), line.to_owned()));
        },
    )
    .await;
    let _ = forwarder.await;
    state.finish(&execution_id);
    let report = ExecutionReport {
        execution_id,
        node: state.config.name.clone(),
        status,
        result,
        reason,
        unclaimed: false,
    };
    let published = publish_report(state, &report).await;
    if published.is_err() {
        // The request goes back to the queue so that its next claim has it abandoned: this
        // node must claim it then, not take it for a late duplicate.
        state.finished().0.remove(&report.execution_id);
    }
    settle_after(delivery, published).await;
}

/// Claims with retries while the server is unreachable (it may be restarting); `None` when
/// the node is stopping.
async fn claim(
    state: &NodeState,
    execution_id: &str,
    cancel: &CancellationToken,
) -> Option<ClaimReply> {
    let request = ClaimRequest {
        node: state.config.name.clone(),
        packs: state.pack_hashes(),
    };
    let mut delay = Duration::from_millis(200);
    loop {
        match state.config.server.claim(execution_id, &request).await {
            Ok(reply) => return Some(reply),
            Err(error) => {
                tracing::warn!(execution_id, %error, "Claim failed; retrying.");
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn publish_report(state: &NodeState, report: &ExecutionReport) -> Result<(), String> {
    let key = execution_status_key(report.status.as_str()).map_err(|e| e.to_string())?;
    let message = Message::json(format!("{}.end", report.execution_id), key, report)
        .map_err(|e| e.to_string())?;
    let mut delay = Duration::from_millis(100);
    for _ in 0..8 {
        match state.bus.publish(EXECUTIONS, message.clone()).await {
            Ok(outcome) if outcome.is_queued() => return Ok(()),
            Ok(_) => return Err("no queue takes execution reports".to_owned()),
            Err(error) => {
                tracing::warn!(%error, execution_id = %report.execution_id, "Publishing the execution report failed; retrying.");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    Err("the broker did not confirm the execution report".to_owned())
}

/// Acks once the report is safe with the broker; otherwise leaves the request to be delivered
/// again (its claim then finds the execution `running` and has it abandoned).
async fn settle_after(delivery: Delivery, published: Result<(), String>) {
    match published {
        Ok(()) => {
            let _ = delivery.ack().await;
        }
        Err(error) => {
            tracing::error!(%error, "Execution report not published; the request goes back to the queue.");
            let _ = delivery.nack(true).await;
        }
    }
}

/// Publishes output lines in batches as they come.
async fn forward_output(
    bus: Arc<dyn Bus>,
    execution_id: String,
    mut lines: tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
) {
    let Ok(key) = output_key(&execution_id) else {
        return;
    };
    let mut seq: u64 = 0;
    while let Some(first) = lines.recv().await {
        let mut batch = vec![first];
        while batch.len() < OUTPUT_BATCH {
            match lines.try_recv() {
                Ok(line) => batch.push(line),
                Err(_) => break,
            }
        }
        let count = batch.len() as u64;
        let report = OutputReport {
            execution_id: execution_id.clone(),
            first_seq: seq,
            lines: batch,
        };
        let Ok(message) = Message::json(format!("{execution_id}.out.{seq}"), key.clone(), &report)
        else {
            continue;
        };
        if let Err(error) = bus.publish(OUTPUT, message).await {
            tracing::warn!(%error, execution_id, "Output lines not published.");
        }
        seq += count;
    }
}

/// The sensor host's view of a sensor node.
struct NodeServices {
    state: std::sync::Weak<NodeState>,
}

impl NodeServices {
    fn state(&self) -> Result<Arc<NodeState>, String> {
        self.state
            .upgrade()
            .ok_or_else(|| "the node is shutting down".to_owned())
    }

    async fn publish_event(
        state: &NodeState,
        trigger: &str,
        payload: Value,
        trace_tag: Option<String>,
    ) -> Result<String, String> {
        crate::ingest::check_event(&state.content(), trigger, &payload)
            .map_err(|error| error.to_string())?;
        let record = crate::ingest::new_record(trigger, payload, trace_tag);
        let routing_key = crate::ingest::type_of(&record.trigger).to_owned();
        let message = Message::json(record.id.clone(), routing_key, &record)
            .map_err(|error| error.to_string())?
            .with_header(crate::ingest::RECORD_HEADER, state.config.name.clone());
        match state.bus.publish(TRIGGER_INSTANCES, message).await {
            Ok(_) => Ok(record.id),
            Err(error) => Err(format!("the bus did not take the event: {error}")),
        }
    }
}

impl HostServices for NodeServices {
    async fn dispatch(
        &self,
        _sensor: &str,
        trigger: &str,
        payload: Value,
        trace_tag: Option<String>,
    ) -> Result<String, String> {
        let state = self.state()?;
        Self::publish_event(&state, trigger, payload, trace_tag).await
    }

    async fn kv(&self, _sensor: &str, op: KvOp) -> Result<Value, String> {
        let state = self.state()?;
        let request = match op {
            KvOp::Get { key, decrypt } => NodeKvRequest::Get { key, decrypt },
            KvOp::Set {
                key,
                value,
                ttl,
                secret,
            } => NodeKvRequest::Set {
                key,
                value,
                ttl,
                secret,
            },
            KvOp::Delete { key } => NodeKvRequest::Delete { key },
            KvOp::List {
                prefix,
                limit,
                offset,
            } => NodeKvRequest::List {
                prefix,
                limit,
                offset,
            },
        };
        let reply = state.config.server.kv(&state.config.name, &request).await?;
        if reply.ok {
            Ok(reply.value)
        } else {
            Err(reply.error.unwrap_or_else(|| "datastore error".to_owned()))
        }
    }

    async fn process_event(&self, event: ProcessEvent) {
        let Ok(state) = self.state() else { return };
        let timestamp = nerve_store::timestamp(chrono::Utc::now());
        let (trigger, payload) = match event {
            ProcessEvent::Spawned { sensor, pid, cmd } => (
                "core.st2.sensor.process_spawn",
                json!({"id": sensor, "timestamp": timestamp, "pid": pid, "cmd": cmd, "node": state.config.name}),
            ),
            ProcessEvent::Exited { sensor, exit_code } => (
                "core.st2.sensor.process_exit",
                json!({"id": sensor, "timestamp": timestamp, "exit_code": exit_code, "node": state.config.name}),
            ),
        };
        if let Err(error) = Self::publish_event(&state, trigger, payload, None).await {
            tracing::warn!(trigger, %error, "Could not publish a sensor process event.");
        }
    }

    fn log(&self, _sensor: &str, _line: &LogLine) {}
}
