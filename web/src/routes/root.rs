//! Service endpoints: version, health and the OpenAPI document.

use axum::Json;
use axum::response::IntoResponse;

use crate::auth::{AuthMethod, Caller};
use crate::dto::{Fault, HealthDto, VersionDto};

/// Nerve's version, the caller's user name and how it authenticated.
#[utoipa::path(
    get,
    path = "/api/v1/",
    tag = "service",
    responses((status = 200, description = "Version", body = VersionDto))
)]
pub(crate) async fn version(Caller(principal): Caller) -> Json<VersionDto> {
    Json(VersionDto {
        name: "nerve".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        api: "v1".to_owned(),
        user: principal.user,
        admin: principal.admin,
        credential: match principal.method {
            AuthMethod::AdminToken => "token",
            AuthMethod::ApiKey(_) => "api_key",
            AuthMethod::WebhookSignature => "signature",
        }
        .to_owned(),
    })
}

/// Liveness: `{"status": "ok"}` while the server answers. No credentials needed.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "service",
    security(()),
    responses((status = 200, description = "The server is up", body = HealthDto))
)]
pub(crate) async fn health() -> Json<HealthDto> {
    Json(HealthDto {
        status: "ok".to_owned(),
    })
}

/// This API's OpenAPI 3 document. No credentials needed.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
        (status = 500, description = "Server error", body = Fault)
    )
)]
pub(crate) async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document().clone())
}
