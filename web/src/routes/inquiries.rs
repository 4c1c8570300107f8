//! `/api/v1/inquiries`: `core.ask` executions waiting for a human answer, and answering them.

use axum::Json;
use axum::extract::{Path, State};

use crate::auth::Caller;
use crate::dto::{Fault, InquiryDto, InquiryResponseBody};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The inquiries waiting for a response, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/inquiries",
    tag = "inquiries",
    responses((status = 200, description = "Pending inquiries", body = [InquiryDto]))
)]
pub(crate) async fn list(State(state): State<AppState>) -> AppResult<Json<Vec<InquiryDto>>> {
    let inquiries = state.platform.inquiries().await?;
    Ok(Json(
        inquiries.iter().map(InquiryDto::from_execution).collect(),
    ))
}

/// One inquiry, whatever its status.
#[utoipa::path(
    get,
    path = "/api/v1/inquiries/{id}",
    tag = "inquiries",
    params(("id" = String, Path, description = "Inquiry (execution) id")),
    responses(
        (status = 200, description = "The inquiry", body = InquiryDto),
        (status = 404, description = "No such inquiry", body = Fault)
    )
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<InquiryDto>> {
    let inquiry = state.platform.inquiry(&id).await?;
    Ok(Json(InquiryDto::from_execution(&inquiry)))
}

/// Answers a pending inquiry: the response must match its schema, and the caller must be
/// among its `users` when it names any.
#[utoipa::path(
    put,
    path = "/api/v1/inquiries/{id}",
    tag = "inquiries",
    params(("id" = String, Path, description = "Inquiry (execution) id")),
    request_body(content = InquiryResponseBody),
    responses(
        (status = 200, description = "The answered inquiry", body = InquiryDto),
        (status = 400, description = "The response does not match the schema (each field named)", body = Fault),
        (status = 404, description = "No such inquiry", body = Fault),
        (status = 409, description = "Not pending, or the caller may not answer it", body = Fault)
    )
)]
pub(crate) async fn respond(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Json<InquiryDto>> {
    let body: InquiryResponseBody = serde_json::from_slice(&body).map_err(|error| {
        AppError::bad_request(format!(
            "invalid JSON body: {error}; send {{\"response\": {{...}}}}"
        ))
    })?;
    if let Some(body_id) = &body.id
        && body_id != &id
    {
        return Err(AppError::bad_request(format!(
            "the body is for inquiry `{body_id}` but was sent to `{id}`"
        )));
    }
    let inquiry = state
        .platform
        .respond_inquiry(&id, body.response, &principal.user)
        .await?;
    Ok(Json(InquiryDto::from_execution(&inquiry)))
}
