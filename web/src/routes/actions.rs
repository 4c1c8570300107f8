//! `/api/v1/actions`: list, get, and the merged-parameters view run forms use.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{ActionDto, ActionParametersDto, Fault};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::state::AppState;

/// Filters of `GET /actions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ActionQuery {
    /// Only actions of this pack.
    pack: Option<String>,
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Actions, in ref order.
#[utoipa::path(
    get,
    path = "/api/v1/actions",
    tag = "actions",
    params(ActionQuery),
    responses((status = 200, description = "Actions", body = [ActionDto]))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ActionQuery>,
) -> AppResult<Paged<ActionDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let mut actions: Vec<ActionDto> = state
        .platform
        .actions()
        .await?
        .iter()
        .map(ActionDto::from)
        .filter(|action| query.pack.as_ref().is_none_or(|pack| &action.pack == pack))
        .collect();
    actions.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok(paging.slice(actions))
}

/// One action.
#[utoipa::path(
    get,
    path = "/api/v1/actions/{ref}",
    tag = "actions",
    params(("ref" = String, Path, description = "Action ref, `pack.name`")),
    responses(
        (status = 200, description = "The action", body = ActionDto),
        (status = 404, description = "No such action", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(action_ref): Path<String>,
) -> AppResult<Json<ActionDto>> {
    let view = state
        .platform
        .action(&action_ref)
        .await?
        .ok_or_else(|| AppError::not_found("action", &action_ref))?;
    Ok(Json(ActionDto::from(&view)))
}

/// An action's runner parameters merged with its own, as a map and as one JSON Schema.
#[utoipa::path(
    get,
    path = "/api/v1/actions/views/parameters/{ref}",
    tag = "actions",
    params(("ref" = String, Path, description = "Action ref, `pack.name`")),
    responses(
        (status = 200, description = "Merged parameters", body = ActionParametersDto),
        (status = 404, description = "No such action", body = Fault)
    )
)]
pub(crate) async fn parameters(
    State(state): State<AppState>,
    Path(action_ref): Path<String>,
) -> AppResult<Json<ActionParametersDto>> {
    let view = state
        .platform
        .action(&action_ref)
        .await?
        .ok_or_else(|| AppError::not_found("action", &action_ref))?;
    Ok(Json(view.into()))
}
