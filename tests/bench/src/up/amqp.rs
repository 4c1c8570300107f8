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
//! The CPU of every process is reported too, in cores and in µs per event: on a small box the
//! server, the workers, the broker and this program share the cores, so the rates are only as
//! good as that share, while the cost per event holds whatever the share.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;

use super::bus_ceiling;
use super::cluster::{Cluster, Vhost, broker_pid};
use super::server::{Launch, Server};
use super::throughput::{self, Round};
use super::{LaunchArgs, latency};
use crate::{median, report};

/// The `amqp` suite's target: webhook events recorded as `core.noop` executions per second
/// through the broker with one worker.
const TARGET_EVENTS_PER_SECOND: f64 = 5_000.0;

/// Distinct `WARN` or `ERROR` log lines printed at most (all are counted).
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
    report_ceiling(args, runtime, &vhost())?;

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
    latency::report_samples("amqp", &samples, Some("server + 1 worker"));
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
    // Each process's CPU in cores and in µs per event: the first says how the cores were
    // shared, the second what an event costs whatever the share.
    let cpu = |deployment: &Deployment, name: &str, cores: &dyn Fn(&Round) -> f64| {
        let per_event = deployment.median(|r| 1e6 * cores(r) * r.wall_seconds / args.events as f64);
        format!("{name} {:.2} ({per_event:.0})", deployment.median(cores))
    };
    report(
        "amqp: CPU in-process, cores (µs per event)",
        format!(
            "{}, {} (median of {n})",
            cpu(in_process, "server", &|r| r.server_cores),
            cpu(in_process, "client", &|r| r.client_cores)
        ),
    );
    for (workers, label, deployment) in [(1, "1 worker", one), (2, "2 workers", two)] {
        let mut processes = vec![cpu(deployment, "server", &|r| r.server_cores)];
        for index in 0..workers {
            let name = format!("w{}", index + 1);
            processes.push(cpu(deployment, &name, &|r| r.others_cores[index]));
        }
        if with_broker {
            processes.push(cpu(deployment, "broker", &|r| r.others_cores[workers]));
        }
        processes.push(cpu(deployment, "client", &|r| r.client_cores));
        report(
            &format!("amqp: CPU with {label}, cores (µs per event)"),
            format!("{} (median of {n})", processes.join(", ")),
        );
    }
}

/// The broker's own ceiling for this traffic (see [`bus_ceiling`]), next to the target.
fn report_ceiling(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    vhost_name: &str,
) -> anyhow::Result<()> {
    let vhost = Vhost::create(vhost_name)?;
    let messages = (args.events * 4).max(1_000);
    let mut rates = Vec::new();
    for _ in 0..args.rounds.max(1) {
        rates.push(runtime.block_on(bus_ceiling::messages_per_second(
            &vhost,
            messages,
            args.concurrency,
        ))?);
    }
    let rate = median(rates);
    report(
        "amqp: bus alone (no store, no engine), messages/s",
        format!(
            "{rate:.0} (median of {}; {messages} persistent confirmed messages through a quorum \
             queue, consumed and acked, {} publishes in flight)",
            args.rounds.max(1),
            args.concurrency
        ),
    );
    let ceiling = rate / bus_ceiling::MESSAGES_PER_EVENT;
    report(
        "amqp: broker ceiling, events/s",
        format!(
            "{ceiling:.0} (bus rate / {:.0} messages per event; target {TARGET_EVENTS_PER_SECOND:.0})",
            bus_ceiling::MESSAGES_PER_EVENT
        ),
    );
    Ok(())
}

/// Prints how many `WARN` and `ERROR` lines the servers and workers of the broker deployments
/// logged, then the most frequent of them, each once with its count.
fn report_problems(problems: &[String]) {
    let errors = problems
        .iter()
        .filter(|line| line.contains(" ERROR "))
        .count();
    report(
        "amqp: WARN / ERROR lines in server and worker logs",
        format!("{} / {errors}", problems.len() - errors),
    );
    // `<process>: <timestamp> <LEVEL> <target>: <message>`, counted without the timestamp.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in problems {
        let mut words = line.split_whitespace();
        let process = words.next().unwrap_or_default();
        let _timestamp = words.next();
        let rest: Vec<&str> = words.collect();
        *counts
            .entry(format!("{process} {}", rest.join(" ")))
            .or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (line, count) in counts.iter().take(PROBLEMS_SHOWN) {
        report("", format!("{count} × {line}"));
    }
}
