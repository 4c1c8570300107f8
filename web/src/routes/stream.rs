//! `GET /api/v1/stream` (also `/stream/v1/stream`): StackStorm's event stream over SSE, fed
//! from the store's change feed.
//!
//! Events: `st2.execution__create`, `st2.execution__update` (data: the masked execution),
//! `st2.execution__delete` (data: `{"id"}`) and `st2.execution.output__create` (data: one output
//! line). Query `events` (comma-separated names) picks events; `execution_id`/`execution_ids`
//! and `action_refs` narrow them. A heartbeat comment goes out every 15 s.
//!
//! An execution is reported as `create` the first time this stream sees it while it has one
//! status entry, as `update` otherwise. Output lines of an execution this stream has not seen
//! before start at the first line written after the client connected. After a `Lagged` (the
//! client fell too far behind) the missed execution changes are lost, but output is re-read from
//! each cursor on the next change, so no line is skipped.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures_util::Stream;
use nerve_store::{Change, ChangeKind, ChangeOp, Store};
use serde::Deserialize;
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
    let changes = state.store.subscribe();
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

fn follow(
    state: AppState,
    filter: Filter,
    connected_at: String,
    mut changes: tokio::sync::broadcast::Receiver<Change>,
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
            if !filter.wants_execution(&change.id) {
                continue;
            }
            match (change.kind, change.op) {
                (ChangeKind::Execution, ChangeOp::Delete) => {
                    seen.cursors.remove(&change.id);
                    let action = seen.actions.remove(&change.id);
                    if filter.wants_event(DELETE_EVENT)
                        && action.as_deref().is_none_or(|action| filter.wants_action(action))
                    {
                        yield Ok(json_event(DELETE_EVENT, &serde_json::json!({ "id": change.id })));
                    }
                }
                (ChangeKind::Execution, ChangeOp::Put) => {
                    let record = match store.execution_record(&change.id) {
                        Ok(Some(record)) => record,
                        Ok(None) => continue,
                        Err(error) => {
                            tracing::warn!(%error, execution_id = %change.id, "Stream cannot read an execution.");
                            continue;
                        }
                    };
                    let execution = record.execution;
                    if !filter.wants_action(&execution.action) {
                        continue;
                    }
                    let first_sight = !seen.actions.contains_key(&execution.id);
                    if first_sight {
                        seen.actions.insert(execution.id.clone(), execution.action.clone());
                        if execution.start_timestamp >= connected_at {
                            // Everything it writes is new to this client.
                            seen.cursors.entry(execution.id.clone()).or_insert(0);
                        }
                    }
                    let is_final = execution.status.is_final();
                    let id = execution.id.clone();
                    let name = if first_sight && execution.log.len() <= 1 {
                        CREATE_EVENT
                    } else {
                        UPDATE_EVENT
                    };
                    if filter.wants_event(name) {
                        let size = (record.result_size > 0).then_some(record.result_size);
                        let dto = execution_dto(&state, execution, size, false).await;
                        yield Ok(json_event(name, &dto));
                    }
                    if is_final {
                        // Its output is complete: forget it so long streams stay small.
                        seen.actions.remove(&id);
                        seen.cursors.remove(&id);
                    }
                }
                (ChangeKind::Output, _) if filter.wants_event(OUTPUT_EVENT) => {
                    if !filter.actions.is_empty() {
                        let action = match seen.actions.get(&change.id) {
                            Some(action) => Some(action.clone()),
                            None => store
                                .execution_record(&change.id)
                                .ok()
                                .flatten()
                                .map(|record| record.execution.action),
                        };
                        if !action.is_some_and(|action| filter.wants_action(&action)) {
                            continue;
                        }
                    }
                    let cursor = match seen.cursors.get(&change.id) {
                        Some(cursor) => *cursor,
                        None => match first_seq_since(&store, &change.id, &connected_at) {
                            Ok(cursor) => cursor,
                            Err(error) => {
                                tracing::warn!(%error, execution_id = %change.id, "Stream cannot read output.");
                                continue;
                            }
                        },
                    };
                    let mut cursor = cursor;
                    loop {
                        let lines = match store.output(&change.id, cursor, OUTPUT_BATCH) {
                            Ok(lines) => lines,
                            Err(error) => {
                                tracing::warn!(%error, execution_id = %change.id, "Stream cannot read output.");
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
                    seen.cursors.insert(change.id.clone(), cursor);
                }
                _ => {}
            }
        }
    }
}
