//! `/api/v1/triggertypes` and `/api/v1/triggers`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{Fault, TriggerDto, TriggerTypeDto};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::state::AppState;

/// Filters of the trigger lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TriggerQuery {
    /// Only this pack.
    pack: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Trigger types (built-in ones included), in ref order.
#[utoipa::path(
    get,
    path = "/api/v1/triggertypes",
    tag = "triggers",
    params(TriggerQuery),
    responses((status = 200, description = "Trigger types", body = [TriggerTypeDto]))
)]
pub(crate) async fn list_types(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TriggerQuery>,
) -> AppResult<Paged<TriggerTypeDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let mut types: Vec<TriggerTypeDto> = state
        .platform
        .trigger_types()
        .await?
        .into_iter()
        .map(TriggerTypeDto::from)
        .filter(|dto| query.pack.as_ref().is_none_or(|pack| &dto.pack == pack))
        .collect();
    types.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok(paging.slice(types))
}

/// One trigger type.
#[utoipa::path(
    get,
    path = "/api/v1/triggertypes/{ref}",
    tag = "triggers",
    params(("ref" = String, Path, description = "Trigger type ref")),
    responses(
        (status = 200, description = "The trigger type", body = TriggerTypeDto),
        (status = 404, description = "No such trigger type", body = Fault)
    )
)]
pub(crate) async fn get_type(
    State(state): State<AppState>,
    Path(type_ref): Path<String>,
) -> AppResult<Json<TriggerTypeDto>> {
    state
        .platform
        .trigger_types()
        .await?
        .into_iter()
        .map(TriggerTypeDto::from)
        .find(|dto| dto.reference == type_ref)
        .map(Json)
        .ok_or_else(|| AppError::not_found("trigger type", &type_ref))
}

/// Triggers (trigger types bound to parameters by rules), in ref order.
#[utoipa::path(
    get,
    path = "/api/v1/triggers",
    tag = "triggers",
    params(TriggerQuery),
    responses((status = 200, description = "Triggers", body = [TriggerDto]))
)]
pub(crate) async fn list_triggers(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TriggerQuery>,
) -> AppResult<Paged<TriggerDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let prefix = query
        .pack
        .as_ref()
        .map_or_else(String::new, |pack| format!("{pack}."));
    let triggers: Vec<TriggerDto> = state
        .store
        .triggers()
        .list(&prefix)?
        .into_iter()
        .map(|(_, trigger)| TriggerDto::from(trigger))
        .collect();
    Ok(paging.slice(triggers))
}
