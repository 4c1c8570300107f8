//! Nerve scaled out over RabbitMQ: `nerve server --amqp` with one and with two `nerve worker`
//! nodes, next to the in-process `nerve up` under the same load, all in one run.
//!
//! Throughput is `up`'s round (webhook → rule → `core.noop` execution recorded `succeeded`,
//! events over the time from the first post to the last `end_timestamp`) against each
//! deployment. Over the broker, the server records the event, matches it, schedules the
//! execution and publishes the request; a worker reports a `noop` done without a claim, and the
//! server records that report. Every round starts each deployment afresh (data dirs, and a vhost
//! of its own on the broker) and runs the three one after another, so drift on a shared machine
//! touches all three alike.
//!
//! Latency is `up`'s measurement against the server and one worker: for a `core.local cmd=true`
//! action, `running` is recorded when the server grants the worker's claim, right before the
//! worker starts the command.
//!
//! The CPU of every process is reported too: on a small box the server, the workers, the broker
//! and this program share the cores, and the figures are only as good as that share.

use std::time::Duration;

use anyhow::Context as _;

use super::cluster::{Cluster, broker_pid};
use super::server::{Launch, Server};
use super::throughput::{self, Round};
use super::{LaunchArgs, latency};
use crate::{median, report};

/// The `amqp` suite's target: webhook events recorded as `core.noop` executions per second
/// through the broker with one worker.
const TARGET_EVENTS_PER_SECOND: f64 = 5_000.0;

/// Log lines at `WARN` or `ERROR` printed at most (all are counted).
const PROBLEMS_SHOWN: usize = 10;

/// Sizes of the `amqp` suite's runs.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(super) launch: LaunchArgs,
    /// Rounds; each starts every deployment afresh (in-process, one worker, two workers) and
    /// medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Webhook events per throughput round, each fired into a `core.noop` execution (target
    /// with one worker: ≥ 5,000 events/s recorded).
    #[arg(long, default_value_t = 5_000)]
    events: usize,
    /// Webhook posts in flight during the throughput rounds (one keep-alive connection each).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Events posted one at a time for the event → action start latency over the broker.
    #[arg(long, default_value_t = 300)]
    latency_events: usize,
    /// Pause after each latency event is accepted, so every event meets an idle deployment.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    latency_gap_ms: u64,
}

/// What the rounds of one deployment measured.
#[derive(Default)]
struct Deployment {
    rounds: Vec<Round>,
}

impl Deployment {
    fn median(&self, field: impl Fn(&Round) -> f64) -> f64 {
        median(self.rounds.iter().map(field).collect())
    }

    /// The median events/s.
    fn rate(&self) -> f64 {
        self.median(|r| r.events_per_second)
    }
}

pub(super) fn run(
    launch: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let broker = broker_pid();
    report(
        "amqp: broker",
        format!(
            "RabbitMQ on 127.0.0.1:5672 ({}); a fresh vhost per deployment",
            broker.map_or_else(|| "pid unknown".to_owned(), |pid| format!("pid {pid}"))
        ),
    );
    let mut vhosts = 0;
    let mut vhost = || {
        vhosts += 1;
        format!("nerve-bench-{}-{vhosts}", std::process::id())
    };
    let mut in_process = Deployment::default();
    let mut one = Deployment::default();
    let mut two = Deployment::default();
    let mut problems = Vec::new();
    for _ in 0..args.rounds.max(1) {
        let server = Server::start(launch, &[])?;
        let round = runtime
            .block_on(throughput::round(
                &server,
                args.events,
                args.concurrency,
                &[],
            ))
            .with_context(|| {
                format!(
                    "in-process throughput round failed; the server log ends with:\n{}",
                    server.log_tail()
                )
            })?;
        in_process.rounds.push(round);
        drop(server);
        for (workers, deployment) in [(1, &mut one), (2, &mut two)] {
            let cluster = runtime.block_on(Cluster::start(launch, &vhost(), workers))?;
            let mut others = cluster.worker_pids();
            others.extend(broker);
            let round = runtime
                .block_on(throughput::round(
                    &cluster.server,
                    args.events,
                    args.concurrency,
                    &others,
                ))
                .with_context(|| {
                    format!(
                        "throughput round with {workers} worker(s) failed; the logs end with:\n{}",
                        cluster.log_tails()
                    )
                })?;
            deployment.rounds.push(round);
            problems.extend(cluster.log_problems());
        }
    }
    report_throughput(args, &in_process, &one, &two, broker.is_some());

    let cluster = runtime.block_on(Cluster::start(launch, &vhost(), 1))?;
    let gap = Duration::from_millis(args.latency_gap_ms);
    let samples = runtime
        .block_on(latency::measure(&cluster.server, args.latency_events, gap))
        .with_context(|| {
            format!(
                "latency measurement over the broker failed; the logs end with:\n{}",
                cluster.log_tails()
            )
        })?;
    problems.extend(cluster.log_problems());
    drop(cluster);
    latency::report_samples("amqp, 1 worker", &samples, None);
    report_problems(&problems);
    Ok(())
}

fn report_throughput(
    args: &Args,
    in_process: &Deployment,
    one: &Deployment,
    two: &Deployment,
    with_broker: bool,
) {
    let n = one.rounds.len();
    let load = format!(
        "median of {n}; {} events, {} in flight",
        args.events, args.concurrency
    );
    let verdict = if one.rate() >= TARGET_EVENTS_PER_SECOND {
        "✔"
    } else {
        "✘"
    };
    report(
        "amqp: webhook → noop recorded, 1 worker, events/s",
        format!(
            "{:.0} ({load}; target ≥ {TARGET_EVENTS_PER_SECOND:.0} {verdict})",
            one.rate()
        ),
    );
    report(
        "amqp: webhook → noop recorded, 2 workers, events/s",
        format!("{:.0} ({load})", two.rate()),
    );
    report(
        "amqp: scaling, 2 workers / 1 worker",
        format!("{:.2}", two.rate() / one.rate()),
    );
    report(
        "amqp: in-process `nerve up`, same load, events/s",
        format!("{:.0} ({load})", in_process.rate()),
    );
    report(
        "amqp: AMQP 1 worker / in-process",
        format!("{:.0} %", 100.0 * one.rate() / in_process.rate()),
    );
    report(
        "amqp: webhook accept rate, posts/s (202s)",
        format!(
            "{:.0} in-process, {:.0} with 1 worker, {:.0} with 2 (median of {n})",
            in_process.median(|r| r.accepts_per_second),
            one.median(|r| r.accepts_per_second),
            two.median(|r| r.accepts_per_second)
        ),
    );
    report(
        "amqp: CPU in-process: server, bench client, cores",
        format!(
            "{:.2}, {:.2} (median of {n})",
            in_process.median(|r| r.server_cores),
            in_process.median(|r| r.client_cores)
        ),
    );
    for (workers, deployment) in [(1, one), (2, two)] {
        let node = |index: usize| deployment.median(|r| r.others_cores[index]);
        let nodes = (0..workers)
            .map(|index| format!("{:.2}", node(index)))
            .collect::<Vec<_>>()
            .join(" + ");
        let broker = if with_broker {
            format!("{:.2}", node(workers))
        } else {
            "unknown".to_owned()
        };
        report(
            &format!("amqp: CPU {workers}w: server, worker(s), broker, client"),
            format!(
                "{:.2}, {nodes}, {broker}, {:.2} (median of {n})",
                deployment.median(|r| r.server_cores),
                deployment.median(|r| r.client_cores)
            ),
        );
    }
}

/// Prints how many `WARN` and `ERROR` lines the servers and workers of the broker deployments
/// logged, and the first few of them.
fn report_problems(problems: &[String]) {
    let errors = problems
        .iter()
        .filter(|line| line.contains(" ERROR "))
        .count();
    report(
        "amqp: WARN / ERROR lines in server and worker logs",
        format!("{} / {errors}", problems.len() - errors),
    );
    for line in problems.iter().take(PROBLEMS_SHOWN) {
        report("", line.clone());
    }
}
