//! Pack directory → model: reads every metadata file of a pack, validates it against its kind's
//! schema, deserializes it into the model, and checks what only the whole pack (or the set of
//! packs being loaded) can tell: runner parameter overrides, entry points, criteria, templates,
//! references between packs.
//!
//! A pack with any error yields no [`LoadedPack`] at all: the caller gets every diagnostic of the
//! pack at once and nothing partial. Warnings travel with a successfully loaded pack.
//!
//! `reader` reads one pack directory, `action` holds the checks specific to actions (runners,
//! entry points, parameters), `references` checks references between rules, policies, actions
//! and trigger types.

mod action;
mod reader;
mod references;

use reader::PackReader;
pub use references::Catalog;
use references::RefScope;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use nerve_model::{
    Action, BUILTIN_RUNTIME, BUILTIN_SENSORS, ParamMap, Policy, PolicyType, Rule, RunnerType,
    RuntimeDef, Schema, SensorType, TriggerType, find_runner, merge_runner_parameters,
    parameters_schema, runner_alias,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::{Diagnostic, Severity, did_you_mean};
use crate::document::{DocumentKind, validate_document};
use nerve_yaml::{PathSegment, Span, YamlDocument, parse_yaml};

/// A pack loaded without errors.
#[derive(Debug, Clone)]
pub struct LoadedPack {
    /// The pack's ref (`pack.yaml` `ref`, else its `name`).
    pub pack_ref: String,
    /// The pack directory as given.
    pub dir: PathBuf,
    /// SHA-256 of the pack's files ([`crate::content_hash`]); empty when a file could not be
    /// read (that pack then has an error diagnostic).
    pub content_hash: String,
    /// `pack.yaml`.
    pub meta: nerve_model::PackMeta,
    /// Actions, in file-name order.
    pub actions: Vec<LoadedAction>,
    /// Sensors, in file-name order.
    pub sensors: Vec<LoadedSensor>,
    /// Trigger types: those declared by sensors and those in `triggers/` (a Nerve extension).
    pub trigger_types: Vec<LoadedTriggerType>,
    /// Rules, in file-name order.
    pub rules: Vec<LoadedRule>,
    /// Policies, in file-name order.
    pub policies: Vec<LoadedPolicy>,
    /// Runtime definitions (`runtimes/`, a Nerve extension used by the `core` pack).
    pub runtimes: Vec<RuntimeDef>,
    /// `config.schema.yaml`, as parameters and as a compiled schema.
    pub config_schema: Option<ConfigSchema>,
    /// Problems that do not stop the pack from loading.
    pub warnings: Vec<Diagnostic>,
}

/// An action with everything needed to run it.
#[derive(Debug, Clone)]
pub struct LoadedAction {
    /// The action as written (runner aliases resolved).
    pub action: Action,
    /// The runner's and the action's parameters merged.
    pub parameters: ParamMap,
    /// [`parameters_schema`] of `parameters`, compiled.
    pub schema: Schema,
    /// Absolute path of the entry point, when the runner takes one.
    pub entry_point: Option<PathBuf>,
    /// The metadata file.
    pub file: PathBuf,
}

/// A sensor and where it was declared.
#[derive(Debug, Clone)]
pub struct LoadedSensor {
    /// The sensor as written.
    pub sensor: SensorType,
    /// Absolute path of the program or module.
    pub entry_point: PathBuf,
    /// The metadata file.
    pub file: PathBuf,
    /// Hex SHA-256 of the metadata file and the entry point's bytes: the sensor's code
    /// revision. A reload that changes it restarts this sensor (and no other).
    pub revision: String,
}

/// A trigger type with its schemas compiled.
#[derive(Debug, Clone)]
pub struct LoadedTriggerType {
    /// The trigger type.
    pub trigger_type: TriggerType,
    /// `parameters_schema`, compiled.
    pub parameters_schema: Option<Schema>,
    /// `payload_schema`, compiled.
    pub payload_schema: Option<Schema>,
    /// The file that declared it.
    pub file: PathBuf,
}

/// A rule and its file.
#[derive(Debug, Clone)]
pub struct LoadedRule {
    /// The rule.
    pub rule: Rule,
    /// The metadata file.
    pub file: PathBuf,
    /// Positions in the file, for diagnostics found after loading (references between packs).
    source: Arc<YamlDocument>,
}

/// A policy and its file.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// The policy.
    pub policy: Policy,
    /// The metadata file.
    pub file: PathBuf,
    source: Arc<YamlDocument>,
}

/// A pack's configuration schema.
#[derive(Debug, Clone)]
pub struct ConfigSchema {
    /// As parameters (secrets, defaults).
    pub parameters: ParamMap,
    /// Compiled.
    pub schema: Schema,
}

/// Every diagnostic of a pack that failed to load (errors first, then warnings).
#[derive(Debug, Clone, thiserror::Error)]
#[error("pack `{}` has {} error(s)", .dir.display(), .diagnostics.iter().filter(|d| d.severity == Severity::Error).count())]
pub struct PackErrors {
    /// The pack directory.
    pub dir: PathBuf,
    /// All diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadedPack {
    /// The action with this name (not ref).
    pub fn action(&self, name: &str) -> Option<&LoadedAction> {
        self.actions.iter().find(|a| a.action.name == name)
    }

    /// The trigger type with this ref.
    pub fn trigger_type(&self, type_ref: &str) -> Option<&LoadedTriggerType> {
        self.trigger_types
            .iter()
            .find(|t| t.trigger_type.type_ref() == type_ref)
    }
}

/// Loads one pack. References to packs other than itself are not checked; use [`load_packs`] for that.
///
/// # Errors
/// Every error (and warning) of the pack when any error exists.
pub fn load_pack(dir: &Path) -> Result<LoadedPack, PackErrors> {
    let (pack, diagnostics) = PackReader::new(dir).read();
    finish(pack, diagnostics)
}

/// A pack with its diagnostics becomes a [`LoadedPack`] (warnings attached) or, with any error,
/// [`PackErrors`].
fn finish(
    mut pack: LoadedPack,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<LoadedPack, PackErrors> {
    sort_diagnostics(&mut diagnostics);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        Err(PackErrors {
            dir: pack.dir,
            diagnostics,
        })
    } else {
        pack.warnings = diagnostics;
        Ok(pack)
    }
}

/// Loads several packs and checks references between them: a rule's action and trigger type, a
/// policy's action, when the referenced pack is among `known` or the loaded packs. `known` are
/// packs already loaded (for example the built-in `core`).
///
/// Returns the packs that loaded and the failures; a pack whose cross-references are broken is a
/// failure too.
pub fn load_packs(dirs: &[PathBuf], known: &[LoadedPack]) -> (Vec<LoadedPack>, Vec<PackErrors>) {
    // Read every pack first (even broken ones keep what did load), so references between the
    // packs of this set resolve whatever their order, and every problem is reported at once.
    let read: Vec<(LoadedPack, Vec<Diagnostic>)> =
        dirs.iter().map(|dir| PackReader::new(dir).read()).collect();
    let cross_pack: Vec<Vec<Diagnostic>> = {
        let catalog = Catalog::new(known.iter().chain(read.iter().map(|(pack, _)| pack)));
        read.iter()
            .map(|(pack, _)| {
                catalog.check_references(
                    &pack.pack_ref,
                    &pack.rules,
                    &pack.policies,
                    RefScope::OtherPacks,
                )
            })
            .collect()
    };
    let mut loaded = Vec::new();
    let mut failed = Vec::new();
    for ((pack, mut diagnostics), more) in read.into_iter().zip(cross_pack) {
        diagnostics.extend(more);
        match finish(pack, diagnostics) {
            Ok(pack) => loaded.push(pack),
            Err(errors) => failed.push(errors),
        }
    }
    (loaded, failed)
}

/// Loads a rule given as text (YAML or JSON, e.g. through the API); `name` stands for the file
/// in diagnostics. References are checked against `known` packs.
///
/// # Errors
/// Every problem when any is an error.
pub fn load_rule_text(
    name: &str,
    text: &str,
    default_pack: &str,
    known: &[LoadedPack],
) -> Result<LoadedRule, Vec<Diagnostic>> {
    match check_rule_text(name, text, default_pack, known) {
        (Some(rule), diagnostics) if !diagnostics.iter().any(|d| d.severity == Severity::Error) => {
            Ok(rule)
        }
        (_, diagnostics) => Err(diagnostics),
    }
}

/// Checks a rule given as text as [`load_rule_text`] does, and returns every problem, warnings
/// included, with the rule when it could be read (an editor validating as the user types).
/// The rule is usable only when no diagnostic is an error.
pub fn check_rule_text(
    name: &str,
    text: &str,
    default_pack: &str,
    known: &[LoadedPack],
) -> (Option<LoadedRule>, Vec<Diagnostic>) {
    let file = Path::new(name);
    let mut reader = PackReader::new(Path::new("."));
    let loaded = reader.read_rule_text(file, text, default_pack);
    let mut diagnostics = reader.diagnostics;
    if let Some(rule) = &loaded {
        let catalog = Catalog::new(known.iter());
        for scope in [RefScope::SamePack, RefScope::OtherPacks] {
            diagnostics.extend(catalog.check_references(
                &rule.rule.pack,
                std::slice::from_ref(rule),
                &[],
                scope,
            ));
        }
    }
    sort_diagnostics(&mut diagnostics);
    (loaded, diagnostics)
}

/// Loads one rule file outside of any pack load (for `nerve rule test`): YAML, schema, criteria
/// and templates are checked. `default_pack` is used when the file has no `pack` field.
///
/// # Errors
/// Every problem when any is an error.
pub fn load_rule_file(file: &Path, default_pack: &str) -> Result<LoadedRule, Vec<Diagnostic>> {
    let mut reader = PackReader::new(file.parent().unwrap_or(Path::new(".")));
    let loaded = reader.read_rule(file, default_pack);
    match loaded {
        Some(rule) if !reader.has_errors() => Ok(rule),
        _ => {
            let mut diagnostics = reader.diagnostics;
            sort_diagnostics(&mut diagnostics);
            Err(diagnostics)
        }
    }
}

/// Checks the Jinja syntax of every string (at any depth) that contains markup.
fn check_templates(value: &Value) -> Result<(), String> {
    match value {
        Value::String(text) if text.contains("{{") || text.contains("{%") => {
            nerve_rules::environment()
                .template_from_str(text)
                .map(|_| ())
                .map_err(|error| error.to_string())
        }
        Value::Array(items) => items.iter().try_for_each(check_templates),
        Value::Object(map) => map.values().try_for_each(check_templates),
        _ => Ok(()),
    }
}

/// The pack part of a `pack.name` ref (the whole text when there is no dot).
fn pack_of(resource_ref: &str) -> &str {
    resource_ref
        .split_once('.')
        .map_or(resource_ref, |(pack, _)| pack)
}

fn supported_runners() -> String {
    nerve_model::builtin_runners()
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn key(name: &str) -> PathSegment {
    PathSegment::Key(name.to_owned())
}

fn display_path(path: &[PathSegment]) -> String {
    nerve_yaml::display_path(path)
}

/// Splits a JSON pointer (`/a/0/b`) into path segments; numeric segments become indexes.
fn pointer_segments(pointer: &str) -> Vec<PathSegment> {
    pointer
        .split('/')
        .skip(1)
        .map(|raw| {
            let text = raw.replace("~1", "/").replace("~0", "~");
            match text.parse::<usize>() {
                Ok(index) => PathSegment::Index(index),
                Err(_) => PathSegment::Key(text),
            }
        })
        .collect()
}

fn with_hint(mut diagnostic: Diagnostic, hint: Option<String>) -> Diagnostic {
    if hint.is_some() {
        diagnostic.hint = hint;
    }
    diagnostic
}

fn dir_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.severity != Severity::Error, &a.file, a.line, a.col).cmp(&(
            b.severity != Severity::Error,
            &b.file,
            b.line,
            b.col,
        ))
    });
}
