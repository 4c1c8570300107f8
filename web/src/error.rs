//! `AppError`: every way a request fails, turned into a status and st2's error body
//! `{"faultstring": "...", "details": [...]}`.
//!
//! 4xx bodies carry the message a user needs; 5xx bodies are generic and the real error is
//! logged in the request span. Also the request extractors (`ApiJson`, `ApiQuery`) whose
//! rejections become `AppError`s with the same body shape instead of axum's plain-text ones.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use nerve_store::StoreError;
use serde::de::DeserializeOwned;

use crate::dto::Fault;
use crate::platform::{Diagnostic, PlatformError};

/// Why a request failed.
#[derive(Debug)]
pub(crate) enum AppError {
    /// 400: the request is malformed or invalid.
    BadRequest {
        message: String,
        details: Vec<Diagnostic>,
    },
    /// 401: no or wrong credentials.
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// 503.
    Unavailable(String),
    /// 500; the message is logged only.
    Internal(String),
}

impl AppError {
    /// A 400 without positions.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// A 404 for `kind` `id`.
    pub(crate) fn not_found(kind: &str, id: &str) -> Self {
        Self::NotFound(format!("{kind} `{id}` not found"))
    }

    /// A 500 from any error; logged with its source chain.
    pub(crate) fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Internal(message)
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let fault = match self {
            Self::BadRequest { message, details } => Fault {
                faultstring: message,
                details,
            },
            Self::Unauthorized(message)
            | Self::Forbidden(message)
            | Self::NotFound(message)
            | Self::Conflict(message)
            | Self::Unavailable(message) => Fault {
                faultstring: message,
                details: Vec::new(),
            },
            Self::Internal(message) => {
                tracing::error!(error = %message, "Request failed.");
                Fault {
                    faultstring: "internal server error; see the server log".to_owned(),
                    details: Vec::new(),
                }
            }
        };
        let mut response = (status, axum::Json(fault)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"nerve\""),
            );
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidId { .. } => Self::bad_request(error.to_string()),
            StoreError::NotFound { .. } => Self::NotFound(error.to_string()),
            StoreError::Conflict { .. } | StoreError::IllegalTransition { .. } => {
                Self::Conflict(error.to_string())
            }
            other => Self::internal(&other),
        }
    }
}

impl From<PlatformError> for AppError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::NotFound { .. } => Self::NotFound(error.to_string()),
            PlatformError::Invalid { message, details } => Self::BadRequest { message, details },
            PlatformError::Conflict { message } => Self::Conflict(message),
            PlatformError::Unavailable { message } => Self::Unavailable(message),
            PlatformError::Internal { message } => Self::Internal(message),
            // `PlatformError` is non-exhaustive for other crates only; keep a safe default.
            #[allow(unreachable_patterns)]
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::auth::AuthError> for AppError {
    fn from(error: crate::auth::AuthError) -> Self {
        Self::internal(&error)
    }
}

/// Result alias for handlers.
pub(crate) type AppResult<T> = Result<T, AppError>;

/// `axum::Json` whose rejection is a 400 with st2's error body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> AppError {
    AppError::bad_request(format!("invalid JSON body: {}", rejection.body_text()))
}

/// `axum::extract::Query` whose rejection is a 400 with st2's error body.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> AppError {
    AppError::bad_request(format!("invalid query string: {}", rejection.body_text()))
}
