//! `Client`: typed async calls to a Nerve server, for the CLI and tests. It speaks the same
//! DTOs the server sends, and turns error answers into [`ClientError::Http`] with the status and
//! the server's `faultstring`.
//!
//! [`discover`] finds the local server from the data directory; [`write_server_info`] is the
//! server's side of that.

mod discover;
mod sse;

use futures_util::{Stream, StreamExt};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use discover::{SERVER_INFO_FILE, ServerInfo, discover, remove_server_info, write_server_info};
pub use sse::SseFrame;

use crate::auth::{ApiKeyCreated, ApiKeyInfo};
use crate::dto::{
    ActionDto, ActionParametersDto, ApiKeyCreateBody, DisableRuleBody, EnforcementDto,
    ExecutionDto, Fault, KeyDto, KeySetBody, OutputLineDto, PackDto, PackRegistrationDto,
    RegisterPackBody, RerunBody, RuleDto, RunBody, TraceDto, TriggerDto, TriggerInstanceDto,
    TriggerTypeDto, VersionDto,
};
use crate::platform::Diagnostic;
use crate::routes::output::{OUTPUT_END_EVENT, OUTPUT_EVENT};

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

    // --- Service ---------------------------------------------------------------------------

    /// `GET /api/v1/`: version and who the server thinks we are.
    ///
    /// # Errors
    ///
    /// [`ClientError`] for transport failures and error answers (401 with bad credentials).
    pub async fn version(&self) -> Result<VersionDto, ClientError> {
        self.call(Method::GET, "/", None, None).await
    }

    // --- Executions ------------------------------------------------------------------------

    /// Runs an action (`POST /executions`).
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 for invalid parameters, 404 for an unknown action.
    pub async fn run(&self, request: &RunBody) -> Result<ExecutionDto, ClientError> {
        self.call(
            Method::POST,
            "/executions",
            None,
            Some(&Self::body(request)),
        )
        .await
    }

    /// One execution.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id.
    pub async fn get_execution(&self, id: &str) -> Result<ExecutionDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/executions/{}", encode(id)),
            None,
            None,
        )
        .await
    }

    /// Executions, newest first.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 for a bad filter.
    pub async fn list_executions(
        &self,
        query: &ExecutionQuery,
    ) -> Result<Page<ExecutionDto>, ClientError> {
        self.list("/executions", query).await
    }

    /// Output lines of an execution from sequence number `from`.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown execution.
    pub async fn output(&self, id: &str, from: u64) -> Result<Vec<OutputLineDto>, ClientError> {
        let query = [("from", from.to_string())];
        self.call(
            Method::GET,
            &format!("/executions/{}/output", encode(id)),
            Some(&query),
            None,
        )
        .await
    }

    /// Output lines of an execution as they are written, from `from`; the stream ends when the
    /// execution is final.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown execution; stream items fail on transport errors.
    pub async fn stream_output(
        &self,
        id: &str,
        from: u64,
    ) -> Result<impl Stream<Item = Result<OutputLineDto, ClientError>> + use<>, ClientError> {
        let frames = self
            .stream_events(
                &format!("/executions/{}/output/stream", encode(id)),
                &[("from", from.to_string())],
            )
            .await?;
        let url = self.url(&format!("/executions/{}/output/stream", encode(id)));
        Ok(async_stream::stream! {
            let mut frames = std::pin::pin!(frames);
            while let Some(frame) = frames.next().await {
                match frame {
                    Err(error) => {
                        yield Err(error);
                        return;
                    }
                    Ok(frame) if frame.event == OUTPUT_EVENT => {
                        yield serde_json::from_str::<OutputLineDto>(&frame.data)
                            .map_err(|source| ClientError::Decode { url: url.clone(), source });
                    }
                    Ok(frame) if frame.event == OUTPUT_END_EVENT => return,
                    Ok(_) => {}
                }
            }
        })
    }

    /// The frames of an SSE endpoint under `/api/v1` (`/stream` with `events`, `execution_id`,
    /// ...), heartbeats skipped.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when the stream cannot be opened; stream items fail on transport errors.
    pub async fn stream_events(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<impl Stream<Item = Result<SseFrame, ClientError>> + use<>, ClientError> {
        let (builder, url) = self.request(Method::GET, path);
        let response = Self::send(builder.query(query), &url).await?;
        Ok(sse::frames(response, url))
    }

    /// Cancels an execution.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id, 409 when it already finished.
    pub async fn cancel(&self, id: &str) -> Result<ExecutionDto, ClientError> {
        self.call(
            Method::DELETE,
            &format!("/executions/{}", encode(id)),
            None,
            None,
        )
        .await
    }

    /// Runs an execution again with `parameters` overriding its own.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id, 400 for invalid parameters.
    pub async fn rerun(
        &self,
        id: &str,
        parameters: Map<String, Value>,
    ) -> Result<ExecutionDto, ClientError> {
        let body = Self::body(&RerunBody { parameters });
        self.call(
            Method::POST,
            &format!("/executions/{}/re_run", encode(id)),
            None,
            Some(&body),
        )
        .await
    }

    // --- Rules -----------------------------------------------------------------------------

    /// Rules in ref order.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_rules(&self, query: &ListQuery) -> Result<Page<RuleDto>, ClientError> {
        self.list("/rules", query).await
    }

    /// One rule.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn get_rule(&self, rule_ref: &str) -> Result<RuleDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/rules/{}", encode(rule_ref)),
            None,
            None,
        )
        .await
    }

    /// Creates (or replaces) a rule from StackStorm rule YAML.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 with `details` (line and column) for an invalid rule.
    pub async fn create_rule_yaml(&self, yaml: &str) -> Result<RuleDto, ClientError> {
        let (builder, url) = self.request(Method::POST, "/rules");
        let builder = builder
            .header(reqwest::header::CONTENT_TYPE, "application/yaml")
            .body(yaml.to_owned());
        let response = Self::send(builder, &url).await?;
        Self::decode(response, &url).await
    }

    /// Creates (or replaces) a rule from its JSON form.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 with `details` for an invalid rule.
    pub async fn create_rule(&self, rule: &Value) -> Result<RuleDto, ClientError> {
        self.call(Method::POST, "/rules", None, Some(rule)).await
    }

    /// Deletes a rule.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn delete_rule(&self, rule_ref: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/rules/{}", encode(rule_ref)), &[])
            .await
    }

    /// Enables a rule.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn enable_rule(&self, rule_ref: &str) -> Result<RuleDto, ClientError> {
        self.call(
            Method::PUT,
            &format!("/rules/{}/enable", encode(rule_ref)),
            None,
            None,
        )
        .await
    }

    /// Disables a rule with an optional reason.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn disable_rule(
        &self,
        rule_ref: &str,
        reason: Option<String>,
    ) -> Result<RuleDto, ClientError> {
        let body = Self::body(&DisableRuleBody { reason });
        self.call(
            Method::PUT,
            &format!("/rules/{}/disable", encode(rule_ref)),
            None,
            Some(&body),
        )
        .await
    }

    /// Rule enforcements, filtered by rule and/or trigger instance.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_enforcements(
        &self,
        rule: Option<&str>,
        trigger_instance: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Page<EnforcementDto>, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(rule.map(|rule| ("rule", rule.to_owned())));
        query.extend(trigger_instance.map(|id| ("trigger_instance", id.to_owned())));
        query.extend(limit.map(|limit| ("limit", limit.to_string())));
        self.list("/enforcements", &query).await
    }

    // --- Actions ---------------------------------------------------------------------------

    /// Actions in ref order.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_actions(&self, query: &ListQuery) -> Result<Page<ActionDto>, ClientError> {
        self.list("/actions", query).await
    }

    /// One action.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn get_action(&self, action_ref: &str) -> Result<ActionDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/actions/{}", encode(action_ref)),
            None,
            None,
        )
        .await
    }

    /// An action's merged parameters and their JSON Schema.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn action_parameters(
        &self,
        action_ref: &str,
    ) -> Result<ActionParametersDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/actions/views/parameters/{}", encode(action_ref)),
            None,
            None,
        )
        .await
    }

    // --- Triggers and events -----------------------------------------------------------------

    /// Trigger types.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_trigger_types(
        &self,
        query: &ListQuery,
    ) -> Result<Page<TriggerTypeDto>, ClientError> {
        self.list("/triggertypes", query).await
    }

    /// Triggers.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_triggers(&self, query: &ListQuery) -> Result<Page<TriggerDto>, ClientError> {
        self.list("/triggers", query).await
    }

    /// Trigger instances (events), newest first, optionally of one trigger.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_trigger_instances(
        &self,
        trigger: Option<&str>,
        limit: Option<i64>,
        offset: Option<usize>,
    ) -> Result<Page<TriggerInstanceDto>, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(trigger.map(|trigger| ("trigger", trigger.to_owned())));
        query.extend(limit.map(|limit| ("limit", limit.to_string())));
        query.extend(offset.map(|offset| ("offset", offset.to_string())));
        self.list("/triggerinstances", &query).await
    }

    /// One event.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id.
    pub async fn get_trigger_instance(&self, id: &str) -> Result<TriggerInstanceDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/triggerinstances/{}", encode(id)),
            None,
            None,
        )
        .await
    }

    /// Emits an event again.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id.
    pub async fn re_emit(&self, id: &str) -> Result<TriggerInstanceDto, ClientError> {
        self.call(
            Method::POST,
            &format!("/triggerinstances/{}/re_emit", encode(id)),
            None,
            None,
        )
        .await
    }

    /// Posts to a webhook (`st2` for the generic one) with an optional trace tag; returns the
    /// echoed body.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 for a bad body or payload, 404 for an unknown hook.
    pub async fn webhook(
        &self,
        url: &str,
        body: &Value,
        trace_tag: Option<&str>,
    ) -> Result<Value, ClientError> {
        let (mut builder, full_url) = self.request(
            Method::POST,
            &format!("/webhooks/{}", url.trim_matches('/')),
        );
        if let Some(tag) = trace_tag {
            builder = builder.header("St2-Trace-Tag", tag);
        }
        let response = Self::send(builder.json(body), &full_url).await?;
        Self::decode(response, &full_url).await
    }

    // --- Key-value -------------------------------------------------------------------------

    /// Key-value pairs (`scope`: `system`, `user` or `all`).
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 403 when decrypting is not allowed.
    pub async fn list_keys(
        &self,
        prefix: Option<&str>,
        scope: Option<&str>,
        decrypt: bool,
    ) -> Result<Page<KeyDto>, ClientError> {
        let mut query: Vec<(&str, String)> = vec![("decrypt", decrypt.to_string())];
        query.extend(prefix.map(|prefix| ("prefix", prefix.to_owned())));
        query.extend(scope.map(|scope| ("scope", scope.to_owned())));
        self.list("/keys", &query).await
    }

    /// One pair.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown key, 403 when decrypting is not allowed.
    pub async fn get_key(
        &self,
        name: &str,
        scope: Option<&str>,
        decrypt: bool,
    ) -> Result<KeyDto, ClientError> {
        let mut query: Vec<(&str, String)> = vec![("decrypt", decrypt.to_string())];
        query.extend(scope.map(|scope| ("scope", scope.to_owned())));
        self.call(
            Method::GET,
            &format!("/keys/{}", encode(name)),
            Some(&query),
            None,
        )
        .await
    }

    /// Sets a pair.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 for a bad name or scope.
    pub async fn set_key(&self, name: &str, body: &KeySetBody) -> Result<KeyDto, ClientError> {
        let body = Self::body(body);
        self.call(
            Method::PUT,
            &format!("/keys/{}", encode(name)),
            None,
            Some(&body),
        )
        .await
    }

    /// Deletes a pair.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown key.
    pub async fn delete_key(&self, name: &str, scope: Option<&str>) -> Result<(), ClientError> {
        let query: Vec<(&str, String)> = scope
            .map(|scope| ("scope", scope.to_owned()))
            .into_iter()
            .collect();
        self.call_empty(Method::DELETE, &format!("/keys/{}", encode(name)), &query)
            .await
    }

    // --- Packs -----------------------------------------------------------------------------

    /// Installed packs.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_packs(&self) -> Result<Page<PackDto>, ClientError> {
        self.list("/packs", &ListQuery::default()).await
    }

    /// One pack.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn get_pack(&self, pack_ref: &str) -> Result<PackDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/packs/{}", encode(pack_ref)),
            None,
            None,
        )
        .await
    }

    /// Registers the pack in a directory on the server.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 with `details` for a pack with errors.
    pub async fn register_pack(&self, path: &str) -> Result<PackRegistrationDto, ClientError> {
        let body = Self::body(&RegisterPackBody {
            path: path.to_owned(),
        });
        self.call(Method::POST, "/packs/register", None, Some(&body))
            .await
    }

    /// Removes a pack.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn remove_pack(&self, pack_ref: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/packs/{}", encode(pack_ref)), &[])
            .await
    }

    // --- Traces ----------------------------------------------------------------------------

    /// One trace by id.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id.
    pub async fn trace(&self, id: &str) -> Result<TraceDto, ClientError> {
        self.call(Method::GET, &format!("/traces/{}", encode(id)), None, None)
            .await
    }

    /// Traces with a tag, newest first.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn traces_by_tag(&self, trace_tag: &str) -> Result<Page<TraceDto>, ClientError> {
        self.list("/traces", &[("trace_tag", trace_tag.to_owned())])
            .await
    }

    // --- API keys --------------------------------------------------------------------------

    /// Creates an API key (administrators only); the key is in the answer, once.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 403 for non-administrators.
    pub async fn create_api_key(
        &self,
        body: &ApiKeyCreateBody,
    ) -> Result<ApiKeyCreated, ClientError> {
        let body = Self::body(body);
        self.call(Method::POST, "/apikeys", None, Some(&body)).await
    }

    /// API keys (administrators only).
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 403 for non-administrators.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, ClientError> {
        self.call(Method::GET, "/apikeys", None, None).await
    }

    /// Deletes an API key (administrators only).
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id.
    pub async fn delete_api_key(&self, id: &str) -> Result<(), ClientError> {
        self.call_empty(Method::DELETE, &format!("/apikeys/{}", encode(id)), &[])
            .await
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
