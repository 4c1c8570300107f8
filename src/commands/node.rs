//! `nerve server`, `nerve worker`, `nerve sensors`: Nerve's roles as separate processes over
//! RabbitMQ; `nerve node list` and `nerve bus ...` to see them and the broker's queues.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use nerve_engine::{NodeConfig, ServerLink};
use nerve_model::NodeRole;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::client::{Api, remote};
use super::table::Table;
use super::up::{Roles, UpArgs};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(flatten)]
    up: UpArgs,
}

/// `nerve server`: API, rules engine, scheduler, store; actions and sensors run on nodes.
pub(crate) fn server(global: &GlobalArgs, args: ServerArgs) -> anyhow::Result<ExitCode> {
    if !args.up.has_amqp() {
        anyhow::bail!(
            "`nerve server` needs a broker for its nodes: pass --amqp URL (or NERVE_AMQP_URL); \
             for everything in one process use `nerve up`"
        );
    }
    crate::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let roles = Roles {
        worker: false,
        sensors: false,
    };
    runtime.block_on(super::up::run(
        global.data_dir()?,
        global.base_env(),
        args.up,
        roles,
    ))?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct NodeArgs {
    /// RabbitMQ URL (`amqp://user:pass@host:5672/%2f`).
    #[arg(
        long,
        env = "NERVE_AMQP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    amqp: String,
    /// The server's API URL (default: the server recorded in the data dir).
    #[arg(long, env = "NERVE_SERVER_URL", value_name = "URL")]
    server: Option<String>,
    /// This node's name, unique among the nodes (letters, digits, `-`, `_`; default: the
    /// host name and the role).
    #[arg(long, env = "NERVE_NODE_NAME")]
    name: Option<String>,
    /// A pack directory this node runs (repeatable), besides those under `--packs-dir`.
    /// Its content must match the server's copy, or the server refuses the node's work for it.
    #[arg(long = "pack", value_name = "DIR")]
    packs: Vec<PathBuf>,
    /// The directory of installed packs this node runs (default `<data-dir>/packs`). Point it
    /// at the server's `<data-dir>/packs` through a shared volume and the node follows every
    /// `nerve pack install` on the server: when the server reports drift, the node reloads.
    #[arg(long, env = "NERVE_PACKS_DIR", value_name = "DIR")]
    packs_dir: Option<PathBuf>,
    /// Read the API token from this file (e.g. the server's `admin.token` on a shared volume,
    /// or a Docker secret); waits up to a minute for it to appear.
    #[arg(long, env = "NERVE_AUTH_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Executions run at once (workers).
    #[arg(long, default_value_t = 32)]
    concurrency: u16,
    /// Runtimes this node may use, comma-separated, each optionally `=BINARY`.
    #[arg(long, env = "NERVE_RUNTIMES")]
    runtimes: Option<String>,
    /// Seconds between heartbeats until the server says otherwise.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    heartbeat: f64,
    /// Seconds to wait for running work on shutdown.
    #[arg(long, default_value_t = 10)]
    shutdown_grace: u64,
}

/// `nerve worker` / `nerve sensors`.
pub(crate) fn node(
    global: &GlobalArgs,
    args: NodeArgs,
    role: NodeRole,
) -> anyhow::Result<ExitCode> {
    crate::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(run_node(global, args, role))?;
    Ok(ExitCode::SUCCESS)
}

async fn run_node(global: &GlobalArgs, args: NodeArgs, role: NodeRole) -> anyhow::Result<()> {
    let data_dir = global.data_dir()?;
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("failed to create the data dir `{}`", data_dir.display()))?;
    let file_token = match &args.token_file {
        Some(path) => Some(read_token_file(path).await?),
        None => None,
    };
    let given_token = global.token.clone().or(file_token);
    let (server, token) = match (&args.server, &given_token) {
        (Some(url), Some(token)) => (url.clone(), token.clone()),
        _ => {
            let Some((url, token)) = nerve_web::discover(&data_dir) else {
                anyhow::bail!(
                    "no server to join: pass --server URL and --token TOKEN (or \
                     NERVE_SERVER_URL and NERVE_AUTH_TOKEN)"
                );
            };
            (
                args.server.clone().unwrap_or(url),
                given_token.clone().unwrap_or(token),
            )
        }
    };
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(role),
    };
    nerve_bus::topology::check_node_name(&name).map_err(|error| {
        anyhow::anyhow!("bad node name `{name}`: {error}; use letters, digits, `-` and `_`")
    })?;
    let packs_dir = args
        .packs_dir
        .clone()
        .unwrap_or_else(|| data_dir.join("packs"));
    let packs = node_packs(&data_dir, &packs_dir, &args.packs)?;
    let reload: nerve_engine::PackLoader = {
        let (data_dir, packs_dir, extra) =
            (data_dir.clone(), packs_dir.clone(), args.packs.clone());
        std::sync::Arc::new(move || match node_packs(&data_dir, &packs_dir, &extra) {
            Ok(packs) => Some(packs),
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "Reloading the packs failed; keeping the packs in force."
                );
                None
            }
        })
    };
    let bus = super::up::connect_bus(Some(&args.amqp), role.as_str()).await?;
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let config = NodeConfig {
        name: name.clone(),
        role,
        server: ServerLink::new(server.clone(), token),
        heartbeat: Duration::from_secs_f64(args.heartbeat.max(0.1)),
        worker_concurrency: args.concurrency,
        in_process_concurrency: 256,
        kill_grace: Duration::from_secs(5),
        base_env: global.base_env(),
        runtimes: args.runtimes.clone(),
        sensors: nerve_engine::SensorsConfig {
            enabled: role == NodeRole::Sensors,
            nerve_exe: std::env::current_exe().ok(),
            ..nerve_engine::SensorsConfig::default()
        },
        reload: Some(reload),
    };
    nerve_engine::run_node(config, bus, packs, cancel.clone(), tasks.clone())
        .await
        .context("failed to start the node")?;
    print_line(&format!(
        "ready {} node `{name}` (server {server})",
        role.as_str()
    ));
    super::up::shutdown_signal().await;
    tracing::info!("Shutting down.");
    cancel.cancel();
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(args.shutdown_grace), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("Shutdown grace period elapsed; exiting anyway.");
    }
    Ok(())
}

/// The built-in packs, the packs under `packs_dir`, then `extra` pack directories (which
/// replace packs of the same ref).
fn node_packs(
    data_dir: &std::path::Path,
    packs_dir: &std::path::Path,
    extra: &[PathBuf],
) -> anyhow::Result<Vec<nerve_packs::LoadedPack>> {
    let mut packs: Vec<nerve_packs::LoadedPack> = super::up::load_packs_from(data_dir, packs_dir)?
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    if !extra.is_empty() {
        let (loaded, failed) = nerve_packs::load_packs(extra, &packs);
        for failure in &failed {
            crate::output::print_diagnostics(&failure.diagnostics);
        }
        if !failed.is_empty() {
            anyhow::bail!("{} pack(s) given with --pack do not load", failed.len());
        }
        for pack in loaded {
            packs.retain(|p| p.pack_ref != pack.pack_ref);
            packs.push(pack);
        }
    }
    Ok(packs)
}

async fn read_token_file(path: &std::path::Path) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.trim().is_empty()
        {
            return Ok(text.trim().to_owned());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("no token in `{}` after a minute", path.display());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `<host>-<role>`, with anything but letters, digits, `-` and `_` replaced by `-`.
fn default_name(role: NodeRole) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let clean: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{clean}-{}", role.as_str())
}

#[derive(Debug, Subcommand)]
pub(crate) enum NodeCommand {
    /// The nodes the server heard from: role, state, runtimes, load, pack drift.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: NodeCommand) -> anyhow::Result<ExitCode> {
    match command {
        NodeCommand::List(args) => remote(global, async move |api| list(api, args).await),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let nodes = api.list_nodes().await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&nodes)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "NAME",
        "ROLE",
        "STATE",
        "LAST SEEN",
        "RUNTIMES",
        "LOAD",
        "SENSORS",
        "PACKS",
    ]);
    for node in &nodes {
        let beat = &node.heartbeat;
        let runtimes: Vec<String> = beat
            .runtimes
            .iter()
            .filter(|r| r.available)
            .map(|r| match &r.version {
                Some(version) => format!("{} {version}", r.name),
                None => r.name.clone(),
            })
            .collect();
        let load = match beat.role {
            NodeRole::Worker => format!("{}/{}", beat.running.len(), beat.capacity),
            NodeRole::Sensors => format!("{} sensors", beat.sensors.len()),
        };
        let packs = if node.drift.is_empty() {
            "in sync".to_owned()
        } else {
            let names: Vec<String> = node
                .drift
                .iter()
                .map(|d| {
                    if d.accepted {
                        format!("{} (previous version, accepted)", d.pack)
                    } else {
                        d.pack.clone()
                    }
                })
                .collect();
            format!("DRIFT: {}", names.join(", "))
        };
        table.row(vec![
            beat.node.clone(),
            beat.role.as_str().to_owned(),
            node.state.clone(),
            format!("{:.1}s ago", node.age_secs),
            runtimes.join(", "),
            load,
            node.assigned_sensors.join(", "),
            packs,
        ]);
    }
    table.print("no nodes have joined (start `nerve worker` or `nerve sensors` with --amqp)");
    for node in &nodes {
        for drift in &node.drift {
            eprintln!("{}: {}", node.heartbeat.node, drift.remedy);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub(crate) enum BusCommand {
    /// The broker's queues with their counts.
    Queues(ListArgs),
    /// The dead letters of a queue: messages the consumers gave up on.
    DeadLetters(QueueArgs),
    /// Moves dead letters back to their queue to be processed again.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub(crate) struct QueueArgs {
    /// The queue (see `nerve bus queues`).
    queue: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The queue (see `nerve bus queues`).
    queue: String,
    /// Only these message ids (default: every dead letter of the queue).
    #[arg(long = "id", value_name = "ID")]
    ids: Vec<String>,
}

pub(crate) fn bus(global: &GlobalArgs, command: BusCommand) -> anyhow::Result<ExitCode> {
    match command {
        BusCommand::Queues(args) => remote(global, async move |api| queues(api, args).await),
        BusCommand::DeadLetters(args) => {
            remote(global, async move |api| dead_letters(api, args).await)
        }
        BusCommand::Replay(args) => remote(global, async move |api| {
            let ids = (!args.ids.is_empty()).then_some(args.ids);
            let replayed = api.replay_dead_letters(&args.queue, ids).await?;
            print_line(&format!(
                "{replayed} dead letter(s) moved back to `{}`",
                args.queue
            ));
            Ok(ExitCode::SUCCESS)
        }),
    }
}

async fn queues(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let queues = api.bus_queues().await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&queues)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["QUEUE", "READY", "UNACKED", "CONSUMERS", "DEAD LETTERS"]);
    for queue in &queues {
        table.row(vec![
            queue.name.clone(),
            queue.ready.to_string(),
            queue.unacked.to_string(),
            queue.consumers.to_string(),
            queue.dead_letters.to_string(),
        ]);
    }
    table.print("no queues");
    Ok(ExitCode::SUCCESS)
}

async fn dead_letters(api: &Api, args: QueueArgs) -> anyhow::Result<ExitCode> {
    let letters = api.dead_letters(&args.queue).await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&letters)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["ID", "ROUTING KEY", "REASON", "DELIVERIES", "AT"]);
    for letter in &letters {
        table.row(vec![
            letter.id.clone(),
            letter.routing_key.clone(),
            letter.reason.clone(),
            letter.deliveries.to_string(),
            letter.dead_lettered_at.clone(),
        ]);
    }
    table.print(&format!("no dead letters in `{}`", args.queue));
    if !letters.is_empty() {
        eprintln!(
            "replay them with `nerve bus replay {}` (or `--id ID` for some)",
            args.queue
        );
    }
    Ok(ExitCode::SUCCESS)
}
