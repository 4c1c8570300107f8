//! The router and the server: builds the axum `Router` from the route table with its layers
//! (authentication, request timeout except on streams, request timing for `/metrics`, a
//! `request{method, matched_path}` span), and serves it until cancelled.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::require_auth;
use crate::error::AppError;
use crate::routes::{self, Access};
use crate::state::AppState;
use crate::telemetry::time_requests;

/// The API router: every route of the route table (`routes` module) with its layers, and `state`.
pub fn router(state: AppState) -> Router {
    let mut public = Router::new();
    let mut authenticated = Router::new();
    let mut streams = Router::new();
    let mut webhooks = Router::new();
    for route in routes::table() {
        match (route.access, route.streaming) {
            (Access::Public, _) => public = public.route(route.path, route.handler),
            (Access::Authenticated, false) => {
                authenticated = authenticated.route(route.path, route.handler);
            }
            (Access::Authenticated, true) => streams = streams.route(route.path, route.handler),
            (Access::Webhook, _) => webhooks = webhooks.route(route.path, route.handler),
        }
    }
    let auth_layer = from_fn_with_state(state.clone(), require_auth);
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.options.request_timeout);
    let timed = public
        .merge(authenticated.route_layer(auth_layer.clone()))
        .merge(webhooks)
        .layer(timeout);
    timed
        .merge(streams.route_layer(auth_layer))
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), time_requests))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let matched_path = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str);
                tracing::info_span!("request", method = %request.method(), matched_path)
            }),
        )
        .with_state(state)
}

async fn not_found(request: Request) -> impl IntoResponse {
    AppError::NotFound(format!(
        "no endpoint `{} {}`; see /api/v1/openapi.json",
        request.method(),
        request.uri().path()
    ))
}

/// Serves the API on `listener` until `cancel` is cancelled, then stops accepting connections,
/// ends open streams and waits for requests in flight (each bounded by the request timeout).
///
/// # Errors
///
/// The listener's IO errors.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state.with_shutdown(cancel.clone()));
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "API listening.");
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
}
