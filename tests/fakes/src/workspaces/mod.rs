//! The fake Workspaces: capability requests (request → version → execution, with a capability
//! queue limited per capability) and workflow requests, served as the `workspaces` pack's
//! actions expect (`reference/nrao.md` B4, B7). Executions and workflows run for a configured
//! time, then end `Complete` or `Failed`; statistics record the most that ever ran at once.
//!
//! | Method and path | What |
//! |---|---|
//! | `POST /capability/{name}/request/create` | `{parameters, external_ref?}`: 201 new, 200 the existing request for that `external_ref` |
//! | `POST /capability/request/{id}/submit` | 202; the execution is `Queued` while the queue is full, else `Executing` |
//! | `GET /capability/request/{id}`, `GET /capability/execution/{id}` | current state |
//! | `POST /capability/request/{id}/cancel` | 200 `Cancelled`; 409 when it already ended |
//! | `GET /capability/{name}/queue` | `{limit, executing, queued, paused}` |
//! | `POST /workflows/{name}/requests/create` | `{argument, external_ref?}`: 201 or 200 as above |
//! | `PUT /workflows/{name}/requests/{id}/files/{filename}` | attach a file (text body) |
//! | `POST /workflows/{name}/requests/{id}/submit` | 202; `Submitted`, then `Running` |
//! | `GET /workflows/requests/{id}`, `POST /workflows/requests/{id}/abort` | state, abort |
//! | `POST /_test/capabilities/{name}`, `POST /_test/workflows/{name}` | define or change one (see [`CapabilityConfig`], [`WorkflowConfig`]) |
//! | `POST /_test/faults`, `GET /_test/stats`, `GET /_test/requests` | faults, statistics, every request |

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::faults::{self, Faults};
use crate::{Problem, error, lock, rfc3339};

#[cfg(test)]
mod tests;

/// How a capability behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CapabilityConfig {
    /// Executions that run at once; the rest wait `Queued`.
    pub queue_limit: usize,
    /// How long an execution runs.
    pub duration_ms: u64,
    /// How executions end: `Complete` or `Failed`.
    pub outcome: String,
    /// Requests whose `external_ref` or any string parameter equals one of these end `Failed`.
    pub fail_values: Vec<String>,
    /// A paused queue starts nothing.
    pub paused: bool,
}

impl Default for CapabilityConfig {
    fn default() -> Self {
        Self {
            queue_limit: 2,
            duration_ms: 2000,
            outcome: "Complete".to_owned(),
            fail_values: Vec::new(),
            paused: false,
        }
    }
}

/// How a workflow behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowConfig {
    /// How long a run takes.
    pub duration_ms: u64,
    /// How runs end: `Complete` or `Failed`.
    pub outcome: String,
    /// Requests whose `external_ref` or any string argument equals one of these end `Failed`.
    pub fail_values: Vec<String>,
    /// Times each run goes back from `Running` to `Submitted` (a transient failure the
    /// workflow service restarts by itself).
    pub transient_restarts: u32,
    /// Statistics of concurrent runs per value of this argument (e.g. `obs_code`).
    pub group_by: Option<String>,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        Self {
            duration_ms: 2000,
            outcome: "Complete".to_owned(),
            fail_values: Vec::new(),
            transient_restarts: 0,
            group_by: Some("obs_code".to_owned()),
        }
    }
}

/// Capabilities a new fake knows (invented names, `nrao.md` B5).
pub const DEFAULT_CAPABILITIES: [&str; 2] = ["alma_std_calibration", "alma_calibration_ingest"];
/// Workflows a new fake knows.
pub const DEFAULT_WORKFLOWS: [&str; 2] = ["ingest_vlba_idifits", "ingest_alma_asdm"];

/// The fake's state.
#[derive(Debug)]
pub struct Workspaces {
    state: Mutex<State0>,
    /// Injected faults.
    pub faults: Arc<Faults>,
}

#[derive(Debug, Default)]
struct State0 {
    next_id: u64,
    capabilities: BTreeMap<String, Capability>,
    requests: BTreeMap<u64, CapRequest>,
    executions: HashMap<u64, u64>,
    workflows: BTreeMap<String, Workflow>,
    workflow_requests: BTreeMap<u64, WfRequest>,
    creates: u64,
    existing_creates: u64,
    submits: u64,
}

#[derive(Debug, Default)]
struct Capability {
    config: CapabilityConfig,
    queued: VecDeque<u64>,
    executing: usize,
    max_executing: usize,
    refs: HashMap<String, u64>,
}

#[derive(Debug, Default)]
struct Workflow {
    config: WorkflowConfig,
    running: usize,
    max_running: usize,
    running_by_group: BTreeMap<String, usize>,
    max_running_by_group: BTreeMap<String, usize>,
    refs: HashMap<String, u64>,
}

#[derive(Debug, Clone)]
struct CapRequest {
    id: u64,
    capability_name: String,
    state: &'static str,
    external_ref: Option<String>,
    parameters: Value,
    execution: Option<CapExecution>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct CapExecution {
    id: u64,
    state: &'static str,
    workflow_request_id: u64,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
struct WfRequest {
    id: u64,
    workflow_name: String,
    state: &'static str,
    external_ref: Option<String>,
    argument: Value,
    files: BTreeMap<String, usize>,
    restarts: u32,
    group: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

fn is_terminal(state: &str) -> bool {
    matches!(state, "Complete" | "Failed" | "Cancelled")
}

/// Whether `external_ref` or a string value in `data` is one of `values`.
fn matches_any(values: &[String], external_ref: Option<&str>, data: &Value) -> bool {
    if values.is_empty() {
        return false;
    }
    if external_ref.is_some_and(|r| values.iter().any(|v| v == r)) {
        return true;
    }
    data.as_object().is_some_and(|map| {
        map.values()
            .any(|v| v.as_str().is_some_and(|s| values.iter().any(|x| x == s)))
    })
}

/// How a request ends: `Failed` when its definition's `outcome` says so or it matches one of
/// `fail_values` (see [`matches_any`]), else `Complete`.
fn outcome(
    outcome: &str,
    fail_values: &[String],
    external_ref: Option<&str>,
    data: &Value,
) -> &'static str {
    if outcome == "Failed" || matches_any(fail_values, external_ref, data) {
        "Failed"
    } else {
        "Complete"
    }
}

impl Workspaces {
    /// A fake knowing [`DEFAULT_CAPABILITIES`] and [`DEFAULT_WORKFLOWS`] with default settings.
    pub fn new() -> Arc<Workspaces> {
        let mut state = State0::default();
        for name in DEFAULT_CAPABILITIES {
            state
                .capabilities
                .insert(name.to_owned(), Capability::default());
        }
        for name in DEFAULT_WORKFLOWS {
            state.workflows.insert(name.to_owned(), Workflow::default());
        }
        Arc::new(Workspaces {
            state: Mutex::new(state),
            faults: Arc::default(),
        })
    }

    /// Defines or changes a capability; a larger queue limit starts queued executions.
    pub fn configure_capability(self: &Arc<Self>, name: &str, config: CapabilityConfig) {
        let mut state = lock(&self.state);
        state
            .capabilities
            .entry(name.to_owned())
            .or_default()
            .config = config;
        self.start_queued(&mut state, name);
    }

    /// Defines or changes a workflow.
    pub fn configure_workflow(&self, name: &str, config: WorkflowConfig) {
        lock(&self.state)
            .workflows
            .entry(name.to_owned())
            .or_default()
            .config = config;
    }

    /// Starts queued executions of `name` while its queue has room.
    fn start_queued(self: &Arc<Self>, state: &mut State0, name: &str) {
        loop {
            let Some(capability) = state.capabilities.get_mut(name) else {
                return;
            };
            if capability.config.paused || capability.executing >= capability.config.queue_limit {
                return;
            }
            let Some(request_id) = capability.queued.pop_front() else {
                return;
            };
            capability.executing += 1;
            capability.max_executing = capability.max_executing.max(capability.executing);
            let duration = Duration::from_millis(capability.config.duration_ms);
            let now = Utc::now();
            let Some(request) = state.requests.get_mut(&request_id) else {
                continue;
            };
            request.updated_at = now;
            let Some(execution) = request.execution.as_mut() else {
                continue;
            };
            execution.state = "Executing";
            execution.started_at = Some(now);
            let execution_id = execution.id;
            let fake = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(duration).await;
                fake.finish_execution(request_id, execution_id);
            });
        }
    }

    fn finish_execution(self: &Arc<Self>, request_id: u64, execution_id: u64) {
        let mut state = lock(&self.state);
        let Some(request) = state.requests.get(&request_id) else {
            return;
        };
        let name = request.capability_name.clone();
        let still_executing = request
            .execution
            .as_ref()
            .is_some_and(|e| e.id == execution_id && e.state == "Executing");
        if !still_executing {
            return; // cancelled meanwhile (the slot was freed then)
        }
        let outcome = state.capabilities.get(&name).map_or("Complete", |c| {
            outcome(
                &c.config.outcome,
                &c.config.fail_values,
                request.external_ref.as_deref(),
                &request.parameters,
            )
        });
        let now = Utc::now();
        if let Some(request) = state.requests.get_mut(&request_id) {
            request.state = outcome;
            request.updated_at = now;
            if let Some(execution) = request.execution.as_mut() {
                execution.state = outcome;
                execution.finished_at = Some(now);
            }
        }
        if let Some(capability) = state.capabilities.get_mut(&name) {
            capability.executing = capability.executing.saturating_sub(1);
        }
        self.start_queued(&mut state, &name);
    }

    fn run_workflow(self: &Arc<Self>, request_id: u64, duration: Duration, restarts: u32) {
        let fake = self.clone();
        tokio::spawn(async move {
            // Transient failures: back to `Submitted` for a moment, then `Running` again.
            let slice = duration / (restarts + 1);
            for _ in 0..restarts {
                tokio::time::sleep(slice).await;
                if !fake.workflow_transition(request_id, "Running", "Submitted") {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                if !fake.workflow_transition(request_id, "Submitted", "Running") {
                    return;
                }
            }
            tokio::time::sleep(slice).await;
            fake.finish_workflow(request_id);
        });
    }

    fn workflow_transition(&self, request_id: u64, from: &str, to: &'static str) -> bool {
        let mut state = lock(&self.state);
        match state.workflow_requests.get_mut(&request_id) {
            Some(request) if request.state == from => {
                request.state = to;
                if to == "Submitted" {
                    request.restarts += 1;
                }
                true
            }
            _ => false,
        }
    }

    fn finish_workflow(&self, request_id: u64) {
        let mut state = lock(&self.state);
        let Some(request) = state.workflow_requests.get(&request_id).cloned() else {
            return;
        };
        if request.state != "Running" {
            return;
        }
        let outcome = state
            .workflows
            .get(&request.workflow_name)
            .map_or("Complete", |w| {
                outcome(
                    &w.config.outcome,
                    &w.config.fail_values,
                    request.external_ref.as_deref(),
                    &request.argument,
                )
            });
        if let Some(stored) = state.workflow_requests.get_mut(&request_id) {
            stored.state = outcome;
            stored.finished_at = Some(Utc::now());
        }
        release_workflow_slot(&mut state, &request);
    }
}

fn release_workflow_slot(state: &mut State0, request: &WfRequest) {
    if let Some(workflow) = state.workflows.get_mut(&request.workflow_name) {
        workflow.running = workflow.running.saturating_sub(1);
        if let Some(group) = &request.group
            && let Some(n) = workflow.running_by_group.get_mut(group)
        {
            *n = n.saturating_sub(1);
        }
    }
}

/// The fake's routes.
pub fn router(workspaces: Arc<Workspaces>) -> Router {
    let faults = workspaces.faults.clone();
    let routes = Router::new()
        .route("/capability/{name}/request/create", post(create_request))
        .route("/capability/request/{id}/submit", post(submit_request))
        .route("/capability/request/{id}", get(get_request))
        .route("/capability/request/{id}/cancel", post(cancel_request))
        .route("/capability/execution/{id}", get(get_execution))
        .route("/capability/{name}/queue", get(get_queue))
        .route("/workflows/{name}/requests/create", post(create_workflow))
        .route(
            "/workflows/{name}/requests/{id}/files/{filename}",
            put(put_file),
        )
        .route(
            "/workflows/{name}/requests/{id}/submit",
            post(submit_workflow),
        )
        .route("/workflows/requests/{id}", get(get_workflow))
        .route("/workflows/requests/{id}/abort", post(abort_workflow))
        .route("/_test/capabilities/{name}", post(configure_capability))
        .route("/_test/workflows/{name}", post(configure_workflow))
        .route("/_test/stats", get(stats))
        .route("/_test/requests", get(all_requests));
    faults::with_faults(routes, faults, workspaces)
}

type Shared = State<Arc<Workspaces>>;
type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn request_json(request: &CapRequest) -> Value {
    json!({
        "id": request.id,
        "capability_name": request.capability_name,
        "state": request.state,
        "external_ref": request.external_ref,
        "parameters": request.parameters,
        "current_version": 1,
        "current_execution": request.execution.as_ref().map(execution_json),
        "created_at": rfc3339(request.created_at),
        "updated_at": rfc3339(request.updated_at),
    })
}

fn execution_json(execution: &CapExecution) -> Value {
    json!({
        "id": execution.id,
        "state": execution.state,
        "workflow_request_id": execution.workflow_request_id,
        "created_at": rfc3339(execution.created_at),
        "started_at": execution.started_at.map(rfc3339),
        "finished_at": execution.finished_at.map(rfc3339),
    })
}

fn workflow_json(request: &WfRequest) -> Value {
    json!({
        "workflow_request_id": request.id,
        "workflow_name": request.workflow_name,
        "state": request.state,
        "external_ref": request.external_ref,
        "argument": request.argument,
        "files": request.files.keys().collect::<Vec<_>>(),
        "htcondor_job_id": request.started_at.map(|_| format!("{}.0", 8000 + request.id)),
        "restarts": request.restarts,
        "results_dir": if request.state == "Complete" {
            Value::String(format!("/lustre/aoc/cluster/pipeline/fake/workspaces/spool/{}", request.id))
        } else {
            Value::Null
        },
        "created_at": rfc3339(request.created_at),
        "started_at": request.started_at.map(rfc3339),
        "finished_at": request.finished_at.map(rfc3339),
    })
}

/// A handler's answer: `Err` carries an early answer (an error, or an idempotent repeat).
type Answer = Result<Response, Early>;

/// An early answer (an error, or an idempotent repeat), boxed to keep `Result`s small.
struct Early(Box<Response>);

impl From<Response> for Early {
    fn from(response: Response) -> Self {
        Early(Box::new(response))
    }
}

impl IntoResponse for Early {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// Answers `response` early.
fn early<T>(response: Response) -> Result<T, Early> {
    Err(response.into())
}

fn parse_id(text: &str) -> Result<u64, Early> {
    text.parse().map_err(|_| {
        Problem(
            StatusCode::BAD_REQUEST,
            format!("`{text}` is not a request id (a number)"),
        )
        .into_response()
        .into()
    })
}

fn not_found(kind: &str, id: impl std::fmt::Display) -> Response {
    error(StatusCode::NOT_FOUND, format!("no {kind} {id}"))
}

/// Body of the create endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    argument: Option<Value>,
    #[serde(default)]
    external_ref: Option<String>,
}

fn bad_body(rejection: &axum::extract::rejection::JsonRejection) -> Response {
    error(StatusCode::BAD_REQUEST, rejection.body_text())
}

/// What capability requests ([`Cap`]) and workflow requests ([`Wf`]) share: a definition per
/// name, requests by id, `external_ref`s per definition and a JSON rendering.
trait Kind {
    type Def;
    type Req;
    /// `capability` or `workflow`.
    const NAME: &'static str;
    /// The create body's field holding the request's data.
    const DATA: &'static str;
    fn data(body: CreateBody) -> (Option<Value>, Option<String>);
    fn defs(state: &mut State0) -> &mut BTreeMap<String, Self::Def>;
    fn requests(state: &mut State0) -> &mut BTreeMap<u64, Self::Req>;
    fn refs(def: &mut Self::Def) -> &mut HashMap<String, u64>;
    fn state(request: &Self::Req) -> &'static str;
    fn json(request: &Self::Req) -> Value;
}

/// Capability requests.
struct Cap;
/// Workflow requests.
struct Wf;

impl Kind for Cap {
    type Def = Capability;
    type Req = CapRequest;
    const NAME: &'static str = "capability";
    const DATA: &'static str = "parameters";
    fn data(body: CreateBody) -> (Option<Value>, Option<String>) {
        (body.parameters, body.external_ref)
    }
    fn defs(state: &mut State0) -> &mut BTreeMap<String, Capability> {
        &mut state.capabilities
    }
    fn requests(state: &mut State0) -> &mut BTreeMap<u64, CapRequest> {
        &mut state.requests
    }
    fn refs(def: &mut Capability) -> &mut HashMap<String, u64> {
        &mut def.refs
    }
    fn state(request: &CapRequest) -> &'static str {
        request.state
    }
    fn json(request: &CapRequest) -> Value {
        request_json(request)
    }
}

impl Kind for Wf {
    type Def = Workflow;
    type Req = WfRequest;
    const NAME: &'static str = "workflow";
    const DATA: &'static str = "argument";
    fn data(body: CreateBody) -> (Option<Value>, Option<String>) {
        (body.argument, body.external_ref)
    }
    fn defs(state: &mut State0) -> &mut BTreeMap<String, Workflow> {
        &mut state.workflows
    }
    fn requests(state: &mut State0) -> &mut BTreeMap<u64, WfRequest> {
        &mut state.workflow_requests
    }
    fn refs(def: &mut Workflow) -> &mut HashMap<String, u64> {
        &mut def.refs
    }
    fn state(request: &WfRequest) -> &'static str {
        request.state
    }
    fn json(request: &WfRequest) -> Value {
        workflow_json(request)
    }
}

/// The create body's data (`{}` when absent; it must be an object) and `external_ref`.
fn create_body<K: Kind>(body: JsonBody<CreateBody>) -> Result<(Value, Option<String>), Early> {
    let Json(body) = body.map_err(|rejection| Early::from(bad_body(&rejection)))?;
    let (data, external_ref) = K::data(body);
    let data = data.unwrap_or_else(|| Value::Object(Map::new()));
    if !data.is_object() {
        return early(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`{}` must be an object", K::DATA),
        ));
    }
    Ok((data, external_ref))
}

/// Counts a create call of `name`; an unknown name answers 404 and a known `external_ref`
/// answers 200 with its request. `Ok` with the id for the new request.
fn begin_create<K: Kind>(
    state: &mut State0,
    name: &str,
    external_ref: Option<&str>,
) -> Result<u64, Early> {
    state.creates += 1;
    let defs = K::defs(state);
    let known: Vec<String> = defs.keys().cloned().collect();
    let Some(def) = defs.get_mut(name) else {
        return early(error(
            StatusCode::NOT_FOUND,
            format!("no {} `{name}` (known: {})", K::NAME, known.join(", ")),
        ));
    };
    let existing = external_ref
        .and_then(|r| K::refs(def).get(r).copied())
        .and_then(|id| K::requests(state).get(&id))
        .map(K::json);
    if let Some(body) = existing {
        state.existing_creates += 1;
        return early((StatusCode::OK, Json(body)).into_response());
    }
    state.next_id += 1;
    Ok(state.next_id)
}

/// Stores the new request `id` of `name` and its `external_ref`: 201.
fn finish_create<K: Kind>(
    state: &mut State0,
    name: &str,
    id: u64,
    request: K::Req,
    external_ref: Option<String>,
) -> Response {
    let body = K::json(&request);
    K::requests(state).insert(id, request);
    if let (Some(reference), Some(def)) = (external_ref, K::defs(state).get_mut(name)) {
        K::refs(def).insert(reference, id);
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

/// Counts a submit call of request `id` (404 as `label` unless `accept`ed): the request while it
/// is `Created`, else 200 with where it is (submitting is idempotent).
fn begin_submit<'s, K: Kind>(
    state: &'s mut State0,
    id: u64,
    label: &str,
    accept: impl Fn(&K::Req) -> bool,
) -> Result<&'s mut K::Req, Early> {
    state.submits += 1;
    let request = K::requests(state)
        .get_mut(&id)
        .filter(|request| accept(request))
        .ok_or_else(|| Early::from(not_found(label, id)))?;
    if K::state(request) != "Created" {
        return early((StatusCode::OK, Json(K::json(request))).into_response());
    }
    Ok(request)
}

/// Request `id` (in the path's text) as JSON.
fn show<K: Kind>(ws: &Workspaces, id: &str) -> Answer {
    let id = parse_id(id)?;
    let mut state = lock(&ws.state);
    match K::requests(&mut state).get(&id) {
        Some(request) => Ok(Json(K::json(request)).into_response()),
        None => early(not_found(&format!("{} request", K::NAME), id)),
    }
}

/// 409 when request `id` already ended.
fn refuse_ended<K: Kind>(id: u64, state: &str) -> Result<(), Early> {
    if is_terminal(state) {
        let message = format!("{} request {id} already ended {state}", K::NAME);
        return early(error(StatusCode::CONFLICT, message));
    }
    Ok(())
}

async fn create_request(
    State(ws): Shared,
    Path(name): Path<String>,
    body: JsonBody<CreateBody>,
) -> Answer {
    let (parameters, external_ref) = create_body::<Cap>(body)?;
    let mut state = lock(&ws.state);
    let id = begin_create::<Cap>(&mut state, &name, external_ref.as_deref())?;
    let now = Utc::now();
    let request = CapRequest {
        id,
        capability_name: name.clone(),
        state: "Created",
        external_ref: external_ref.clone(),
        parameters,
        execution: None,
        created_at: now,
        updated_at: now,
    };
    Ok(finish_create::<Cap>(
        &mut state,
        &name,
        id,
        request,
        external_ref,
    ))
}

async fn submit_request(State(ws): Shared, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let mut state = lock(&ws.state);
    let name = begin_submit::<Cap>(&mut state, id, "capability request", |_| true)?
        .capability_name
        .clone();
    state.next_id += 2;
    let execution_id = state.next_id - 1;
    let workflow_request_id = state.next_id;
    let now = Utc::now();
    if let Some(request) = state.requests.get_mut(&id) {
        request.state = "Submitted";
        request.updated_at = now;
        request.execution = Some(CapExecution {
            id: execution_id,
            state: "Queued",
            workflow_request_id,
            created_at: now,
            started_at: None,
            finished_at: None,
        });
    }
    state.executions.insert(execution_id, id);
    if let Some(capability) = state.capabilities.get_mut(&name) {
        capability.queued.push_back(id);
    }
    ws.start_queued(&mut state, &name);
    let body = state.requests.get(&id).map(request_json);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

async fn get_request(State(ws): Shared, Path(id): Path<String>) -> Answer {
    show::<Cap>(&ws, &id)
}

async fn get_execution(State(ws): Shared, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let state = lock(&ws.state);
    let execution = state
        .executions
        .get(&id)
        .and_then(|request| state.requests.get(request))
        .and_then(|request| request.execution.as_ref());
    match execution {
        Some(execution) => Ok(Json(execution_json(execution)).into_response()),
        None => early(not_found("capability execution", id)),
    }
}

async fn cancel_request(State(ws): Shared, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let mut state = lock(&ws.state);
    let Some(request) = state.requests.get_mut(&id) else {
        return early(not_found("capability request", id));
    };
    refuse_ended::<Cap>(id, request.state)?;
    let was_executing = request
        .execution
        .as_ref()
        .is_some_and(|e| e.state == "Executing");
    request.state = "Cancelled";
    request.updated_at = Utc::now();
    if let Some(execution) = request.execution.as_mut() {
        execution.state = "Cancelled";
        execution.finished_at = Some(Utc::now());
    }
    let name = request.capability_name.clone();
    let body = request_json(request);
    if let Some(capability) = state.capabilities.get_mut(&name) {
        capability.queued.retain(|queued| *queued != id);
        if was_executing {
            capability.executing = capability.executing.saturating_sub(1);
        }
    }
    ws.start_queued(&mut state, &name);
    Ok(Json(body).into_response())
}

async fn get_queue(State(ws): Shared, Path(name): Path<String>) -> Response {
    let state = lock(&ws.state);
    match state.capabilities.get(&name) {
        Some(capability) => Json(json!({
            "limit": capability.config.queue_limit,
            "executing": capability.executing,
            "queued": capability.queued.len(),
            "paused": capability.config.paused,
        }))
        .into_response(),
        None => not_found("capability", format!("`{name}`")),
    }
}

async fn create_workflow(
    State(ws): Shared,
    Path(name): Path<String>,
    body: JsonBody<CreateBody>,
) -> Answer {
    let (argument, external_ref) = create_body::<Wf>(body)?;
    let mut state = lock(&ws.state);
    let id = begin_create::<Wf>(&mut state, &name, external_ref.as_deref())?;
    let group = state
        .workflows
        .get(&name)
        .and_then(|workflow| workflow.config.group_by.as_ref())
        .and_then(|key| argument.get(key))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    let request = WfRequest {
        id,
        workflow_name: name.clone(),
        state: "Created",
        external_ref: external_ref.clone(),
        argument,
        files: BTreeMap::new(),
        restarts: 0,
        group,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
    };
    Ok(finish_create::<Wf>(
        &mut state,
        &name,
        id,
        request,
        external_ref,
    ))
}

async fn put_file(
    State(ws): Shared,
    Path((name, id, filename)): Path<(String, String, String)>,
    body: String,
) -> Answer {
    let id = parse_id(&id)?;
    let mut state = lock(&ws.state);
    match state.workflow_requests.get_mut(&id) {
        Some(request) if request.workflow_name == name => {
            if request.state != "Created" {
                return early(error(
                    StatusCode::CONFLICT,
                    format!("workflow request {id} was submitted; files can no longer change"),
                ));
            }
            request.files.insert(filename, body.len());
            Ok(Json(workflow_json(request)).into_response())
        }
        _ => early(not_found(&format!("`{name}` workflow request"), id)),
    }
}

async fn submit_workflow(State(ws): Shared, Path((name, id)): Path<(String, String)>) -> Answer {
    let id = parse_id(&id)?;
    let mut state = lock(&ws.state);
    let label = format!("`{name}` workflow request");
    let group = begin_submit::<Wf>(&mut state, id, &label, |r| r.workflow_name == name)?
        .group
        .clone();
    let Some(workflow) = state.workflows.get_mut(&name) else {
        return early(not_found("workflow", format!("`{name}`")));
    };
    workflow.running += 1;
    workflow.max_running = workflow.max_running.max(workflow.running);
    if let Some(group) = group {
        let running = workflow.running_by_group.entry(group.clone()).or_default();
        *running += 1;
        let running = *running;
        let max = workflow.max_running_by_group.entry(group).or_default();
        *max = (*max).max(running);
    }
    let duration = Duration::from_millis(workflow.config.duration_ms);
    let restarts = workflow.config.transient_restarts;
    let Some(request) = state.workflow_requests.get_mut(&id) else {
        return early(not_found("workflow request", id));
    };
    request.state = "Running";
    request.started_at = Some(Utc::now());
    let body = workflow_json(request);
    ws.run_workflow(id, duration, restarts);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

async fn get_workflow(State(ws): Shared, Path(id): Path<String>) -> Answer {
    show::<Wf>(&ws, &id)
}

async fn abort_workflow(State(ws): Shared, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let mut state = lock(&ws.state);
    let Some(request) = state.workflow_requests.get(&id).cloned() else {
        return early(not_found("workflow request", id));
    };
    refuse_ended::<Wf>(id, request.state)?;
    if matches!(request.state, "Running" | "Submitted") {
        release_workflow_slot(&mut state, &request);
    }
    let Some(stored) = state.workflow_requests.get_mut(&id) else {
        return early(not_found("workflow request", id));
    };
    stored.state = "Cancelled";
    stored.finished_at = Some(Utc::now());
    Ok(Json(workflow_json(stored)).into_response())
}

/// A configuration body; its `outcome` must be `Complete` or `Failed`.
fn config_body<T>(body: JsonBody<T>, outcome: impl Fn(&T) -> &str) -> Result<T, Early> {
    let Json(config) = body.map_err(|rejection| Early::from(bad_body(&rejection)))?;
    if !matches!(outcome(&config), "Complete" | "Failed") {
        return early(error(
            StatusCode::BAD_REQUEST,
            "`outcome` must be Complete or Failed",
        ));
    }
    Ok(config)
}

async fn configure_capability(
    State(ws): Shared,
    Path(name): Path<String>,
    body: JsonBody<CapabilityConfig>,
) -> Answer {
    let config = config_body(body, |c| c.outcome.as_str())?;
    ws.configure_capability(&name, config.clone());
    Ok(Json(json!({"capability": name, "config": config})).into_response())
}

async fn configure_workflow(
    State(ws): Shared,
    Path(name): Path<String>,
    body: JsonBody<WorkflowConfig>,
) -> Answer {
    let config = config_body(body, |c| c.outcome.as_str())?;
    ws.configure_workflow(&name, config.clone());
    Ok(Json(json!({"workflow": name, "config": config})).into_response())
}

/// Counts `states` by state: the counts and their total.
fn by_state(states: impl Iterator<Item = &'static str>) -> (BTreeMap<&'static str, u64>, u64) {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for state in states {
        *counts.entry(state).or_default() += 1;
    }
    let total = counts.values().sum();
    (counts, total)
}

async fn stats(State(ws): Shared) -> Response {
    let state = lock(&ws.state);
    let mut capabilities = Map::new();
    let mut max_executing = Map::new();
    for (name, capability) in &state.capabilities {
        let (by_state, requests) = by_state(
            state
                .requests
                .values()
                .filter(|r| &r.capability_name == name)
                .map(|r| r.state),
        );
        capabilities.insert(
            name.clone(),
            json!({
                "requests": requests,
                "by_state": by_state,
                "executing": capability.executing,
                "queued": capability.queued.len(),
                "max_concurrent_executing": capability.max_executing,
                "config": capability.config,
            }),
        );
        max_executing.insert(name.clone(), json!(capability.max_executing));
    }
    let mut workflows = Map::new();
    for (name, workflow) in &state.workflows {
        let (by_state, requests) = by_state(
            state
                .workflow_requests
                .values()
                .filter(|r| &r.workflow_name == name)
                .map(|r| r.state),
        );
        workflows.insert(
            name.clone(),
            json!({
                "requests": requests,
                "by_state": by_state,
                "running": workflow.running,
                "max_concurrent_running": workflow.max_running,
                "max_concurrent_running_by_group": workflow.max_running_by_group,
                "config": workflow.config,
            }),
        );
    }
    Json(json!({
        "capability_requests": state.requests.len(),
        "workflow_requests": state.workflow_requests.len(),
        "create_calls": state.creates,
        "creates_of_existing": state.existing_creates,
        "submit_calls": state.submits,
        "max_concurrent_executing": max_executing,
        "capabilities": capabilities,
        "workflows": workflows,
        "faults": ws.faults.snapshot(),
    }))
    .into_response()
}

async fn all_requests(State(ws): Shared) -> Response {
    let state = lock(&ws.state);
    Json(json!({
        "capability_requests": state.requests.values().map(request_json).collect::<Vec<_>>(),
        "workflow_requests": state.workflow_requests.values().map(workflow_json).collect::<Vec<_>>(),
    }))
    .into_response()
}
