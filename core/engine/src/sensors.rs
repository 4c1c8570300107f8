//! The engine's side of the sensor host: which sensors run with which triggers, and what their
//! dispatches and key-value requests do.
//!
//! A sensor runs when one of its trigger types is used by an enabled rule (or always, with
//! [`SensorsConfig::run_all`]). Its triggers are the distinct (type, parameters) of those
//! rules, each with a stable id: the id belongs to the first rule (by ref) using those
//! parameters, so editing that rule's trigger parameters is an `update_trigger` of the same
//! trigger, not a remove and an add. Parameterless trigger types get StackStorm's "shadow"
//! trigger (ref = the type ref).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Weak;

use nerve_model::{BUILTIN_RUNTIME, RuntimeDef};
use nerve_sensor_host::{
    HostConfig, HostServices, KvEntry, KvOp, Launch, LogLine, ProcessEvent, SensorSpec, TriggerDict,
};
use nerve_store::{KvFilter, KvScope, KvWrite};
use serde_json::{Map, Value, json};

use crate::content::Content;
use crate::runtimes::{DetectedRuntime, RuntimeStatus};
use crate::{Engine, Inner};

/// How the engine runs sensors.
#[derive(Debug, Clone)]
pub struct SensorsConfig {
    /// Run sensors at all (off for roles without a sensor host).
    pub enabled: bool,
    /// Run every enabled sensor, not only those whose trigger types rules use.
    pub run_all: bool,
    /// The `nerve` binary, which runs built-in sensors (`runtime: builtin`).
    pub nerve_exe: Option<PathBuf>,
    /// Supervision timings and limits.
    pub host: HostConfig,
}

impl Default for SensorsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            run_all: false,
            nerve_exe: None,
            host: HostConfig::default(),
        }
    }
}

/// The host's view of the engine.
pub(crate) struct EngineServices {
    pub(crate) engine: Weak<Inner>,
}

impl EngineServices {
    fn engine(&self) -> Option<Engine> {
        self.engine.upgrade().map(|inner| Engine { inner })
    }
}

impl HostServices for EngineServices {
    async fn dispatch(
        &self,
        _sensor: &str,
        trigger: &str,
        payload: Value,
        trace_tag: Option<String>,
    ) -> Result<String, String> {
        let engine = self.engine().ok_or("the engine is shutting down")?;
        crate::ingest::emit(&engine, trigger, payload, trace_tag)
            .await
            .map(|record| record.id)
            .map_err(|error| error.to_string())
    }

    async fn kv(&self, _sensor: &str, op: KvOp) -> Result<Value, String> {
        let engine = self.engine().ok_or("the engine is shutting down")?;
        run_kv(&engine, op).await
    }

    async fn process_event(&self, event: ProcessEvent) {
        let Some(engine) = self.engine() else { return };
        let timestamp = nerve_store::timestamp(chrono::Utc::now());
        let (trigger, payload) = match event {
            ProcessEvent::Spawned { sensor, pid, cmd } => (
                "core.st2.sensor.process_spawn",
                json!({"id": sensor, "timestamp": timestamp, "pid": pid, "cmd": cmd}),
            ),
            ProcessEvent::Exited { sensor, exit_code } => (
                "core.st2.sensor.process_exit",
                json!({"id": sensor, "timestamp": timestamp, "exit_code": exit_code}),
            ),
        };
        if let Err(error) = crate::ingest::emit(&engine, trigger, payload, None).await {
            tracing::warn!(trigger, %error, "Could not record a sensor process event.");
        }
    }

    fn log(&self, _sensor: &str, _line: &LogLine) {}
}

/// Runs a sensor's key-value operation on the store (the System scope, keys already
/// prefixed by the host): for local sensors and those of remote sensor nodes.
pub(crate) async fn run_kv(engine: &Engine, op: KvOp) -> Result<Value, String> {
    let kv = engine.store().kv();
    let result = match op {
        KvOp::Get { key, decrypt } => kv
            .get(KvScope::System, &key, decrypt)
            .map(|pair| pair.map_or(Value::Null, |p| Value::String(p.value))),
        KvOp::Set {
            key,
            value,
            ttl,
            secret,
        } => {
            let write = KvWrite {
                scope: KvScope::System,
                name: key,
                value,
                secret,
                ttl_seconds: ttl,
            };
            match kv.set(&write).await {
                Ok(outcome) => {
                    engine.key_set(&outcome).await;
                    Ok(Value::Bool(true))
                }
                Err(error) => Err(error),
            }
        }
        KvOp::Delete { key } => match kv.delete(KvScope::System, &key).await {
            Ok(Some(old)) => {
                engine.key_deleted(&old).await;
                Ok(Value::Bool(true))
            }
            Ok(None) => Ok(Value::Bool(false)),
            Err(error) => Err(error),
        },
        KvOp::List {
            prefix,
            limit,
            offset,
        } => kv
            .list(&KvFilter {
                scope: Some(KvScope::System),
                prefix,
                decrypt: false,
                limit,
                offset,
            })
            .map(|page| {
                let entries: Vec<KvEntry> = page
                    .items
                    .into_iter()
                    .map(|pair| KvEntry {
                        name: pair.name,
                        value: pair.value,
                        secret: pair.secret,
                        expire_timestamp: pair.expire_at,
                    })
                    .collect();
                serde_json::to_value(entries).unwrap_or(Value::Null)
            }),
    };
    result.map_err(|error| format!("datastore: {error}"))
}

/// Context for computing specs.
pub(crate) struct SpecInputs<'a> {
    pub(crate) content: &'a Content,
    pub(crate) runtimes: &'a [DetectedRuntime],
    pub(crate) config: &'a SensorsConfig,
    /// PATH, HOME, LANG and the API access sensors get.
    pub(crate) env: Vec<(OsString, OsString)>,
}

/// The sensors that should run now.
pub(crate) fn specs(inputs: &SpecInputs<'_>) -> Vec<SensorSpec> {
    let content = inputs.content;
    let definitions: Vec<&RuntimeDef> = content.packs().flat_map(|p| p.runtimes.iter()).collect();
    let mut specs = Vec::new();
    for pack in content.packs() {
        for loaded in &pack.sensors {
            let sensor = &loaded.sensor;
            if !sensor.enabled {
                continue;
            }
            let type_refs: Vec<String> = sensor
                .trigger_types
                .iter()
                .map(|t| t.to_trigger_type(&sensor.pack).type_ref())
                .collect();
            let (triggers, problems, used) = triggers_for(content, &type_refs);
            if !used && !inputs.config.run_all {
                continue;
            }
            let launch = launch(inputs, &definitions, &pack.dir, loaded);
            specs.push(SensorSpec {
                sensor_ref: sensor.sensor_ref(),
                pack: sensor.pack.clone(),
                class_name: sensor.class_name.clone(),
                launch,
                config: Map::new(),
                poll_interval: sensor.poll_interval,
                trigger_types: type_refs,
                triggers,
                revision: loaded.revision.clone(),
                problems,
            });
        }
    }
    specs
}

/// The spec of a sensor a sensor node was assigned: launched from the node's own copy of the
/// pack, with the triggers the server computed. `None` when the node does not have it.
pub(crate) fn assigned_spec(
    inputs: &SpecInputs<'_>,
    assignment: &nerve_model::SensorAssignment,
) -> Option<SensorSpec> {
    let content = inputs.content;
    let definitions: Vec<&RuntimeDef> = content.packs().flat_map(|p| p.runtimes.iter()).collect();
    let (pack, loaded) = content.packs().find_map(|pack| {
        pack.sensors
            .iter()
            .find(|s| s.sensor.sensor_ref() == assignment.sensor_ref)
            .map(|loaded| (pack, loaded))
    })?;
    let sensor = &loaded.sensor;
    let triggers: Vec<TriggerDict> = assignment
        .triggers
        .iter()
        .filter_map(|t| serde_json::from_value(t.clone()).ok())
        .collect();
    Some(SensorSpec {
        sensor_ref: sensor.sensor_ref(),
        pack: sensor.pack.clone(),
        class_name: sensor.class_name.clone(),
        launch: launch(inputs, &definitions, &pack.dir, loaded),
        config: Map::new(),
        poll_interval: sensor.poll_interval,
        trigger_types: sensor
            .trigger_types
            .iter()
            .map(|t| t.to_trigger_type(&sensor.pack).type_ref())
            .collect(),
        triggers,
        revision: loaded.revision.clone(),
        problems: assignment.problems.clone(),
    })
}

/// The triggers of a sensor's types: (triggers, problems, whether an enabled rule uses a type).
fn triggers_for(content: &Content, type_refs: &[String]) -> (Vec<TriggerDict>, Vec<String>, bool) {
    let mut used = false;
    let mut problems = Vec::new();
    // key → (owner rule ref, type, parameters); rule records iterate in ref order.
    let mut by_key: BTreeMap<String, (String, String, Map<String, Value>)> = BTreeMap::new();
    for record in content.rule_records() {
        let rule = &record.rule;
        if !record.enabled || !type_refs.contains(&rule.trigger.trigger_type) {
            continue;
        }
        used = true;
        let type_ref = &rule.trigger.trigger_type;
        if !rule.trigger.parameters.is_empty()
            && let Some(schema) = content
                .trigger_type(type_ref)
                .and_then(|t| t.parameters_schema.as_ref())
            && let Err(violations) =
                schema.validate(&Value::Object(rule.trigger.parameters.clone()))
        {
            let details: Vec<String> = violations.iter().map(ToString::to_string).collect();
            problems.push(format!(
                "rule `{}`: trigger parameters do not match the parameters_schema of `{type_ref}`: {}",
                rule.rule_ref(),
                details.join("; ")
            ));
            continue;
        }
        by_key.entry(rule.trigger_key()).or_insert_with(|| {
            (
                rule.rule_ref(),
                type_ref.clone(),
                rule.trigger.parameters.clone(),
            )
        });
    }
    let mut triggers: Vec<TriggerDict> = Vec::new();
    for type_ref in type_refs {
        let parameterless = content.trigger_type(type_ref).is_none_or(|t| {
            t.trigger_type
                .parameters_schema
                .as_ref()
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
        });
        if parameterless {
            triggers.push(trigger_dict(type_ref, "", Map::new()));
        }
    }
    for (owner, type_ref, parameters) in by_key.into_values() {
        if parameters.is_empty() {
            if !triggers.iter().any(|t| t.trigger_ref == type_ref) {
                triggers.push(trigger_dict(&type_ref, "", Map::new()));
            }
            continue;
        }
        triggers.push(trigger_dict(&type_ref, &owner, parameters));
    }
    (triggers, problems, used)
}

/// A trigger with an id stable for (type, owner rule).
fn trigger_dict(type_ref: &str, owner: &str, parameters: Map<String, Value>) -> TriggerDict {
    let (pack, type_name) = type_ref.split_once('.').unwrap_or(("default", type_ref));
    if parameters.is_empty() {
        return TriggerDict {
            id: format!("{:016x}", fnv1a(type_ref)),
            trigger_ref: type_ref.to_owned(),
            name: type_name.to_owned(),
            pack: pack.to_owned(),
            trigger_type: type_ref.to_owned(),
            parameters,
        };
    }
    let id = format!("{:016x}", fnv1a(&format!("{type_ref}|{owner}")));
    let name = format!("{}_{}", type_name.replace('.', "_"), &id[..12]);
    TriggerDict {
        id,
        trigger_ref: format!("{pack}.{name}"),
        name,
        pack: pack.to_owned(),
        trigger_type: type_ref.to_owned(),
        parameters,
    }
}

/// FNV-1a, 64 bit: a stable hash (the std hasher is not stable across releases).
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How to start one sensor on this node.
fn launch(
    inputs: &SpecInputs<'_>,
    definitions: &[&RuntimeDef],
    pack_dir: &std::path::Path,
    loaded: &nerve_packs::LoadedSensor,
) -> Launch {
    let sensor = &loaded.sensor;
    let runtime = sensor.runtime_name().to_owned();
    let cwd = pack_dir.join("sensors");
    let env = inputs.env.clone();
    let unavailable = |reason: String| Launch::Unavailable {
        runtime: runtime.clone(),
        reason,
    };
    if runtime == BUILTIN_RUNTIME {
        return match &inputs.config.nerve_exe {
            Some(exe) => Launch::Command {
                program: exe.clone(),
                args: vec![
                    "sensor".into(),
                    "builtin".into(),
                    loaded.entry_point.clone().into_os_string(),
                ],
                cwd: pack_dir.to_path_buf(),
                env,
                runtime,
            },
            None => unavailable("built-in sensors run only under the `nerve` binary".to_owned()),
        };
    }
    let (binary, version) = match inputs.runtimes.iter().find(|r| r.name == runtime) {
        Some(DetectedRuntime {
            status: RuntimeStatus::Available { binary, version },
            ..
        }) => (binary.clone(), version.clone()),
        Some(DetectedRuntime {
            status: RuntimeStatus::Missing { hint },
            ..
        }) => return unavailable(format!("runtime `{runtime}` is missing: {hint}")),
        None => {
            let known: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
            return unavailable(format!(
                "unknown runtime `{runtime}` (known: {}, {BUILTIN_RUNTIME})",
                known.join(", ")
            ));
        }
    };
    let entry_point = loaded.entry_point.to_string_lossy().into_owned();
    // What the operator sees: the runtime with the version detection found (`python 3.11.7`).
    let runtime = match version {
        Some(version) if version.starts_with(|c: char| c.is_ascii_digit()) => {
            format!("{runtime} {version}")
        }
        _ => runtime.clone(),
    };
    // A StackStorm Python sensor: a `.py` file with a class, run through the SDK wrapper.
    if sensor.runtime_name() == "python" && entry_point.ends_with(".py") {
        return Launch::Command {
            // The pack's virtualenv when it has one (a new environment is a new path, so a
            // changed requirements.txt restarts the sensor).
            program: crate::worker::venv_python(pack_dir).unwrap_or_else(|| binary.into()),
            args: vec![
                "-u".into(),
                "-c".into(),
                nerve_sensor_host::PYTHON_SENSOR_WRAPPER.into(),
                format!("--file-path={entry_point}").into(),
                format!("--class-name={}", sensor.class_name).into(),
            ],
            cwd,
            env,
            runtime,
        };
    }
    let Some(definition) = definitions.iter().find(|d| d.name == sensor.runtime_name()) else {
        return unavailable(format!("runtime `{runtime}` has no definition"));
    };
    let mut argv = definition
        .command_line(&binary, &entry_point)
        .into_iter()
        .map(OsString::from);
    let Some(program) = argv.next() else {
        return unavailable(format!("runtime `{runtime}` has an empty `run` command"));
    };
    Launch::Command {
        program: program.into(),
        args: argv.collect(),
        cwd,
        env,
        runtime,
    }
}

impl Engine {
    /// Starts the sensor host (when enabled) with the sensors the content asks for.
    pub(crate) fn start_sensors(&self) {
        let config = &self.inner.config.sensors;
        if !config.enabled {
            return;
        }
        let services = std::sync::Arc::new(EngineServices {
            engine: std::sync::Arc::downgrade(&self.inner),
        });
        let host = nerve_sensor_host::SensorHost::new(
            services,
            config.host.clone(),
            self.inner.cancel.clone(),
            self.inner.tasks.clone(),
        );
        if self.inner.sensor_host.set(host).is_ok() {
            self.reconcile_sensors();
        }
    }

    /// Tells the sensor host what should run now.
    pub(crate) fn reconcile_sensors(&self) {
        let Some(host) = self.inner.sensor_host.get() else {
            return;
        };
        let content = self.content();
        let mut env: Vec<(OsString, OsString)> = self
            .inner
            .config
            .base_env
            .iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if let Some(url) = &self.inner.config.api_url {
            env.push(("ST2_API_URL".into(), url.into()));
        }
        if let Some(token) = &self.inner.config.auth_token {
            env.push(("ST2_AUTH_TOKEN".into(), token.into()));
        }
        let mut specs = specs(&SpecInputs {
            content: &content,
            runtimes: &self.inner.runtimes,
            config: &self.inner.config.sensors,
            env,
        });
        // The pack config goes in `hello`: a changed config restarts the pack's sensors.
        for spec in &mut specs {
            spec.config = self.pack_config(&spec.pack, true);
        }
        host.reconcile(specs);
    }

    /// The status of every sensor the host runs (empty without a sensor host).
    pub fn sensor_statuses(&self) -> Vec<nerve_sensor_host::SensorStatus> {
        self.inner
            .sensor_host
            .get()
            .map(|host| host.statuses())
            .unwrap_or_default()
    }

    /// The status of one running sensor.
    pub fn sensor_status(&self, sensor_ref: &str) -> Option<nerve_sensor_host::SensorStatus> {
        self.inner.sensor_host.get()?.status(sensor_ref)
    }

    /// The kept log lines of one running sensor.
    pub fn sensor_logs(&self, sensor_ref: &str) -> Option<Vec<LogLine>> {
        self.inner.sensor_host.get()?.logs(sensor_ref)
    }

    /// Restarts one sensor now; `false` when it is not running here.
    pub fn restart_sensor(&self, sensor_ref: &str) -> bool {
        self.inner
            .sensor_host
            .get()
            .is_some_and(|host| host.restart(sensor_ref))
    }
}

/// The spec of one sensor run by hand (`nerve sensor test`): `triggers` are (trigger type ref,
/// parameters), validated against each type's `parameters_schema`.
///
/// # Errors
/// Unknown sensor, a trigger type the sensor does not emit, or parameters that do not match.
pub fn single_sensor_spec(
    content: &Content,
    runtimes: &[DetectedRuntime],
    config: &SensorsConfig,
    env: Vec<(OsString, OsString)>,
    sensor_ref: &str,
    triggers: &[(String, Map<String, Value>)],
) -> Result<SensorSpec, String> {
    let all: Vec<(&std::path::Path, &nerve_packs::LoadedSensor)> = content
        .packs()
        .flat_map(|p| p.sensors.iter().map(|s| (p.dir.as_path(), s)))
        .collect();
    let Some((pack_dir, loaded)) = all
        .iter()
        .find(|(_, s)| s.sensor.sensor_ref() == sensor_ref)
        .copied()
    else {
        let refs: Vec<String> = all.iter().map(|(_, s)| s.sensor.sensor_ref()).collect();
        let hint = nerve_packs::did_you_mean(sensor_ref, refs.iter().map(String::as_str))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(format!("unknown sensor `{sensor_ref}`{hint}"));
    };
    let sensor = &loaded.sensor;
    let type_refs: Vec<String> = sensor
        .trigger_types
        .iter()
        .map(|t| t.to_trigger_type(&sensor.pack).type_ref())
        .collect();
    let mut dicts: Vec<TriggerDict> = type_refs
        .iter()
        .filter(|t| {
            content.trigger_type(t).is_none_or(|t| {
                t.trigger_type
                    .parameters_schema
                    .as_ref()
                    .and_then(|s| s.get("properties"))
                    .and_then(Value::as_object)
                    .is_none_or(Map::is_empty)
            })
        })
        .map(|t| trigger_dict(t, "", Map::new()))
        .collect();
    for (index, (type_ref, parameters)) in triggers.iter().enumerate() {
        if !type_refs.contains(type_ref) {
            return Err(format!(
                "sensor `{sensor_ref}` does not emit `{type_ref}` (it emits: {})",
                type_refs.join(", ")
            ));
        }
        if let Some(schema) = content
            .trigger_type(type_ref)
            .and_then(|t| t.parameters_schema.as_ref())
            && let Err(violations) = schema.validate(&Value::Object(parameters.clone()))
        {
            let details: Vec<String> = violations.iter().map(ToString::to_string).collect();
            return Err(format!(
                "trigger parameters do not match the parameters_schema of `{type_ref}`: {}",
                details.join("; ")
            ));
        }
        dicts.push(trigger_dict(
            type_ref,
            &format!("test-{index}"),
            parameters.clone(),
        ));
    }
    let definitions: Vec<&RuntimeDef> = content.packs().flat_map(|p| p.runtimes.iter()).collect();
    let inputs = SpecInputs {
        content,
        runtimes,
        config,
        env,
    };
    Ok(SensorSpec {
        sensor_ref: sensor.sensor_ref(),
        pack: sensor.pack.clone(),
        class_name: sensor.class_name.clone(),
        launch: launch(&inputs, &definitions, pack_dir, loaded),
        config: Map::new(),
        poll_interval: sensor.poll_interval,
        trigger_types: type_refs,
        triggers: dicts,
        revision: loaded.revision.clone(),
        problems: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_ids_are_stable_per_owner_rule() {
        let params = |path: &str| json!({"path": path}).as_object().unwrap().clone();
        let a = trigger_dict("fs.file_watch", "p.r1", params("/a"));
        let b = trigger_dict("fs.file_watch", "p.r1", params("/b"));
        assert_eq!(a.id, b.id, "same owner: an update of the same trigger");
        assert_eq!(a.trigger_ref, b.trigger_ref);
        assert!(
            a.trigger_ref.starts_with("fs.file_watch_"),
            "{}",
            a.trigger_ref
        );
        let c = trigger_dict("fs.file_watch", "p.r2", params("/a"));
        assert_ne!(a.id, c.id);
        let shadow = trigger_dict("examples.heartbeat", "", Map::new());
        assert_eq!(shadow.trigger_ref, "examples.heartbeat");
        assert_eq!(shadow.name, "heartbeat");
    }
}
