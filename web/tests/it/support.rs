//! The test harness of this crate: a real `Store` in a temporary directory, a fake `Platform`
//! that records what it was asked, and helpers to call the router with `oneshot` or serve it on a
//! real socket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::Utc;
use nerve_model::{
    Action, Execution, ExecutionContext, ExecutionStatus, PackMeta, ParamMap, Rule, SensorType,
    TriggerType, find_runner, parameters_schema,
};
use nerve_store::{
    PackRecord, RuleRecord, Store, StoreOptions, TriggerInstanceRecord, new_id, timestamp,
};
use nerve_web::{
    ActionView, AppState, Auth, BoxFuture, CriterionResult, Diagnostic, EmitRequest, MetricSample,
    PackRegistration, Platform, PlatformError, PlatformResult, RuleSource, RuleTestReport,
    RuleValidation, RunRequest, SensorLogLine, SensorRunState, SensorStatusView, SensorTriggerView,
    SensorView, TestEvent, WebhookTarget,
};
use serde_json::{Map, Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Upper bound for anything a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// What the fake platform was asked.
#[derive(Debug, Default)]
pub struct Calls {
    pub emitted: Vec<EmitRequest>,
    pub runs: Vec<RunRequest>,
    pub rule_sources: Vec<RuleSource>,
    pub registered: Vec<PathBuf>,
    pub restarted: Vec<String>,
    pub validated: Vec<RuleSource>,
    pub tested: Vec<(RuleSource, TestEvent)>,
}

/// A platform over the real store that validates a little and records every call.
pub struct FakePlatform {
    pub store: Store,
    pub actions: HashMap<String, ActionView>,
    pub hooks: HashMap<String, String>,
    /// Sensors by ref: `demo.Ticker` runs, `demo.Idle` does not.
    pub sensors: Mutex<Vec<SensorView>>,
    pub calls: Mutex<Calls>,
}

/// `core.local`-like action with a secret `password` parameter.
pub fn secret_action() -> ActionView {
    let runner = find_runner("local-shell-cmd").expect("runner").clone();
    let own: ParamMap = serde_json::from_value(json!({
        "cmd": {"type": "string", "required": true},
        "password": {"type": "string", "secret": true},
        "verbose": {"type": "boolean"}
    }))
    .unwrap();
    let action = Action {
        name: "local".into(),
        pack: "core".into(),
        description: Some("run a command".into()),
        enabled: true,
        runner_type: runner.name.clone(),
        entry_point: String::new(),
        parameters: own.clone(),
        output_schema: None,
        notify: None,
        tags: Vec::new(),
    };
    let mut parameters = runner.runner_parameters.clone();
    parameters.extend(own);
    ActionView {
        parameters_schema: parameters_schema(&parameters),
        parameters,
        action,
        runner,
    }
}

/// Two sensors of pack `demo`: `demo.Ticker` running (pid 4242, one trigger with parameters),
/// `demo.Idle` not running; and `other.Off`, disabled.
pub fn fake_sensors() -> Vec<SensorView> {
    let sensor = |pack: &str, class_name: &str, enabled: bool| SensorType {
        class_name: class_name.into(),
        entry_point: format!("{}.sh", class_name.to_ascii_lowercase()),
        pack: pack.into(),
        description: Some(format!("{class_name} sensor")),
        enabled,
        poll_interval: None,
        trigger_types: Vec::new(),
        runtime: Some("shell".into()),
    };
    let mut running = SensorStatusView::not_running(SensorRunState::Running, "shell", "");
    running.reason = None;
    running.command = Some("/bin/sh ticker.sh".into());
    running.pid = Some(4242);
    running.started_at = Some("2024-05-01T10:00:00.000Z".into());
    running.protocol = Some(1);
    running.dispatched = 7;
    running.rejected = 1;
    running.triggers = vec![SensorTriggerView {
        id: "0123456789abcdef".into(),
        trigger_ref: "demo.tick_0123456789ab".into(),
        name: "tick_0123456789ab".into(),
        pack: "demo".into(),
        trigger_type: "demo.tick".into(),
        parameters: json!({"every": 5}).as_object().unwrap().clone(),
    }];
    vec![
        SensorView {
            sensor: sensor("demo", "Ticker", true),
            trigger_types: vec!["demo.tick".into()],
            status: running,
        },
        SensorView {
            sensor: sensor("demo", "Idle", true),
            trigger_types: vec!["demo.idle".into()],
            status: SensorStatusView::not_running(
                SensorRunState::Idle,
                "shell",
                "no enabled rule uses its trigger types",
            ),
        },
        SensorView {
            sensor: sensor("other", "Off", false),
            trigger_types: vec!["other.off".into()],
            status: SensorStatusView::not_running(
                SensorRunState::Disabled,
                "shell",
                "the sensor is disabled",
            ),
        },
    ]
}

impl FakePlatform {
    pub fn new(store: Store) -> Self {
        let view = secret_action();
        Self {
            store,
            actions: HashMap::from([(view.action.action_ref(), view)]),
            hooks: HashMap::from([("deploy".to_owned(), "core.webhook_deploy".to_owned())]),
            sensors: Mutex::new(fake_sensors()),
            calls: Mutex::new(Calls::default()),
        }
    }

    pub fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap()
    }

    async fn record_event(
        &self,
        trigger: String,
        payload: Value,
        trace_tag: Option<String>,
    ) -> PlatformResult<TriggerInstanceRecord> {
        let record = TriggerInstanceRecord {
            id: new_id(),
            trigger,
            payload,
            occurrence_time: timestamp(Utc::now()),
            status: nerve_model::TriggerInstanceStatus::Pending,
            trace_id: None,
            trace_tag,
        };
        self.store
            .record_trigger_instance(&record)
            .await
            .map_err(|error| PlatformError::internal(error.to_string()))?;
        Ok(record)
    }

    async fn create_execution(
        &self,
        action: &str,
        parameters: Map<String, Value>,
        context: ExecutionContext,
    ) -> PlatformResult<Execution> {
        let Some(view) = self.actions.get(action) else {
            return Err(PlatformError::not_found("action", action));
        };
        if let Some(Value::String(cmd)) = parameters.get("cmd") {
            if cmd.is_empty() {
                return Err(PlatformError::invalid("parameter `cmd` must not be empty"));
            }
        }
        let execution = Execution {
            id: new_id(),
            action: action.to_owned(),
            runner: view.runner.name.clone(),
            parameters,
            status: ExecutionStatus::Requested,
            result: None,
            reason: None,
            context,
            start_timestamp: timestamp(Utc::now()),
            end_timestamp: None,
            log: Vec::new(),
            children: Vec::new(),
            worker: None,
        };
        self.store
            .create_execution(&execution)
            .await
            .map_err(|error| PlatformError::internal(error.to_string()))?;
        Ok(execution)
    }

    fn rule_record(&self, rule_ref: &str) -> PlatformResult<RuleRecord> {
        self.store
            .rule_record(rule_ref)
            .map_err(|error| PlatformError::internal(error.to_string()))?
            .ok_or_else(|| PlatformError::not_found("rule", rule_ref))
    }
}

fn internal(error: impl std::fmt::Display) -> PlatformError {
    PlatformError::internal(error.to_string())
}

impl Platform for FakePlatform {
    fn emit(&self, request: EmitRequest) -> BoxFuture<'_, PlatformResult<TriggerInstanceRecord>> {
        Box::pin(async move {
            self.calls().emitted.push(request.clone());
            if request.trigger == "unknown.trigger" {
                return Err(PlatformError::not_found("trigger", &request.trigger));
            }
            if request.payload.get("invalid").is_some() {
                return Err(PlatformError::invalid(
                    "payload does not match the payload schema of the trigger: `invalid` is not allowed",
                ));
            }
            self.record_event(request.trigger, request.payload, request.trace_tag)
                .await
        })
    }

    fn webhook<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Option<WebhookTarget>> {
        Box::pin(async move {
            self.hooks.get(url).map(|trigger| WebhookTarget {
                url: url.to_owned(),
                trigger: trigger.clone(),
            })
        })
    }

    fn run(&self, request: RunRequest) -> BoxFuture<'_, PlatformResult<Execution>> {
        Box::pin(async move {
            self.calls().runs.push(request.clone());
            let context = ExecutionContext {
                user: request.user,
                trace_tag: request.trace_tag,
                extra: request.context,
                ..ExecutionContext::default()
            };
            self.create_execution(&request.action, request.parameters, context)
                .await
        })
    }

    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        _user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move {
            let Some(execution) = self.store.get_execution(execution_id).map_err(internal)? else {
                return Err(PlatformError::not_found("execution", execution_id));
            };
            if execution.status.is_final() {
                return Err(PlatformError::conflict(format!(
                    "execution `{execution_id}` already finished ({})",
                    execution.status
                )));
            }
            let record = self
                .store
                .transition(execution_id, ExecutionStatus::Canceled, None, None)
                .await
                .map_err(internal)?;
            Ok(record.execution)
        })
    }

    fn rerun<'a>(
        &'a self,
        execution_id: &'a str,
        parameters: Map<String, Value>,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move {
            let Some(old) = self.store.get_execution(execution_id).map_err(internal)? else {
                return Err(PlatformError::not_found("execution", execution_id));
            };
            let mut merged = old.parameters.clone();
            merged.extend(parameters);
            let context = ExecutionContext {
                user: user.to_owned(),
                rerun_of: Some(old.id.clone()),
                ..ExecutionContext::default()
            };
            self.create_execution(&old.action, merged, context).await
        })
    }

    fn re_emit<'a>(
        &'a self,
        trigger_instance_id: &'a str,
    ) -> BoxFuture<'a, PlatformResult<TriggerInstanceRecord>> {
        Box::pin(async move {
            let Some(old) = self
                .store
                .trigger_instance(trigger_instance_id)
                .map_err(internal)?
            else {
                return Err(PlatformError::not_found(
                    "trigger instance",
                    trigger_instance_id,
                ));
            };
            self.record_event(old.trigger, old.payload, old.trace_tag)
                .await
        })
    }

    fn actions(&self) -> BoxFuture<'_, PlatformResult<Vec<ActionView>>> {
        Box::pin(async move { Ok(self.actions.values().cloned().collect()) })
    }

    fn action<'a>(
        &'a self,
        action_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Option<ActionView>>> {
        Box::pin(async move { Ok(self.actions.get(action_ref).cloned()) })
    }

    fn packs(&self) -> BoxFuture<'_, PlatformResult<Vec<PackRecord>>> {
        Box::pin(async move {
            Ok(self
                .store
                .packs()
                .list("")
                .map_err(internal)?
                .into_iter()
                .map(|(_, pack)| pack)
                .collect())
        })
    }

    fn register_pack(
        &self,
        dir: PathBuf,
        _source: Option<String>,
    ) -> BoxFuture<'_, PlatformResult<PackRegistration>> {
        Box::pin(async move {
            self.calls().registered.push(dir.clone());
            if !dir.join("pack.yaml").exists() {
                return Err(PlatformError::Invalid {
                    message: format!("`{}` is not a pack directory", dir.display()),
                    details: vec![Diagnostic {
                        severity: "error".into(),
                        file: "pack.yaml".into(),
                        line: 0,
                        col: 0,
                        field: String::new(),
                        message: "file not found".into(),
                        hint: Some("create pack.yaml".into()),
                    }],
                });
            }
            let name = dir
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let pack = PackRecord {
                meta: PackMeta {
                    name: name.clone(),
                    version: "1.0.0".into(),
                    ..PackMeta::default()
                },
                dir: dir.clone(),
                content_hash: "hash".into(),
                installed_at: timestamp(Utc::now()),
                source: dir.display().to_string(),
            };
            self.store.packs().put(&name, &pack).map_err(internal)?;
            Ok(PackRegistration {
                pack,
                actions: 1,
                rules: 0,
                sensors: 0,
                trigger_types: 0,
                policies: 0,
                warnings: Vec::new(),
                dir,
            })
        })
    }

    fn remove_pack<'a>(&'a self, pack_ref: &'a str) -> BoxFuture<'a, PlatformResult<PackRecord>> {
        Box::pin(async move {
            self.store
                .packs()
                .delete(pack_ref)
                .map_err(internal)?
                .ok_or_else(|| PlatformError::not_found("pack", pack_ref))
        })
    }

    fn create_rule(&self, source: RuleSource) -> BoxFuture<'_, PlatformResult<RuleRecord>> {
        Box::pin(async move {
            self.calls().rule_sources.push(source.clone());
            let value = match source {
                RuleSource::Yaml(_) => {
                    return Err(PlatformError::Invalid {
                        message: "the rule has 1 error".into(),
                        details: vec![Diagnostic {
                            severity: "error".into(),
                            file: "<request>".into(),
                            line: 2,
                            col: 3,
                            field: "trigger".into(),
                            message: "missing field `type`".into(),
                            hint: None,
                        }],
                    });
                }
                RuleSource::Json(value) => value,
            };
            let rule: Rule = serde_json::from_value(value)
                .map_err(|error| PlatformError::invalid(format!("invalid rule: {error}")))?;
            let rule_ref = rule.rule_ref();
            self.store.rules().put(&rule_ref, &rule).map_err(internal)?;
            self.rule_record(&rule_ref)
        })
    }

    fn delete_rule<'a>(&'a self, rule_ref: &'a str) -> BoxFuture<'a, PlatformResult<RuleRecord>> {
        Box::pin(async move {
            let record = self.rule_record(rule_ref)?;
            self.store.remove_rule(rule_ref).map_err(internal)?;
            Ok(record)
        })
    }

    fn set_rule_enabled<'a>(
        &'a self,
        rule_ref: &'a str,
        enabled: bool,
        reason: Option<String>,
    ) -> BoxFuture<'a, PlatformResult<RuleRecord>> {
        Box::pin(async move {
            self.rule_record(rule_ref)?;
            self.store
                .set_rule_enabled(rule_ref, enabled, reason)
                .await
                .map_err(internal)?;
            self.rule_record(rule_ref)
        })
    }

    fn trigger_types(&self) -> BoxFuture<'_, PlatformResult<Vec<TriggerType>>> {
        Box::pin(async move {
            Ok(vec![TriggerType {
                name: "st2.webhook".into(),
                pack: "core".into(),
                description: Some("webhook".into()),
                parameters_schema: Some(json!({"type": "object"})),
                payload_schema: None,
                tags: Vec::new(),
            }])
        })
    }

    fn sensors(&self) -> BoxFuture<'_, PlatformResult<Vec<SensorView>>> {
        Box::pin(async move { Ok(self.sensors.lock().unwrap().clone()) })
    }

    fn sensor<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Option<SensorView>>> {
        Box::pin(async move {
            Ok(self
                .sensors
                .lock()
                .unwrap()
                .iter()
                .find(|view| view.sensor.sensor_ref() == sensor_ref)
                .cloned())
        })
    }

    fn restart_sensor<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<SensorView>> {
        Box::pin(async move {
            let mut sensors = self.sensors.lock().unwrap();
            let Some(view) = sensors
                .iter_mut()
                .find(|view| view.sensor.sensor_ref() == sensor_ref)
            else {
                return Err(PlatformError::not_found("sensor", sensor_ref));
            };
            if !view.status.state.is_supervised() {
                return Err(PlatformError::conflict(format!(
                    "sensor `{sensor_ref}` is not running: {}",
                    view.status.reason.clone().unwrap_or_default()
                )));
            }
            self.calls().restarted.push(sensor_ref.to_owned());
            view.status.restarts += 1;
            Ok(view.clone())
        })
    }

    fn sensor_logs<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Vec<SensorLogLine>>> {
        Box::pin(async move {
            let sensors = self.sensors.lock().unwrap();
            let Some(view) = sensors
                .iter()
                .find(|view| view.sensor.sensor_ref() == sensor_ref)
            else {
                return Err(PlatformError::not_found("sensor", sensor_ref));
            };
            if !view.status.state.is_supervised() {
                return Ok(Vec::new());
            }
            Ok((1..=3)
                .map(|n| SensorLogLine {
                    at: format!("2024-05-01T10:00:0{n}.000Z"),
                    source: if n == 1 { "host" } else { "stderr" }.into(),
                    level: "info".into(),
                    message: format!("line {n}"),
                })
                .collect())
        })
    }

    fn validate_rule(&self, source: RuleSource) -> BoxFuture<'_, PlatformResult<RuleValidation>> {
        Box::pin(async move {
            let text = match &source {
                RuleSource::Yaml(text) => text.clone(),
                RuleSource::Json(value) => value.to_string(),
            };
            self.calls().validated.push(source);
            let diagnostics: Vec<Diagnostic> = text
                .lines()
                .enumerate()
                .filter(|(_, line)| line.starts_with("critera"))
                .map(|(index, _)| Diagnostic {
                    severity: "error".into(),
                    file: "<request>".into(),
                    line: u32::try_from(index + 1).unwrap(),
                    col: 1,
                    field: "critera".into(),
                    message: "unknown field `critera` in rule".into(),
                    hint: Some("did you mean `criteria`?".into()),
                })
                .collect();
            Ok(RuleValidation {
                valid: diagnostics.is_empty(),
                rule_ref: diagnostics.is_empty().then(|| "examples.fake".to_owned()),
                diagnostics,
            })
        })
    }

    fn test_rule(
        &self,
        source: RuleSource,
        event: TestEvent,
    ) -> BoxFuture<'_, PlatformResult<RuleTestReport>> {
        Box::pin(async move {
            let matched = event.payload["n"] == json!(5);
            self.calls().tested.push((source, event.clone()));
            Ok(RuleTestReport {
                valid: true,
                diagnostics: Vec::new(),
                rule_ref: Some("examples.fake".into()),
                matched,
                trigger_matches: true,
                reason: None,
                criteria: vec![CriterionResult {
                    key: "trigger.n".into(),
                    operator: Some("equals".into()),
                    pattern: Some(json!(5)),
                    value: event.payload.get("n").cloned(),
                    result: matched,
                    reason: "fake".into(),
                }],
                action: None,
                warnings: Vec::new(),
            })
        })
    }

    fn queues(&self) -> BoxFuture<'_, PlatformResult<Vec<nerve_web::QueueDto>>> {
        Box::pin(async {
            Ok(vec![nerve_web::QueueDto {
                name: "nerve.work".into(),
                ready: 4,
                unacked: 1,
                consumers: 2,
                dead_letters: 0,
            }])
        })
    }

    fn metrics(&self) -> Vec<MetricSample> {
        vec![MetricSample {
            name: "nerve_fake_queue_depth".into(),
            help: "A platform gauge.".into(),
            kind: "gauge",
            labels: vec![("queue".into(), "work\"items".into())],
            value: 3.0,
        }]
    }
}

/// A store, credentials and fake platform in a temporary directory.
pub struct TestApp {
    pub dir: TempDir,
    pub store: Store,
    pub auth: Auth,
    pub platform: Arc<FakePlatform>,
}

/// A response, with the body parsed as JSON when it is JSON (`Value::Null` when empty, a string
/// otherwise).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn fault(&self) -> &str {
        self.body["faultstring"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data"), StoreOptions::default()).unwrap();
        let auth = Auth::open(&dir.path().join("data")).unwrap();
        let platform = Arc::new(FakePlatform::new(store.clone()));
        Self {
            dir,
            store,
            auth,
            platform,
        }
    }

    pub fn state(&self) -> AppState {
        AppState::new(self.store.clone(), self.platform.clone(), self.auth.clone())
    }

    pub fn token(&self) -> String {
        self.auth.admin_token().to_owned()
    }

    /// Sends a request through `router(state).oneshot`.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = nerve_web::router(self.state())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A request with the admin token and an optional JSON body.
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        let request = request(method, uri, Some(("x-auth-token", &self.token())), body);
        self.send(request).await
    }

    /// A request with an arbitrary credential header.
    pub async fn call_as(
        &self,
        method: Method,
        uri: &str,
        credential: (&str, &str),
        body: Option<Value>,
    ) -> Answer {
        self.send(request(method, uri, Some(credential), body))
            .await
    }

    /// An API key for `user`.
    pub fn api_key(&self, user: &str, admin: bool) -> String {
        self.auth.create_api_key(user, admin, None).unwrap().key
    }

    /// Records an execution of `core.local` directly in the store.
    pub async fn execution(&self, user: &str, status: ExecutionStatus, params: Value) -> Execution {
        let execution = Execution {
            id: new_id(),
            action: "core.local".into(),
            runner: "local-shell-cmd".into(),
            parameters: serde_json::from_value(params).unwrap(),
            status,
            result: None,
            reason: None,
            context: ExecutionContext {
                user: user.into(),
                ..ExecutionContext::default()
            },
            start_timestamp: timestamp(Utc::now()),
            end_timestamp: None,
            log: Vec::new(),
            children: Vec::new(),
            worker: None,
        };
        self.store.create_execution(&execution).await.unwrap();
        execution
    }

    /// Serves the router on 127.0.0.1:0; returns the base URL and the token that stops it.
    pub async fn serve(&self) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cancel = CancellationToken::new();
        let state = self.state();
        let token = cancel.clone();
        let handle = tokio::spawn(async move {
            nerve_web::serve(listener, state, token).await.unwrap();
        });
        (url, cancel, handle)
    }
}

/// Builds a request with an optional credential header and JSON body.
pub fn request(
    method: Method,
    uri: &str,
    credential: Option<(&str, &str)>,
    body: Option<Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some((name, value)) = credential {
        builder = builder.header(name, value);
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}
