//! The endpoint methods of [`Client`]: one typed call per API operation the CLI uses.

use futures_util::{Stream, StreamExt};
use reqwest::Method;
use serde_json::{Map, Value};

use super::{Client, ClientError, ExecutionQuery, ListQuery, Page, SseFrame, encode, sse};
use crate::auth::{ApiKeyCreated, ApiKeyInfo};
use crate::dto::{
    ActionDto, ActionParametersDto, ApiKeyCreateBody, DisableRuleBody, EnforcementDto,
    ExecutionDto, InquiryDto, InquiryResponseBody, KeyDto, KeySetBody, OutputLineDto, PackDto,
    PackRegistrationDto, RegisterPackBody, RerunBody, RuleDto, RunBody, SensorLogLineDto,
    SensorTypeDto, TraceDto, TriggerDto, TriggerInstanceDto, TriggerTypeDto, VersionDto,
};
use crate::routes::output::{OUTPUT_END_EVENT, OUTPUT_EVENT};

impl Client {
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

    /// The inquiries waiting for a response, newest first.
    ///
    /// # Errors
    ///
    /// Transport and HTTP errors.
    pub async fn list_inquiries(&self) -> Result<Vec<InquiryDto>, ClientError> {
        self.call(Method::GET, "/inquiries", None, None).await
    }

    /// One inquiry.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id.
    pub async fn get_inquiry(&self, id: &str) -> Result<InquiryDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/inquiries/{}", encode(id)),
            None,
            None,
        )
        .await
    }

    /// Answers a pending inquiry.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 when the response does not match the schema, 404 for an
    /// unknown id, 409 when it is not pending or this user may not answer it.
    pub async fn respond_inquiry(
        &self,
        id: &str,
        response: Value,
    ) -> Result<InquiryDto, ClientError> {
        let body = Self::body(&InquiryResponseBody {
            id: Some(id.to_owned()),
            response,
        });
        self.call(
            Method::PUT,
            &format!("/inquiries/{}", encode(id)),
            None,
            Some(&body),
        )
        .await
    }

    /// Pauses a running workflow execution.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id, 409 when it is not a running workflow.
    pub async fn pause(&self, id: &str) -> Result<ExecutionDto, ClientError> {
        let path = format!("/executions/{}/pause", encode(id));
        self.call(Method::POST, &path, None, None).await
    }

    /// Resumes a paused workflow execution.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown id, 409 when it is not a paused workflow.
    pub async fn resume(&self, id: &str) -> Result<ExecutionDto, ClientError> {
        let path = format!("/executions/{}/resume", encode(id));
        self.call(Method::POST, &path, None, None).await
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

    // --- Sensors -----------------------------------------------------------------------------

    /// Sensor types with their status, in ref order.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers.
    pub async fn list_sensors(
        &self,
        query: &ListQuery,
    ) -> Result<Page<SensorTypeDto>, ClientError> {
        self.list("/sensortypes", query).await
    }

    /// One sensor type with its status.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn get_sensor(&self, sensor_ref: &str) -> Result<SensorTypeDto, ClientError> {
        self.call(
            Method::GET,
            &format!("/sensortypes/{}", encode(sensor_ref)),
            None,
            None,
        )
        .await
    }

    /// Asks the server to restart a sensor; returns its status right after asking.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref, 409 for a sensor that does not run.
    pub async fn restart_sensor(&self, sensor_ref: &str) -> Result<SensorTypeDto, ClientError> {
        self.call(
            Method::POST,
            &format!("/sensortypes/{}/restart", encode(sensor_ref)),
            None,
            None,
        )
        .await
    }

    /// The kept tail of a sensor's log, oldest first: the last `tail` lines, or all kept ones.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn sensor_logs(
        &self,
        sensor_ref: &str,
        tail: Option<usize>,
    ) -> Result<Vec<SensorLogLineDto>, ClientError> {
        let query: Vec<(&str, String)> = tail
            .map(|tail| ("tail", tail.to_string()))
            .into_iter()
            .collect();
        self.call(
            Method::GET,
            &format!("/sensortypes/{}/logs", encode(sensor_ref)),
            Some(&query),
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
    pub async fn register_pack(
        &self,
        path: &str,
        source: Option<&str>,
    ) -> Result<PackRegistrationDto, ClientError> {
        let body = Self::body(&RegisterPackBody {
            path: path.to_owned(),
            source: source.map(str::to_owned),
        });
        self.call(Method::POST, "/packs/register", None, Some(&body))
            .await
    }

    /// A pack's config, secrets masked.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown ref.
    pub async fn pack_config(&self, pack_ref: &str) -> Result<Map<String, Value>, ClientError> {
        self.call(
            Method::GET,
            &format!("/packs/{}/config", encode(pack_ref)),
            None,
            None,
        )
        .await
    }

    /// Sets fields of a pack's config; answers the config, secrets masked.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 400 naming unknown fields or values the schema refuses.
    pub async fn set_pack_config(
        &self,
        pack_ref: &str,
        values: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ClientError> {
        let body = Self::body(values);
        self.call(
            Method::PUT,
            &format!("/packs/{}/config", encode(pack_ref)),
            None,
            Some(&body),
        )
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

    /// Recent traces, newest first, optionally only those with a tag.
    ///
    /// # Errors
    ///
    /// Transport failures and error answers ([`ClientError::Http`] 400 for a bad `limit`).
    pub async fn list_traces(
        &self,
        trace_tag: Option<&str>,
        limit: Option<i64>,
        offset: Option<usize>,
    ) -> Result<Page<TraceDto>, ClientError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        query.extend(trace_tag.map(|tag| ("trace_tag", tag.to_owned())));
        query.extend(limit.map(|limit| ("limit", limit.to_string())));
        query.extend(offset.map(|offset| ("offset", offset.to_string())));
        self.list("/traces", &query).await
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

    /// Every node the server heard from.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when the server cannot be reached or refuses.
    pub async fn list_nodes(&self) -> Result<Vec<nerve_model::NodeInfo>, ClientError> {
        self.call(Method::GET, "/nodes", None, None).await
    }

    /// The bus's queues with their counts.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when the server cannot be reached or refuses.
    pub async fn bus_queues(&self) -> Result<Vec<crate::QueueDto>, ClientError> {
        self.call(Method::GET, "/bus/queues", None, None).await
    }

    /// The dead letters of a queue, oldest first.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown queue.
    pub async fn dead_letters(
        &self,
        queue: &str,
    ) -> Result<Vec<crate::DeadLetterDto>, ClientError> {
        self.call(
            Method::GET,
            &format!("/bus/queues/{}/dead_letters", encode(queue)),
            None,
            None,
        )
        .await
    }

    /// Moves dead letters of `queue` (all, or those with `ids`) back to it; returns how many.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] 404 for an unknown queue.
    pub async fn replay_dead_letters(
        &self,
        queue: &str,
        ids: Option<Vec<String>>,
    ) -> Result<usize, ClientError> {
        let body = serde_json::json!({ "ids": ids });
        let replayed: crate::ReplayedDto = self
            .call(
                Method::POST,
                &format!("/bus/queues/{}/replay", encode(queue)),
                None,
                Some(&body),
            )
            .await?;
        Ok(replayed.replayed)
    }
}
