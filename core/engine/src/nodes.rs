//! The server's side of a multi-node deployment: the node registry (heartbeats), sensor
//! assignment with failover, claims of executions by remote workers (with the pack-version
//! check), and the consumers that record what workers report over the bus (final status,
//! output).
//!
//! **Exactly one sensor node per sensor.** Each sensor that should run is assigned to one live
//! sensor node and stays there while that node heartbeats (sticky); a node silent for
//! [`MISSED_BEATS`] heartbeat intervals is gone and its sensors move to the live node with the
//! fewest. The assignment reaches a node in the reply to its heartbeat, so a node that was
//! away learns at its first heartbeat that its sensors moved, and stops them.
//!
//! **An execution runs once.** A remote worker claims an execution before running it: the
//! claim moves it `scheduled → running` on that node in one flushed write. A second claim (the
//! request was redelivered because the first worker died) finds it `running` and abandons it
//! instead of running it again. Executions running on a node that is gone are abandoned by the
//! sweeper, so nothing stays `running` for ever.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nerve_bus::Delivery;
use nerve_bus::topology::{EXECUTION_STATUS_QUEUE, OUTPUT_QUEUE};
use nerve_model::{
    ClaimReply, ClaimRequest, ExecutionReport, ExecutionStatus, HeartbeatReply, NodeHeartbeat,
    NodeInfo, NodeKvReply, NodeKvRequest, NodeRole, OutputReport, PackDrift, SensorAssignment,
};
use nerve_store::StoreError;
use serde_json::Value;

use crate::sensors::{SpecInputs, specs};
use crate::{Engine, EngineError};

/// Heartbeats a node may miss before it is considered gone.
pub const MISSED_BEATS: u32 = 3;

/// What the server knows about the nodes.
#[derive(Default)]
pub(crate) struct Registry {
    nodes: BTreeMap<String, Entry>,
    /// Executions canceled while running on a node: told to the node with its next heartbeat.
    cancels: HashMap<String, HashSet<String>>,
    /// Sensor ref → the node that runs it.
    assignment: BTreeMap<String, String>,
    /// The previous content hash of each pack, accepted alongside the current one while nodes
    /// catch up with a change.
    previous_hashes: HashMap<String, String>,
}

struct Entry {
    heartbeat: NodeHeartbeat,
    seen: Instant,
    seen_at: String,
    drift: Vec<PackDrift>,
}

impl Engine {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn heartbeat_interval(&self) -> Duration {
        self.inner.config.node_heartbeat
    }

    fn alive(&self, entry: &Entry, now: Instant) -> bool {
        now.duration_since(entry.seen) < self.heartbeat_interval() * MISSED_BEATS
    }

    /// Records a node's heartbeat and tells it what to do now.
    ///
    /// # Errors
    /// [`EngineError::Invalid`] for a node name that is not one routing-key word.
    pub fn node_heartbeat(&self, heartbeat: NodeHeartbeat) -> Result<HeartbeatReply, EngineError> {
        nerve_bus::topology::check_node_name(&heartbeat.node)
            .map_err(|error| EngineError::invalid(format!("bad node name: {error}")))?;
        let content = self.content();
        let drift = self.drift(&content, &heartbeat.packs, None);
        let now = Instant::now();
        let node = heartbeat.node.clone();
        let role = heartbeat.role;
        let mut registry = self.registry();
        let previous = registry.nodes.get(&node).map(|entry| entry.drift.clone());
        let first = previous.is_none();
        let drift_changed = previous.is_none_or(|old| old != drift);
        registry.nodes.insert(
            node.clone(),
            Entry {
                heartbeat,
                seen: now,
                seen_at: nerve_store::timestamp(chrono::Utc::now()),
                drift: drift.clone(),
            },
        );
        if first {
            tracing::info!(node, role = role.as_str(), "Node joined.");
        }
        if drift_changed {
            for pack in &drift {
                tracing::warn!(node, pack = %pack.pack, "{}", pack.remedy);
            }
        }
        let cancel = registry
            .cancels
            .remove(&node)
            .map(|set| set.into_iter().collect())
            .unwrap_or_default();
        let sensors = if role == NodeRole::Sensors {
            drop(registry);
            self.sensor_assignment(&node, now)
        } else {
            Vec::new()
        };
        Ok(HeartbeatReply {
            interval_secs: self.heartbeat_interval().as_secs_f64(),
            sensors,
            cancel,
            drift,
        })
    }

    /// Every node the server heard from, with its state.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        let now = Instant::now();
        let registry = self.registry();
        registry
            .nodes
            .iter()
            .map(|(name, entry)| NodeInfo {
                heartbeat: entry.heartbeat.clone(),
                last_seen: entry.seen_at.clone(),
                age_secs: now.duration_since(entry.seen).as_secs_f64(),
                state: if self.alive(entry, now) {
                    "alive".to_owned()
                } else {
                    "gone".to_owned()
                },
                assigned_sensors: registry
                    .assignment
                    .iter()
                    .filter(|(_, node)| *node == name)
                    .map(|(sensor, _)| sensor.clone())
                    .collect(),
                drift: entry.drift.clone(),
                extra: serde_json::Map::new(),
            })
            .collect()
    }

    /// The server's packs (or only `only`) that `node_packs` has at another version or not at
    /// all, with the remedy for each.
    fn drift(
        &self,
        content: &crate::Content,
        node_packs: &BTreeMap<String, String>,
        only: Option<&str>,
    ) -> Vec<PackDrift> {
        let registry = self.registry();
        let mut drift = Vec::new();
        let packs: Box<dyn Iterator<Item = &Arc<nerve_packs::LoadedPack>>> = match only {
            Some(pack_ref) => Box::new(content.pack(pack_ref).into_iter()),
            None => Box::new(content.packs()),
        };
        for pack in packs {
            if pack.content_hash.is_empty() {
                continue;
            }
            let node_hash = node_packs.get(&pack.pack_ref);
            if node_hash == Some(&pack.content_hash) {
                continue;
            }
            let accepted = node_hash
                .is_some_and(|hash| registry.previous_hashes.get(&pack.pack_ref) == Some(hash));
            drift.push(PackDrift {
                pack: pack.pack_ref.clone(),
                node_hash: node_hash.cloned(),
                server_hash: pack.content_hash.clone(),
                accepted,
                remedy: remedy(&pack.pack_ref, node_hash, &pack.content_hash, &pack.dir),
            });
        }
        drift
    }

    /// Remembers the hashes of packs that are about to be replaced, so nodes that still run
    /// them are accepted until they catch up.
    pub(crate) fn remember_pack_hashes(&self, old: &[Arc<nerve_packs::LoadedPack>]) {
        let mut registry = self.registry();
        for pack in old {
            if !pack.content_hash.is_empty() {
                registry
                    .previous_hashes
                    .insert(pack.pack_ref.clone(), pack.content_hash.clone());
            }
        }
    }

    /// The sensors `node` must run now (recomputing the assignment of every sensor).
    fn sensor_assignment(&self, node: &str, now: Instant) -> Vec<SensorAssignment> {
        if self.inner.config.sensors.enabled {
            // This process runs every sensor itself; a remote node would run them twice.
            return Vec::new();
        }
        let content = self.content();
        let wanted = specs(&SpecInputs {
            content: &content,
            runtimes: &self.inner.runtimes,
            config: &self.inner.config.sensors,
            env: Vec::new(),
        });
        let mut registry = self.registry();
        // Live sensor nodes, with the packs each may not run (not there, or drifted).
        let live: Vec<(String, HashSet<String>)> = registry
            .nodes
            .iter()
            .filter(|(_, entry)| {
                entry.heartbeat.role == NodeRole::Sensors && self.alive(entry, now)
            })
            .map(|(name, entry)| {
                let drifted = entry
                    .drift
                    .iter()
                    .filter(|d| !d.accepted)
                    .map(|d| d.pack.clone())
                    .collect();
                (name.clone(), drifted)
            })
            .collect();
        let can_run = |node: &str, pack: &str| {
            live.iter()
                .any(|(name, drifted)| name == node && !drifted.contains(pack))
        };
        let packs: HashMap<&str, &str> = wanted
            .iter()
            .map(|s| (s.sensor_ref.as_str(), s.pack.as_str()))
            .collect();
        registry.assignment.retain(|sensor, owner| {
            packs
                .get(sensor.as_str())
                .is_some_and(|pack| can_run(owner, pack))
        });
        for spec in &wanted {
            if registry.assignment.contains_key(&spec.sensor_ref) {
                continue;
            }
            let least_loaded = live
                .iter()
                .filter(|(_, drifted)| !drifted.contains(&spec.pack))
                .map(|(name, _)| name)
                .min_by_key(|candidate| {
                    registry
                        .assignment
                        .values()
                        .filter(|owner| owner == candidate)
                        .count()
                });
            if let Some(owner) = least_loaded {
                tracing::info!(sensor = %spec.sensor_ref, node = %owner, "Sensor assigned.");
                registry
                    .assignment
                    .insert(spec.sensor_ref.clone(), owner.clone());
            }
        }
        wanted
            .into_iter()
            .filter(|spec| {
                registry
                    .assignment
                    .get(&spec.sensor_ref)
                    .map(String::as_str)
                    == Some(node)
            })
            .map(|spec| SensorAssignment {
                sensor_ref: spec.sensor_ref,
                triggers: spec
                    .triggers
                    .iter()
                    .filter_map(|t| serde_json::to_value(t).ok())
                    .collect(),
                problems: spec.problems,
            })
            .collect()
    }

    /// A remote worker asks to run an execution.
    ///
    /// # Errors
    /// Unknown execution; store failures.
    pub async fn claim_execution(
        &self,
        execution_id: &str,
        claim: ClaimRequest,
    ) -> Result<ClaimReply, EngineError> {
        let store = self.store();
        let execution =
            store
                .get_execution(execution_id)?
                .ok_or_else(|| EngineError::NotFound {
                    kind: "execution",
                    id: execution_id.to_owned(),
                })?;
        if execution.status == ExecutionStatus::Scheduled {
            let content = self.content();
            let pack_ref = execution
                .action
                .split_once('.')
                .map_or("", |(pack, _)| pack);
            let refused = self
                .drift(&content, &claim.packs, Some(pack_ref))
                .into_iter()
                .find(|d| !d.accepted);
            if let Some(drift) = refused {
                tracing::warn!(node = %claim.node, execution_id, "Claim refused: {}", drift.remedy);
                return Ok(ClaimReply::Refused {
                    reason: format!("node `{}`: {}", claim.node, drift.remedy),
                });
            }
        }
        let (execution, claimed) = store.claim_execution(execution_id, &claim.node).await?;
        if claimed {
            return Ok(ClaimReply::Run {
                execution: Box::new(execution),
            });
        }
        match execution.status {
            // A claim of a running execution means its request was delivered again: the worker
            // that had it went away (a worker never claims what it is running itself).
            ExecutionStatus::Running | ExecutionStatus::Canceling => {
                let owner = execution.worker.clone().unwrap_or_else(|| "?".to_owned());
                let (to, reason) = if execution.status == ExecutionStatus::Canceling {
                    (
                        ExecutionStatus::Canceled,
                        "canceled; the worker running it went away".to_owned(),
                    )
                } else {
                    (
                        ExecutionStatus::Abandoned,
                        format!(
                            "the worker running it (node `{owner}`) went away; not run again because it may have had effects"
                        ),
                    )
                };
                let record = store
                    .transition(execution_id, to, Some(reason), None)
                    .await?;
                crate::worker::after_final(self, &record.execution).await;
                Ok(ClaimReply::Skip { status: to })
            }
            status => Ok(ClaimReply::Skip { status }),
        }
    }

    /// Asks the node running `execution_id` to cancel it (told with its next heartbeat).
    pub(crate) fn cancel_remote(&self, node: &str, execution_id: &str) {
        self.registry()
            .cancels
            .entry(node.to_owned())
            .or_default()
            .insert(execution_id.to_owned());
    }

    /// A sensor's key-value request forwarded by a sensor node.
    pub async fn node_kv(&self, request: NodeKvRequest) -> NodeKvReply {
        let op = match request {
            NodeKvRequest::Get { key, decrypt } => nerve_sensor_host::KvOp::Get { key, decrypt },
            NodeKvRequest::Set {
                key,
                value,
                ttl,
                secret,
            } => nerve_sensor_host::KvOp::Set {
                key,
                value,
                ttl,
                secret,
            },
            NodeKvRequest::Delete { key } => nerve_sensor_host::KvOp::Delete { key },
            NodeKvRequest::List {
                prefix,
                limit,
                offset,
            } => nerve_sensor_host::KvOp::List {
                prefix,
                limit,
                offset,
            },
        };
        match crate::sensors::run_kv(self, op).await {
            Ok(value) => NodeKvReply {
                ok: true,
                value,
                error: None,
            },
            Err(error) => NodeKvReply {
                ok: false,
                value: Value::Null,
                error: Some(error),
            },
        }
    }

    /// Starts the consumers of what remote workers report, and the sweeper of gone nodes.
    pub(crate) async fn spawn_node_consumers(&self) -> Result<(), EngineError> {
        if !self.inner.config.remote_nodes {
            return Ok(());
        }
        let status = self.inner.bus.consume(EXECUTION_STATUS_QUEUE, 64).await?;
        crate::consumer::spawn(
            self,
            status,
            Arc::new(tokio::sync::Semaphore::new(64)),
            |engine, delivery, permit| async move {
                record_report(&engine, delivery).await;
                drop(permit);
            },
        );
        // One at a time: lines of one execution stay in order.
        let output = self.inner.bus.consume(OUTPUT_QUEUE, 64).await?;
        crate::consumer::spawn(
            self,
            output,
            Arc::new(tokio::sync::Semaphore::new(1)),
            |engine, delivery, permit| async move {
                record_output(&engine, delivery);
                drop(permit);
            },
        );
        self.spawn_sweeper();
        Ok(())
    }

    /// Abandons executions that were running on a node that is gone; frees its sensors.
    fn spawn_sweeper(&self) {
        let engine = self.clone();
        let cancel = self.inner.cancel.clone();
        let started = Instant::now();
        self.inner.tasks.spawn(async move {
            let mut ticker = tokio::time::interval(engine.heartbeat_interval());
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                // After a server restart, nodes get a full grace period to say they are there.
                if started.elapsed() < engine.heartbeat_interval() * MISSED_BEATS {
                    continue;
                }
                if let Err(error) = engine.sweep().await {
                    tracing::warn!(%error, "Sweeping executions of gone nodes failed.");
                }
            }
        });
    }

    async fn sweep(&self) -> Result<(), EngineError> {
        let now = Instant::now();
        let alive: HashSet<String> = {
            let registry = self.registry();
            registry
                .nodes
                .iter()
                .filter(|(_, entry)| self.alive(entry, now))
                .map(|(name, _)| name.clone())
                .collect()
        };
        let local = self.inner.config.node_name.as_str();
        let running = self
            .store()
            .executions_with_status(&[ExecutionStatus::Running, ExecutionStatus::Canceling])?;
        for record in running {
            let execution = record.execution;
            let Some(owner) = execution.worker.as_deref() else {
                continue;
            };
            if owner == local || alive.contains(owner) {
                continue;
            }
            let to = if execution.status == ExecutionStatus::Canceling {
                ExecutionStatus::Canceled
            } else {
                ExecutionStatus::Abandoned
            };
            let reason = format!(
                "the worker running it (node `{owner}`) stopped heartbeating; not run again because it may have had effects"
            );
            match self
                .store()
                .transition(&execution.id, to, Some(reason), None)
                .await
            {
                Ok(record) => {
                    tracing::warn!(execution_id = %execution.id, node = owner, "Execution of a gone node marked {to}.");
                    crate::worker::after_final(self, &record.execution).await;
                }
                Err(StoreError::IllegalTransition { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

/// The remedy for a pack a node runs at another version than the server.
fn remedy(
    pack: &str,
    node_hash: Option<&String>,
    server_hash: &str,
    dir: &std::path::Path,
) -> String {
    let short = |hash: &str| hash.chars().take(12).collect::<String>();
    let fix = format!(
        "copy the server's pack to the node: `rsync -a --delete <server>:{}/ <node packs dir>/{pack}/` (the node reloads it at its next heartbeat; a node started with `--pack DIR` for it needs DIR updated and a restart), or run the node with `--packs-dir` on the server's pack directory",
        dir.display()
    );
    match node_hash {
        Some(hash) => format!(
            "pack `{pack}` is at content hash {} on this node but the server runs {}; {fix}",
            short(hash),
            short(server_hash),
        ),
        None => format!(
            "pack `{pack}` (content hash {}) is not on this node; {fix}",
            short(server_hash),
        ),
    }
}

async fn record_report(engine: &Engine, delivery: Delivery) {
    let report: ExecutionReport = match delivery.decode() {
        Ok(report) => report,
        Err(error) => {
            tracing::error!(%error, "Undecodable execution report; dead-lettering it.");
            let _ = delivery.reject().await;
            return;
        }
    };
    let store = engine.store();
    let path: &[ExecutionStatus] = if report.unclaimed {
        &[ExecutionStatus::Running, report.status]
    } else {
        std::slice::from_ref(&report.status)
    };
    let written = store.transition_path_unflushed(
        &report.execution_id,
        path,
        report.reason.clone(),
        Some(report.result.clone()),
    );
    let record = match written {
        Ok(record) => Some(record),
        Err(StoreError::IllegalTransition { .. }) => None,
        Err(StoreError::NotFound { .. }) => {
            tracing::warn!(execution_id = %report.execution_id, "Report for an unknown execution; dropped.");
            None
        }
        Err(error) => {
            tracing::error!(%error, execution_id = %report.execution_id, "Recording an execution report failed; it will be retried.");
            let _ = delivery.nack(true).await;
            return;
        }
    };
    if let Err(error) = store.flush().await {
        tracing::error!(%error, "Flushing an execution report failed; it will be retried.");
        let _ = delivery.nack(true).await;
        return;
    }
    if let Some(record) = record {
        crate::worker::after_final(engine, &record.execution).await;
    }
    let _ = delivery.ack().await;
}

fn record_output(engine: &Engine, delivery: Delivery) {
    let report: OutputReport = match delivery.decode() {
        Ok(report) => report,
        Err(error) => {
            tracing::error!(%error, "Undecodable output report; dropped.");
            tokio::spawn(delivery.reject());
            return;
        }
    };
    let store = engine.store();
    let recorded = store
        .output_stats(&report.execution_id)
        .map(|stats| stats.next_seq)
        .unwrap_or(0);
    let skip = usize::try_from(recorded.saturating_sub(report.first_seq)).unwrap_or(usize::MAX);
    for (stream, line) in report.lines.iter().skip(skip) {
        if let Err(error) = store.append_output(&report.execution_id, stream, line) {
            tracing::warn!(%error, execution_id = %report.execution_id, "Output line not recorded.");
        }
    }
    tokio::spawn(delivery.ack());
}
