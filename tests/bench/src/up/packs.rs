//! Edit-to-live times of hot reload: `nerve up --dev PACK`, then a file of the pack is saved and
//! the clock runs until the change is in force, seen from outside through the API:
//!
//! - action: the script is saved; live when the pack's content hash changed (the install is
//!   registered, so the next run runs the new script) and a run prints the new output;
//! - sensor: the sensor script is saved; live when the restarted sensor's first dispatch (it
//!   carries the new version) is recorded;
//! - rule: a new rule file with a new webhook url is saved; live when the webhook is accepted.
//!
//! The sensor exits on `shutdown` as the protocol asks; one that ignores it adds the host's
//! shutdown grace to its restart.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Args;
use super::server::{Api, Launch, Server};
use crate::{median, report};

const POLL: Duration = Duration::from_millis(5);
const DEADLINE: Duration = Duration::from_secs(30);

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    // Saved the way editors do: a new file renamed over the old one.
    let temp = path.with_extension("saving");
    std::fs::write(&temp, text)?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&temp, path).with_context(|| format!("failed to save `{}`", path.display()))
}

fn sensor_script(version: usize) -> String {
    format!(
        "read hello\necho '{{\"type\":\"ready\",\"protocol\":1}}'\nread trigger\n\
         echo '{{\"type\":\"dispatch\",\"trigger\":\"bench_live.started\",\"payload\":{{\"version\":{version}}}}}'\n\
         while read line; do case \"$line\" in *'\"shutdown\"'*) exit 0 ;; esac; done\n"
    )
}

fn rule(name: &str, url: &str) -> String {
    format!(
        "name: {name}\npack: bench_live\nenabled: true\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: {url}\naction:\n  ref: core.noop\n"
    )
}

/// Writes the bench pack: an action, a shell sensor (with the rule that makes it run), a rule.
fn write_pack(dir: &Path) -> anyhow::Result<()> {
    for sub in ["actions", "sensors", "rules"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(
        dir.join("pack.yaml"),
        "ref: bench_live\nname: bench_live\nversion: 1.0.0\nauthor: nerve-bench\ndescription: Hot reload benchmark.\n",
    )?;
    std::fs::write(
        dir.join("actions/say.yaml"),
        "name: say\nrunner_type: local-shell-script\nentry_point: say.sh\n",
    )?;
    write(&dir.join("actions/say.sh"), "#!/bin/sh\necho 0\n")?;
    std::fs::write(
        dir.join("sensors/started.yaml"),
        "class_name: Started\nentry_point: started.sh\nruntime: shell\ntrigger_types:\n  - name: started\n    payload_schema: {type: object, properties: {version: {type: integer}}, required: [version]}\n",
    )?;
    write(&dir.join("sensors/started.sh"), &sensor_script(0))?;
    std::fs::write(
        dir.join("rules/on_started.yaml"),
        "name: on_started\npack: bench_live\nenabled: true\ntrigger:\n  type: bench_live.started\ncriteria:\n  trigger.version:\n    type: lt\n    pattern: 0\naction:\n  ref: core.noop\n",
    )?;
    std::fs::write(dir.join("rules/hook_0.yaml"), rule("hook_0", "live_0"))?;
    Ok(())
}

async fn until(
    what: &str,
    mut done: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    while !done().await? {
        if Instant::now() > deadline {
            bail!("timed out waiting until {what}");
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(())
}

async fn content_hash(api: &Api) -> anyhow::Result<String> {
    Ok(api.get_json("/packs/bench_live").await?["content_hash"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn sensor_started(api: &Api, version: usize) -> anyhow::Result<bool> {
    let instances: Value = api
        .get_json("/triggerinstances?trigger=bench_live.started&limit=20")
        .await?;
    Ok(instances.as_array().is_some_and(|all| {
        all.iter()
            .any(|ti| ti["payload"]["version"] == json!(version))
    }))
}

/// Runs the edit-to-live rounds and prints the medians and the worst case, in ms.
pub(super) fn run(
    launch: &Launch,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let work = tempfile::tempdir().context("failed to create a temporary directory")?;
    let pack = work.path().join("bench_live");
    write_pack(&pack)?;
    let server = Server::start(launch, &["--dev", &pack.display().to_string()])?;
    let api = server.api()?;
    let rounds = args.reload_rounds.max(1);
    let (mut action, mut sensor, mut rules) = (Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        until("the sensor runs", async || sensor_started(&api, 0).await).await?;
        for round in 1..=rounds {
            // Action.
            let before = content_hash(&api).await?;
            let started = Instant::now();
            write(
                &pack.join("actions/say.sh"),
                &format!("#!/bin/sh\necho {round}\n"),
            )?;
            until("the action edit is live", async || {
                Ok(content_hash(&api).await? != before)
            })
            .await?;
            action.push(started.elapsed().as_secs_f64() * 1e3);
            let body = json!({"action": "bench_live.say", "parameters": {}});
            api.post_json("/executions", &body, StatusCode::CREATED)
                .await?;

            // Sensor.
            let started = Instant::now();
            write(&pack.join("sensors/started.sh"), &sensor_script(round))?;
            until("the edited sensor dispatches", async || {
                sensor_started(&api, round).await
            })
            .await?;
            sensor.push(started.elapsed().as_secs_f64() * 1e3);

            // Rule.
            let url = format!("live_{round}");
            let started = Instant::now();
            std::fs::write(
                pack.join(format!("rules/hook_{round}.yaml")),
                rule(&format!("hook_{round}"), &url),
            )?;
            until("the new rule is live", async || {
                Ok(api
                    .post_json(
                        &format!("/webhooks/{url}"),
                        &json!({}),
                        StatusCode::ACCEPTED,
                    )
                    .await
                    .is_ok())
            })
            .await?;
            rules.push(started.elapsed().as_secs_f64() * 1e3);
        }
        anyhow::Ok(())
    })?;
    for (name, samples) in [("action", action), ("sensor", sensor), ("rule", rules)] {
        let worst = samples.iter().copied().fold(0.0, f64::max);
        report(
            &format!("packs: edit -> live, {name} (p50 / max of {rounds})"),
            format!(
                "{:.0} ms / {worst:.0} ms (target p50 < 300 ms, max < 1 s)",
                median(samples)
            ),
        );
    }
    Ok(())
}
