//! Nerve's benchmark program: prints performance figures measured on this machine.
//!
//! Figures are medians over several rounds measured in one run; nothing here is a pass/fail test.
//! Run with `cargo run --release -p nerve-bench -- <suite>`; `all` runs every suite with its
//! defaults.

mod rules;
mod up;

use clap::{Parser, Subcommand};

/// Prints Nerve's performance figures measured on this machine: medians over rounds, ratios
/// computed in the same run. Nothing here passes or fails; targets are printed for comparison.
#[derive(Debug, Parser)]
#[command(name = "nerve-bench", about, max_term_width = 100, after_help = SUITES)]
struct Cli {
    #[command(subcommand)]
    suite: Suite,
}

/// What each suite measures and the figures it is held against, for `--help`.
const SUITES: &str = "\
Suites:
  rules  RuleIndex::matching over 10,000 rules (1,000 trigger types x 10, two criteria
         each): events/s and ns per event on one core. No target; compare runs.
  up     The real server, `nerve up`, as a child process (build it first: cargo build --release
         --bin nerve). Targets:
           startup to `ready` (median of 5 cold starts)            < 300 ms
           idle RSS (VmRSS)                                        < 40 MB
           webhook -> core.noop execution recorded (5,000 events)  >= 10,000 events/s
           event -> action start, p50 / p99                        2 ms / 10 ms
           core.local cmd=true executions/s vs raw fork+exec+wait  >= 50 %
           sensor dispatch -> trigger instance recorded (1 sensor)  >= 20,000 events/s
           sensor SIGKILL -> new process ready                      (no target; printed)
  sensors  Only the sensor figures of `up`.
  packs  Hot reload with `nerve up --dev PACK` (also run by `up`): a file saved -> in force,
         seen through the API, for an action, a sensor (restarted, first dispatch recorded)
         and a rule (webhook accepted). Target: p50 < 300 ms, every round < 1 s.
  amqp   Nerve scaled out over the RabbitMQ on 127.0.0.1:5672 (guest/guest; a fresh vhost per
         deployment): `nerve server --amqp` with `nerve worker` nodes, child processes like
         `up`'s. Targets:
           webhook -> core.noop execution recorded, 1 worker       >= 5,000 events/s
           the same with 2 workers; 2 workers / 1 worker           (no target; printed)
           in-process `nerve up`, same load; AMQP / in-process     (no target; printed)
           event -> action start p50 / p99 over the broker         (no target; printed)
  workflows  Orquesta workflows on `nerve up` (child process like `up`'s). Targets:
           with-items over 1,000 core.noop items, 10 at a time      >= 500 items/s
           orchestration overhead per task (sequential core.noop)   p50 < 2 ms
  ui     The web UI's load on `nerve up` (child process like `up`'s): 100 event stream (SSE)
         clients and 20 API readers making the UI's list and detail reads while 5,000 webhook
         events stream into core.noop executions. Prints API read latency p50/p90/p99 under
         load next to an idle baseline, and the events each stream delivered. No target.
  all    Every suite with its defaults.

Figures are medians over rounds measured in one run; ratios are computed within the run.";

#[derive(Debug, Subcommand)]
enum Suite {
    /// Rule evaluation throughput: many rules over many trigger types, one core.
    Rules(rules::Args),
    /// The real server (`nerve up`, run as a child process on fresh data dirs): startup, idle
    /// RSS, webhook → execution throughput, event → action start latency, and local shell
    /// executions next to a raw fork+exec+wait loop.
    ///
    /// Targets: startup < 300 ms; idle RSS < 40 MB; ≥ 10,000 webhook events/s recorded as
    /// `core.noop` executions; event → action start p50 ≤ 2 ms, p99 ≤ 10 ms; `core.local`
    /// executions/s ≥ 50 % of the raw loop's rate. Build the server first:
    /// `cargo build --release --bin nerve`.
    Up(up::Args),
    /// Only the sensor figures of `up`: dispatch → trigger instance throughput from one sensor
    /// process (target ≥ 20,000 events/s) and SIGKILL → new sensor process ready.
    Sensors(up::Args),
    /// Only the webhook → `core.noop` throughput figures of `up` (target ≥ 10,000 events/s
    /// recorded), with the CPU, disk writes and fsyncs per event behind them.
    Throughput(up::Args),
    /// Hot reload: `nerve up --dev PACK`, then edit → live time for an action, a sensor and a
    /// rule (targets: p50 < 300 ms, each < 1 s).
    Packs(up::Args),
    /// Nerve scaled out over RabbitMQ (127.0.0.1:5672, guest/guest, a fresh vhost per
    /// deployment): webhook → `core.noop` executions recorded with `nerve server --amqp` and one
    /// worker node, then two, next to the in-process `nerve up` under the same load; event →
    /// action start latency over the broker.
    ///
    /// Target: ≥ 5,000 events/s recorded with one worker. Build the server first:
    /// `cargo build --release --bin nerve`.
    Amqp(up::amqp::Args),
    /// Orquesta workflows on `nerve up`: with-items throughput (items/s for 1,000 `core.noop`
    /// items, ten at a time; target ≥ 500) and the orchestration overhead per task of a
    /// sequential workflow (time from one task's end to the next one's start; target p50 <
    /// 2 ms). Build the server first: `cargo build --release --bin nerve`.
    Workflows(up::workflows::Args),
    /// The web UI's load: `clients` event streams (SSE) held open and `readers` tasks making
    /// the UI's API reads while webhook events stream into executions; API read latency
    /// percentiles under that load next to an idle baseline. Build the server first:
    /// `cargo build --release --bin nerve`.
    Ui(up::ui::Args),
    /// Every suite above, each with its defaults.
    All,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().suite {
        Suite::Rules(args) => rules::run(&args),
        Suite::Up(args) => up::run(&args),
        Suite::Sensors(args) => up::run_sensors(&args),
        Suite::Throughput(args) => up::run_throughput(&args),
        Suite::Packs(args) => up::run_packs(&args),
        Suite::Amqp(args) => up::run_amqp(&args),
        Suite::Workflows(args) => up::workflows::run(&args),
        Suite::Ui(args) => up::ui::run(&args),
        Suite::All => {
            rules::run(&defaults::<rules::Args>())?;
            up::run(&defaults::<up::Args>())?;
            up::workflows::run(&defaults::<up::workflows::Args>())?;
            up::ui::run(&defaults::<up::ui::Args>())?;
            up::run_amqp(&defaults::<up::amqp::Args>())
        }
    }
}

/// A suite's arguments with every option at its default.
fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("nerve-bench"));
    let matches = command.get_matches_from(["nerve-bench"]);
    match T::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(error) => error.exit(),
    }
}

/// Prints one figure line.
fn report(name: &str, value: String) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{name:<52} {value}");
}

/// The median of a non-empty sample.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
