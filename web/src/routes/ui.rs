//! The web UI: the single page at `/` and its assets under `/ui/...`, embedded in the binary from
//! `web/ui/` at compile time (plain ES modules and CSS; nothing to build).
//!
//! Both are public: the page holds no data, and everything it shows comes from the API with the
//! caller's credential. Every answer carries a strict Content-Security-Policy (scripts and styles
//! only from this server, no inline code, no framing), `Referrer-Policy: no-referrer` (so the
//! one-click login URL's token never leaks through a Referer) and `X-Content-Type-Options:
//! nosniff`. Assets are revalidated with an `ETag` (a digest of their content).

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

use crate::dto::Fault;
use crate::error::AppError;

/// The UI's files, embedded.
static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/ui");

/// The policy every UI answer carries.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The content type of an asset, by extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// The embedded file at `path` (relative to `web/ui/`), if any. Paths with `..` or a leading `/`
/// find nothing.
pub(crate) fn asset(path: &str) -> Option<&'static [u8]> {
    if path.split('/').any(|part| part == ".." || part.is_empty()) {
        return None;
    }
    ASSETS.get_file(path).map(include_dir::File::contents)
}

fn etag(contents: &[u8]) -> String {
    let digest = Sha256::digest(contents);
    format!("\"{}\"", hex::encode(&digest[..12]))
}

fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(contents) = asset(path) else {
        return AppError::NotFound(format!("no UI asset `{path}`")).into_response();
    };
    let tag = etag(contents);
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|candidate| candidate.trim() == tag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type(path))], contents).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The web UI's page. No credentials needed: it holds no data and logs in against the API (a
/// `?token=` in the address is moved into the browser's session and removed from the address).
#[utoipa::path(
    get,
    path = "/",
    tag = "ui",
    security(()),
    responses((status = 200, description = "The UI's HTML page", content_type = "text/html"))
)]
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// A UI asset (JavaScript modules, CSS, icons), embedded in the binary.
#[utoipa::path(
    get,
    path = "/ui/{path}",
    tag = "ui",
    security(()),
    params(("path" = String, Path, description = "Asset path, e.g. `js/main.js`")),
    responses(
        (status = 200, description = "The asset"),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 404, description = "No such asset", body = Fault)
    )
)]
pub(crate) async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}
