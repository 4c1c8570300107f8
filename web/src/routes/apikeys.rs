//! `/api/v1/apikeys`: API key management, administrators only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::auth::{ApiKeyCreated, ApiKeyInfo, Caller};
use crate::dto::{ApiKeyCreateBody, Fault};
use crate::error::{ApiJson, AppError, AppResult};
use crate::state::AppState;

/// API keys (without the keys).
#[utoipa::path(
    get,
    path = "/api/v1/apikeys",
    tag = "auth",
    responses(
        (status = 200, description = "API keys", body = [ApiKeyInfo]),
        (status = 403, description = "Not an administrator", body = Fault)
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<Vec<ApiKeyInfo>>> {
    caller.require_admin()?;
    Ok(Json(state.auth.api_keys()))
}

/// Creates an API key; the response holds the key, which cannot be shown again.
#[utoipa::path(
    post,
    path = "/api/v1/apikeys",
    tag = "auth",
    request_body = ApiKeyCreateBody,
    responses(
        (status = 201, description = "The new key", body = ApiKeyCreated),
        (status = 403, description = "Not an administrator", body = Fault)
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ApiKeyCreateBody>,
) -> AppResult<(StatusCode, Json<ApiKeyCreated>)> {
    caller.require_admin()?;
    let user = body.user.unwrap_or_else(|| caller.0.user.clone());
    if user.trim().is_empty() || user.contains(':') {
        return Err(AppError::bad_request(
            "`user` must be a non-empty name without `:`",
        ));
    }
    let created = state
        .auth
        .create_api_key(&user, body.admin, body.description)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Deletes an API key.
#[utoipa::path(
    delete,
    path = "/api/v1/apikeys/{id}",
    tag = "auth",
    params(("id" = String, Path, description = "API key id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an administrator", body = Fault),
        (status = 404, description = "No such key", body = Fault)
    )
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    caller.require_admin()?;
    if state.auth.delete_api_key(&id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("API key", &id))
    }
}
