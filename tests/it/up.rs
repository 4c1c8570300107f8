//! `nerve up` end to end: the real binary, its API, and a SIGKILL in the middle of a stream of
//! events.

use std::collections::HashMap;

use nerve_test_harness::NerveServer;
use serde_json::{Value, json};

use crate::api::{Api, binary, wait_until};

#[tokio::test]
async fn up_runs_an_action_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    let response = api
        .post(
            "/executions",
            json!({"action": "core.local", "parameters": {"cmd": "echo hi"}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until("the execution finishes", || async {
        api.get(&format!("/executions/{id}")).await["status"] == "succeeded"
    })
    .await;
    let execution = api.get(&format!("/executions/{id}")).await;
    assert_eq!(execution["result"]["stdout"], "hi");
    let unauthenticated = reqwest::get(format!("{}/api/v1/executions", server.url))
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

/// Events stream in through a webhook; the server is SIGKILLed mid-stream and restarted. Every
/// event the API accepted (202) produced exactly one execution: none lost, none doubled.
#[tokio::test]
async fn sigkill_mid_stream_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    let rule = json!({
        "name": "durable", "pack": "tests", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "durable"}},
        "action": {"ref": "core.noop"}
    });
    let response = api.post("/rules", rule).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );

    // Post events from a task; kill the server once enough were accepted.
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let poster = {
        let http = api.http.clone();
        let url = format!("{}/api/v1/webhooks/durable", api.url);
        let token = api.token.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            for n in 0..2_000u32 {
                let sent = http
                    .post(&url)
                    .header("X-Auth-Token", &token)
                    .json(&json!({"n": n}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 202 => {
                        accepted.push(n);
                        progress.store(accepted.len(), std::sync::atomic::Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
            accepted
        })
    };
    wait_until("a hundred events are accepted", || async {
        progress.load(std::sync::atomic::Ordering::SeqCst) >= 100
    })
    .await;
    server.kill();
    let accepted = poster.await.unwrap();
    assert!(
        accepted.len() >= 100 && accepted.len() < 2_000,
        "{} accepted: the kill must land mid-stream",
        accepted.len()
    );

    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    // Every accepted event must end up with exactly one finished execution.
    let count_by_n = || async {
        let events = api.get("/triggerinstances?limit=1000").await;
        let mut event_n: HashMap<String, u64> = HashMap::new();
        for event in events.as_array().unwrap() {
            if let Some(n) = event["payload"]["body"]["n"].as_u64() {
                event_n.insert(event["id"].as_str().unwrap().to_owned(), n);
            }
        }
        let executions = api.get("/executions?limit=1000&action=core.noop").await;
        let mut per_n: HashMap<u64, Vec<String>> = HashMap::new();
        for execution in executions.as_array().unwrap() {
            let event = execution["context"]["trigger_instance"]
                .as_str()
                .unwrap_or_default();
            if let Some(n) = event_n.get(event) {
                per_n
                    .entry(*n)
                    .or_default()
                    .push(execution["status"].as_str().unwrap_or_default().to_owned());
            }
        }
        per_n
    };
    wait_until("every accepted event has a finished execution", || async {
        let per_n = count_by_n().await;
        accepted.iter().all(|n| {
            per_n.get(&u64::from(*n)).is_some_and(|statuses| {
                statuses
                    .iter()
                    .all(|s| matches!(s.as_str(), "succeeded" | "abandoned"))
            })
        })
    })
    .await;
    let per_n = count_by_n().await;
    for n in &accepted {
        let executions = &per_n[&u64::from(*n)];
        assert_eq!(executions.len(), 1, "event {n} produced {executions:?}");
    }
    for (n, executions) in &per_n {
        assert_eq!(executions.len(), 1, "event {n} produced {executions:?}");
    }
}

/// A StackStorm python action reads the datastore through the API (`action_service`), and its
/// secret parameter never appears in API output or the server's logs.
#[tokio::test]
async fn python_action_uses_the_datastore_and_secrets_stay_masked() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    let pack = nerve_test_harness::fixture("packs/st2_hello");
    let response = api.post("/packs/register", json!({"path": pack})).await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let response = api
        .http
        .put(format!("{}/api/v1/keys/st2_hello.LookupAction:k", api.url))
        .header("X-Auth-Token", &api.token)
        .json(&json!({"value": "from-the-datastore"}))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );

    let response = api
        .post("/executions", json!({"action": "st2_hello.lookup", "parameters": {"key": "k", "password": "hunter2-secret"}}))
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["parameters"]["password"], "********");
    let id = created["id"].as_str().unwrap().to_owned();
    wait_until("the python action finishes", || async {
        matches!(
            api.get(&format!("/executions/{id}")).await["status"].as_str(),
            Some("succeeded" | "failed")
        )
    })
    .await;
    let execution = api.get(&format!("/executions/{id}")).await;
    assert_eq!(execution["status"], "succeeded", "{execution:#}");
    assert_eq!(
        execution["result"]["result"],
        json!({"key": "k", "value": "from-the-datastore"})
    );
    assert_eq!(execution["parameters"]["password"], "********");
    let listed = api.get("/executions?limit=10").await;
    assert!(!listed.to_string().contains("hunter2-secret"), "{listed}");
    assert!(
        !server.logs().contains("hunter2-secret"),
        "the secret is in the server log"
    );
}

#[tokio::test]
async fn datastore_writes_fire_key_value_pair_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    let rule = json!({
        "name": "on_value_change",
        "pack": "default",
        "enabled": true,
        "trigger": {"type": "core.st2.key_value_pair.value_change"},
        "criteria": {"trigger.new_object.name": {"type": "equals", "pattern": "watched"}},
        "action": {
            "ref": "core.local",
            "parameters": {"cmd": "echo {{ trigger.old_object.value }}-{{ trigger.new_object.value }}"}
        },
    });
    assert!(api.post("/rules", rule).await.status().is_success());
    let deleted = json!({
        "name": "on_delete",
        "pack": "default",
        "enabled": true,
        "trigger": {"type": "core.st2.key_value_pair.delete"},
        "action": {"ref": "core.local", "parameters": {"cmd": "echo gone {{ trigger.object.name }}"}},
    });
    assert!(api.post("/rules", deleted).await.status().is_success());
    let set = |value: &'static str| {
        let api = &api;
        async move {
            let response = api.put("/keys/watched", json!({"value": value})).await;
            assert!(response.status().is_success());
        }
    };
    set("a").await;
    set("a").await;
    set("b").await;
    api.delete("/keys/watched?scope=system").await;
    let outputs = async || -> Vec<String> {
        let mut outputs: Vec<String> = api
            .get("/executions?action=core.local&status=succeeded")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["result"]["stdout"].as_str().map(str::to_owned))
            .collect();
        outputs.sort();
        outputs
    };
    wait_until("the value change and the delete", || async {
        outputs().await.len() >= 2
    })
    .await;
    assert_eq!(
        outputs().await,
        ["a-b", "gone watched"],
        "the first set created the key, the second changed nothing"
    );
}
