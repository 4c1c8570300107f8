//! A multi-node deployment under test: `nerve server --amqp` and `nerve worker` nodes on a
//! vhost of their own on the RabbitMQ at 127.0.0.1:5672 (user `guest`), all torn down when the
//! guard drops: the nodes, then the server, then the vhost.
//!
//! The broker is the machine's, not the benchmark's: it is neither started nor restarted here,
//! and without it the suite fails with the command that did not work.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use super::server::{Launch, Server};

/// The broker every deployment runs on, without the vhost.
const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672";

/// How long the nodes may take to show up as `alive` on the server.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A vhost on the broker, with all rights for `guest`; deleted when dropped.
#[derive(Debug)]
pub(super) struct Vhost {
    name: String,
    /// `amqp://guest:guest@127.0.0.1:5672/<name>`.
    pub(super) url: String,
}

impl Vhost {
    /// Creates vhost `name` and gives `guest` all rights on it.
    pub(super) fn create(name: &str) -> anyhow::Result<Self> {
        rabbitmqctl(&["add_vhost", name])?;
        // From here the guard deletes the vhost, also when the next step fails.
        let vhost = Self {
            name: name.to_owned(),
            url: format!("{BROKER}/{name}"),
        };
        rabbitmqctl(&["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])?;
        Ok(vhost)
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        if let Err(error) = rabbitmqctl(&["delete_vhost", &self.name]) {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "warning: vhost `{}` is left on the broker: {error:#}",
                self.name
            );
        }
    }
}

/// Runs `rabbitmqctl args`; fails with its output when it does not succeed.
fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    // The broker's own control tool, as an operator would run it.
    #[allow(clippy::disallowed_methods)]
    let output = Command::new("rabbitmqctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context(
            "failed to run `rabbitmqctl`: the `amqp` suite needs RabbitMQ on 127.0.0.1:5672 \
             (install `rabbitmq-server`)",
        )?;
    if !output.status.success() {
        bail!(
            "`rabbitmqctl {}` failed ({}): RabbitMQ must run on 127.0.0.1:5672 (start it with \
             `rabbitmq-server -detached`)\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `nerve server --amqp` with `nerve worker` nodes `w1`, `w2`, ... on a fresh vhost.
#[derive(Debug)]
pub(super) struct Cluster {
    /// Declared first: the nodes stop before the server they report to.
    pub(super) workers: Vec<Server>,
    pub(super) server: Server,
    /// Declared last: deleted once no process uses it.
    vhost: Vhost,
}

impl Cluster {
    /// Creates vhost `vhost`, starts the server and `workers` worker nodes on it, and waits until
    /// the server lists every node as `alive`.
    pub(super) async fn start(
        launch: &Launch,
        vhost: &str,
        workers: usize,
    ) -> anyhow::Result<Self> {
        let vhost = Vhost::create(vhost)?;
        let server = Server::spawn(
            launch,
            &["server", "--listen", "127.0.0.1:0", "--amqp", &vhost.url],
        )?;
        let mut nodes = Vec::new();
        for n in 1..=workers {
            let name = format!("w{n}");
            let node = Server::spawn(
                launch,
                &[
                    "worker",
                    "--amqp",
                    &vhost.url,
                    "--server",
                    &server.url,
                    "--token",
                    &server.token,
                    "--name",
                    &name,
                ],
            )?;
            nodes.push(node);
        }
        let cluster = Self {
            workers: nodes,
            server,
            vhost,
        };
        cluster.wait_for_nodes().await.with_context(|| {
            format!(
                "the worker nodes did not join on vhost `{}`; the logs end with:\n{}",
                cluster.vhost.name,
                cluster.log_tails()
            )
        })?;
        Ok(cluster)
    }

    /// Polls `GET /nodes` until every worker is listed `alive`.
    async fn wait_for_nodes(&self) -> anyhow::Result<()> {
        let api = self.server.api()?;
        let deadline = Instant::now() + JOIN_TIMEOUT;
        loop {
            let nodes = api.get_json("/nodes").await?;
            let alive = nodes
                .as_array()
                .map(|nodes| {
                    nodes
                        .iter()
                        .filter(|node| node.get("state").and_then(Value::as_str) == Some("alive"))
                        .count()
                })
                .unwrap_or_default();
            if alive >= self.workers.len() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{alive} of {} nodes alive after {JOIN_TIMEOUT:?}: {nodes}",
                    self.workers.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The pids of the worker nodes.
    pub(super) fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Server::pid).collect()
    }

    /// The last lines of every process's log, for error messages.
    pub(super) fn log_tails(&self) -> String {
        let mut text = format!("--- server\n{}", self.server.log_tail());
        for (n, worker) in self.workers.iter().enumerate() {
            text.push_str(&format!("\n--- worker w{}\n{}", n + 1, worker.log_tail()));
        }
        text
    }

    /// The log lines of every process at level `WARN` or `ERROR`, each prefixed with the
    /// process's name.
    pub(super) fn log_problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .server
            .log_problems()
            .into_iter()
            .map(|line| format!("server: {line}"))
            .collect();
        for (n, worker) in self.workers.iter().enumerate() {
            problems.extend(
                worker
                    .log_problems()
                    .into_iter()
                    .map(|line| format!("w{}: {line}", n + 1)),
            );
        }
        problems
    }
}

/// The broker's process (the Erlang VM started with `-s rabbit boot`, not the short-lived VMs
/// of `rabbitmqctl`), for its CPU figure; `None` when it is not visible here.
pub(super) fn broker_pid() -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let args: Vec<&[u8]> = cmdline.split(|&byte| byte == 0).collect();
                args.first()
                    .is_some_and(|program| program.ends_with(b"/beam.smp"))
                    && args
                        .windows(2)
                        .any(|pair| pair == [b"-s".as_slice(), b"rabbit".as_slice()])
            })
        })
}
