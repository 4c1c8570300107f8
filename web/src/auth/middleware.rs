//! The layer in front of every authenticated route, and the `Caller` extractor handlers use to
//! learn who is asking.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Principal;
use crate::error::AppError;
use crate::state::AppState;

/// Refuses requests without valid credentials (401 with st2's body and a hint on how to
/// authenticate) and records the [`Principal`] for the handler.
pub(crate) async fn require_auth(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let query = Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|Query(query)| query)
        .unwrap_or_default();
    match state.auth.authenticate(request.headers(), &query) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(failure) => {
            AppError::Unauthorized(state.auth.failure_message(&failure)).into_response()
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal);

impl Caller {
    /// 403 unless the caller is an administrator.
    pub(crate) fn require_admin(&self) -> Result<(), AppError> {
        if self.0.admin {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "user `{}` is not an administrator; use the admin token or an admin API key",
                self.0.user
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Fail closed: a handler asking for a caller on a route without the auth layer is a bug.
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| AppError::Internal("route is missing the authentication layer".into()))
    }
}
