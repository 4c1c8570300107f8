//! `http-request`: one HTTP request from Nerve itself (no child process), with StackStorm's
//! parameters and result `{status_code, body, parsed, headers}`.
//!
//! Host allow and deny lists are checked before anything is resolved or connected. The response
//! body is read up to [`MAX_BODY_BYTES`]; the rest is dropped and the body marked as truncated.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::args::python_str;
use super::{Params, seconds};
use crate::{RunOutcome, RunRequest, RunStatus};

/// The most of a response body kept in the result.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// StackStorm's default request timeout, in seconds.
const DEFAULT_TIMEOUT_SECONDS: f64 = 60.0;

/// Runs the request described by the parameters.
pub(crate) async fn run(request: &RunRequest, cancel: &CancellationToken) -> RunOutcome {
    let params = Params::new(&request.parameters);
    let prepared = match prepare(request, &params) {
        Ok(prepared) => prepared,
        Err(reason) => return RunOutcome::failed(reason),
    };
    let timeout = prepared.timeout;
    tokio::select! {
        biased;
        () = cancel.cancelled() => RunOutcome {
            status: RunStatus::Canceled,
            result: json!({"error": "Action was canceled"}),
            reason: Some("Action was canceled".to_owned()),
        },
        outcome = send(prepared) => match outcome {
            Ok(outcome) => outcome,
            Err(error) if error.is_timeout() => {
                let message = format!(
                    "Action failed to complete in {} seconds: {}",
                    seconds(timeout),
                    error_chain(&error)
                );
                RunOutcome {
                    status: RunStatus::TimedOut,
                    result: json!({"error": message}),
                    reason: Some(message),
                }
            }
            Err(error) => RunOutcome::failed(error_chain(&error)),
        },
    }
}

/// Everything decided before the request is sent.
struct Prepared {
    client: reqwest::Client,
    method: Method,
    url: Url,
    headers: HeaderMap,
    basic_auth: Option<(String, Option<String>)>,
    body: Option<Vec<u8>>,
    timeout: Option<Duration>,
}

fn prepare(request: &RunRequest, params: &Params<'_>) -> Result<Prepared, String> {
    let url_text = params
        .string("url")
        .ok_or("parameter `url` is required for runner `http-request`")?;
    let mut url =
        Url::parse(url_text).map_err(|error| format!("invalid URL `{url_text}`: {error}"))?;
    check_host(&url, params)?;

    if let Some(Value::Object(query)) = params.get("params") {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in query {
            match value {
                Value::Null => {}
                Value::Array(items) => {
                    for item in items {
                        pairs.append_pair(name, &python_str(item));
                    }
                }
                other => {
                    pairs.append_pair(name, &python_str(other));
                }
            }
        }
    }
    // `query_pairs_mut` leaves a bare `?` behind when nothing was added.
    if url.query() == Some("") {
        url.set_query(None);
    }

    let mut headers = HeaderMap::new();
    if let Some(Value::Object(given)) = params.get("headers") {
        for (name, value) in given {
            insert_header(&mut headers, name, &python_str(value))?;
        }
    }
    if !headers.contains_key(reqwest::header::USER_AGENT) {
        insert_header(
            &mut headers,
            "User-Agent",
            concat!("nerve/", env!("CARGO_PKG_VERSION")),
        )?;
    }
    insert_header(&mut headers, "X-Stanley-Action", &request.action.name)?;
    if let Some(Value::Object(cookies)) = params.get("cookies") {
        let cookie = cookies
            .iter()
            .map(|(name, value)| format!("{name}={}", python_str(value)))
            .collect::<Vec<_>>()
            .join("; ");
        insert_header(&mut headers, "Cookie", &cookie)?;
    }
    if let Some(auth) = params.string("auth").filter(|auth| !auth.is_empty()) {
        let (name, value) = auth.split_once('=').ok_or_else(|| {
            format!("parameter `auth` must look like `header-name=value`, got `{auth}`")
        })?;
        insert_header(&mut headers, name.trim(), value.trim())?;
    }

    let body = request_body(params, &mut headers)?;
    let method = match params.string("method") {
        Some(method) => Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("invalid HTTP method `{method}`"))?,
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    let username = params.string("username");
    let password = params.string("password");
    let basic_auth = (username.is_some() || password.is_some()).then(|| {
        (
            username.unwrap_or_default().to_owned(),
            password.map(str::to_owned),
        )
    });

    let timeout = params.timeout("timeout", request, DEFAULT_TIMEOUT_SECONDS);
    let mut builder = reqwest::Client::builder()
        .redirect(if params.bool("allow_redirects", false) {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        })
        .tls_danger_accept_invalid_certs(!params.bool("verify_ssl_cert", true));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    if let Some(proxy) = params.string("http_proxy").filter(|p| !p.is_empty()) {
        builder = builder.proxy(
            reqwest::Proxy::http(proxy)
                .map_err(|error| format!("invalid `http_proxy`: {error}"))?,
        );
    }
    if let Some(proxy) = params.string("https_proxy").filter(|p| !p.is_empty()) {
        builder = builder.proxy(
            reqwest::Proxy::https(proxy)
                .map_err(|error| format!("invalid `https_proxy`: {error}"))?,
        );
    }
    let client = builder
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {}", error_chain(&error)))?;
    Ok(Prepared {
        client,
        method,
        url,
        headers,
        basic_auth,
        body,
        timeout,
    })
}

/// StackStorm's host lists: exact host names (no port, no brackets), mutually exclusive.
fn check_host(url: &Url, params: &Params<'_>) -> Result<(), String> {
    let list = |name: &str| -> Vec<String> {
        match params.get(name) {
            Some(Value::Array(hosts)) => hosts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect(),
            _ => Vec::new(),
        }
    };
    let blacklist = list("url_hosts_blacklist");
    let whitelist = list("url_hosts_whitelist");
    if !blacklist.is_empty() && !whitelist.is_empty() {
        return Err(
            "\"url_hosts_blacklist\" and \"url_hosts_whitelist\" parameters are mutually \
                    exclusive. Only one should be provided."
                .to_owned(),
        );
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if blacklist.contains(&host) {
        return Err(format!("URL \"{url}\" is blacklisted"));
    }
    if !whitelist.is_empty() && !whitelist.contains(&host) {
        return Err(format!("URL \"{url}\" is not whitelisted"));
    }
    Ok(())
}

/// The request body: `body` (re-encoded when the content type is JSON), or a multipart upload
/// of `file_content` named `file_name`.
fn request_body(params: &Params<'_>, headers: &mut HeaderMap) -> Result<Option<Vec<u8>>, String> {
    let json_content = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("application/json"));
    if let (Some(file_name), Some(content)) =
        (params.string("file_name"), params.string("file_content"))
        && !file_name.is_empty()
        && !content.is_empty()
    {
        let boundary = format!("nerve-boundary-{:016x}", fastrand_seed());
        let mut body = Vec::new();
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"{0}\"; filename=\"{0}\"\r\n",
                file_name.replace('"', "%22")
            )
            .as_bytes(),
        );
        if let Some(content_type) = params.string("file_content_type") {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(content.as_bytes());
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        insert_header(
            headers,
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )?;
        return Ok(Some(body));
    }
    let body = match params.get("body") {
        None => return Ok(None),
        Some(Value::String(text)) if text.is_empty() => return Ok(None),
        Some(Value::String(text)) if json_content => {
            let value: Value = serde_json::from_str(text).map_err(|error| {
                format!("Request body ({text}) can't be parsed as JSON: {error}")
            })?;
            value.to_string()
        }
        Some(Value::String(text)) => text.clone(),
        Some(other) => {
            if !headers.contains_key(reqwest::header::CONTENT_TYPE) {
                insert_header(headers, "Content-Type", "application/json")?;
            }
            other.to_string()
        }
    };
    Ok(Some(body.into_bytes()))
}

/// A per-request boundary: unique enough, not a secret.
fn fastrand_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("invalid HTTP header name `{name}`"))?;
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| format!("invalid value for HTTP header `{name}`"))?;
    headers.insert(header_name, header_value);
    Ok(())
}

async fn send(prepared: Prepared) -> Result<RunOutcome, reqwest::Error> {
    let mut builder = prepared
        .client
        .request(prepared.method, prepared.url)
        .headers(prepared.headers);
    if let Some((username, password)) = prepared.basic_auth {
        builder = builder.basic_auth(username, password);
    }
    if let Some(body) = prepared.body {
        builder = builder.body(body);
    }
    let mut response = builder.send().await?;
    let status_code = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let mut bytes = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY_BYTES.saturating_sub(bytes.len());
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (body, parsed) = parse_body(&headers, text, truncated);
    let mut result = json!({
        "status_code": status_code,
        "body": body,
        "parsed": parsed,
        "headers": headers,
    });
    if truncated {
        result["body_truncated"] = Value::Bool(true);
    }
    // StackStorm's SUCCESS_STATUS_CODES: 200..=206.
    let (status, reason) = if (200..=206).contains(&status_code) {
        (RunStatus::Succeeded, None)
    } else {
        (
            RunStatus::Failed,
            Some(format!("the server answered with status {status_code}")),
        )
    };
    Ok(RunOutcome {
        status,
        result,
        reason,
    })
}

/// StackStorm's `_parse_response_body`: JSON-decode when the content type is
/// `application/json`.
fn parse_body(headers: &Map<String, Value>, text: String, truncated: bool) -> (Value, bool) {
    let content_type = headers
        .get("content-type")
        .and_then(Value::as_str)
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    if truncated || content_type != Some("application/json") {
        return (Value::String(text), false);
    }
    match serde_json::from_str(&text) {
        Ok(value) => (value, true),
        Err(_) => (Value::String(text), false),
    }
}

/// The error and its sources, joined with `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests;
