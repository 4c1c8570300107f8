//! `/api/v1/enforcements` (also `/api/v1/ruleenforcements`, StackStorm's name).

use axum::Json;
use axum::extract::{Path, State};
use nerve_store::EnforcementFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{EnforcementDto, Fault};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::routes::trigger_instances::parse_time;
use crate::state::AppState;

/// Filters of `GET /enforcements`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EnforcementQuery {
    /// Only this rule ref.
    rule: Option<String>,
    /// Only this event.
    trigger_instance: Option<String>,
    /// Enforced at or after (RFC 3339).
    timestamp_gt: Option<String>,
    /// Enforced at or before (RFC 3339).
    timestamp_lt: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Rule enforcements, newest event first.
#[utoipa::path(
    get,
    path = "/api/v1/enforcements",
    tag = "rules",
    params(EnforcementQuery),
    responses((status = 200, description = "Enforcements", body = [EnforcementDto]))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EnforcementQuery>,
) -> AppResult<Paged<EnforcementDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let filter = EnforcementFilter {
        rule: query.rule,
        trigger_instance: query.trigger_instance,
        status: None,
        since: parse_time("timestamp_gt", query.timestamp_gt.as_deref())?,
        until: parse_time("timestamp_lt", query.timestamp_lt.as_deref())?,
        limit: paging.limit,
        offset: paging.offset,
    };
    let page = state.store.list_enforcements(&filter)?;
    Ok(paging
        .page(page.items, page.total)
        .map(EnforcementDto::from))
}

/// One enforcement by id (`<trigger instance id>:<rule ref>`).
#[utoipa::path(
    get,
    path = "/api/v1/enforcements/{id}",
    tag = "rules",
    params(("id" = String, Path, description = "`<trigger instance id>:<rule ref>`")),
    responses(
        (status = 200, description = "The enforcement", body = EnforcementDto),
        (status = 404, description = "No such enforcement", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<EnforcementDto>> {
    let found = match id.split_once(':') {
        Some((trigger_instance, rule)) => state.store.enforcement(trigger_instance, rule)?,
        None => None,
    };
    found
        .map(|enforcement| Json(enforcement.into()))
        .ok_or_else(|| AppError::not_found("rule enforcement", &id))
}
