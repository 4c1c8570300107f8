//! `GET /api/v1/stream` (also `/stream/v1/stream`): StackStorm's event stream over SSE, fed
//! from the store's change feed.
//!
//! Events: `st2.execution__create`, `st2.execution__update` (data: the masked execution),
//! `st2.execution__delete` (data: `{"id"}`) and `st2.execution.output__create` (data: one output
//! line). Query `events` (comma-separated names) picks events; `execution_id`/`execution_ids`
//! and `action_refs` narrow them. A heartbeat comment goes out every 15 s.
//!
//! Every change is prepared once for all streams by one hub task (`hub`): the execution read,
//! masked and encoded once, not once per client, so a hundred open browsers cost little more
//! than one. Each stream keeps only its own filters and what it has seen.
//!
//! An execution is reported as `create` the first time this stream sees it while it has one
//! status entry, as `update` otherwise. Output lines of an execution this stream has not seen
//! before start at the first line written after the client connected. After a `Lagged` (the
//! client fell too far behind) the missed execution changes are lost, but output is re-read from
//! each cursor on the next change, so no line is skipped.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures_util::Stream;
use nerve_store::{Change, ChangeKind, ChangeOp, Store};
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use crate::dto::{Fault, OutputLineDto};
use crate::error::{ApiQuery, AppResult};
use crate::mask::execution_dto;
use crate::routes::output::{OUTPUT_EVENT, json_event};
use crate::state::AppState;

/// Execution created.
pub(crate) const CREATE_EVENT: &str = "st2.execution__create";
/// Execution changed.
pub(crate) const UPDATE_EVENT: &str = "st2.execution__update";
/// Execution deleted (purged).
pub(crate) const DELETE_EVENT: &str = "st2.execution__delete";

const ALL_EVENTS: [&str; 4] = [CREATE_EVENT, UPDATE_EVENT, DELETE_EVENT, OUTPUT_EVENT];
const OUTPUT_BATCH: usize = 500;

/// Filters of the stream.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Comma-separated event names (default: all four).
    events: Option<String>,
    /// Only this execution.
    execution_id: Option<String>,
    /// Only these executions (comma-separated).
    execution_ids: Option<String>,
    /// Only executions of these actions (comma-separated).
    action_refs: Option<String>,
}

fn split(text: Option<&str>) -> Vec<String> {
    text.map(|text| {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

struct Filter {
    events: HashSet<String>,
    executions: HashSet<String>,
    actions: HashSet<String>,
}

impl Filter {
    fn new(query: &StreamQuery) -> Self {
        let mut events: HashSet<String> = split(query.events.as_deref()).into_iter().collect();
        if events.is_empty() {
            events = ALL_EVENTS.iter().map(|name| (*name).to_owned()).collect();
        }
        let mut executions: HashSet<String> =
            split(query.execution_ids.as_deref()).into_iter().collect();
        executions.extend(query.execution_id.clone());
        Self {
            events,
            executions,
            actions: split(query.action_refs.as_deref()).into_iter().collect(),
        }
    }

    fn wants_event(&self, name: &str) -> bool {
        self.events.contains(name)
    }

    fn wants_execution(&self, id: &str) -> bool {
        self.executions.is_empty() || self.executions.contains(id)
    }

    fn wants_action(&self, action: &str) -> bool {
        self.actions.is_empty() || self.actions.contains(action)
    }
}

/// The event stream (SSE).
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    tag = "stream",
    params(StreamQuery),
    responses(
        (status = 200, description = "Server-sent events", content_type = "text/event-stream"),
        (status = 400, description = "Bad query", body = Fault)
    )
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Taken before subscribing: a line stamped after it is new to this client.
    let connected_at = nerve_store::timestamp(Utc::now());
    let changes = hub(&state).subscribe();
    let heartbeat = state.options.heartbeat;
    let events = follow(state, Filter::new(&query), connected_at, changes);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(heartbeat)))
}

/// What one connection remembers about executions.
#[derive(Default)]
struct Seen {
    /// Executions reported (id → action ref).
    actions: HashMap<String, String>,
    /// Next output line to send per execution.
    cursors: HashMap<String, u64>,
}

/// The first sequence number of a line stamped at or after `since` (timestamps share one
/// format, so text order is time order); lines are numbered densely from 0.
fn first_seq_since(store: &Store, id: &str, since: &str) -> nerve_store::Result<u64> {
    let (mut low, mut high) = (0, store.output_stats(id)?.next_seq);
    while low < high {
        let middle = low + (high - low) / 2;
        match store.output(id, middle, 1)?.first() {
            Some(line) if line.timestamp.as_str() < since => low = line.seq + 1,
            _ => high = middle,
        }
    }
    Ok(low)
}

/// Changes held for streams that fall behind the hub before they lag.
const HUB_CAPACITY: usize = 4096;

/// One store change, prepared once for every stream.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// An execution was written: the masked DTO, encoded, and what streams filter on.
    Execution {
        id: String,
        action: String,
        start_timestamp: String,
        /// Status entries so far (`create` is a first sight with at most one).
        log_len: usize,
        is_final: bool,
        json: Arc<str>,
    },
    /// An execution was purged.
    ExecutionDeleted { id: String },
    /// Output lines were written for an execution (each stream reads from its own cursor).
    Output { id: String },
    /// The hub fell behind the store's feed and missed changes.
    Lagged(u64),
}

/// The hub's sender, starting the hub on first use: one task that follows the store's change
/// feed until shutdown and prepares each change while any stream listens.
pub(crate) fn hub(state: &AppState) -> broadcast::Sender<Arc<Prepared>> {
    state
        .hub
        .get_or_init(|| {
            let (sender, _) = broadcast::channel(HUB_CAPACITY);
            let changes = state.store.subscribe();
            tokio::spawn(run_hub(state.clone(), changes, sender.clone()));
            sender
        })
        .clone()
}

async fn run_hub(
    state: AppState,
    mut changes: tokio::sync::broadcast::Receiver<Change>,
    sender: broadcast::Sender<Arc<Prepared>>,
) {
    loop {
        let change = tokio::select! {
            () = state.shutdown.cancelled() => return,
            change = changes.recv() => change,
        };
        let prepared = match change {
            Ok(change) if sender.receiver_count() == 0 => {
                let _ = change;
                continue;
            }
            Ok(change) => match prepare(&state, change).await {
                Some(prepared) => prepared,
                None => continue,
            },
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "The stream hub lagged.");
                Prepared::Lagged(missed)
            }
            Err(RecvError::Closed) => return,
        };
        // No receiver right now is not an error: the next stream subscribes later.
        let _ = sender.send(Arc::new(prepared));
    }
}

async fn prepare(state: &AppState, change: Change) -> Option<Prepared> {
    match (change.kind, change.op) {
        (ChangeKind::Execution, ChangeOp::Delete) => {
            Some(Prepared::ExecutionDeleted { id: change.id })
        }
        (ChangeKind::Execution, ChangeOp::Put) => {
            let record = match state.store.execution_record(&change.id) {
                Ok(Some(record)) => record,
                Ok(None) => return None,
                Err(error) => {
                    tracing::warn!(%error, execution_id = %change.id, "Stream cannot read an execution.");
                    return None;
                }
            };
            let execution = record.execution;
            let id = execution.id.clone();
            let action = execution.action.clone();
            let start_timestamp = execution.start_timestamp.clone();
            let log_len = execution.log.len();
            let is_final = execution.status.is_final();
            let size = (record.result_size > 0).then_some(record.result_size);
            let dto = execution_dto(state, execution, size, false).await;
            let json: Arc<str> = match serde_json::to_string(&dto) {
                Ok(json) => json.into(),
                Err(error) => {
                    tracing::warn!(%error, execution_id = %id, "Stream cannot encode an execution.");
                    return None;
                }
            };
            Some(Prepared::Execution {
                id,
                action,
                start_timestamp,
                log_len,
                is_final,
                json,
            })
        }
        (ChangeKind::Output, _) => Some(Prepared::Output { id: change.id }),
        _ => None,
    }
}

fn follow(
    state: AppState,
    filter: Filter,
    connected_at: String,
    mut changes: broadcast::Receiver<Arc<Prepared>>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        let _open = state.telemetry.stream_opened();
        let store = state.store.clone();
        let mut seen = Seen::default();
        loop {
            let change = tokio::select! {
                () = state.shutdown.cancelled() => return,
                change = changes.recv() => change,
            };
            let change = match change {
                Ok(change) => change,
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "Stream client lagged.");
                    yield Ok(Event::default().comment(format!("lagged: {missed} changes missed")));
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            match change.as_ref() {
                Prepared::Lagged(missed) => {
                    yield Ok(Event::default().comment(format!("lagged: {missed} changes missed")));
                }
                Prepared::ExecutionDeleted { id } => {
                    if !filter.wants_execution(id) {
                        continue;
                    }
                    seen.cursors.remove(id);
                    let action = seen.actions.remove(id);
                    if filter.wants_event(DELETE_EVENT)
                        && action.as_deref().is_none_or(|action| filter.wants_action(action))
                    {
                        yield Ok(json_event(DELETE_EVENT, &serde_json::json!({ "id": id })));
                    }
                }
                Prepared::Execution { id, action, start_timestamp, log_len, is_final, json } => {
                    if !filter.wants_execution(id) || !filter.wants_action(action) {
                        continue;
                    }
                    let first_sight = !seen.actions.contains_key(id);
                    if first_sight {
                        seen.actions.insert(id.clone(), action.clone());
                        if *start_timestamp >= connected_at {
                            // Everything it writes is new to this client.
                            seen.cursors.entry(id.clone()).or_insert(0);
                        }
                    }
                    let name = if first_sight && *log_len <= 1 {
                        CREATE_EVENT
                    } else {
                        UPDATE_EVENT
                    };
                    if filter.wants_event(name) {
                        yield Ok(Event::default().event(name).data(json.as_ref()));
                    }
                    if *is_final {
                        // Its output is complete: forget it so long streams stay small.
                        seen.actions.remove(id);
                        seen.cursors.remove(id);
                    }
                }
                Prepared::Output { id } if filter.wants_event(OUTPUT_EVENT) => {
                    if !filter.wants_execution(id) {
                        continue;
                    }
                    let change_id = id;
                    if !filter.actions.is_empty() {
                        let action = match seen.actions.get(change_id) {
                            Some(action) => Some(action.clone()),
                            None => store
                                .execution_record(change_id)
                                .ok()
                                .flatten()
                                .map(|record| record.execution.action),
                        };
                        if !action.is_some_and(|action| filter.wants_action(&action)) {
                            continue;
                        }
                    }
                    let cursor = match seen.cursors.get(change_id) {
                        Some(cursor) => *cursor,
                        None => match first_seq_since(&store, change_id, &connected_at) {
                            Ok(cursor) => cursor,
                            Err(error) => {
                                tracing::warn!(%error, execution_id = %change_id, "Stream cannot read output.");
                                continue;
                            }
                        },
                    };
                    let mut cursor = cursor;
                    loop {
                        let lines = match store.output(change_id, cursor, OUTPUT_BATCH) {
                            Ok(lines) => lines,
                            Err(error) => {
                                tracing::warn!(%error, execution_id = %change_id, "Stream cannot read output.");
                                break;
                            }
                        };
                        if lines.is_empty() {
                            break;
                        }
                        for line in lines {
                            cursor = line.seq + 1;
                            yield Ok(json_event(OUTPUT_EVENT, &OutputLineDto::from(line)));
                        }
                    }
                    seen.cursors.insert(change_id.clone(), cursor);
                }
                _ => {}
            }
        }
    }
}
