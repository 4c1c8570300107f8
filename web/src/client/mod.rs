//! `Client`: typed async calls to a Nerve server, for the CLI and tests. It speaks the same
//! DTOs the server sends, and turns error answers into [`ClientError::Http`] with the status and
//! the server's `faultstring`.
//!
//! [`discover`] finds the local server from the data directory; [`write_server_info`] is the
//! server's side of that.

mod discover;
mod endpoints;
mod sse;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use discover::{SERVER_INFO_FILE, ServerInfo, discover, remove_server_info, write_server_info};
pub use sse::SseFrame;

use crate::dto::Fault;
use crate::platform::Diagnostic;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("{faultstring} (HTTP {status})")]
    Http {
        /// The HTTP status.
        status: StatusCode,
        /// The server's message (`faultstring`).
        faultstring: String,
        /// Positions of validation problems, when the server sent any.
        details: Vec<Diagnostic>,
    },
    /// The server could not be reached, or the connection failed.
    #[error("cannot reach the Nerve API at `{url}`")]
    Transport {
        /// The URL called.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not what this client understands.
    #[error("unexpected answer from `{url}`")]
    Decode {
        /// The URL called.
        url: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's `faultstring`, when it answered with an error.
    pub fn faultstring(&self) -> Option<&str> {
        match self {
            Self::Http { faultstring, .. } => Some(faultstring),
            _ => None,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// Matches in all (`X-Total-Count`).
    pub total: usize,
}

/// Filters and paging of [`Client::list_executions`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExecutionQuery {
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Action ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Rule ref.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Trigger instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_instance: Option<String>,
    /// Parent execution id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// User.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Started at or after (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_gt: Option<String>,
    /// Started at or before (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_lt: Option<String>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Records to skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
}

/// Paging (and a pack filter where the endpoint has one) for the other lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListQuery {
    /// Only this pack (actions, rules, trigger types, triggers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Records to skip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
}

/// A typed client of the Nerve API.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    token: Option<String>,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `base_url` (`http://127.0.0.1:9101`), authenticating with the
    /// admin `token` (`X-Auth-Token`) when given.
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
            api_key: None,
            http: reqwest::Client::new(),
        }
    }

    /// Authenticates with an API key (`St2-Api-Key`) as well or instead.
    #[must_use]
    pub fn with_api_key(mut self, api_key: String) -> Self {
        self.api_key = Some(api_key);
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base_url)
    }

    fn request(&self, method: Method, path: &str) -> (RequestBuilder, String) {
        let url = self.url(path);
        let mut builder = self.http.request(method, &url);
        if let Some(token) = &self.token {
            builder = builder.header("X-Auth-Token", token);
        }
        if let Some(api_key) = &self.api_key {
            builder = builder.header("St2-Api-Key", api_key);
        }
        (builder, url)
    }

    async fn send(builder: RequestBuilder, url: &str) -> Result<reqwest::Response, ClientError> {
        let response = builder
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_owned(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let (faultstring, details) = match serde_json::from_slice::<Fault>(&bytes) {
            Ok(fault) => (fault.faultstring, fault.details),
            Err(_) => (
                String::from_utf8_lossy(&bytes).trim().to_owned(),
                Vec::new(),
            ),
        };
        let faultstring = if faultstring.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            faultstring
        };
        Err(ClientError::Http {
            status,
            faultstring,
            details,
        })
    }

    async fn decode<T: DeserializeOwned>(
        response: reqwest::Response,
        url: &str,
    ) -> Result<T, ClientError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.to_owned(),
                source,
            })?;
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            url: url.to_owned(),
            source,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Option<&(dyn ErasedQuery + Sync)>,
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        let (mut builder, url) = self.request(method, path);
        if let Some(query) = query {
            builder = query.apply(builder);
        }
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let response = Self::send(builder, &url).await?;
        Self::decode(response, &url).await
    }

    async fn call_empty(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(), ClientError> {
        let (builder, url) = self.request(method, path);
        Self::send(builder.query(query), &url).await.map(drop)
    }

    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &(dyn ErasedQuery + Sync),
    ) -> Result<Page<T>, ClientError> {
        let (builder, url) = self.request(Method::GET, path);
        let response = Self::send(query.apply(builder), &url).await?;
        let total = response
            .headers()
            .get("x-total-count")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok());
        let items: Vec<T> = Self::decode(response, &url).await?;
        Ok(Page {
            total: total.unwrap_or(items.len()),
            items,
        })
    }

    fn body(value: &impl Serialize) -> Value {
        // Our own request types always serialize.
        serde_json::to_value(value).unwrap_or(Value::Null)
    }
}

/// A query string source: typed query structs and `[(name, value)]` lists alike.
trait ErasedQuery {
    fn apply(&self, builder: RequestBuilder) -> RequestBuilder;
}

impl<T: Serialize> ErasedQuery for T {
    fn apply(&self, builder: RequestBuilder) -> RequestBuilder {
        builder.query(self)
    }
}

/// Percent-encodes one path segment.
fn encode(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b':') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
