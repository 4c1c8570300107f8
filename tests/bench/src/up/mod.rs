//! The real server: `nerve up` run as a child process on fresh data dirs, driven over its REST
//! API the way users drive it; for the `amqp` suite, `nerve server` and `nerve worker` nodes
//! over RabbitMQ.
//!
//! Each measurement gets its own server, so no figure depends on records another one left.
//! Servers are killed when their guard drops, also when a measurement fails half-way.
//! The machine is shared with the load generator: on a small box the client's CPU is part of the
//! picture, so the throughput figures come with the CPU both sides used.

pub(crate) mod amqp;
mod bus_ceiling;
mod cluster;
mod latency;
mod packs;
mod poster;
mod sensors;
mod server;
mod shell;
mod throughput;
pub(crate) mod ui;
pub(crate) mod workflows;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::{median, report};
use server::{Launch, Server};

/// Where the processes under test come from, for the suites that start `nerve`.
#[derive(Debug, clap::Args)]
pub(crate) struct LaunchArgs {
    /// The `nerve` binary to run (default: `nerve` next to this program, i.e.
    /// `target/release/nerve`; build it with `cargo build --release --bin nerve`).
    #[arg(long, value_name = "PATH")]
    nerve: Option<PathBuf>,
    /// Directory the fresh data dirs are created in (default: the system's temporary
    /// directory). Its file system matters: every accepted event is fsynced.
    #[arg(long, value_name = "DIR")]
    data_root: Option<PathBuf>,
}

/// Sizes of the `up` suite's runs.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    launch: LaunchArgs,
    /// Cold starts for the startup and idle RSS figures (target: startup < 300 ms, idle RSS
    /// < 40 MB).
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// Rounds of the throughput and shell measurements, each on a fresh server; medians are
    /// reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Webhook events per throughput round, each fired into a `core.noop` execution (target:
    /// ≥ 10,000 events/s recorded). Enough for a few seconds of load: in a round of one
    /// second, a fresh server's first moments (empty trees splitting, caches and connections
    /// warming up) weigh a quarter or more of the figure.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Webhook posts in flight during the throughput rounds (one keep-alive connection each).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Events posted one at a time for the event → action start latency (target: p50 ≤ 2 ms,
    /// p99 ≤ 10 ms).
    #[arg(long, default_value_t = 300)]
    latency_events: usize,
    /// Pause after each latency event is accepted, so every event meets an idle server.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    latency_gap_ms: u64,
    /// `core.local cmd=true` executions per shell round (target: ≥ 50 % of the raw fork+exec+wait
    /// rate at the same concurrency).
    #[arg(long, default_value_t = 500)]
    shell_runs: usize,
    /// Events one sensor process dispatches per sensor round (target: ≥ 20,000 recorded/s).
    #[arg(long, default_value_t = 100_000)]
    sensor_events: usize,
    /// Edit-to-live rounds of the `packs` figures (an action, a sensor and a rule saved each
    /// round; target p50 < 300 ms, each < 1 s).
    #[arg(long, default_value_t = 10)]
    reload_rounds: usize,
    /// Shell commands in flight: client posts, the server's `--worker-concurrency`, and the raw
    /// loop's threads.
    #[arg(long, default_value_t = 8)]
    shell_concurrency: usize,
    /// Another `nerve` binary to compare with (the `throughput` suite): its rounds alternate with
    /// the tested binary's on the same machine, and the figures of both and their ratio are
    /// reported, so a change is judged against the same moment's noise.
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
}

/// How long a measurement may wait for the server to finish its work.
const WORK_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let launch = launch(&args.launch)?;
    report_machine("up", &launch);
    startup(&launch, args)?;
    let runtime = async_runtime()?;
    throughput::run(&launch, args, &runtime)?;
    latency::run(&launch, args, &runtime)?;
    shell::run(&launch, args, &runtime)?;
    sensors::run(&launch, args, &runtime)?;
    packs::run(&launch, args, &runtime)?;
    Ok(())
}

/// Only the sensor figures (the `sensors` suite).
pub(crate) fn run_sensors(args: &Args) -> anyhow::Result<()> {
    let launch = launch(&args.launch)?;
    let runtime = async_runtime()?;
    sensors::run(&launch, args, &runtime)
}

/// Only the throughput figures (the `throughput` suite).
pub(crate) fn run_throughput(args: &Args) -> anyhow::Result<()> {
    let launch = launch(&args.launch)?;
    report_machine("throughput", &launch);
    let runtime = async_runtime()?;
    match &args.baseline {
        None => throughput::run(&launch, args, &runtime),
        Some(baseline) => {
            let baseline = Launch {
                binary: baseline.clone(),
                data_root: launch.data_root.clone(),
            };
            anyhow::ensure!(
                baseline.binary.is_file(),
                "--baseline `{}` does not exist",
                baseline.binary.display()
            );
            throughput::compare(&launch, &baseline, args, &runtime)
        }
    }
}

/// Only the hot-reload figures (the `packs` suite).
pub(crate) fn run_packs(args: &Args) -> anyhow::Result<()> {
    let launch = launch(&args.launch)?;
    report_machine("packs", &launch);
    let runtime = async_runtime()?;
    packs::run(&launch, args, &runtime)
}

/// The scale-out figures over RabbitMQ (the `amqp` suite).
pub(crate) fn run_amqp(args: &amqp::Args) -> anyhow::Result<()> {
    let launch = launch(&args.launch)?;
    report_machine("amqp", &launch);
    let runtime = async_runtime()?;
    amqp::run(&launch, args, &runtime)
}

/// The binary, the data dirs' file system, the cores and the load on them, under `suite`.
fn report_machine(suite: &str, launch: &Launch) {
    report(
        &format!("{suite}: server binary"),
        launch.binary.display().to_string(),
    );
    report(
        &format!("{suite}: data dirs under"),
        format!(
            "{} ({})",
            launch.data_root.display(),
            server::file_system_of(&launch.data_root).unwrap_or_else(|| "unknown fs".to_owned())
        ),
    );
    report(
        &format!("{suite}: cores"),
        std::thread::available_parallelism()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "unknown".to_owned()),
    );
    // Other work on a shared machine takes cores from the processes under test.
    let load = std::fs::read_to_string("/proc/loadavg").ok().map(|text| {
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    });
    report(
        &format!("{suite}: load average before the run, 1 / 5 / 15 min"),
        load.unwrap_or_else(|| "unknown".to_owned()),
    );
}

fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

fn launch(args: &LaunchArgs) -> anyhow::Result<Launch> {
    let binary = match &args.nerve {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("cannot locate this program to find `nerve` next to it")?
            .with_file_name("nerve"),
    };
    anyhow::ensure!(
        binary.is_file(),
        "`{}` does not exist; build it with `cargo build --release --bin nerve` or pass --nerve",
        binary.display()
    );
    let data_root = args.data_root.clone().unwrap_or_else(std::env::temp_dir);
    Ok(Launch { binary, data_root })
}

/// Cold starts on fresh data dirs: time to the `ready` line, then `VmRSS` once the server has
/// sat idle for a second.
fn startup(launch: &Launch, args: &Args) -> anyhow::Result<()> {
    let mut startups = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..args.starts.max(1) {
        let server = Server::start(launch, &[])?;
        startups.push(server.startup.as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_secs(1));
        rss.push(server::memory_mb(server.pid(), "VmRSS")?);
    }
    let (low, high) = range(&startups);
    report(
        "up: startup to `ready`, ms (median)",
        format!(
            "{:.1} (min {low:.1}, max {high:.1}; {} cold starts; target < 300)",
            median(startups.clone()),
            startups.len()
        ),
    );
    let (low, high) = range(&rss);
    report(
        "up: idle RSS after start, MB (median)",
        format!(
            "{:.1} (min {low:.1}, max {high:.1}; target < 40)",
            median(rss)
        ),
    );
    Ok(())
}

fn range(samples: &[f64]) -> (f64, f64) {
    samples
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), &x| {
            (low.min(x), high.max(x))
        })
}

/// The `p`-th percentile (0..=1, nearest rank) of a non-empty sample.
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Thread names and their share of one core, e.g. `tokio-runtime-w 71%, sled-io 9%`.
fn thread_shares(threads: &[(String, f64)], wall_seconds: f64, top: usize) -> String {
    threads
        .iter()
        .take(top)
        .map(|(name, seconds)| format!("{name} {:.0}%", 100.0 * seconds / wall_seconds))
        .collect::<Vec<_>>()
        .join(", ")
}
