//! Sensors run by this process rather than the server: `nerve sensor test` (one sensor in the
//! foreground, printing what it dispatches and logs) and the hidden `nerve sensor builtin NAME`
//! the sensor host starts for sensors built into the binary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use nerve_engine::{Content, SensorsConfig, single_sensor_spec};
use nerve_sensor_host::{HostServices, KvOp, LogLine, ProcessEvent, SensorHost};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The sensor (`pack.ClassName`).
    sensor: String,
    /// Trigger parameters as a JSON file: an object of parameters for the sensor's (first
    /// parameterised) trigger type, or `{"type": "pack.trigger", "parameters": {...}}`.
    /// Repeat for several triggers.
    #[arg(long = "trigger", value_name = "PARAMS.json")]
    triggers: Vec<PathBuf>,
    /// Load this pack directory too (the pack you are developing; it replaces an installed pack
    /// with the same ref). Repeatable.
    #[arg(long = "pack", value_name = "DIR")]
    packs: Vec<PathBuf>,
    /// Stop after this many dispatches.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Output format: readable lines, or one JSON object per line.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct BuiltinArgs {
    /// The built-in sensor (`file_watch`).
    name: String,
}

/// Runs a sensor built into the binary; stdin/stdout are the sensor protocol.
pub(crate) fn builtin(args: BuiltinArgs) -> anyhow::Result<ExitCode> {
    let code = match args.name.as_str() {
        "file_watch" => nerve_fs_sensor::run_file_watch_sensor(),
        other => bail!(
            "`{other}` is not a built-in sensor (built-in: {})",
            nerve_model::BUILTIN_SENSORS.join(", ")
        ),
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// `nerve sensor test`.
pub(crate) fn test(global: &GlobalArgs, args: TestArgs) -> anyhow::Result<ExitCode> {
    let data_dir = global.data_dir()?;
    let base_env = global.base_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(run_test(data_dir, base_env, args))
}

async fn run_test(
    data_dir: PathBuf,
    base_env: Vec<(String, String)>,
    args: TestArgs,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("failed to create the data dir `{}`", data_dir.display()))?;
    let mut packs: Vec<nerve_packs::LoadedPack> = super::up::load_packs(&data_dir)?
        .into_iter()
        .map(|(pack, _)| pack)
        .collect();
    if !args.packs.is_empty() {
        let (extra, failed) = nerve_packs::load_packs(&args.packs, &packs);
        if let Some(failure) = failed.first() {
            crate::output::print_diagnostics(&failure.diagnostics);
            bail!("pack `{}` does not load", failure.dir.display());
        }
        for pack in extra {
            packs.retain(|p| p.pack_ref != pack.pack_ref);
            packs.push(pack);
        }
    }
    let definitions: Vec<nerve_model::RuntimeDef> =
        packs.iter().flat_map(|p| p.runtimes.clone()).collect();
    let content = Arc::new(Content::build(
        packs.into_iter().map(Arc::new).collect(),
        Vec::new(),
    ));
    let runtimes = nerve_engine::detect_runtimes(&definitions).await;
    let triggers = read_triggers(&content, &args)?;
    let config = SensorsConfig {
        nerve_exe: std::env::current_exe().ok(),
        ..SensorsConfig::default()
    };
    let env = base_env
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let spec = match single_sensor_spec(&content, &runtimes, &config, env, &args.sensor, &triggers)
    {
        Ok(spec) => spec,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(ExitCode::from(2));
        }
    };

    let services = Arc::new(Printer {
        content: content.clone(),
        json: args.output == OutputFormat::Json,
        kv: Mutex::new(HashMap::new()),
        dispatched: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        changed: tokio::sync::Notify::new(),
    });
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let host = SensorHost::new(services.clone(), config.host, cancel.clone(), tasks.clone());
    host.reconcile(vec![spec]);

    let deadline = args.timeout.map(Duration::from_secs_f64);
    let until_count = async {
        loop {
            let changed = services.changed.notified();
            if args
                .count
                .is_some_and(|n| services.dispatched.load(Ordering::SeqCst) >= n)
            {
                return;
            }
            changed.await;
        }
    };
    tokio::select! {
        () = until_count => {}
        () = async { match deadline { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let status = host.status(&args.sensor);
    host.stop_all();
    cancel.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(15), tasks.wait()).await;

    let dispatched = services.dispatched.load(Ordering::SeqCst);
    let rejected = services.rejected.load(Ordering::SeqCst);
    let crashed = status.as_ref().is_some_and(|s| s.restarts > 0)
        || status.as_ref().is_some_and(|s| {
            s.state == nerve_engine::SensorState::Unavailable
                || s.state == nerve_engine::SensorState::Backoff
        });
    eprintln!("{dispatched} dispatched, {rejected} rejected");
    Ok(if rejected > 0 || crashed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--trigger` files as (trigger type, parameters).
fn read_triggers(
    content: &Content,
    args: &TestArgs,
) -> anyhow::Result<Vec<(String, Map<String, Value>)>> {
    let sensor_types: Vec<String> = content
        .packs()
        .flat_map(|p| p.sensors.iter())
        .find(|s| s.sensor.sensor_ref() == args.sensor)
        .map(|s| {
            s.sensor
                .trigger_types
                .iter()
                .map(|t| t.to_trigger_type(&s.sensor.pack).type_ref())
                .collect()
        })
        .unwrap_or_default();
    let default_type = sensor_types
        .iter()
        .find(|t| {
            content
                .trigger_type(t)
                .and_then(|t| t.trigger_type.parameters_schema.as_ref())
                .is_some()
        })
        .or(sensor_types.first())
        .cloned();
    let mut triggers = Vec::new();
    for file in &args.triggers {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("failed to read `{}`", file.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not JSON", file.display()))?;
        let Value::Object(mut object) = value else {
            bail!("`{}` must hold a JSON object", file.display());
        };
        let explicit = object
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match explicit {
            Some(type_ref) if object.contains_key("parameters") => {
                let parameters = match object.remove("parameters") {
                    Some(Value::Object(parameters)) => parameters,
                    _ => bail!("`{}`: `parameters` must be an object", file.display()),
                };
                triggers.push((type_ref, parameters));
            }
            _ => {
                let Some(type_ref) = default_type.clone() else {
                    bail!("sensor `{}` emits no trigger types", args.sensor);
                };
                triggers.push((type_ref, object));
            }
        }
    }
    Ok(triggers)
}

/// Prints dispatches (validated as the server would) and log lines; kv lives in memory.
struct Printer {
    content: Arc<Content>,
    json: bool,
    kv: Mutex<HashMap<String, String>>,
    dispatched: AtomicU64,
    rejected: AtomicU64,
    changed: tokio::sync::Notify,
}

impl Printer {
    fn validate(&self, trigger: &str, payload: &Value) -> Result<(), String> {
        let type_ref = trigger.split_once('?').map_or(trigger, |(t, _)| t);
        let Some(trigger_type) = self.content.trigger_type(type_ref) else {
            return Err(format!("unknown trigger type `{type_ref}`"));
        };
        if !payload.is_object() {
            return Err(format!(
                "the payload of a `{type_ref}` event must be an object"
            ));
        }
        if let Some(schema) = &trigger_type.payload_schema
            && let Err(violations) = schema.validate(payload)
        {
            let details: Vec<String> = violations.iter().map(ToString::to_string).collect();
            return Err(format!(
                "payload does not match the payload_schema of `{type_ref}`: {}",
                details.join("; ")
            ));
        }
        Ok(())
    }
}

impl HostServices for Printer {
    async fn dispatch(
        &self,
        _sensor: &str,
        trigger: &str,
        payload: Value,
        trace_tag: Option<String>,
    ) -> Result<String, String> {
        let verdict = self.validate(trigger, &payload);
        let (type_ref, parameters) = match trigger.split_once('?') {
            Some((t, p)) => (t, serde_json::from_str(p).unwrap_or(Value::Null)),
            None => (trigger, Value::Null),
        };
        if self.json {
            print_json(&json!({
                "kind": "dispatch",
                "trigger": type_ref,
                "parameters": parameters,
                "payload": payload,
                "trace_tag": trace_tag,
                "rejected": verdict.as_ref().err(),
            }));
        } else {
            let mark = if verdict.is_ok() {
                "dispatch"
            } else {
                "REJECTED"
            };
            print_line(&format!("{mark} {type_ref} {payload}"));
            if let Err(reason) = &verdict {
                print_line(&format!("  reason: {reason}"));
            }
        }
        let counter = if verdict.is_ok() {
            &self.dispatched
        } else {
            &self.rejected
        };
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        self.changed.notify_waiters();
        verdict.map(|()| format!("test-{n}"))
    }

    async fn kv(&self, _sensor: &str, op: KvOp) -> Result<Value, String> {
        let mut kv = self
            .kv
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(match op {
            KvOp::Get { key, .. } => kv.get(&key).map_or(Value::Null, |v| json!(v)),
            KvOp::Set { key, value, .. } => {
                kv.insert(key, value);
                json!(true)
            }
            KvOp::Delete { key } => json!(kv.remove(&key).is_some()),
            KvOp::List {
                prefix,
                limit,
                offset,
            } => {
                let mut names: Vec<&String> =
                    kv.keys().filter(|k| k.starts_with(&prefix)).collect();
                names.sort();
                json!(
                    names
                        .into_iter()
                        .skip(offset)
                        .take(limit.unwrap_or(usize::MAX))
                        .map(|name| json!({"name": name, "value": kv[name], "secret": false}))
                        .collect::<Vec<_>>()
                )
            }
        })
    }

    async fn process_event(&self, _event: ProcessEvent) {
        self.changed.notify_waiters();
    }

    fn log(&self, _sensor: &str, line: &LogLine) {
        if self.json {
            print_json(&json!({
                "kind": "log",
                "source": line.source,
                "level": line.level,
                "message": line.message,
            }));
        } else {
            eprintln!("{:<7} {}", line.level, line.message);
        }
    }
}
