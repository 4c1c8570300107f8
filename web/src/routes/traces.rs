//! `/api/v1/traces`: what one event caused: recent traces, by trace tag, or one by id.

use axum::Json;
use axum::extract::{Path, State};
use nerve_store::TraceFilter;
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
    /// Only traces with this tag (`St2-Trace-Tag`, `--trace-tag`, `trigger_instance-<id>` by
    /// default).
    trace_tag: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Recent traces, newest first, or the traces with a tag. The `X-Total-Count` header says how
/// many match in all.
#[utoipa::path(
    get,
    path = "/api/v1/traces",
    tag = "traces",
    params(TraceQuery),
    responses(
        (status = 200, description = "Traces, newest first", body = [TraceDto],
            headers(
                ("X-Total-Count" = usize, description = "Matches in all"),
                ("X-Limit" = i64, description = "Page size used (-1: all)")
            )),
        (status = 400, description = "Bad paging", body = Fault)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TraceQuery>,
) -> AppResult<Paged<TraceDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let filter = TraceFilter {
        trace_tag: query.trace_tag,
        limit: paging.limit,
        offset: paging.offset,
    };
    let page = state.store.list_traces(&filter)?;
    Ok(paging.page(page.items, page.total).map(TraceDto::from))
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
