//! `nerve up`: every role in one process — API, rules engine, scheduler, worker, sensor host —
//! with the in-process bus (or RabbitMQ with `--amqp`) and the sled store under the data dir.
//! Prints `ready <url>` when it accepts requests. `nerve server` is the same without the worker
//! and the sensor host, which then run as `nerve worker` and `nerve sensors` nodes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use nerve_bus::InProcessBus;
use nerve_engine::{Engine, EngineConfig};
use nerve_packs::LoadedPack;
use nerve_store::{Store, StoreOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::GlobalArgs;
use crate::builtin;
use crate::output::print_line;
use crate::platform::EnginePlatform;

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Address to listen on; port 0 picks a free port (the address chosen is printed and written
    /// to `<data-dir>/server.json`).
    #[arg(long, env = "NERVE_LISTEN", default_value = "127.0.0.1:9101")]
    listen: SocketAddr,
    /// Executions run at once by the worker.
    #[arg(long, default_value_t = 32)]
    worker_concurrency: u16,
    /// Runtimes this node may use, comma-separated, each optionally `=BINARY`
    /// (`python=/opt/py311/bin/python3,shell,native`); others are reported missing.
    #[arg(long, env = "NERVE_RUNTIMES")]
    runtimes: Option<String>,
    /// Run every enabled sensor, not only those whose trigger types an enabled rule uses.
    #[arg(long, env = "NERVE_ALL_SENSORS")]
    all_sensors: bool,
    /// Seconds to wait for running work on shutdown.
    #[arg(long, default_value_t = 10)]
    shutdown_grace: u64,
    /// RabbitMQ URL (`amqp://user:pass@host:5672/%2f`): use the broker as the bus, so
    /// `nerve worker` and `nerve sensors` nodes can join. Default: the in-process bus.
    #[arg(
        long,
        env = "NERVE_AMQP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    amqp: Option<String>,
    /// Seconds between node heartbeats (nodes are gone after three missed ones).
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    heartbeat: f64,
    /// Develop these pack directories live: each is installed at start and again on every
    /// save (actions take effect on their next run, a changed sensor restarts alone, rules
    /// re-register). A broken edit is printed with file:line and shown by `nerve pack get`;
    /// the last good version keeps running.
    #[arg(long = "dev", value_name = "DIR", num_args = 1..)]
    dev: Vec<PathBuf>,
}

impl UpArgs {
    /// Whether a broker was given.
    pub(crate) fn has_amqp(&self) -> bool {
        self.amqp.is_some()
    }
}

/// Which roles this process runs besides the API, the rules engine and the scheduler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Roles {
    /// Run actions here.
    pub(crate) worker: bool,
    /// Run sensors here.
    pub(crate) sensors: bool,
}

pub(crate) fn exec(global: &GlobalArgs, args: UpArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let roles = Roles {
        worker: true,
        sensors: true,
    };
    runtime.block_on(run(global.data_dir()?, global.base_env(), args, roles))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(
    data_dir: PathBuf,
    base_env: Vec<(String, String)>,
    args: UpArgs,
    roles: Roles,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("failed to create the data dir `{}`", data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on `{}`", args.listen))?;
    let address = listener
        .local_addr()
        .context("failed to read the listening address")?;
    let url = format!("http://{address}");

    let store = Store::open(&data_dir, StoreOptions::default())
        .with_context(|| format!("failed to open the store in `{}`", data_dir.display()))?;
    let auth = nerve_web::Auth::open(&data_dir).context("failed to prepare API authentication")?;
    let packs = load_packs(&data_dir)?;

    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let bus = connect_bus(args.amqp.as_deref(), "server").await?;
    let venv_env = base_env.clone();
    let config = EngineConfig {
        local_worker: roles.worker,
        remote_nodes: args.amqp.is_some(),
        node_heartbeat: Duration::from_secs_f64(args.heartbeat.max(0.1)),
        api_url: Some(url.clone()),
        auth_token: Some(auth.admin_token().to_owned()),
        worker_concurrency: args.worker_concurrency,
        base_env,
        runtimes: args.runtimes.clone(),
        sensors: nerve_engine::SensorsConfig {
            enabled: roles.sensors,
            nerve_exe: std::env::current_exe().ok(),
            run_all: args.all_sensors,
            ..nerve_engine::SensorsConfig::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::start(
        config,
        store.clone(),
        bus,
        packs,
        cancel.clone(),
        tasks.clone(),
    )
    .await
    .context("failed to start the engine")?;
    let platform = Arc::new(EnginePlatform::new(
        engine.clone(),
        data_dir.join("packs"),
        data_dir.join("virtualenvs"),
        venv_env,
    ));
    if !args.dev.is_empty() {
        let watcher = crate::watch::PackWatcher::new(&args.dev)?;
        for dir in watcher.dirs() {
            develop(platform.as_ref(), dir).await;
        }
        let dev_platform = platform.clone();
        let dev_cancel = cancel.clone();
        tasks.spawn(async move { watch_dev_packs(watcher, dev_platform, dev_cancel).await });
    }
    let state = nerve_web::AppState::new(store.clone(), platform, auth.clone())
        .with_shutdown(cancel.clone());
    let serve_cancel = cancel.clone();
    tasks.spawn(async move {
        if let Err(error) = nerve_web::serve(listener, state, serve_cancel).await {
            tracing::error!(%error, "The API server stopped.");
        }
    });
    nerve_web::write_server_info(&data_dir, &url).context("failed to write server.json")?;
    print_line(&format!("ready {url}"));
    print_line(&format!("login: {url}/?token={}", auth.admin_token()));

    shutdown_signal().await;
    tracing::info!("Shutting down.");
    cancel.cancel();
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(args.shutdown_grace), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_s = args.shutdown_grace,
            "Shutdown grace period elapsed; exiting anyway."
        );
    }
    store.flush().await.context("failed to flush the store")?;
    Ok(())
}

/// Reinstalls each `--dev` pack that changed, until cancelled.
async fn watch_dev_packs(
    mut watcher: crate::watch::PackWatcher,
    platform: Arc<EnginePlatform>,
    cancel: CancellationToken,
) {
    loop {
        let changed = tokio::select! {
            () = cancel.cancelled() => return,
            changed = watcher.changed() => changed,
        };
        let Some(dirs) = changed else { return };
        for dir in dirs {
            develop(platform.as_ref(), &dir).await;
        }
    }
}

/// Installs a `--dev` pack through the one install path and prints what happened: what was
/// registered, or every problem with file:line (the installed version stays in force).
async fn develop(platform: &EnginePlatform, dir: &Path) {
    use nerve_web::Platform as _;
    let started = std::time::Instant::now();
    match platform.register_pack(dir.to_path_buf(), None).await {
        Ok(registration) => {
            crate::output::print_diagnostics(&local_diagnostics(&registration.warnings));
            print_line(&format!(
                "reloaded pack `{}` from `{}` in {} ms: {} action(s), {} sensor(s), {} rule(s)",
                registration
                    .pack
                    .meta
                    .pack_ref()
                    .unwrap_or(&registration.pack.meta.name),
                dir.display(),
                started.elapsed().as_millis(),
                registration.actions,
                registration.sensors,
                registration.rules,
            ));
        }
        Err(nerve_web::PlatformError::Invalid { message, details }) => {
            print_line(&format!(
                "reload refused: {message}; the previous version stays in force"
            ));
            for line in diagnostic_lines(&details) {
                print_line(&line);
            }
            crate::output::print_diagnostics(&local_diagnostics(&details));
        }
        Err(error) => {
            print_line(&format!("reload of `{}` failed: {error}", dir.display()));
        }
    }
}

/// One `file:line:col: severity: field: message` line per problem, on stdout where the
/// developer (and a script following the output) sees them.
fn diagnostic_lines(details: &[nerve_web::Diagnostic]) -> Vec<String> {
    details
        .iter()
        .map(|d| {
            let field = if d.field.is_empty() {
                String::new()
            } else {
                format!(" `{}`:", d.field)
            };
            format!(
                "{}:{}:{}: {}:{field} {}",
                d.file, d.line, d.col, d.severity, d.message
            )
        })
        .collect()
}

/// The API's diagnostics as the pack crate's, for the snippet renderer.
fn local_diagnostics(details: &[nerve_web::Diagnostic]) -> Vec<nerve_packs::Diagnostic> {
    details.iter().map(super::client::to_diagnostic).collect()
}

/// The bus: RabbitMQ at `amqp`, else the in-process bus.
pub(crate) async fn connect_bus(
    amqp: Option<&str>,
    role: &str,
) -> anyhow::Result<Arc<dyn nerve_bus::Bus>> {
    let Some(url) = amqp else {
        return Ok(Arc::new(InProcessBus::new()));
    };
    let config = nerve_bus::AmqpConfig {
        connection_name: format!("nerve-{role}-{}", std::process::id()),
        ..nerve_bus::AmqpConfig::new(url)
    };
    let bus = nerve_bus::AmqpBus::connect(config)
        .await
        .with_context(|| format!("failed to connect to RabbitMQ at `{}`", redact(url)))?;
    Ok(Arc::new(bus))
}

/// `amqp://user:secret@host` → `amqp://user:***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The built-in packs (written under `<data-dir>/builtin/<version>/`) and the user's packs
/// under `<data-dir>/packs/`. A user pack that does not load is reported and skipped; the
/// platform starts with everything else.
pub(crate) fn load_packs(data_dir: &Path) -> anyhow::Result<Vec<(LoadedPack, String)>> {
    load_packs_from(data_dir, &data_dir.join("packs"))
}

/// [`load_packs`] with the user's packs taken from `user_root` (a node can read the server's
/// pack directory through a shared volume).
pub(crate) fn load_packs_from(
    data_dir: &Path,
    user_root: &Path,
) -> anyhow::Result<Vec<(LoadedPack, String)>> {
    let builtin_dir = data_dir.join("builtin").join(env!("CARGO_PKG_VERSION"));
    let builtin_dirs = builtin::extract(&builtin_dir)?;
    let (builtin, failed) = nerve_packs::load_packs(&builtin_dirs, &[]);
    if let Some(failure) = failed.first() {
        crate::output::print_diagnostics(&failure.diagnostics);
        anyhow::bail!(
            "built-in pack `{}` does not load; this is a bug in Nerve",
            failure.dir.display()
        );
    }
    let user_root = user_root.to_path_buf();
    std::fs::create_dir_all(&user_root)
        .with_context(|| format!("failed to create `{}`", user_root.display()))?;
    // Staging directories an interrupted install left behind.
    for entry in std::fs::read_dir(&user_root)
        .with_context(|| format!("failed to read `{}`", user_root.display()))?
        .filter_map(Result::ok)
    {
        if entry.file_name().to_string_lossy().starts_with(".staging-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let mut user_dirs: Vec<PathBuf> = std::fs::read_dir(&user_root)
        .with_context(|| format!("failed to read `{}`", user_root.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("pack.yaml").is_file())
        .collect();
    user_dirs.sort();
    let (user, failed) = nerve_packs::load_packs(&user_dirs, &builtin);
    for failure in &failed {
        crate::output::print_diagnostics(&failure.diagnostics);
        tracing::error!(pack = %failure.dir.display(), "Pack does not load; it is not registered.");
    }
    let mut packs: Vec<(LoadedPack, String)> = builtin
        .into_iter()
        .map(|p| (p, "builtin".to_owned()))
        .collect();
    packs.extend(user.into_iter().map(|p| {
        let source = p.dir.display().to_string();
        (p, source)
    }));
    Ok(packs)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
