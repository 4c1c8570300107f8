//! `/api/v1/executions`: list and get (store reads), run, cancel, pause, resume and re-run
//! (platform). Every
//! response masks secret parameters (see `crate::mask`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use nerve_model::{Execution, ExecutionStatus};
use nerve_store::ExecutionFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{ExecutionDto, Fault, RerunBody, RunBody};
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::mask::{execution_dto, execution_dtos};
use crate::platform::RunRequest;
use crate::routes::trigger_instances::parse_time;
use crate::state::AppState;

/// Filters of `GET /executions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExecutionQuery {
    /// Only this status (`requested`, `running`, `succeeded`, ...).
    status: Option<String>,
    /// Only this action ref.
    action: Option<String>,
    /// Only executions fired by this rule.
    rule: Option<String>,
    /// Only executions fired by this event.
    trigger_instance: Option<String>,
    /// Only children of this execution.
    parent: Option<String>,
    /// Only executions run for this user.
    user: Option<String>,
    /// Started at or after (RFC 3339).
    timestamp_gt: Option<String>,
    /// Started at or before (RFC 3339).
    timestamp_lt: Option<String>,
    /// Show secret parameters in clear (administrators only).
    #[serde(default)]
    show_secrets: bool,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Query of `GET /executions/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// Show secret parameters in clear (administrators only).
    #[serde(default)]
    show_secrets: bool,
    /// Largest result to return whole, in bytes of JSON. A larger result comes back as a string
    /// holding (at most) its first `max_result_bytes` bytes, with `result_truncated: true`; the
    /// whole result is at `/executions/{id}/result`. Default: no limit.
    max_result_bytes: Option<usize>,
}

fn parse_status(text: &str) -> AppResult<ExecutionStatus> {
    ExecutionStatus::parse(text).ok_or_else(|| {
        let known: Vec<&str> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
        AppError::bad_request(format!(
            "unknown execution status `{text}`; use one of {}",
            known.join(", ")
        ))
    })
}

fn check_show_secrets(caller: &Caller, show_secrets: bool) -> AppResult<()> {
    if show_secrets {
        caller.require_admin()?;
    }
    Ok(())
}

/// Executions, newest first, secret parameters masked.
#[utoipa::path(
    get,
    path = "/api/v1/executions",
    tag = "executions",
    params(ExecutionQuery),
    responses(
        (status = 200, description = "Executions", body = [ExecutionDto],
            headers(
                ("X-Total-Count" = usize, description = "Matches in all"),
                ("X-Limit" = i64, description = "Page size used (-1: all)")
            )),
        (status = 400, description = "Bad filter", body = Fault)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ExecutionQuery>,
) -> AppResult<Paged<ExecutionDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    check_show_secrets(&caller, query.show_secrets)?;
    let filter = ExecutionFilter {
        action: query.action,
        status: query.status.as_deref().map(parse_status).transpose()?,
        rule: query.rule,
        trigger_instance: query.trigger_instance,
        parent: query.parent,
        user: query.user,
        since: parse_time("timestamp_gt", query.timestamp_gt.as_deref())?,
        until: parse_time("timestamp_lt", query.timestamp_lt.as_deref())?,
        limit: paging.limit,
        offset: paging.offset,
    };
    let page = state.store.list_executions(&filter)?;
    let executions = page
        .items
        .into_iter()
        .map(|record| {
            let size = (record.result_size > 0).then_some(record.result_size);
            (record.execution, size)
        })
        .collect();
    let dtos = execution_dtos(&state, executions, query.show_secrets).await;
    Ok(paging.page(dtos, page.total))
}

/// Reads one execution with its full result.
pub(crate) fn load_execution(state: &AppState, id: &str) -> AppResult<(Execution, Option<u64>)> {
    let record = state
        .store
        .execution_record(id)?
        .ok_or_else(|| AppError::not_found("execution", id))?;
    let size = (record.result_size > 0).then_some(record.result_size);
    if record.result_file.is_none() {
        return Ok((record.execution, size));
    }
    let execution = state
        .store
        .get_execution(id)?
        .ok_or_else(|| AppError::not_found("execution", id))?;
    Ok((execution, size))
}

/// One execution with its full result, secret parameters masked.
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id"), ShowQuery),
    responses(
        (status = 200, description = "The execution", body = ExecutionDto),
        (status = 404, description = "No such execution", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ShowQuery>,
) -> AppResult<Json<ExecutionDto>> {
    check_show_secrets(&caller, query.show_secrets)?;
    if let Some(max) = query.max_result_bytes {
        let record = state
            .store
            .execution_record(&id)?
            .ok_or_else(|| AppError::not_found("execution", &id))?;
        if record.result_size > u64::try_from(max).unwrap_or(u64::MAX) {
            let size = Some(record.result_size);
            let mut execution = record.execution;
            execution.result = execution.result.map(|result| truncated(&result, max));
            let mut dto = execution_dto(&state, execution, size, query.show_secrets).await;
            dto.result_truncated = true;
            return Ok(Json(dto));
        }
    }
    let (execution, size) = load_execution(&state, &id)?;
    Ok(Json(
        execution_dto(&state, execution, size, query.show_secrets).await,
    ))
}

/// The first `max` bytes of a result's JSON (cut at a character boundary), as a string. A
/// preview string the store kept for a result too large to hold inline is cut the same way.
fn truncated(result: &serde_json::Value, max: usize) -> serde_json::Value {
    let text = match result {
        serde_json::Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    serde_json::Value::String(text[..end].to_owned())
}

/// An execution's whole result as JSON, however large (served as a download).
#[utoipa::path(
    get,
    path = "/api/v1/executions/{id}/result",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id")),
    responses(
        (status = 200, description = "The result (`null` when there is none)", content_type = "application/json"),
        (status = 404, description = "No such execution", body = Fault)
    )
)]
pub(crate) async fn result(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let (execution, _) = load_execution(&state, &id)?;
    let body = serde_json::to_vec(&execution.result).map_err(|error| AppError::internal(&error))?;
    let disposition = format!("attachment; filename=\"{id}-result.json\"");
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Runs an action (`st2 run`): the platform validates the parameters and records the
/// execution.
#[utoipa::path(
    post,
    path = "/api/v1/executions",
    tag = "executions",
    request_body = RunBody,
    responses(
        (status = 201, description = "The new execution", body = ExecutionDto),
        (status = 400, description = "Invalid parameters", body = Fault),
        (status = 404, description = "No such action", body = Fault)
    )
)]
pub(crate) async fn run(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<RunBody>,
) -> AppResult<(StatusCode, Json<ExecutionDto>)> {
    let execution = state
        .platform
        .run(RunRequest {
            action: body.action,
            parameters: body.parameters,
            user: principal.user,
            trace_tag: body.trace_tag,
            context: body.context,
        })
        .await?;
    let dto = execution_dto(&state, execution, None, false).await;
    Ok((StatusCode::CREATED, Json(dto)))
}

/// Cancels an execution; returns it as updated.
#[utoipa::path(
    delete,
    path = "/api/v1/executions/{id}",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id")),
    responses(
        (status = 200, description = "The execution, canceling or canceled", body = ExecutionDto),
        (status = 404, description = "No such execution", body = Fault),
        (status = 409, description = "Already finished", body = Fault)
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> AppResult<Json<ExecutionDto>> {
    let execution = state.platform.cancel(&id, &principal.user).await?;
    Ok(Json(execution_dto(&state, execution, None, false).await))
}

/// Pauses a running workflow: no new task starts; `pausing` until its running tasks finish,
/// then `paused`.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{id}/pause",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id of a workflow")),
    responses(
        (status = 200, description = "The execution, pausing or paused", body = ExecutionDto),
        (status = 404, description = "No such execution", body = Fault),
        (status = 409, description = "Not a running workflow", body = Fault)
    )
)]
pub(crate) async fn pause(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> AppResult<Json<ExecutionDto>> {
    let execution = state.platform.pause(&id, &principal.user).await?;
    Ok(Json(execution_dto(&state, execution, None, false).await))
}

/// Resumes a paused (or pausing) workflow.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{id}/resume",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id of a workflow")),
    responses(
        (status = 200, description = "The execution, running again", body = ExecutionDto),
        (status = 404, description = "No such execution", body = Fault),
        (status = 409, description = "Not a paused workflow", body = Fault)
    )
)]
pub(crate) async fn resume(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> AppResult<Json<ExecutionDto>> {
    let execution = state.platform.resume(&id, &principal.user).await?;
    Ok(Json(execution_dto(&state, execution, None, false).await))
}

/// Runs an execution again, optionally overriding parameters.
#[utoipa::path(
    post,
    path = "/api/v1/executions/{id}/re_run",
    tag = "executions",
    params(("id" = String, Path, description = "Execution id")),
    request_body(content = RerunBody, description = "Optional"),
    responses(
        (status = 201, description = "The new execution", body = ExecutionDto),
        (status = 400, description = "Invalid parameters", body = Fault),
        (status = 404, description = "No such execution", body = Fault)
    )
)]
pub(crate) async fn rerun(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> AppResult<(StatusCode, Json<ExecutionDto>)> {
    let body: RerunBody = if body.iter().all(u8::is_ascii_whitespace) {
        RerunBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            AppError::bad_request(format!(
                "invalid JSON body: {error}; send {{\"parameters\": {{...}}}}"
            ))
        })?
    };
    let execution = state
        .platform
        .rerun(&id, body.parameters, &principal.user)
        .await?;
    let dto = execution_dto(&state, execution, None, false).await;
    Ok((StatusCode::CREATED, Json(dto)))
}
