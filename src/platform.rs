//! The web crate's `Platform` implemented over the engine: the one place where HTTP-facing
//! requests become engine calls.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use nerve_engine::{
    Content, Engine, EngineError, RegisterError, SensorLogLine as SensorLogLineRecord, SensorState,
    SensorStatus,
};
use nerve_model::{
    ClaimReply, ClaimRequest, Execution, HeartbeatReply, NodeHeartbeat, NodeInfo, NodeKvReply,
    NodeKvRequest, SensorType, TriggerType, find_runner,
};
use nerve_packs::LoadedPack;
use nerve_sensor_host::LogSource;
use nerve_store::{PackRecord, RuleRecord, TriggerInstanceRecord};
use nerve_web::{
    ActionView, BoxFuture, DeadLetterDto, Diagnostic, EmitRequest, MetricSample, PackDetails,
    PackRegistration, Platform, PlatformError, PlatformResult, QueueDto, ReloadError, RuleSource,
    RuleTestReport, RuleValidation, RunRequest, SensorExitView, SensorLogLine, SensorRunState,
    SensorStatusView, SensorTriggerView, SensorView, TestEvent, WebhookTarget,
};
use nerve_web::{CriterionResult, RenderedAction};
use serde_json::{Map, Value, json};

use crate::rule_tester::{Scene, test_rule};

/// The engine seen through the API.
pub(crate) struct EnginePlatform {
    engine: Engine,
    /// Where installed packs are copied (`<data-dir>/packs`).
    packs_dir: PathBuf,
    /// Where packs' Python virtualenvs are made (`<data-dir>/virtualenvs`).
    venvs_dir: PathBuf,
    /// PATH, HOME, LANG for `python3 -m venv` and `pip`.
    env: Vec<(String, String)>,
    /// Held while a pack is installed.
    install_lock: tokio::sync::Mutex<()>,
    /// The last refused install of each source (a directory, URL or archive).
    reload_errors: std::sync::Mutex<HashMap<String, ReloadError>>,
}

impl EnginePlatform {
    pub(crate) fn new(
        engine: Engine,
        packs_dir: PathBuf,
        venvs_dir: PathBuf,
        env: Vec<(String, String)>,
    ) -> Self {
        Self {
            engine,
            packs_dir,
            venvs_dir,
            env,
            install_lock: tokio::sync::Mutex::new(()),
            reload_errors: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The sensor type with this ref, as loaded.
    fn sensor_type(&self, sensor_ref: &str) -> Option<SensorType> {
        self.engine
            .content()
            .packs()
            .flat_map(|pack| pack.sensors.iter())
            .find(|loaded| loaded.sensor.sensor_ref() == sensor_ref)
            .map(|loaded| loaded.sensor.clone())
    }

    /// One sensor type with its current status.
    fn sensor_now(&self, sensor_ref: &str) -> Option<SensorView> {
        let sensor = self.sensor_type(sensor_ref)?;
        let status = self.engine.sensor_status(sensor_ref);
        Some(sensor_view(
            &self.engine.content(),
            &sensor,
            status,
            &self.engine.nodes(),
        ))
    }

    /// Installs the pack at `dir`: copied into a staging directory beside the installed packs,
    /// loaded and checked there, then swapped in and registered. A pack that fails leaves the
    /// installed version's files and registration untouched.
    async fn install(&self, dir: &Path, source: &str) -> PlatformResult<PackRegistration> {
        if !dir.join("pack.yaml").is_file() {
            return Err(PlatformError::invalid(format!(
                "`{}` is not a pack directory (no `pack.yaml`)",
                dir.display()
            )));
        }
        let staging_root = self
            .packs_dir
            .join(format!(".staging-{}", nerve_store::new_id()));
        let result = self.install_staged(dir, source, &staging_root).await;
        if staging_root.exists() {
            let _ = fs::remove_dir_all(&staging_root);
        }
        result
    }

    async fn install_staged(
        &self,
        dir: &Path,
        source: &str,
        staging_root: &Path,
    ) -> PlatformResult<PackRegistration> {
        // The staged copy keeps the source directory's name: the loader compares it with the ref.
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(ToOwned::to_owned))
            .unwrap_or_else(|| "pack".into());
        let staged = staging_root.join(name);
        copy_dir(dir, &staged).map_err(|e| {
            if e.kind() == std::io::ErrorKind::Other {
                PlatformError::invalid(format!("pack `{}` cannot be installed: {e}", dir.display()))
            } else {
                PlatformError::internal(format!("failed to copy the pack: {e}"))
            }
        })?;
        let (loaded, failed) =
            nerve_packs::load_packs(std::slice::from_ref(&staged), &self.known_packs());
        if let Some(failure) = failed.first() {
            let diagnostics = rebase(&failure.diagnostics, &staged, dir);
            return Err(invalid(
                format!("pack `{}` does not load", dir.display()),
                &diagnostics,
            ));
        }
        let Some(pack) = loaded.into_iter().next() else {
            return Err(PlatformError::invalid(format!(
                "`{}` is not a pack",
                dir.display()
            )));
        };
        // Its Python requirements, in an environment of their own (reused when unchanged); a
        // failure refuses the install like an error in the pack.
        let venv = crate::venv::prepare(&pack.pack_ref, &staged, &self.venvs_dir, &self.env)
            .await
            .map_err(|e| {
                PlatformError::invalid(format!(
                    "pack `{}`: installing `requirements.txt` failed: {e}",
                    dir.display()
                ))
            })?;
        // It loads: the last refusal is over (cleared before the new version becomes visible, so
        // no reader sees the new version with the old error).
        self.reload_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(source);
        let target = self.packs_dir.join(&pack.pack_ref);
        // Mirrored file by file into the installed directory rather than swapped in whole: the
        // directory stays the same, so sensors that did not change keep running in it.
        sync_dir(&staged, &target)
            .and_then(|()| crate::venv::link(&target, venv.as_deref()))
            .map_err(|e| PlatformError::internal(format!("failed to install the pack: {e}")))?;
        match self
            .engine
            .register_pack_dirs(std::slice::from_ref(&target), source)
            .await
        {
            Ok(_) => {}
            Err(RegisterError::Invalid(failed)) => {
                let diagnostics: Vec<_> = failed
                    .iter()
                    .flat_map(|f| rebase(&f.diagnostics, &target, dir))
                    .collect();
                return Err(invalid(
                    format!("pack `{}` does not load", dir.display()),
                    &diagnostics,
                ));
            }
            Err(RegisterError::Engine(e)) => {
                return Err(error(e));
            }
        }
        crate::venv::prune(&pack.pack_ref, &self.venvs_dir, venv.as_deref());
        let content = self.engine.content();
        let pack = content
            .pack(&pack.pack_ref)
            .ok_or_else(|| PlatformError::internal("pack vanished after registration"))?;
        let record = self
            .engine
            .store()
            .packs()
            .get(&pack.pack_ref)
            .map_err(|e| error(e.into()))?
            .ok_or_else(|| PlatformError::internal("pack record missing"))?;
        Ok(PackRegistration {
            pack: record,
            actions: pack.actions.len(),
            rules: pack.rules.len(),
            sensors: pack.sensors.len(),
            trigger_types: pack.trigger_types.len(),
            policies: pack.policies.len(),
            warnings: rebase(&pack.warnings, &target, dir)
                .iter()
                .map(diagnostic)
                .collect(),
            dir: target,
        })
    }

    /// Keeps the last refusal of each source (shown with the pack until an install of it
    /// loads) and logs it.
    fn remember_outcome(
        &self,
        dir: &Path,
        source: &str,
        result: &PlatformResult<PackRegistration>,
    ) {
        let Err(PlatformError::Invalid { message, details }) = result else {
            return;
        };
        tracing::warn!(pack = %dir.display(), %message, problems = details.len(), "Pack install refused; the installed version stays in force.");
        self.reload_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                source.to_owned(),
                ReloadError {
                    message: message.clone(),
                    at: nerve_store::timestamp(chrono::Utc::now()),
                    details: details.clone(),
                },
            );
    }

    fn known_packs(&self) -> Vec<LoadedPack> {
        self.engine
            .content()
            .packs()
            .map(|p| (**p).clone())
            .collect()
    }
}

fn error(error: EngineError) -> PlatformError {
    match error {
        EngineError::NotFound { kind, id } => PlatformError::not_found(kind, id),
        EngineError::Invalid { message, details } => PlatformError::Invalid {
            message: if details.is_empty() {
                message
            } else {
                format!("{message}: {}", details.join("; "))
            },
            details: Vec::new(),
        },
        EngineError::Conflict(message) => PlatformError::conflict(message),
        other => {
            tracing::error!(error = %other, "Platform failure.");
            PlatformError::internal("internal error")
        }
    }
}

fn bus_error(error: &nerve_bus::BusError) -> PlatformError {
    match error {
        nerve_bus::BusError::QueueNotFound { queue } => PlatformError::not_found("queue", queue),
        other => PlatformError::Unavailable {
            message: format!("the bus: {other}"),
        },
    }
}

fn diagnostic(d: &nerve_packs::Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: match d.severity {
            nerve_packs::Severity::Error => "error".to_owned(),
            nerve_packs::Severity::Warning => "warning".to_owned(),
        },
        file: d.file.display().to_string(),
        line: d.line,
        col: d.col,
        field: d.field.clone(),
        message: d.message.clone(),
        hint: d.hint.clone(),
    }
}

/// The file name diagnostics of a rule sent in a request carry.
const RULE_NAME: &str = "<request>";

fn rule_text(source: RuleSource) -> String {
    match source {
        RuleSource::Yaml(text) => text,
        RuleSource::Json(value) => value.to_string(),
    }
}

fn has_errors(diagnostics: &[nerve_packs::Diagnostic]) -> bool {
    diagnostics
        .iter()
        .any(|d| d.severity == nerve_packs::Severity::Error)
}

/// `st2kv.*` for the rule tester: the datastore as it is now, secrets masked even through
/// `decrypt_kv` (the tester's output goes back to the caller).
struct MaskedKv(nerve_store::KvView);

impl nerve_rules::KvLookup for MaskedKv {
    fn get(&self, scope: &str, key: &str) -> Option<nerve_rules::KvValue> {
        let scope = nerve_store::KvScope::parse(scope)?;
        let value = self.0.value(scope, key).ok()??;
        Some(nerve_rules::KvValue {
            value: value.value,
            secret: value.secret,
        })
    }

    fn decrypt(&self, scope: &str, key: &str) -> Option<String> {
        self.get(scope, key).map(|value| value.value)
    }
}

fn invalid(message: String, diagnostics: &[nerve_packs::Diagnostic]) -> PlatformError {
    PlatformError::Invalid {
        message,
        details: diagnostics.iter().map(diagnostic).collect(),
    }
}

impl Platform for EnginePlatform {
    fn emit(&self, request: EmitRequest) -> BoxFuture<'_, PlatformResult<TriggerInstanceRecord>> {
        Box::pin(async move {
            self.engine
                .emit(&request.trigger, request.payload, request.trace_tag)
                .await
                .map_err(error)
        })
    }

    fn webhook<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Option<WebhookTarget>> {
        Box::pin(async move {
            self.engine
                .content()
                .has_webhook(url)
                .then(|| WebhookTarget {
                    url: url.to_owned(),
                    trigger: format!("{}?{}", nerve_engine::WEBHOOK_TYPE, json!({"url": url})),
                })
        })
    }

    fn run(&self, request: RunRequest) -> BoxFuture<'_, PlatformResult<Execution>> {
        Box::pin(async move {
            self.engine
                .run(nerve_engine::RunRequest {
                    action: request.action,
                    parameters: request.parameters,
                    user: request.user,
                    trace_tag: request.trace_tag,
                    rerun_of: None,
                })
                .await
                .map_err(error)
        })
    }

    fn cancel<'a>(
        &'a self,
        execution_id: &'a str,
        _user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move { self.engine.cancel(execution_id).await.map_err(error) })
    }

    fn key_set<'a>(&'a self, outcome: &'a nerve_store::KvSetOutcome) -> BoxFuture<'a, ()> {
        Box::pin(self.engine.key_set(outcome))
    }

    fn key_deleted<'a>(&'a self, pair: &'a nerve_store::KvPair) -> BoxFuture<'a, ()> {
        Box::pin(self.engine.key_deleted(pair))
    }

    fn inquiries(&self) -> BoxFuture<'_, PlatformResult<Vec<Execution>>> {
        Box::pin(async move { self.engine.inquiries().map_err(error) })
    }

    fn inquiry<'a>(&'a self, id: &'a str) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move { self.engine.inquiry(id).map_err(error) })
    }

    fn respond_inquiry<'a>(
        &'a self,
        id: &'a str,
        response: Value,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move {
            self.engine
                .respond_inquiry(id, response, user)
                .await
                .map_err(error)
        })
    }

    fn pause<'a>(
        &'a self,
        execution_id: &'a str,
        _user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move { self.engine.pause(execution_id).await.map_err(error) })
    }

    fn resume<'a>(
        &'a self,
        execution_id: &'a str,
        _user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move { self.engine.resume(execution_id).await.map_err(error) })
    }

    fn rerun<'a>(
        &'a self,
        execution_id: &'a str,
        parameters: Map<String, Value>,
        user: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Execution>> {
        Box::pin(async move {
            self.engine
                .rerun(execution_id, parameters, user)
                .await
                .map_err(error)
        })
    }

    fn re_emit<'a>(
        &'a self,
        trigger_instance_id: &'a str,
    ) -> BoxFuture<'a, PlatformResult<TriggerInstanceRecord>> {
        Box::pin(async move {
            self.engine
                .re_emit(trigger_instance_id)
                .await
                .map_err(error)
        })
    }

    fn actions(&self) -> BoxFuture<'_, PlatformResult<Vec<ActionView>>> {
        Box::pin(async move {
            let content = self.engine.content();
            Ok(content
                .action_refs()
                .iter()
                .filter_map(|action_ref| content.action(action_ref).and_then(|(_, a)| view(a)))
                .collect())
        })
    }

    fn action<'a>(
        &'a self,
        action_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Option<ActionView>>> {
        Box::pin(async move {
            Ok(self
                .engine
                .content()
                .action(action_ref)
                .and_then(|(_, a)| view(a)))
        })
    }

    fn packs(&self) -> BoxFuture<'_, PlatformResult<Vec<PackRecord>>> {
        Box::pin(async move {
            let records = self
                .engine
                .store()
                .packs()
                .list("")
                .map_err(|e| error(e.into()))?;
            Ok(records.into_iter().map(|(_, record)| record).collect())
        })
    }

    fn register_pack(
        &self,
        dir: PathBuf,
        source: Option<String>,
    ) -> BoxFuture<'_, PlatformResult<PackRegistration>> {
        Box::pin(async move {
            // One install at a time: the API, `--watch` and `--dev` may race on the same pack.
            let _installing = self.install_lock.lock().await;
            let source = source.unwrap_or_else(|| dir.display().to_string());
            let result = self.install(&dir, &source).await;
            self.remember_outcome(&dir, &source, &result);
            result
        })
    }

    fn pack_config<'a>(
        &'a self,
        pack_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Map<String, Value>>> {
        Box::pin(async move {
            if self.engine.content().pack(pack_ref).is_none() {
                return Err(PlatformError::not_found("pack", pack_ref));
            }
            Ok(self.engine.pack_config(pack_ref, false))
        })
    }

    fn set_pack_config<'a>(
        &'a self,
        pack_ref: &'a str,
        values: Map<String, Value>,
    ) -> BoxFuture<'a, PlatformResult<Map<String, Value>>> {
        Box::pin(async move {
            self.engine
                .set_pack_config(pack_ref, values)
                .await
                .map_err(error)
        })
    }

    fn pack_details<'a>(&'a self, pack_ref: &'a str) -> BoxFuture<'a, PackDetails> {
        Box::pin(async move {
            let content = self.engine.content();
            let files = content
                .pack(pack_ref)
                .map(|pack| nerve_packs::pack_files(&pack.dir).unwrap_or_default())
                .unwrap_or_default()
                .into_iter()
                .map(|path| path.to_string_lossy().replace('\\', "/"))
                .collect();
            let reload_error = self
                .engine
                .store()
                .packs()
                .get(pack_ref)
                .ok()
                .flatten()
                .and_then(|record| {
                    self.reload_errors
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get(&record.source)
                        .cloned()
                });
            PackDetails {
                files,
                reload_error,
            }
        })
    }

    fn remove_pack<'a>(&'a self, pack_ref: &'a str) -> BoxFuture<'a, PlatformResult<PackRecord>> {
        Box::pin(async move {
            if pack_ref == "core" {
                return Err(PlatformError::conflict(
                    "the built-in `core` pack cannot be removed",
                ));
            }
            let record = self
                .engine
                .store()
                .packs()
                .get(pack_ref)
                .map_err(|e| error(e.into()))?
                .ok_or_else(|| PlatformError::not_found("pack", pack_ref))?;
            self.engine.remove_pack(pack_ref).await.map_err(error)?;
            let installed = self.packs_dir.join(pack_ref);
            if installed.is_dir() {
                fs::remove_dir_all(&installed).map_err(|e| {
                    PlatformError::internal(format!("failed to delete the pack files: {e}"))
                })?;
            }
            crate::venv::prune(pack_ref, &self.venvs_dir, None);
            Ok(record)
        })
    }

    fn create_rule(&self, source: RuleSource) -> BoxFuture<'_, PlatformResult<RuleRecord>> {
        Box::pin(async move {
            let text = match source {
                RuleSource::Yaml(text) => text,
                RuleSource::Json(value) => value.to_string(),
            };
            let rule =
                nerve_packs::load_rule_text("<request>", &text, "default", &self.known_packs())
                    .map_err(|diagnostics| {
                        invalid("the rule is invalid".to_owned(), &diagnostics)
                    })?;
            self.engine.create_rule(rule.rule).await.map_err(error)
        })
    }

    fn validate_rule(&self, source: RuleSource) -> BoxFuture<'_, PlatformResult<RuleValidation>> {
        Box::pin(async move {
            let text = rule_text(source);
            let (rule, diagnostics) =
                nerve_packs::check_rule_text(RULE_NAME, &text, "default", &self.known_packs());
            Ok(RuleValidation {
                valid: rule.is_some() && !has_errors(&diagnostics),
                rule_ref: rule.map(|rule| rule.rule.rule_ref()),
                diagnostics: diagnostics.iter().map(diagnostic).collect(),
            })
        })
    }

    fn test_rule(
        &self,
        source: RuleSource,
        event: TestEvent,
    ) -> BoxFuture<'_, PlatformResult<RuleTestReport>> {
        Box::pin(async move {
            let text = rule_text(source);
            let known = self.known_packs();
            let (rule, diagnostics) =
                nerve_packs::check_rule_text(RULE_NAME, &text, "default", &known);
            let mut report = RuleTestReport {
                valid: false,
                diagnostics: diagnostics.iter().map(diagnostic).collect(),
                rule_ref: rule.as_ref().map(|rule| rule.rule.rule_ref()),
                matched: false,
                trigger_matches: false,
                reason: None,
                criteria: Vec::new(),
                action: None,
                warnings: Vec::new(),
            };
            let Some(rule) = rule.filter(|_| !has_errors(&diagnostics)) else {
                return Ok(report);
            };
            let rule = rule.rule;
            // `config_context` is the action pack's config, secrets masked as everywhere else.
            let action_pack = rule
                .action
                .action_ref
                .split_once('.')
                .map_or("", |(pack, _)| pack);
            let config = match self.pack_config(action_pack).await {
                Ok(config) => Value::Object(config),
                Err(_) => Value::Object(Map::new()),
            };
            let kv = MaskedKv(self.engine.store().kv().view());
            let event = nerve_model::TriggerInstance {
                id: None,
                trigger: event.trigger,
                payload: event.payload,
                occurrence_time: None,
            };
            let scene = Scene {
                kv: &kv,
                config: &config,
                user: "stanley",
                known: &known,
            };
            let verdict = test_rule(&rule, &event, &scene).map_err(PlatformError::invalid)?;
            report.valid = true;
            report.matched = verdict.matched;
            report.trigger_matches = verdict.trigger_matches;
            report.reason = verdict.explanation.reason;
            report.criteria = verdict
                .explanation
                .criteria
                .into_iter()
                .map(|c| CriterionResult {
                    key: c.key,
                    operator: c.operator,
                    pattern: c.pattern,
                    value: c.value,
                    result: c.result,
                    reason: c.reason,
                })
                .collect();
            report.warnings = verdict.warnings;
            match verdict.rendered {
                Some(Ok(parameters)) => {
                    report.action = Some(RenderedAction {
                        action_ref: rule.action.action_ref.clone(),
                        parameters,
                    });
                }
                Some(Err(error)) => report.warnings.push(format!(
                    "the rule matched but its action parameters do not render: {error}"
                )),
                None => {}
            }
            Ok(report)
        })
    }

    fn delete_rule<'a>(&'a self, rule_ref: &'a str) -> BoxFuture<'a, PlatformResult<RuleRecord>> {
        Box::pin(async move {
            let record = self
                .engine
                .store()
                .rule_record(rule_ref)
                .map_err(|e| error(e.into()))?
                .ok_or_else(|| PlatformError::not_found("rule", rule_ref))?;
            self.engine.delete_rule(rule_ref).await.map_err(error)?;
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
            self.engine
                .set_rule_enabled(rule_ref, enabled, reason)
                .await
                .map_err(error)
        })
    }

    fn sensors(&self) -> BoxFuture<'_, PlatformResult<Vec<SensorView>>> {
        Box::pin(async move {
            let content = self.engine.content();
            let nodes = self.engine.nodes();
            let mut statuses: HashMap<String, SensorStatus> = self
                .engine
                .sensor_statuses()
                .into_iter()
                .map(|status| (status.sensor.clone(), status))
                .collect();
            let mut views: Vec<SensorView> = content
                .packs()
                .flat_map(|pack| pack.sensors.iter())
                .map(|loaded| {
                    let status = statuses.remove(&loaded.sensor.sensor_ref());
                    sensor_view(&content, &loaded.sensor, status, &nodes)
                })
                .collect();
            views.sort_by_cached_key(|view| view.sensor.sensor_ref());
            Ok(views)
        })
    }

    fn sensor<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Option<SensorView>>> {
        Box::pin(async move { Ok(self.sensor_now(sensor_ref)) })
    }

    fn restart_sensor<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<SensorView>> {
        Box::pin(async move {
            let view = self
                .sensor_now(sensor_ref)
                .ok_or_else(|| PlatformError::not_found("sensor", sensor_ref))?;
            if !view.status.state.is_supervised() || !self.engine.restart_sensor(sensor_ref) {
                let why = view
                    .status
                    .reason
                    .unwrap_or_else(|| "the sensor host does not run it".to_owned());
                return Err(PlatformError::conflict(format!(
                    "sensor `{sensor_ref}` is not running: {why}"
                )));
            }
            tracing::info!(sensor = %sensor_ref, "Sensor restart requested through the API.");
            self.sensor_now(sensor_ref)
                .ok_or_else(|| PlatformError::not_found("sensor", sensor_ref))
        })
    }

    fn sensor_logs<'a>(
        &'a self,
        sensor_ref: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Vec<SensorLogLine>>> {
        Box::pin(async move {
            if self.sensor_type(sensor_ref).is_none() {
                return Err(PlatformError::not_found("sensor", sensor_ref));
            }
            Ok(self
                .engine
                .sensor_logs(sensor_ref)
                .unwrap_or_default()
                .into_iter()
                .map(log_line)
                .collect())
        })
    }

    fn metrics(&self) -> Vec<MetricSample> {
        sensor_metrics(&self.engine.sensor_statuses())
    }

    fn node_heartbeat(
        &self,
        heartbeat: NodeHeartbeat,
    ) -> BoxFuture<'_, PlatformResult<HeartbeatReply>> {
        Box::pin(async move { self.engine.node_heartbeat(heartbeat).map_err(error) })
    }

    fn nodes(&self) -> BoxFuture<'_, PlatformResult<Vec<NodeInfo>>> {
        Box::pin(async move { Ok(self.engine.nodes()) })
    }

    fn claim_execution<'a>(
        &'a self,
        execution_id: &'a str,
        claim: ClaimRequest,
    ) -> BoxFuture<'a, PlatformResult<ClaimReply>> {
        Box::pin(async move {
            self.engine
                .claim_execution(execution_id, claim)
                .await
                .map_err(error)
        })
    }

    fn node_kv(&self, request: NodeKvRequest) -> BoxFuture<'_, PlatformResult<NodeKvReply>> {
        Box::pin(async move { Ok(self.engine.node_kv(request).await) })
    }

    fn queues(&self) -> BoxFuture<'_, PlatformResult<Vec<QueueDto>>> {
        Box::pin(async move {
            let bus = self.engine.bus();
            let mut queues = Vec::new();
            for name in self.engine.queue_names() {
                match bus.queue_stats(&name).await {
                    Ok(stats) => queues.push(QueueDto {
                        name,
                        ready: stats.ready,
                        unacked: stats.unacked,
                        consumers: stats.consumers,
                        dead_letters: stats.dead_letters,
                    }),
                    Err(nerve_bus::BusError::QueueNotFound { .. }) => {}
                    Err(e) => return Err(bus_error(&e)),
                }
            }
            Ok(queues)
        })
    }

    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
    ) -> BoxFuture<'a, PlatformResult<Vec<DeadLetterDto>>> {
        Box::pin(async move {
            let letters = self
                .engine
                .bus()
                .dead_letters(queue)
                .await
                .map_err(|e| bus_error(&e))?;
            Ok(letters
                .into_iter()
                .map(|letter| DeadLetterDto {
                    id: letter.message.id.clone(),
                    routing_key: letter.message.routing_key.clone(),
                    queue: letter.queue.clone(),
                    reason: letter.reason.to_string(),
                    deliveries: letter.deliveries,
                    dead_lettered_at: nerve_store::timestamp(
                        chrono::DateTime::<chrono::Utc>::from(letter.dead_lettered_at),
                    ),
                    body: serde_json::from_slice(&letter.message.body).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&letter.message.body).into_owned())
                    }),
                })
                .collect())
        })
    }

    fn replay_dead_letters<'a>(
        &'a self,
        queue: &'a str,
        ids: Option<Vec<String>>,
    ) -> BoxFuture<'a, PlatformResult<usize>> {
        Box::pin(async move {
            self.engine
                .bus()
                .replay_dead_letters(queue, ids.as_deref())
                .await
                .map_err(|e| bus_error(&e))
        })
    }

    fn trigger_types(&self) -> BoxFuture<'_, PlatformResult<Vec<TriggerType>>> {
        Box::pin(async move {
            let content = self.engine.content();
            Ok(content
                .trigger_type_refs()
                .iter()
                .filter_map(|r| content.trigger_type(r).map(|t| t.trigger_type.clone()))
                .collect())
        })
    }
}

/// The sensor node that reports running `sensor_ref`, with what it reports.
fn remote_sensor<'a>(
    nodes: &'a [nerve_model::NodeInfo],
    sensor_ref: &str,
) -> Option<(&'a str, &'a nerve_model::NodeSensorState)> {
    nodes
        .iter()
        .filter(|node| node.state == "alive")
        .find_map(|node| {
            node.heartbeat
                .sensors
                .iter()
                .find(|s| s.sensor_ref == sensor_ref)
                .map(|s| (node.heartbeat.node.as_str(), s))
        })
}

/// A sensor type with the host's status, or the reason the host does not run it.
fn sensor_view(
    content: &Content,
    sensor: &SensorType,
    status: Option<SensorStatus>,
    nodes: &[nerve_model::NodeInfo],
) -> SensorView {
    let trigger_types: Vec<String> = sensor
        .trigger_types
        .iter()
        .map(|spec| spec.to_trigger_type(&sensor.pack).type_ref())
        .collect();
    let status = match status {
        Some(status) => status_view(status),
        None if !sensor.enabled => SensorStatusView::not_running(
            SensorRunState::Disabled,
            sensor.runtime_name(),
            "the sensor is disabled (`enabled: false` in its metadata)",
        ),
        None if let Some((node, remote)) = remote_sensor(nodes, &sensor.sensor_ref()) => {
            let state = match remote.state.as_str() {
                "starting" => SensorRunState::Starting,
                "running" => SensorRunState::Running,
                "backoff" => SensorRunState::Backoff,
                "unavailable" => SensorRunState::Unavailable,
                _ => SensorRunState::Stopped,
            };
            let mut view = SensorStatusView::not_running(
                state,
                sensor.runtime_name(),
                format!("runs on sensor node `{node}` (its log is on that node)"),
            );
            view.restarts = remote.restarts;
            view.last_error = remote.last_error.clone();
            view
        }
        None => {
            let used = content.rule_records().any(|record| {
                record.enabled && trigger_types.contains(&record.rule.trigger.trigger_type)
            });
            let reason = if used {
                "an enabled rule uses its trigger types, but the sensor host has not started it \
                 (sensors do not run in this process)"
            } else {
                "no enabled rule uses its trigger types"
            };
            SensorStatusView::not_running(SensorRunState::Idle, sensor.runtime_name(), reason)
        }
    };
    SensorView {
        sensor: sensor.clone(),
        trigger_types,
        status,
    }
}

fn status_view(status: SensorStatus) -> SensorStatusView {
    SensorStatusView {
        state: match status.state {
            SensorState::Starting => SensorRunState::Starting,
            SensorState::Running => SensorRunState::Running,
            SensorState::Backoff => SensorRunState::Backoff,
            SensorState::Unavailable => SensorRunState::Unavailable,
            SensorState::Stopped => SensorRunState::Stopped,
        },
        reason: None,
        runtime: status.runtime,
        command: Some(status.command).filter(|command| !command.is_empty()),
        pid: status.pid,
        started_at: status.started_at,
        protocol: status.protocol,
        restarts: status.restarts,
        next_restart_at: status.next_restart_at,
        last_exit: status.last_exit.map(|exit| SensorExitView {
            exit_code: exit.exit_code,
            at: exit.at,
            reason: exit.reason,
        }),
        last_error: status.last_error,
        problems: status.problems,
        triggers: status
            .triggers
            .into_iter()
            .map(|trigger| SensorTriggerView {
                id: trigger.id,
                trigger_ref: trigger.trigger_ref,
                name: trigger.name,
                pack: trigger.pack,
                trigger_type: trigger.trigger_type,
                parameters: trigger.parameters,
            })
            .collect(),
        dispatched: status.dispatched,
        rejected: status.rejected,
        invalid_lines: status.invalid_lines,
        log_suppressed: status.log_suppressed,
    }
}

fn log_line(line: SensorLogLineRecord) -> SensorLogLine {
    let source = match line.source {
        LogSource::Stderr => "stderr",
        LogSource::Log => "log",
        LogSource::Host => "host",
    };
    SensorLogLine {
        at: line.at,
        source: source.to_owned(),
        level: line.level,
        message: line.message,
    }
}

/// A per-sensor Prometheus metric: how to read it from a sensor's status.
struct SensorMetric {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    value: fn(&SensorStatus) -> f64,
}

// Counts far below 2^53 are exact as f64.
const SENSOR_METRICS: [SensorMetric; 4] = [
    SensorMetric {
        name: "nerve_sensor_up",
        help: "1 while the sensor's process runs and answered `ready`, else 0.",
        kind: "gauge",
        value: |status| f64::from(u8::from(status.state == SensorState::Running)),
    },
    SensorMetric {
        name: "nerve_sensor_restarts_total",
        help: "Sensor processes started after the first (crashes, hangs, restarts asked for).",
        kind: "counter",
        value: |status| status.restarts as f64,
    },
    SensorMetric {
        name: "nerve_sensor_dispatched_total",
        help: "Sensor dispatches recorded as events.",
        kind: "counter",
        value: |status| status.dispatched as f64,
    },
    SensorMetric {
        name: "nerve_sensor_rejected_total",
        help: "Sensor dispatches refused (unknown trigger, payload not matching the schema).",
        kind: "counter",
        value: |status| status.rejected as f64,
    },
];

/// Prometheus samples of the sensors the host runs, grouped by metric name (the text format
/// wants a metric's samples together).
fn sensor_metrics(statuses: &[SensorStatus]) -> Vec<MetricSample> {
    let mut samples = Vec::with_capacity(SENSOR_METRICS.len() * statuses.len());
    for metric in &SENSOR_METRICS {
        for status in statuses {
            samples.push(MetricSample {
                name: metric.name.to_owned(),
                help: metric.help.to_owned(),
                kind: metric.kind,
                labels: vec![("sensor".to_owned(), status.sensor.clone())],
                value: (metric.value)(status),
            });
        }
    }
    samples
}

fn view(action: &nerve_packs::LoadedAction) -> Option<ActionView> {
    Some(ActionView {
        action: action.action.clone(),
        parameters: action.parameters.clone(),
        parameters_schema: action.schema.value().clone(),
        runner: find_runner(&action.action.runner_type)?.clone(),
    })
}

/// The same diagnostics with files under `from` named under `to` (a staged copy's problems
/// shown at the user's files).
fn rebase(
    diagnostics: &[nerve_packs::Diagnostic],
    from: &Path,
    to: &Path,
) -> Vec<nerve_packs::Diagnostic> {
    diagnostics
        .iter()
        .map(|d| {
            let mut d = d.clone();
            if let Ok(rest) = d.file.strip_prefix(from) {
                d.file = to.join(rest);
            }
            d.message = d
                .message
                .replace(&from.display().to_string(), &to.display().to_string());
            d
        })
        .collect()
}

/// Makes `target` hold exactly the files of `source`: changed files are written beside their
/// old version and renamed over it (a running action reads the old or the new file, never half
/// of one), unchanged files are left alone, files gone from `source` are removed (the pack's
/// `virtualenv/` is kept).
fn sync_dir(source: &Path, target: &Path) -> std::io::Result<()> {
    fs::create_dir_all(target)?;
    let mut names = std::collections::HashSet::new();
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let name = entry.file_name();
        let from = entry.path();
        let to = target.join(&name);
        names.insert(name.clone());
        if entry.file_type()?.is_dir() {
            if to.exists() && !fs::symlink_metadata(&to)?.is_dir() {
                fs::remove_file(&to)?;
            }
            sync_dir(&from, &to)?;
            continue;
        }
        let same = fs::symlink_metadata(&to).is_ok_and(|meta| {
            meta.is_file()
                && fs::metadata(&from)
                    .is_ok_and(|m| m.len() == meta.len() && m.permissions() == meta.permissions())
                && fs::read(&from).ok() == fs::read(&to).ok()
        });
        if same {
            continue;
        }
        if to.is_dir() {
            fs::remove_dir_all(&to)?;
        }
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(&name);
        temp_name.push(".installing");
        let temp = target.join(temp_name);
        fs::copy(&from, &temp)?;
        fs::rename(&temp, &to)?;
    }
    for entry in fs::read_dir(target)? {
        let entry = entry?;
        let name = entry.file_name();
        if names.contains(&name) || name == "virtualenv" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Copies a pack directory; symlinks are refused (a pack may not point outside itself), and
/// `.git` and the pack's `virtualenv/` are left behind.
fn copy_dir(source: &Path, target: &Path) -> std::io::Result<()> {
    fs::create_dir_all(target)?;
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = target.join(entry.file_name());
        if entry.file_name() == ".git" || entry.file_name() == "virtualenv" {
            continue;
        }
        if kind.is_symlink() {
            return Err(std::io::Error::other(format!(
                "`{}` is a symlink; packs may not contain symlinks",
                entry.path().display()
            )));
        } else if kind.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}
