//! `/api/v1/triggerinstances`: events (store reads) and re-emitting one (platform).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use nerve_model::TriggerInstanceStatus;
use nerve_store::TriggerInstanceFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{Fault, TriggerInstanceDto};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::state::AppState;

/// Filters of `GET /triggerinstances`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TriggerInstanceQuery {
    /// Only this trigger ref.
    trigger: Option<String>,
    /// Only this status: `pending`, `processing`, `processed`, `processing_failed`.
    status: Option<String>,
    /// Occurred at or after (RFC 3339).
    timestamp_gt: Option<String>,
    /// Occurred at or before (RFC 3339).
    timestamp_lt: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Parses an RFC 3339 time from a query parameter.
pub(crate) fn parse_time(name: &str, text: Option<&str>) -> AppResult<Option<DateTime<Utc>>> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| {
                AppError::bad_request(format!(
                    "`{name}` must be an RFC 3339 time like `2024-05-06T07:08:09Z`, not `{text}`"
                ))
            })
    })
    .transpose()
}

fn parse_status(text: &str) -> AppResult<TriggerInstanceStatus> {
    match text {
        "pending" => Ok(TriggerInstanceStatus::Pending),
        "processing" => Ok(TriggerInstanceStatus::Processing),
        "processed" => Ok(TriggerInstanceStatus::Processed),
        "processing_failed" => Ok(TriggerInstanceStatus::ProcessingFailed),
        other => Err(AppError::bad_request(format!(
            "unknown trigger instance status `{other}`; use pending, processing, processed or \
             processing_failed"
        ))),
    }
}

/// Events, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/triggerinstances",
    tag = "triggers",
    params(TriggerInstanceQuery),
    responses(
        (status = 200, description = "Trigger instances", body = [TriggerInstanceDto]),
        (status = 400, description = "Bad filter", body = Fault)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TriggerInstanceQuery>,
) -> AppResult<Paged<TriggerInstanceDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let filter = TriggerInstanceFilter {
        trigger: query.trigger,
        status: query.status.as_deref().map(parse_status).transpose()?,
        since: parse_time("timestamp_gt", query.timestamp_gt.as_deref())?,
        until: parse_time("timestamp_lt", query.timestamp_lt.as_deref())?,
        limit: paging.limit,
        offset: paging.offset,
    };
    let page = state.store.list_trigger_instances(&filter)?;
    Ok(paging
        .page(page.items, page.total)
        .map(TriggerInstanceDto::from))
}

/// One event.
#[utoipa::path(
    get,
    path = "/api/v1/triggerinstances/{id}",
    tag = "triggers",
    params(("id" = String, Path, description = "Trigger instance id")),
    responses(
        (status = 200, description = "The event", body = TriggerInstanceDto),
        (status = 404, description = "No such event", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<TriggerInstanceDto>> {
    let record = state
        .store
        .trigger_instance(&id)?
        .ok_or_else(|| AppError::not_found("trigger instance", &id))?;
    Ok(Json(record.into()))
}

/// Emits an event again: a new trigger instance with the same trigger and payload.
#[utoipa::path(
    post,
    path = "/api/v1/triggerinstances/{id}/re_emit",
    tag = "triggers",
    params(("id" = String, Path, description = "Trigger instance id")),
    responses(
        (status = 201, description = "The new event", body = TriggerInstanceDto),
        (status = 404, description = "No such event", body = Fault)
    )
)]
pub(crate) async fn re_emit(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<TriggerInstanceDto>)> {
    let record = state.platform.re_emit(&id).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}
