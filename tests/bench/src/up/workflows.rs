//! Workflow figures: with-items throughput (items/s for 1,000 `core.noop` items, ten at a
//! time) and the orchestration overhead per task of a sequential orquesta workflow.
//!
//! A fresh `nerve up` per round gets a generated pack `benchwf` (registered over the API):
//! `benchwf.items` runs `core.noop` once per item, and `benchwf.sequence` is a chain of
//! `core.noop` tasks, each started by the previous one's `next`. The items rate is the items
//! over the workflow's life (its `running` to its end timestamp, as recorded by the server).
//! The overhead per task is, for each task after the first, the time from the previous task's
//! end to this task's `running`: what the workflow engine and the scheduler add between two
//! tasks, nothing of the task itself.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::server::{Server, log_time, seconds_between, time_field};
use super::{percentile, range};
use crate::{median, report};

/// Sizes of the `workflows` suite.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    launch: super::LaunchArgs,
    /// Rounds, each on a fresh server; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Items of the with-items workflow (target: ≥ 500 items/s).
    #[arg(long, default_value_t = 1_000)]
    items: usize,
    /// Items run at once (the task's `with.concurrency`).
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Tasks of the sequential workflow (target: overhead per task p50 < 2 ms).
    #[arg(long, default_value_t = 100)]
    tasks: usize,
}

/// How long one workflow may take.
const WORKFLOW_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let launch = super::launch(&args.launch)?;
    super::report_machine("workflows", &launch);
    let runtime = super::async_runtime()?;
    let pack = tempfile::tempdir().context("failed to create the bench pack's directory")?;
    write_pack(pack.path(), args.tasks)?;
    let mut rates = Vec::new();
    let mut overheads = Vec::new();
    let mut p99s = Vec::new();
    for _ in 0..args.rounds.max(1) {
        let server = Server::start(&launch, &[])?;
        let (rate, gaps) = runtime
            .block_on(round(&server, pack.path(), args))
            .with_context(|| {
                format!(
                    "workflow round failed; the server log ends with:\n{}",
                    server.log_tail()
                )
            })?;
        rates.push(rate);
        overheads.push(percentile(&gaps, 0.5));
        p99s.push(percentile(&gaps, 0.99));
    }
    let n = rates.len();
    let (low, high) = range(&rates);
    report(
        "workflows: with-items core.noop items/s",
        format!(
            "{:.0} (median of {n}, min {low:.0}, max {high:.0}; {} items, {} at a time; target ≥ 500)",
            median(rates.clone()),
            args.items,
            args.concurrency
        ),
    );
    report(
        "workflows: orchestration overhead per task, ms p50 / p99",
        format!(
            "{:.2} / {:.2} (medians of {n} rounds; {} sequential core.noop tasks; target p50 < 2)",
            median(overheads),
            median(p99s),
            args.tasks
        ),
    );
    Ok(())
}

/// The pack: `items` (with-items over `count` items, `concurrency` at a time) and `sequence`
/// (`tasks` tasks one after the other).
fn write_pack(dir: &Path, tasks: usize) -> anyhow::Result<()> {
    let actions = dir.join("actions");
    let workflows = actions.join("workflows");
    std::fs::create_dir_all(&workflows)?;
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: benchwf\nname: benchwf\ndescription: Workflow benchmark pack.\nversion: 1.0.0\nauthor: nerve-bench\n",
    )?;
    std::fs::write(
        actions.join("items.yaml"),
        "name: items\nrunner_type: orquesta\nentry_point: workflows/items.yaml\nenabled: true\n\
         parameters:\n  count:\n    type: integer\n    required: true\n  concurrency:\n    type: integer\n    required: true\n",
    )?;
    std::fs::write(
        workflows.join("items.yaml"),
        "version: 1.0\ninput:\n  - count\n  - concurrency\ntasks:\n  each:\n    with:\n      items: \"{{ range(ctx().count) | list }}\"\n      concurrency: \"{{ ctx().concurrency }}\"\n    action: core.noop\n",
    )?;
    std::fs::write(
        actions.join("sequence.yaml"),
        "name: sequence\nrunner_type: orquesta\nentry_point: workflows/sequence.yaml\nenabled: true\n",
    )?;
    let mut sequence = String::from("version: 1.0\ntasks:\n");
    for task in 0..tasks {
        let _ = writeln!(sequence, "  t{task}:\n    action: core.noop");
        if task + 1 < tasks {
            let _ = writeln!(sequence, "    next:\n      - do: t{}", task + 1);
        }
    }
    std::fs::write(workflows.join("sequence.yaml"), sequence)?;
    Ok(())
}

/// One round: items/s of the with-items workflow and the per-task gaps (ms) of the sequence.
async fn round(server: &Server, pack: &Path, args: &Args) -> anyhow::Result<(f64, Vec<f64>)> {
    let api = server.api()?;
    api.post_json(
        "/packs/register",
        &json!({"path": pack.display().to_string()}),
        StatusCode::OK,
    )
    .await?;
    // Warm-up: the first workflow of a process pays for compiling its definition.
    run_workflow(
        &api,
        "benchwf.items",
        json!({"count": 10, "concurrency": 10}),
    )
    .await?;

    let items = run_workflow(
        &api,
        "benchwf.items",
        json!({"count": args.items, "concurrency": args.concurrency}),
    )
    .await?;
    let started = log_time(&items, "running")?;
    let ended = time_field(&items, "end_timestamp")?;
    let rate = args.items as f64 / seconds_between(started, ended);

    let sequence = run_workflow(&api, "benchwf.sequence", json!({})).await?;
    let children = sequence["children"]
        .as_array()
        .context("the sequence workflow has no children list")?;
    anyhow::ensure!(
        children.len() == args.tasks,
        "the sequence ran {} tasks, not {}",
        children.len(),
        args.tasks
    );
    let mut tasks = Vec::new();
    for child in children {
        let id = child.as_str().context("a child id is not a string")?;
        tasks.push(api.get_json(&format!("/executions/{id}")).await?);
    }
    let mut gaps = Vec::new();
    for pair in tasks.windows(2) {
        let previous_end = time_field(&pair[0], "end_timestamp")?;
        let next_running = log_time(&pair[1], "running")?;
        gaps.push(1e3 * seconds_between(previous_end, next_running));
    }
    Ok((rate, gaps))
}

/// Runs `action` and waits (polling) for its final status; the execution must succeed.
async fn run_workflow(
    api: &super::server::Api,
    action: &str,
    parameters: Value,
) -> anyhow::Result<Value> {
    let created = api
        .post_json(
            "/executions",
            &json!({"action": action, "parameters": parameters}),
            StatusCode::CREATED,
        )
        .await?;
    let id = created["id"]
        .as_str()
        .context("the new execution has no id")?
        .to_owned();
    let deadline = Instant::now() + WORKFLOW_TIMEOUT;
    loop {
        let execution = api.get_json(&format!("/executions/{id}")).await?;
        match execution["status"].as_str() {
            Some("succeeded") => return Ok(execution),
            Some("failed" | "canceled" | "timeout" | "abandoned") => {
                anyhow::bail!("{action} ended {}: {execution:#}", execution["status"])
            }
            _ => {}
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{action} did not finish within {WORKFLOW_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
