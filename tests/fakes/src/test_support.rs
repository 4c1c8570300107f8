//! What the fakes' unit tests share: calling a fake's routes in process.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

/// A fake served by a router.
pub(crate) trait Routed {
    fn routes(self: Arc<Self>) -> Router;
}

/// One request to `fake`'s routes (`body` as JSON): the status and the JSON answer (`null`
/// when the answer is not JSON).
pub(crate) async fn call<F: Routed>(
    fake: &Arc<F>,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = fake
        .clone()
        .routes()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
