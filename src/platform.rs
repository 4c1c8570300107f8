//! The web crate's `Platform` implemented over the engine: the one place where HTTP-facing
//! requests become engine calls.

use std::fs;
use std::path::{Path, PathBuf};

use nerve_engine::{Engine, EngineError, RegisterError};
use nerve_model::{Execution, TriggerType, find_runner};
use nerve_packs::LoadedPack;
use nerve_store::{PackRecord, RuleRecord, TriggerInstanceRecord};
use nerve_web::{
    ActionView, BoxFuture, Diagnostic, EmitRequest, PackRegistration, Platform, PlatformError,
    PlatformResult, RuleSource, RunRequest, WebhookTarget,
};
use serde_json::{Map, Value, json};

/// The engine seen through the API.
pub(crate) struct EnginePlatform {
    engine: Engine,
    /// Where installed packs are copied (`<data-dir>/packs`).
    packs_dir: PathBuf,
}

impl EnginePlatform {
    pub(crate) fn new(engine: Engine, packs_dir: PathBuf) -> Self {
        Self { engine, packs_dir }
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

    fn register_pack(&self, dir: PathBuf) -> BoxFuture<'_, PlatformResult<PackRegistration>> {
        Box::pin(async move {
            // Validate where it is first, so a broken pack never replaces the installed one.
            let (loaded, failed) =
                nerve_packs::load_packs(std::slice::from_ref(&dir), &self.known_packs());
            if let Some(failure) = failed.first() {
                return Err(invalid(
                    format!("pack `{}` does not load", dir.display()),
                    &failure.diagnostics,
                ));
            }
            let Some(pack) = loaded.into_iter().next() else {
                return Err(PlatformError::invalid(format!(
                    "`{}` is not a pack",
                    dir.display()
                )));
            };
            let target = self.packs_dir.join(&pack.pack_ref);
            let same_place = dir.canonicalize().ok() == target.canonicalize().ok();
            if !same_place {
                install_copy(&dir, &target).map_err(|e| {
                    PlatformError::internal(format!("failed to install the pack: {e}"))
                })?;
            }
            let installed = match self
                .engine
                .register_pack_dirs(std::slice::from_ref(&target), &dir.display().to_string())
                .await
            {
                Ok(_) => target,
                Err(RegisterError::Invalid(failed)) => {
                    let diagnostics: Vec<_> =
                        failed.iter().flat_map(|f| f.diagnostics.clone()).collect();
                    return Err(invalid(
                        format!("pack `{}` does not load", dir.display()),
                        &diagnostics,
                    ));
                }
                Err(RegisterError::Engine(e)) => return Err(error(e)),
            };
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
                warnings: pack.warnings.iter().map(diagnostic).collect(),
                dir: installed,
            })
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

fn view(action: &nerve_packs::LoadedAction) -> Option<ActionView> {
    Some(ActionView {
        action: action.action.clone(),
        parameters: action.parameters.clone(),
        parameters_schema: action.schema.value().clone(),
        runner: find_runner(&action.action.runner_type)?.clone(),
    })
}

/// Copies a pack directory into place: into a sibling temp dir first, then swapped in, so the
/// installed copy is never half-written. Symlinks are refused (a pack may not point outside).
fn install_copy(source: &Path, target: &Path) -> std::io::Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let staging = parent.join(format!(
        ".{}.installing",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("pack")
    ));
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    copy_dir(source, &staging)?;
    if target.exists() {
        fs::remove_dir_all(target)?;
    }
    fs::rename(&staging, target)
}

fn copy_dir(source: &Path, target: &Path) -> std::io::Result<()> {
    fs::create_dir_all(target)?;
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = target.join(entry.file_name());
        if kind.is_symlink() {
            return Err(std::io::Error::other(format!(
                "`{}` is a symlink; packs may not contain symlinks",
                entry.path().display()
            )));
        } else if kind.is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            copy_dir(&entry.path(), &to)?;
        } else {
            fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}
