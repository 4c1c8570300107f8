//! `/api/v1/traces`: what one event caused, by id or trace tag.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{Fault, TraceDto};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::state::AppState;

/// Filters of `GET /traces`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TraceQuery {
    /// The trace tag (required: traces are found by tag or id).
    trace_tag: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Traces with a tag, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/traces",
    tag = "traces",
    params(TraceQuery),
    responses(
        (status = 200, description = "Traces", body = [TraceDto]),
        (status = 400, description = "No trace tag given", body = Fault)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TraceQuery>,
) -> AppResult<Paged<TraceDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let Some(trace_tag) = query.trace_tag else {
        return Err(AppError::bad_request(
            "give `trace_tag` to find traces (or get one with /api/v1/traces/{id})",
        ));
    };
    let traces = state.store.find_traces_by_tag(&trace_tag)?;
    Ok(paging.slice(traces).map(TraceDto::from))
}

/// One trace.
#[utoipa::path(
    get,
    path = "/api/v1/traces/{id}",
    tag = "traces",
    params(("id" = String, Path, description = "Trace id")),
    responses(
        (status = 200, description = "The trace", body = TraceDto),
        (status = 404, description = "No such trace", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<TraceDto>> {
    let trace = state
        .store
        .get_trace(&id)?
        .ok_or_else(|| AppError::not_found("trace", &id))?;
    Ok(Json(trace.into()))
}
