//! Sensor figures: dispatch → trigger instance recorded throughput from one sensor process, and
//! the time from a sensor's crash (SIGKILL) to its replacement answering `ready`.
//!
//! The sensor is a POSIX shell script that writes pre-generated `dispatch` lines as fast as the
//! host reads them, so the figure is the host's and the store's, not the sensor's. The rule on
//! its trigger type never matches (no executions), so the figure is events recorded and
//! evaluated, which is what the target is about.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Args;
use super::server::{Api, Launch, Server};
use crate::{median, report};

const SENSOR: &str = "bench_sensor.Flood";

/// Writes the bench pack (sensor, trigger type, `events` dispatch lines) under `dir`.
fn write_pack(dir: &Path, events: usize) -> anyhow::Result<()> {
    let sensors = dir.join("sensors");
    std::fs::create_dir_all(&sensors)?;
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: bench_sensor\nname: bench_sensor\nversion: 1.0.0\nauthor: nerve-bench\ndescription: Sensor benchmark.\n",
    )?;
    std::fs::write(
        sensors.join("flood.yaml"),
        "class_name: Flood\nentry_point: flood.sh\nruntime: shell\ntrigger_types:\n  - name: event\n    payload_schema: {type: object, properties: {n: {type: integer}}, required: [n]}\n",
    )?;
    // After ready, the host sends the shadow trigger; once it is read, the flood starts.
    std::fs::write(
        sensors.join("flood.sh"),
        "read hello\necho '{\"type\":\"ready\",\"protocol\":1}'\nread trigger\ncat events.ndjson\nwhile read line; do :; done\n",
    )?;
    let mut lines = String::with_capacity(events * 64);
    for n in 0..events {
        lines.push_str(&format!(
            "{{\"type\":\"dispatch\",\"trigger\":\"bench_sensor.event\",\"payload\":{{\"n\":{n}}}}}\n"
        ));
    }
    std::fs::write(sensors.join("events.ndjson"), lines)?;
    Ok(())
}

async fn status(api: &Api) -> anyhow::Result<Value> {
    Ok(api.get_json(&format!("/sensortypes/{SENSOR}")).await?["status"].clone())
}

/// Installs the pack and the never-matching rule that makes the sensor run.
async fn start_sensor(api: &Api, pack: &Path) -> anyhow::Result<()> {
    api.post_json(
        "/packs/register",
        &json!({"path": pack.display().to_string()}),
        StatusCode::OK,
    )
    .await?;
    let rule = json!({
        "name": "never", "pack": "bench_sensor", "enabled": true,
        "trigger": {"type": "bench_sensor.event"},
        "criteria": {"trigger.n": {"type": "lt", "pattern": 0}},
        "action": {"ref": "core.noop"},
    });
    api.post_json("/rules", &rule, StatusCode::CREATED).await?;
    Ok(())
}

/// One round: events/s from the first recorded dispatch to the last.
async fn throughput_round(server: &Server, pack: &Path, events: usize) -> anyhow::Result<f64> {
    let api = server.api()?;
    start_sensor(&api, pack).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<(Instant, u64)> = None;
    loop {
        let dispatched = status(&api).await?["dispatched"].as_u64().unwrap_or(0);
        let now = Instant::now();
        if dispatched > 0 && first.is_none() {
            first = Some((now, dispatched));
        }
        if dispatched as usize >= events {
            let (start, at_start) = first.unwrap_or((now, 0));
            let elapsed = now.duration_since(start).as_secs_f64().max(1e-3);
            return Ok((dispatched - at_start) as f64 / elapsed);
        }
        if now > deadline {
            bail!(
                "only {dispatched} of {events} dispatches recorded; the log ends with:\n{}",
                server.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One round: SIGKILL the sensor, time until a new process answered `ready`.
async fn crash_round(server: &Server, pack: &Path) -> anyhow::Result<Duration> {
    let api = server.api()?;
    start_sensor(&api, pack).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let old_pid = loop {
        let status = status(&api).await?;
        if status["state"] == "running"
            && let Some(pid) = status["pid"].as_u64()
        {
            break pid;
        }
        if Instant::now() > deadline {
            bail!("the sensor never ran: {status}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let killed = Instant::now();
    // SIGKILL the sensor process, as a crash would.
    #[allow(clippy::disallowed_methods)]
    std::process::Command::new("kill")
        .args(["-KILL", &old_pid.to_string()])
        .status()
        .context("failed to run `kill`")?;
    loop {
        let status = status(&api).await?;
        if status["state"] == "running" && status["pid"].as_u64().is_some_and(|p| p != old_pid) {
            return Ok(killed.elapsed());
        }
        if Instant::now() > deadline {
            bail!("the sensor did not come back: {status}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub(super) fn run(
    launch: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir().context("failed to create a scratch dir")?;
    let flood = scratch.path().join("flood");
    write_pack(&flood, args.sensor_events)?;
    let idle = scratch.path().join("idle");
    write_pack(&idle, 0)?;

    let mut rates = Vec::new();
    let mut restarts = Vec::new();
    for _ in 0..args.rounds {
        let server = Server::start(launch, &[])?;
        rates.push(runtime.block_on(throughput_round(&server, &flood, args.sensor_events))?);
        drop(server);
        let server = Server::start(launch, &[])?;
        restarts.push(runtime.block_on(crash_round(&server, &idle))?.as_secs_f64() * 1000.0);
    }
    report(
        &format!(
            "sensor dispatch -> trigger instance ({} events, 1 sensor)",
            args.sensor_events
        ),
        format!("{:.0} events/s (target >= 20,000)", median(rates)),
    );
    report(
        "sensor SIGKILL -> new process ready",
        format!(
            "{:.1} ms (first restart of a crash series is immediate)",
            median(restarts)
        ),
    );
    Ok(())
}
