//! Sensors end to end: the real server runs sensor processes that fire rules.

use std::collections::BTreeSet;
use std::path::Path;

use nerve_test_harness::{NerveServer, fixture};
use serde_json::{Value, json};

use crate::api::{Api, binary, wait_until};

/// The `count` payloads of every recorded `st2_sensor.counter` event.
async fn counts(api: &Api) -> Vec<i64> {
    api.get("/triggerinstances?trigger=st2_sensor.counter&limit=1000")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|ti| ti["payload"]["count"].as_i64())
        .collect()
}

async fn noop_executions(api: &Api) -> usize {
    api.get("/executions?action=core.noop&limit=1000")
        .await
        .as_array()
        .unwrap()
        .len()
}

fn distinct(counts: &[i64]) -> bool {
    counts.iter().collect::<BTreeSet<_>>().len() == counts.len()
}

#[tokio::test]
async fn stackstorm_python_sensor_fires_a_rule_and_its_kv_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    api.install_pack(&fixture("packs/st2_sensor")).await;

    wait_until(
        "the sensor's events ran the rule's action twice",
        || async { counts(&api).await.len() >= 2 && noop_executions(&api).await >= 2 },
    )
    .await;
    let key = api.get("/keys/st2_sensor.CounterSensor:count").await;
    assert!(key["value"].as_str().unwrap().parse::<i64>().unwrap() >= 2);

    // A sensor restart: the count goes on from the datastore.
    let before = counts(&api).await.into_iter().max().unwrap();
    let response = api
        .post("/sensortypes/st2_sensor.CounterSensor/restart", json!({}))
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    wait_until("counting on after the sensor restart", || async {
        counts(&api).await.into_iter().max().unwrap() > before + 1
    })
    .await;
    let sensor = api.get("/sensortypes/st2_sensor.CounterSensor").await;
    assert_eq!(sensor["status"]["restarts"], json!(1), "{sensor}");

    // A host restart: the same.
    let before = counts(&api).await.into_iter().max().unwrap();
    server.stop();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    wait_until("counting on after the host restart", || async {
        counts(&api).await.into_iter().max().unwrap() > before + 1
    })
    .await;
    let all = counts(&api).await;
    assert!(
        distinct(&all),
        "no count was dispatched twice (the kv was never lost): {all:?}"
    );
    assert!(
        server.logs().contains("st2_sensor.CounterSensor"),
        "the sensor's log reaches Nerve's"
    );
}

fn received(data_dir: &Path) -> Vec<Value> {
    let log = data_dir.join("packs/sensor_triggers/sensors/received.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn pids(data_dir: &Path) -> usize {
    let log = data_dir.join("packs/sensor_triggers/sensors/received.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("pid "))
        .count()
}

fn rule(name: &str, path: &str) -> Value {
    json!({
        "name": name,
        "pack": "sensor_triggers",
        "enabled": true,
        "trigger": {"type": "sensor_triggers.watch", "parameters": {"path": path}},
        "action": {"ref": "core.noop"},
    })
}

#[tokio::test]
async fn rule_changes_reach_the_one_running_sensor_as_trigger_messages() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    api.install_pack(&fixture("packs/sensor_triggers")).await;
    let data = dir.path();

    let kinds = |messages: &[Value]| -> Vec<(String, String)> {
        messages
            .iter()
            .map(|m| {
                (
                    m["type"].as_str().unwrap().to_owned(),
                    m["trigger"]["parameters"]["path"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };

    // No rule uses the sensor's trigger type: it does not run.
    assert_eq!(pids(data), 0);
    let response = api.post("/rules", rule("keep", "/zero")).await;
    assert!(response.status().is_success(), "{}", response.status());
    wait_until("add_trigger /zero", || async { received(data).len() == 1 }).await;

    assert!(
        api.post("/rules", rule("r1", "/a"))
            .await
            .status()
            .is_success()
    );
    wait_until("add_trigger /a", || async { received(data).len() == 2 }).await;
    assert!(
        api.post("/rules", rule("r1", "/b"))
            .await
            .status()
            .is_success()
    );
    wait_until("update_trigger /b", || async { received(data).len() == 3 }).await;
    api.delete("/rules/sensor_triggers.r1").await;
    wait_until("remove_trigger /b", || async { received(data).len() == 4 }).await;

    let messages = received(data);
    assert_eq!(
        kinds(&messages),
        [
            ("add_trigger".into(), "/zero".into()),
            ("add_trigger".into(), "/a".into()),
            ("update_trigger".into(), "/b".into()),
            ("remove_trigger".into(), "/b".into()),
        ]
    );
    assert_eq!(
        messages[1]["trigger"]["id"], messages[2]["trigger"]["id"],
        "the update is of the same trigger"
    );
    assert_eq!(pids(data), 1, "one process received all of it");

    // The last rule goes: the sensor stops.
    api.delete("/rules/sensor_triggers.keep").await;
    wait_until("the sensor stopped", || async {
        api.get("/sensortypes/sensor_triggers.Recorder").await["status"]["state"]
            != json!("running")
    })
    .await;
    drop(server);
}

/// Paths of every recorded `fs.file_watch` event.
async fn watched_paths(api: &Api, incoming: &Path) -> Vec<String> {
    let trigger = format!(
        "fs.file_watch?{}",
        json!({"glob": "*.csv", "path": incoming.display().to_string()})
    );
    let url = format!(
        "/triggerinstances?limit=1000&trigger={}",
        urlencode(&trigger)
    );
    api.get(&url)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|ti| ti["payload"]["event"] == "created")
        .map(|ti| ti["payload"]["path"].as_str().unwrap().to_owned())
        .collect()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Waits until the file_watch sensor saved its starting snapshot (files from then on count).
async fn wait_for_watch_baseline(api: &Api) {
    wait_until("the file_watch sensor's baseline", || async {
        !api.get("/keys?prefix=fs.FileWatchSensor:seen")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
}

#[tokio::test]
async fn files_each_produce_one_event_including_those_created_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let incoming = dir.path().join("incoming");
    std::fs::create_dir(&incoming).unwrap();
    let server = NerveServer::start(&binary(), &dir.path().join("data"));
    let api = Api::new(&server);
    let rule = json!({
        "name": "on_csv",
        "pack": "default",
        "enabled": true,
        "trigger": {"type": "fs.file_watch", "parameters": {"path": incoming.display().to_string(), "glob": "*.csv"}},
        "action": {"ref": "core.noop"},
    });
    assert!(api.post("/rules", rule).await.status().is_success());
    wait_for_watch_baseline(&api).await;

    for i in 0..100 {
        std::fs::write(incoming.join(format!("burst-{i:03}.csv")), "a,b\n").unwrap();
    }
    std::fs::write(incoming.join("ignored.txt"), "not a csv").unwrap();
    wait_until("100 created events", || async {
        watched_paths(&api, &incoming).await.len() >= 100
    })
    .await;

    server.stop();
    for i in 0..20 {
        std::fs::write(incoming.join(format!("while-down-{i:02}.csv")), "c\n").unwrap();
    }
    let server = NerveServer::start(&binary(), &dir.path().join("data"));
    let api = Api::new(&server);
    wait_until("the 20 files created while down", || async {
        watched_paths(&api, &incoming).await.len() >= 120
    })
    .await;
    wait_until("their rule's executions", || async {
        noop_executions(&api).await >= 120
    })
    .await;
    let paths = watched_paths(&api, &incoming).await;
    let unique: BTreeSet<&String> = paths.iter().collect();
    assert_eq!(unique.len(), 120, "{paths:?}");
    assert_eq!(paths.len(), 120, "each file exactly once");
    assert!(!paths.iter().any(|p| p.ends_with(".txt")));
    let sensor = api.get("/sensortypes/fs.FileWatchSensor").await;
    assert_eq!(sensor["status"]["state"], json!("running"), "{sensor}");
}
