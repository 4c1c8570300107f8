//! `/api/v1/packs`: list, get, register from a directory, remove.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::{Fault, PackDto, PackRegistrationDto, RegisterPackBody};
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::list::{Paged, Paging};
use crate::state::AppState;

/// Paging of `GET /packs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PackQuery {
    /// Page size (default 100, max 1000, -1 for all: administrators only).
    limit: Option<i64>,
    /// Records to skip.
    offset: Option<usize>,
}

/// Installed packs, in ref order.
#[utoipa::path(
    get,
    path = "/api/v1/packs",
    tag = "packs",
    params(PackQuery),
    responses((status = 200, description = "Packs", body = [PackDto]))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PackQuery>,
) -> AppResult<Paged<PackDto>> {
    let paging = Paging::new(query.limit, query.offset, &caller)?;
    let packs = state.platform.packs().await?;
    let mut page = paging.slice(packs).map(PackDto::from);
    for pack in &mut page.items {
        pack.reload_error = state
            .platform
            .pack_details(&pack.reference)
            .await
            .reload_error;
    }
    Ok(page)
}

/// One pack.
#[utoipa::path(
    get,
    path = "/api/v1/packs/{ref}",
    tag = "packs",
    params(("ref" = String, Path, description = "Pack ref")),
    responses(
        (status = 200, description = "The pack", body = PackDto),
        (status = 404, description = "No such pack", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(pack_ref): Path<String>,
) -> AppResult<Json<PackDto>> {
    let packs = state.platform.packs().await?;
    let mut pack = packs
        .into_iter()
        .map(PackDto::from)
        .find(|pack| pack.reference == pack_ref)
        .ok_or_else(|| AppError::not_found("pack", &pack_ref))?;
    let details = state.platform.pack_details(&pack_ref).await;
    pack.files = details.files;
    pack.reload_error = details.reload_error;
    Ok(Json(pack))
}

/// Loads (or reloads) the pack in a directory on the server and registers its content. A pack
/// with errors registers nothing; the errors come back as `details` with file, line and column.
#[utoipa::path(
    post,
    path = "/api/v1/packs/register",
    tag = "packs",
    request_body = RegisterPackBody,
    responses(
        (status = 200, description = "What was registered", body = PackRegistrationDto),
        (status = 400, description = "The pack has errors", body = Fault)
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterPackBody>,
) -> AppResult<Json<PackRegistrationDto>> {
    if body.path.trim().is_empty() {
        return Err(AppError::bad_request("`path` must name a pack directory"));
    }
    let registration = state
        .platform
        .register_pack(PathBuf::from(body.path), body.source)
        .await?;
    Ok(Json(registration.into()))
}

/// Unregisters a pack and all its content.
#[utoipa::path(
    delete,
    path = "/api/v1/packs/{ref}",
    tag = "packs",
    params(("ref" = String, Path, description = "Pack ref")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such pack", body = Fault),
        (status = 409, description = "The pack cannot be removed", body = Fault)
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(pack_ref): Path<String>,
) -> AppResult<StatusCode> {
    state.platform.remove_pack(&pack_ref).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A pack's config: its `config.schema.yaml` defaults overlaid with the values set; secrets
/// masked.
#[utoipa::path(
    get,
    path = "/api/v1/packs/{ref}/config",
    tag = "packs",
    params(("ref" = String, Path, description = "Pack ref")),
    responses(
        (status = 200, description = "The config", body = Object),
        (status = 404, description = "No such pack", body = Fault)
    )
)]
pub(crate) async fn config(
    State(state): State<AppState>,
    Path(pack_ref): Path<String>,
) -> AppResult<Json<Map<String, Value>>> {
    Ok(Json(state.platform.pack_config(&pack_ref).await?))
}

/// Sets fields of a pack's config (strings are cast to the schema's types; the whole config is
/// validated against `config.schema.yaml`; `secret` fields are encrypted at rest). The pack's
/// sensors restart with the new config. Answers the config, secrets masked.
#[utoipa::path(
    put,
    path = "/api/v1/packs/{ref}/config",
    tag = "packs",
    params(("ref" = String, Path, description = "Pack ref")),
    request_body = Object,
    responses(
        (status = 200, description = "The config now", body = Object),
        (status = 400, description = "Unknown field or a value the schema refuses", body = Fault),
        (status = 404, description = "No such pack", body = Fault)
    )
)]
pub(crate) async fn set_config(
    State(state): State<AppState>,
    Path(pack_ref): Path<String>,
    ApiJson(values): ApiJson<Map<String, Value>>,
) -> AppResult<Json<Map<String, Value>>> {
    Ok(Json(
        state.platform.set_pack_config(&pack_ref, values).await?,
    ))
}
