//! Webhooks: `POST /api/v1/webhooks/st2` (generic: `{"trigger", "payload"}`) and
//! `POST /api/v1/webhooks/{url}` (custom: any rule on `core.st2.webhook` with that `url`; the
//! payload is `{headers, headers_lower, body}` with credential headers removed). Both answer
//! `202 Accepted` echoing the body; `St2-Trace-Tag` sets the trace tag.
//!
//! **Authentication.** A token or API key as everywhere else, unless an HMAC secret is
//! configured for the hook: the key-value pair `webhook.<url>.hmac` in the system scope (for
//! the generic hook, `webhook.st2.hmac`), best stored as a secret. Then every request must carry
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` (GitHub's scheme) and one
//! that verifies needs no token. Verification is constant time.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use hmac::{Hmac, KeyInit, Mac};
use nerve_store::KvScope;
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::dto::{Fault, WebhookBody};
use crate::error::{AppError, AppResult};
use crate::platform::{EmitRequest, PlatformError};
use crate::state::AppState;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// Header carrying the trace tag.
pub const TRACE_TAG_HEADER: &str = "st2-trace-tag";
/// Headers never passed to rules.
const STRIPPED_HEADERS: [&str; 4] = ["x-auth-token", "st2-api-key", "authorization", "cookie"];

/// The key-value name holding the HMAC secret of a hook.
pub fn hmac_key_name(hook: &str) -> String {
    format!("webhook.{hook}.hmac")
}

/// `sha256=<hex>` for `body` under `secret`: what a sender puts in `X-Hub-Signature-256`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

fn verify(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(hex_digest) = signature.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

/// Who sent a webhook request: a user (token or API key), or `None` for a verified signature.
async fn authenticate(
    state: &AppState,
    hook: &str,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> AppResult<Option<String>> {
    let secret = state
        .store
        .kv()
        .get(KvScope::System, &hmac_key_name(hook), true)?;
    if let Some(secret) = secret {
        let Some(signature) = headers
            .get(SIGNATURE_HEADER)
            .and_then(|value| value.to_str().ok())
        else {
            return Err(AppError::Unauthorized(format!(
                "webhook `{hook}` requires an `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of \
                 the body>` header"
            )));
        };
        if !verify(secret.value.as_bytes(), body, signature) {
            return Err(AppError::Unauthorized(format!(
                "the `X-Hub-Signature-256` signature does not match the body for webhook `{hook}`"
            )));
        }
        return Ok(None);
    }
    let query = Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|Query(query)| query)
        .unwrap_or_default();
    match state.auth.authenticate(headers, &query) {
        Ok(principal) => Ok(Some(principal.user)),
        Err(failure) => Err(AppError::Unauthorized(state.auth.failure_message(&failure))),
    }
}

fn trace_tag(headers: &HeaderMap) -> Option<String> {
    headers
        .get(TRACE_TAG_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
}

/// An unknown trigger named in a request body is the caller's mistake, not a missing page.
fn body_error(error: PlatformError) -> AppError {
    match error {
        PlatformError::NotFound { kind, id } => {
            AppError::bad_request(format!("{kind} `{id}` not found"))
        }
        other => other.into(),
    }
}

/// Generic webhook: emits `payload` on `trigger`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/st2",
    tag = "webhooks",
    request_body = WebhookBody,
    responses(
        (status = 202, description = "Accepted; the body is echoed", body = WebhookBody),
        (status = 400, description = "Not an object, unknown trigger or invalid payload", body = Fault),
        (status = 401, description = "No credentials or bad signature", body = Fault)
    )
)]
pub(crate) async fn generic(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> AppResult<(StatusCode, Json<Value>)> {
    let user = authenticate(&state, "st2", &headers, &uri, &body).await?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|error| AppError::bad_request(format!("the body is not valid JSON: {error}")))?;
    let Some(object) = value.as_object() else {
        return Err(AppError::bad_request(
            "the body must be a JSON object `{\"trigger\": \"pack.name\", \"payload\": {...}}`",
        ));
    };
    let Some(trigger) = object.get("trigger").and_then(Value::as_str) else {
        return Err(AppError::bad_request(
            "`trigger` is required: the ref of the trigger to emit",
        ));
    };
    let payload = object.get("payload").cloned().unwrap_or_else(|| json!({}));
    state
        .platform
        .emit(EmitRequest {
            trigger: trigger.to_owned(),
            payload,
            trace_tag: trace_tag(&headers),
            user,
        })
        .await
        .map_err(body_error)?;
    Ok((StatusCode::ACCEPTED, Json(value)))
}

/// `Content-Type` → `Content-Type`, `x-github-event` → `X-Github-Event`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The headers a rule sees, without credentials; repeated headers are joined with `, `.
fn header_maps(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut lower: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let name = name.as_str();
        if STRIPPED_HEADERS.contains(&name) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match lower.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                lower.insert(name.to_owned(), Value::String(value));
            }
        }
    }
    let titled = lower
        .iter()
        .map(|(name, value)| (title_case(name), value.clone()))
        .collect();
    (titled, lower)
}

/// The body of a custom webhook: JSON unless the content type says text.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> AppResult<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    if content_type.starts_with("text/") {
        return Ok(Value::String(String::from_utf8_lossy(body).into_owned()));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|error| {
        AppError::bad_request(format!(
            "the body is not valid JSON ({error}); send JSON, or text with a `text/*` content type"
        ))
    })
}

/// Custom webhook: emits `{headers, headers_lower, body}` on the rule's `core.st2.webhook`
/// trigger for this `url`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{url}",
    tag = "webhooks",
    params(("url" = String, Path, description = "The `url` parameter of a `core.st2.webhook` rule")),
    request_body(content = Object, description = "Any JSON (or text with a `text/*` content type)"),
    responses(
        (status = 202, description = "Accepted; the body is echoed"),
        (status = 400, description = "Invalid body or payload", body = Fault),
        (status = 401, description = "No credentials or bad signature", body = Fault),
        (status = 404, description = "No rule uses this webhook", body = Fault)
    )
)]
pub(crate) async fn custom(
    State(state): State<AppState>,
    Path(url): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> AppResult<(StatusCode, Json<Value>)> {
    let url = url.trim_matches('/').to_owned();
    let user = authenticate(&state, &url, &headers, &uri, &body).await?;
    let Some(target) = state.platform.webhook(&url).await else {
        return Err(AppError::NotFound(format!(
            "no webhook `{url}`: no enabled rule uses trigger `core.st2.webhook` with \
             `url: {url}`"
        )));
    };
    let body = parse_body(&headers, &body)?;
    let (headers_titled, headers_lower) = header_maps(&headers);
    let payload = json!({
        "headers": headers_titled,
        "headers_lower": headers_lower,
        "body": body,
    });
    state
        .platform
        .emit(EmitRequest {
            trigger: target.trigger,
            payload,
            trace_tag: trace_tag(&headers),
            user,
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let signature = sign(b"secret", b"{\"a\":1}");
        assert!(verify(b"secret", b"{\"a\":1}", &signature));
        assert!(!verify(b"secret", b"{\"a\":2}", &signature));
        assert!(!verify(b"other", b"{\"a\":1}", &signature));
        assert!(!verify(b"secret", b"{\"a\":1}", "sha1=abc"));
        assert!(!verify(b"secret", b"{\"a\":1}", "sha256=zz"));
        // GitHub's documented example.
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn header_names_are_title_cased_and_credentials_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", "push".parse().unwrap());
        headers.insert("x-auth-token", "t".parse().unwrap());
        headers.insert("authorization", "Bearer t".parse().unwrap());
        let (titled, lower) = header_maps(&headers);
        assert_eq!(titled.get("X-Github-Event"), Some(&json!("push")));
        assert_eq!(lower.get("x-github-event"), Some(&json!("push")));
        assert!(lower.get("x-auth-token").is_none() && lower.get("authorization").is_none());
    }
}
