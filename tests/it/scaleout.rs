//! Nerve's roles as separate processes over the RabbitMQ on 127.0.0.1:5672: `nerve server`,
//! `nerve worker` and `nerve sensors` nodes. Each test gets a vhost of its own, so they run in
//! parallel; they fail (not skip) without the broker.
//!
//! The broker-restart test stops the whole broker, so it is named `broker_restart_*` and
//! `scripts/test` runs it alone after everything else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use nerve_test_harness::{NerveServer, RabbitVhost, fixture, rabbitmqctl};
use serde_json::{Value, json};

use crate::api::{Api, binary, wait_until};

/// One deployment: a server and its nodes on one vhost.
struct Cluster {
    vhost: RabbitVhost,
    dir: tempfile::TempDir,
    /// `None` only while it restarts.
    server: Option<NerveServer>,
    api: Api,
}

fn start_server(dir: &Path, vhost: &RabbitVhost, listen: &str) -> NerveServer {
    NerveServer::spawn(
        &binary(),
        &dir.join("server"),
        &[
            "server",
            "--listen",
            listen,
            "--amqp",
            &vhost.url,
            "--heartbeat",
            "0.3",
        ],
    )
}

impl Cluster {
    /// `nerve server` with the `scaleout` pack installed; heartbeats every 300 ms.
    async fn start(test: &str) -> Cluster {
        let vhost = RabbitVhost::new(test);
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = start_server(dir.path(), &vhost, &format!("127.0.0.1:{port}"));
        let api = Api::new(&server);
        api.install_pack(&fixture("packs/scaleout")).await;
        Cluster {
            vhost,
            dir,
            server: Some(server),
            api,
        }
    }

    fn server(&self) -> &NerveServer {
        self.server.as_ref().expect("the server runs")
    }

    /// SIGKILLs the server and starts it again on the same address and data dir.
    fn restart_server(&mut self) {
        let listen = self.server().url.trim_start_matches("http://").to_owned();
        self.server.take().expect("the server runs").kill();
        let server = start_server(self.dir.path(), &self.vhost, &listen);
        self.api = Api::new(&server);
        self.server = Some(server);
    }

    /// A node (`worker` or `sensors`) named `name`, running `pack` (default: the server's
    /// fixture copy) given with `--pack`.
    fn node(&self, role: &str, name: &str, pack: Option<&Path>, extra: &[&str]) -> NerveServer {
        let fixture_pack = fixture("packs/scaleout");
        let pack = pack.unwrap_or(&fixture_pack).to_str().unwrap().to_owned();
        let mut args = vec!["--pack", pack.as_str()];
        args.extend_from_slice(extra);
        self.node_with(role, name, &args)
    }

    /// A node with exactly these extra arguments.
    fn node_with(&self, role: &str, name: &str, extra: &[&str]) -> NerveServer {
        let server = self.server();
        let mut args = vec![
            role,
            "--amqp",
            &self.vhost.url,
            "--server",
            &server.url,
            "--token",
            &server.token,
            "--name",
            name,
            "--heartbeat",
            "0.3",
        ];
        args.extend_from_slice(extra);
        NerveServer::spawn(&binary(), &self.dir.path().join(name), &args)
    }

    async fn executions(&self, action: &str) -> Vec<Value> {
        self.api
            .get(&format!("/executions?action={action}&limit=1000"))
            .await
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until `count` `scaleout.work` executions exist, all finished, and returns them
    /// after checking that no number ran twice.
    async fn all_finished(&self, count: usize) -> Vec<Value> {
        wait_until(&format!("{count} executions finished"), || async {
            let executions = self.executions("scaleout.work").await;
            executions.len() == count && executions.iter().all(is_final)
        })
        .await;
        let executions = self.executions("scaleout.work").await;
        let numbers: BTreeSet<i64> = executions
            .iter()
            .filter_map(|e| e["parameters"]["n"].as_i64())
            .collect();
        assert_eq!(
            numbers.len(),
            count,
            "one execution per event, none doubled"
        );
        executions
    }

    /// Runs `scaleout.work` with `n` and no pause through the API; returns the execution id.
    async fn run_work(&self, n: u64) -> String {
        let response = self
            .api
            .post(
                "/executions",
                json!({"action": "scaleout.work", "parameters": {"n": n, "pause": 0}}),
            )
            .await;
        assert!(response.status().is_success(), "{}", response.status());
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn nodes(&self) -> Vec<Value> {
        self.api.get("/nodes").await.as_array().unwrap().clone()
    }

    async fn webhook(&self, n: u64, pause: f64) {
        let response = self
            .api
            .post("/webhooks/scaleout", json!({"n": n, "pause": pause}))
            .await;
        assert!(response.status().is_success(), "{}", response.status());
    }
}

fn status_of(execution: &Value) -> &str {
    execution["status"].as_str().unwrap_or_default()
}

fn is_final(execution: &Value) -> bool {
    matches!(
        status_of(execution),
        "succeeded" | "failed" | "timeout" | "canceled" | "abandoned"
    )
}

fn count_by<'a>(executions: &'a [Value], field: &str) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for execution in executions {
        *counts
            .entry(execution[field].as_str().unwrap_or("-"))
            .or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn sensor_node_events_fire_rules_on_the_server_and_run_once_on_one_of_two_workers() {
    let cluster = Cluster::start("sensor_workers").await;
    let _w1 = cluster.node("worker", "w1", None, &["--concurrency", "4"]);
    let _w2 = cluster.node("worker", "w2", None, &["--concurrency", "4"]);
    let _s1 = cluster.node("sensors", "s1", None, &[]);

    wait_until("40 sensor events ran their action", || async {
        cluster
            .executions("scaleout.work")
            .await
            .iter()
            .filter(|e| status_of(e) == "succeeded")
            .count()
            >= 40
    })
    .await;
    let executions = cluster.executions("scaleout.work").await;
    let done: Vec<&Value> = executions.iter().filter(|e| is_final(e)).collect();
    for execution in &done {
        assert_eq!(status_of(execution), "succeeded", "{execution}");
        let worker = execution["worker"].as_str().unwrap_or_default();
        assert!(worker == "w1" || worker == "w2", "{execution}");
    }
    let workers = count_by(&executions, "worker");
    assert!(
        workers.contains_key("w1") && workers.contains_key("w2"),
        "both workers share the work: {workers:?}"
    );
    // Once per event: every execution has its own trigger instance, and the sensor's numbers
    // are not doubled.
    let events: BTreeSet<&str> = executions
        .iter()
        .filter_map(|e| e["context"]["trigger_instance"].as_str())
        .collect();
    assert_eq!(events.len(), executions.len(), "one execution per event");
    let numbers: BTreeSet<i64> = executions
        .iter()
        .filter_map(|e| e["parameters"]["n"].as_i64())
        .collect();
    assert_eq!(numbers.len(), executions.len(), "no number ran twice");
    // The output recorded by the server came from the worker.
    let first = done[0]["id"].as_str().unwrap();
    let output = cluster
        .api
        .get(&format!("/executions/{first}/output"))
        .await;
    assert!(output.to_string().contains("n="), "{output}");

    let nodes = cluster.nodes().await;
    let names: BTreeSet<&str> = nodes.iter().filter_map(|n| n["node"].as_str()).collect();
    assert_eq!(names, BTreeSet::from(["s1", "w1", "w2"]));
    let s1 = nodes.iter().find(|n| n["node"] == "s1").unwrap();
    assert_eq!(s1["assigned_sensors"], json!(["scaleout.Burst"]), "{s1}");
    assert!(nodes.iter().all(|n| n["state"] == "alive"), "{nodes:?}");
    let sensor = cluster.api.get("/sensortypes/scaleout.Burst").await;
    assert_eq!(sensor["status"]["state"], "running", "{sensor}");
    assert!(
        sensor["status"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("`s1`")),
        "{sensor}"
    );
    let nerve =
        nerve_test_harness::Nerve::new(binary()).with_data_dir(cluster.dir.path().join("server"));
    let cli = nerve.run(&["node", "list"]);
    cli.assert_code(0);
    assert!(
        cli.stdout.contains("w1") && cli.stdout.contains("s1"),
        "{}",
        cli.stdout
    );

    // The broker's queues as the server sees them: both workers consume the shell runner's.
    let queues = nerve.run(&["bus", "queues", "-o", "json"]);
    queues.assert_code(0);
    let queues = queues.json();
    let shell = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "nerve.worker.local-shell-cmd")
        .unwrap_or_else(|| panic!("{queues}"));
    assert_eq!(shell["consumers"], 2, "{shell}");
    let letters = nerve.run(&["bus", "dead-letters", "nerve.rules_engine", "-o", "json"]);
    letters.assert_code(0);
    assert_eq!(letters.json(), json!([]));
    nerve
        .run(&["bus", "dead-letters", "no.such.queue"])
        .assert_code(1);
}

#[tokio::test]
async fn a_worker_killed_mid_stream_loses_no_event_doubles_no_execution_and_leaves_nothing_running()
{
    let cluster = Cluster::start("worker_kill").await;
    let w1 = cluster.node("worker", "w1", None, &["--concurrency", "2"]);
    let _w2 = cluster.node("worker", "w2", None, &["--concurrency", "2"]);
    for n in 0..24 {
        cluster.webhook(n, 0.5).await;
    }
    wait_until("w1 runs something", || async {
        cluster
            .executions("scaleout.work")
            .await
            .iter()
            .any(|e| status_of(e) == "running" && e["worker"] == "w1")
    })
    .await;
    w1.kill();

    let executions = cluster.all_finished(24).await;
    let by_status = count_by(&executions, "status");
    let abandoned: Vec<&Value> = executions
        .iter()
        .filter(|e| status_of(e) == "abandoned")
        .collect();
    assert!(
        !abandoned.is_empty() && abandoned.len() <= 2,
        "only what w1 was running is abandoned: {by_status:?}"
    );
    for execution in &abandoned {
        assert_eq!(execution["worker"], "w1", "{execution}");
        assert!(
            execution["reason"].as_str().unwrap().contains("w1"),
            "{execution}"
        );
    }
    assert_eq!(
        by_status.get("succeeded").copied().unwrap_or(0) + abandoned.len(),
        24,
        "{by_status:?}"
    );
    wait_until("w1 is shown gone", || async {
        cluster
            .nodes()
            .await
            .iter()
            .any(|n| n["node"] == "w1" && n["state"] == "gone")
    })
    .await;
}

#[tokio::test]
async fn a_worker_with_a_stale_pack_is_refused_with_the_remedy_and_the_work_waits_for_a_good_one() {
    let cluster = Cluster::start("stale_pack").await;
    let stale = tempfile::tempdir().unwrap();
    let stale_pack = stale.path().join("scaleout");
    copy_dir(&fixture("packs/scaleout"), &stale_pack);
    let action = stale_pack.join("actions/work.yaml");
    let text = std::fs::read_to_string(&action).unwrap();
    std::fs::write(
        &action,
        text.replace("Prints its number", "Prints its number (edited)"),
    )
    .unwrap();
    let _stale_worker = cluster.node("worker", "stale", Some(&stale_pack), &[]);

    let id = cluster.run_work(7).await;

    wait_until(
        "the stale node's pack drift is shown with the remedy",
        || async {
            cluster.nodes().await.iter().any(|n| {
                n["node"] == "stale"
                    && n["drift"][0]["pack"] == "scaleout"
                    && n["drift"][0]["remedy"]
                        .as_str()
                        .is_some_and(|r| r.contains("rsync") && r.contains("--packs-dir"))
            })
        },
    )
    .await;
    let execution = cluster.api.get(&format!("/executions/{id}")).await;
    assert_eq!(
        execution["status"], "scheduled",
        "the stale node must not run it: {execution}"
    );

    let _good = cluster.node("worker", "good", None, &[]);
    wait_until("the good worker runs it", || async {
        let execution = cluster.api.get(&format!("/executions/{id}")).await;
        execution["status"] == "succeeded"
    })
    .await;
    let execution = cluster.api.get(&format!("/executions/{id}")).await;
    assert_eq!(execution["worker"], "good", "{execution}");
}

#[tokio::test]
async fn a_node_sharing_the_servers_pack_dir_follows_a_reinstalled_pack_without_a_restart() {
    let cluster = Cluster::start("pack_follow").await;
    let server_packs = cluster.dir.path().join("server/packs");
    let server_packs = server_packs.to_str().unwrap();
    // No `--pack`: the worker runs what the server has installed.
    let _w1 = cluster.node_with("worker", "w1", &["--packs-dir", server_packs]);
    wait_until("w1 is in sync", || async {
        cluster
            .nodes()
            .await
            .iter()
            .any(|n| n["node"] == "w1" && n["drift"] == json!([]))
    })
    .await;
    let hash_before = cluster.nodes().await[0]["packs"]["scaleout"].clone();

    let edited = tempfile::tempdir().unwrap();
    let edited_pack = edited.path().join("scaleout");
    copy_dir(&fixture("packs/scaleout"), &edited_pack);
    let action = edited_pack.join("actions/work.yaml");
    let text = std::fs::read_to_string(&action).unwrap();
    std::fs::write(&action, text.replace("echo n=", "echo edited n=")).unwrap();
    cluster.api.install_pack(&edited_pack).await;

    wait_until("w1 reloaded the new version", || async {
        cluster.nodes().await.iter().any(|n| {
            n["node"] == "w1" && n["drift"] == json!([]) && n["packs"]["scaleout"] != hash_before
        })
    })
    .await;
    let id = cluster.run_work(3).await;
    wait_until("it ran the new code", || async {
        let output = cluster.api.get(&format!("/executions/{id}/output")).await;
        output.to_string().contains("edited n=3")
    })
    .await;
}

#[tokio::test]
async fn a_sensor_moves_to_another_sensor_node_when_its_node_dies() {
    let cluster = Cluster::start("sensor_failover").await;
    let _w1 = cluster.node("worker", "w1", None, &["--concurrency", "8"]);
    let mut sensor_nodes = BTreeMap::new();
    sensor_nodes.insert("s1", cluster.node("sensors", "s1", None, &[]));
    sensor_nodes.insert("s2", cluster.node("sensors", "s2", None, &[]));

    let owner = wait_for_owner(&cluster, None).await;
    // Exactly one node runs it.
    let nodes = cluster.nodes().await;
    let running: Vec<&Value> = nodes
        .iter()
        .filter(|n| {
            n["sensors"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["ref"] == "scaleout.Burst"))
        })
        .collect();
    assert_eq!(running.len(), 1, "{nodes:?}");
    let pids_before = sensor_pids(&cluster).await;
    assert_eq!(pids_before.len(), 1, "{pids_before:?}");

    sensor_nodes.remove(owner.as_str()).unwrap().kill();
    let new_owner = wait_for_owner(&cluster, Some(&owner)).await;
    assert_ne!(new_owner, owner);
    wait_until("events come from the sensor on the new node", || async {
        sensor_pids(&cluster).await.len() >= 2
    })
    .await;
}

/// The node the server assigned the sensor to (other than `not`), once it reports running it.
async fn wait_for_owner(cluster: &Cluster, not: Option<&str>) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        for node in cluster.nodes().await {
            let name = node["node"].as_str().unwrap_or_default();
            let runs = node["assigned_sensors"] == json!(["scaleout.Burst"])
                && node["state"] == "alive"
                && node["sensors"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["state"] == "running"));
            if runs && Some(name) != not {
                return name.to_owned();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until the sensor runs on a live node other than {not:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The distinct sensor process ids seen in recorded events.
async fn sensor_pids(cluster: &Cluster) -> BTreeSet<i64> {
    cluster
        .api
        .get("/triggerinstances?trigger=scaleout.event&limit=1000")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|ti| ti["payload"]["pid"].as_i64())
        .collect()
}

#[tokio::test]
async fn broker_restart_mid_stream_loses_no_accepted_event_and_leaves_nothing_stuck() {
    let cluster = Cluster::start("broker_restart").await;
    let _w1 = cluster.node("worker", "w1", None, &["--concurrency", "4"]);
    for n in 0..10 {
        cluster.webhook(n, 0.1).await;
    }
    rabbitmqctl(&["stop_app"]);
    // Accepted while the broker is down: the server has recorded them and publishes them when
    // the broker is back.
    let posting = async {
        for n in 10..20 {
            cluster.webhook(n, 0.1).await;
        }
    };
    let restart = async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        tokio::task::spawn_blocking(|| rabbitmqctl(&["start_app"]))
            .await
            .unwrap();
    };
    tokio::join!(posting, restart);
    for n in 20..30 {
        cluster.webhook(n, 0.1).await;
    }
    let executions = cluster.all_finished(30).await;
    let by_status = count_by(&executions, "status");
    assert_eq!(by_status.get("succeeded"), Some(&30), "{by_status:?}");
}

#[tokio::test]
async fn a_server_restart_loses_nothing_and_work_running_on_workers_finishes() {
    let mut cluster = Cluster::start("server_restart").await;
    let _w1 = cluster.node("worker", "w1", None, &["--concurrency", "4"]);
    for n in 0..8 {
        cluster.webhook(n, 1.0).await;
    }
    wait_until("w1 runs something", || async {
        cluster
            .executions("scaleout.work")
            .await
            .iter()
            .any(|e| status_of(e) == "running")
    })
    .await;
    cluster.restart_server();
    let executions = cluster.all_finished(8).await;
    let by_status = count_by(&executions, "status");
    let others: Vec<_> = executions
        .iter()
        .filter(|e| status_of(e) != "succeeded")
        .map(|e| {
            (
                e["id"].clone(),
                e["status"].clone(),
                e["reason"].clone(),
                e["log"].clone(),
            )
        })
        .collect();
    assert_eq!(
        by_status.get("succeeded"),
        Some(&8),
        "executions running on the worker while the server was down finish: {by_status:?}; \
         the others: {others:?}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[tokio::test]
async fn up_with_amqp_runs_every_role_in_one_process_on_the_broker() {
    let vhost = RabbitVhost::new("up_amqp");
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::spawn(
        &binary(),
        &dir.path().join("up"),
        &["up", "--listen", "127.0.0.1:0", "--amqp", &vhost.url],
    );
    let api = Api::new(&server);
    api.install_pack(&fixture("packs/scaleout")).await;
    // The sensor runs in this process and its events run here too.
    wait_until("sensor events ran their action", || async {
        api.get("/executions?action=scaleout.work&limit=1000")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| status_of(e) == "succeeded")
            .count()
            >= 5
    })
    .await;
    let sensor = api.get("/sensortypes/scaleout.Burst").await;
    assert_eq!(sensor["status"]["state"], "running", "{sensor}");
    let queues = api.get("/bus/queues").await;
    let rules = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "nerve.rules_engine")
        .unwrap_or_else(|| panic!("{queues}"));
    assert_eq!(rules["consumers"], 1, "{rules}");
}
