//! `/api/v1/nodes`: the node registry of a multi-node deployment (heartbeats, the list the
//! operator sees), remote workers' claims, sensor nodes' key-value requests, and the bus's
//! queues with their dead letters.
//!
//! Nodes are Nerve processes holding the admin token or an API key; what they send is the
//! shared wire format of `nerve_model::node`.

use axum::Json;
use axum::extract::{Path, State};
use nerve_model::{
    ClaimReply, ClaimRequest, HeartbeatReply, NodeHeartbeat, NodeInfo, NodeKvReply, NodeKvRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::dto::Fault;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// A node's heartbeat; the answer says what the node must do now (its sensors, executions to
/// cancel, packs at a version the server does not accept).
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{name}/heartbeat",
    tag = "nodes",
    params(("name" = String, Path, description = "Node name")),
    request_body(content = Object, description = "`NodeHeartbeat`: node, role, version, pid, started_at, runtimes, runners, capacity, packs (ref → content hash), running, sensors"),
    responses(
        (status = 200, description = "`HeartbeatReply`: interval_secs, sensors, cancel, drift", body = Object),
        (status = 400, description = "Bad heartbeat (the name in the path and body differ, a bad node name)", body = Fault)
    )
)]
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(heartbeat): Json<NodeHeartbeat>,
) -> AppResult<Json<HeartbeatReply>> {
    if heartbeat.node != name {
        return Err(AppError::bad_request(format!(
            "the heartbeat is for node `{}` but was sent to `{name}`",
            heartbeat.node
        )));
    }
    Ok(Json(state.platform.node_heartbeat(heartbeat).await?))
}

/// Every node the server heard from, with its state (`alive`, or `gone` after three missed
/// heartbeats), runtimes, packs, assigned sensors and pack drift.
#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    tag = "nodes",
    responses((status = 200, description = "`NodeInfo` list, by name", body = [Object]))
)]
pub(crate) async fn list(State(state): State<AppState>) -> AppResult<Json<Vec<NodeInfo>>> {
    Ok(Json(state.platform.nodes().await?))
}

/// A remote worker claims an execution before running it: `run` (it is now `running` on that
/// node), `skip` (no longer scheduled) or `refused` (the node's pack is at a version the
/// server does not accept; the reason says what to run).
#[utoipa::path(
    post,
    path = "/api/v1/executions/{id}/claim",
    tag = "nodes",
    params(("id" = String, Path, description = "Execution id")),
    request_body(content = Object, description = "`ClaimRequest`: node, packs (ref → content hash)"),
    responses(
        (status = 200, description = "`ClaimReply`: decision run|skip|refused", body = Object),
        (status = 404, description = "No such execution", body = Fault)
    )
)]
pub(crate) async fn claim(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(claim): Json<ClaimRequest>,
) -> AppResult<Json<ClaimReply>> {
    Ok(Json(state.platform.claim_execution(&id, claim).await?))
}

/// A sensor's key-value request, forwarded by the sensor node that runs it.
#[utoipa::path(
    post,
    path = "/api/v1/nodes/{name}/kv",
    tag = "nodes",
    params(("name" = String, Path, description = "Node name")),
    request_body(content = Object, description = "`NodeKvRequest`: op get|set|delete|list with key, value, ttl, secret, prefix"),
    responses((status = 200, description = "`NodeKvReply`: ok, value, error", body = Object))
)]
pub(crate) async fn kv(
    State(state): State<AppState>,
    Path(_name): Path<String>,
    Json(request): Json<NodeKvRequest>,
) -> AppResult<Json<NodeKvReply>> {
    Ok(Json(state.platform.node_kv(request).await?))
}

/// One queue of the bus.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueueDto {
    /// Queue name.
    pub name: String,
    /// Messages waiting for a consumer.
    pub ready: u64,
    /// Messages handed to this process's consumers and not yet acked.
    pub unacked: u64,
    /// Consumers attached.
    pub consumers: u64,
    /// Dead letters.
    pub dead_letters: u64,
}

/// A dead-lettered message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterDto {
    /// Message id.
    pub id: String,
    /// Routing key it was published with.
    pub routing_key: String,
    /// The queue it gave up in.
    pub queue: String,
    /// `rejected` or `delivery_limit`.
    pub reason: String,
    /// Deliveries it had.
    pub deliveries: u32,
    /// When it was dead-lettered (RFC 3339).
    pub dead_lettered_at: String,
    /// The body (JSON when it is JSON, else text).
    pub body: Value,
}

/// Which dead letters to replay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ReplayDto {
    /// Message ids; all of the queue's dead letters when absent.
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

/// How many dead letters went back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplayedDto {
    /// Messages moved back to their queue.
    pub replayed: usize,
}

/// The bus's queues with their counts.
#[utoipa::path(
    get,
    path = "/api/v1/bus/queues",
    tag = "nodes",
    responses((status = 200, description = "Queues", body = [QueueDto]))
)]
pub(crate) async fn queues(State(state): State<AppState>) -> AppResult<Json<Vec<QueueDto>>> {
    Ok(Json(state.platform.queues().await?))
}

/// The dead letters of a queue, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/bus/queues/{name}/dead_letters",
    tag = "nodes",
    params(("name" = String, Path, description = "Queue name")),
    responses(
        (status = 200, description = "Dead letters", body = [DeadLetterDto]),
        (status = 404, description = "No such queue", body = Fault)
    )
)]
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> AppResult<Json<Vec<DeadLetterDto>>> {
    Ok(Json(state.platform.dead_letters(&name).await?))
}

/// Moves dead letters back to their queue as fresh messages.
#[utoipa::path(
    post,
    path = "/api/v1/bus/queues/{name}/replay",
    tag = "nodes",
    params(("name" = String, Path, description = "Queue name")),
    request_body = ReplayDto,
    responses(
        (status = 200, description = "How many went back", body = ReplayedDto),
        (status = 404, description = "No such queue", body = Fault)
    )
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(replay): Json<ReplayDto>,
) -> AppResult<Json<ReplayedDto>> {
    let replayed = state
        .platform
        .replay_dead_letters(&name, replay.ids)
        .await?;
    Ok(Json(ReplayedDto { replayed }))
}
