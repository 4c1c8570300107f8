//! Execution output: a page of lines (`GET /executions/{id}/output`) and a live stream of them
//! (`GET /executions/{id}/output/stream`, SSE) that ends once the execution is final.
//!
//! The stream subscribes to the store's change feed *before* reading, reads from its cursor on
//! every output or status change of the execution (and after a `Lagged`, when changes were
//! missed), and checks the status before draining, so every line written before the final
//! status is delivered.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use nerve_store::{ChangeKind, Store};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use crate::dto::{Fault, OutputLineDto};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::state::AppState;

/// Lines per page by default.
const DEFAULT_LINES: usize = 1000;
/// Most lines per page.
const MAX_LINES: usize = 10_000;
/// Lines read per store call while streaming.
const STREAM_BATCH: usize = 500;

/// SSE event name of an output line (StackStorm's).
pub(crate) const OUTPUT_EVENT: &str = "st2.execution.output__create";
/// SSE event name of the last frame of an output stream: the execution is final.
pub(crate) const OUTPUT_END_EVENT: &str = "nerve.execution.output__end";

/// Query of the output endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OutputQuery {
    /// First sequence number to return (default 0).
    from: Option<u64>,
    /// Most lines to return (default 1000, max 10000; page endpoint only).
    limit: Option<usize>,
    /// Only `stdout` or `stderr` lines.
    output_type: Option<String>,
    /// `json` (default: an array of lines) or `text` (the lines joined by newlines).
    format: Option<String>,
}

fn check_execution(store: &Store, id: &str) -> AppResult<()> {
    match store.execution_record(id)? {
        Some(_) => Ok(()),
        None => Err(AppError::not_found("execution", id)),
    }
}

/// A page of an execution's output lines from `from`.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}/output",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id"), OutputQuery),
    responses(
        (status = 200, description = "Output lines (or text with `format=text`)", body = [OutputLineDto],
            headers(("X-Next-Seq" = u64, description = "Sequence number the next stored line will get"))),
        (status = 404, description = "No such execution", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<OutputQuery>,
) -> AppResult<Response> {
    check_execution(&state.store, &id)?;
    let limit = query.limit.unwrap_or(DEFAULT_LINES);
    if limit > MAX_LINES {
        return Err(AppError::bad_request(format!(
            "`limit` must be at most {MAX_LINES} lines; page through with `from`"
        )));
    }
    let lines: Vec<OutputLineDto> = state
        .store
        .output(&id, query.from.unwrap_or(0), limit)?
        .into_iter()
        .map(OutputLineDto::from)
        .filter(|line| {
            query
                .output_type
                .as_ref()
                .is_none_or(|wanted| &line.output_type == wanted)
        })
        .collect();
    let next_seq = state.store.output_stats(&id)?.next_seq;
    let mut response = match query.format.as_deref() {
        None | Some("json") => Json(lines).into_response(),
        Some("text") => {
            let mut text = String::new();
            for line in &lines {
                text.push_str(&line.data);
                text.push('\n');
            }
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        Some(other) => {
            return Err(AppError::bad_request(format!(
                "unknown format `{other}`; use `json` or `text`"
            )));
        }
    };
    response
        .headers_mut()
        .insert("x-next-seq", axum::http::HeaderValue::from(next_seq));
    Ok(response)
}

/// An SSE frame with a JSON body; serializing our own DTOs cannot fail, but a failure becomes
/// a comment rather than a panic.
pub(crate) fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    match serde_json::to_string(data) {
        Ok(json) => Event::default().event(name).data(json),
        Err(error) => Event::default().comment(format!("cannot encode event: {error}")),
    }
}

/// Output lines as they are written (SSE, events `st2.execution.output__create`), from `from`,
/// ending with `nerve.execution.output__end` once the execution is final.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}/output/stream",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id"), OutputQuery),
    responses(
        (status = 200, description = "Server-sent events", content_type = "text/event-stream"),
        (status = 404, description = "No such execution", body = Fault)
    )
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<OutputQuery>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Subscribe before the first read so no change between them is missed.
    let changes = state.store.subscribe();
    check_execution(&state.store, &id)?;
    let heartbeat = state.options.heartbeat;
    let events = follow_output(
        state,
        id,
        query.from.unwrap_or(0),
        query.output_type,
        changes,
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(heartbeat)))
}

fn follow_output(
    state: AppState,
    id: String,
    from: u64,
    output_type: Option<String>,
    mut changes: tokio::sync::broadcast::Receiver<nerve_store::Change>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        let _open = state.telemetry.stream_opened();
        let store = state.store.clone();
        let mut cursor = from;
        loop {
            // Status first, then drain: lines written before a final status are all read.
            let status = match store.execution_record(&id) {
                Ok(Some(record)) => record.execution.status,
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, execution_id = %id, "Output stream cannot read the execution.");
                    break;
                }
            };
            loop {
                let lines = match store.output(&id, cursor, STREAM_BATCH) {
                    Ok(lines) => lines,
                    Err(error) => {
                        tracing::warn!(%error, execution_id = %id, "Output stream cannot read output.");
                        return;
                    }
                };
                if lines.is_empty() {
                    break;
                }
                for line in lines {
                    cursor = line.seq + 1;
                    let line = OutputLineDto::from(line);
                    if output_type.as_ref().is_none_or(|wanted| &line.output_type == wanted) {
                        yield Ok(json_event(OUTPUT_EVENT, &line));
                    }
                }
            }
            if status.is_final() {
                yield Ok(json_event(
                    OUTPUT_END_EVENT,
                    &serde_json::json!({ "execution_id": id, "status": status }),
                ));
                break;
            }
            // Wait for a change of this execution or its output (or a lag: re-read anyway).
            loop {
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    change = changes.recv() => match change {
                        Ok(change)
                            if change.id == id
                                && matches!(change.kind, ChangeKind::Output | ChangeKind::Execution) =>
                        {
                            break;
                        }
                        Ok(_) => {}
                        Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        }
    }
}
