//! The observatory packs end to end (`alma`, `vlba`, `workspaces`): the real `nerve` binary
//! with its built-in packs, against the fake ALMA archive and the fake Workspaces (`nerve-fakes`,
//! run in this process so their state outlives a restart of Nerve).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nerve_fakes::alma::{self, Archive};
use nerve_fakes::workspaces::{self, CapabilityConfig, WorkflowConfig, Workspaces};
use nerve_fakes::{FaultSettings, Served};
use nerve_test_harness::{NerveServer, repo_root};
use serde_json::{Value, json};

use crate::api::{Api, binary};
use crate::nerve;

/// The fakes, serving on free ports.
struct Fakes {
    archive: Arc<Archive>,
    _archive_http: Served,
    archive_url: String,
    workspaces: Arc<Workspaces>,
    _workspaces_http: Served,
    workspaces_url: String,
}

async fn start_fakes() -> Fakes {
    let archive = Archive::new();
    let archive_http = nerve_fakes::serve(alma::router(archive.clone()), "127.0.0.1:0")
        .await
        .unwrap();
    let workspaces = Workspaces::new();
    let workspaces_http = nerve_fakes::serve(workspaces::router(workspaces.clone()), "127.0.0.1:0")
        .await
        .unwrap();
    Fakes {
        archive_url: archive_http.url(),
        archive,
        _archive_http: archive_http,
        workspaces_url: workspaces_http.url(),
        workspaces,
        _workspaces_http: workspaces_http,
    }
}

/// Runs the `nerve` CLI against the server of `data_dir` (off the async threads, which serve
/// the fakes), asserting exit code 0.
async fn cli(data_dir: &Path, args: &[&str]) -> String {
    let data_dir = data_dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let output = nerve().with_data_dir(&data_dir).run(&args);
        assert_eq!(output.code, Some(0), "nerve {}:\n{output}", args.join(" "));
        output.stdout
    })
    .await
    .unwrap()
}

/// A capability running `queue_limit` executions at once, each for `duration_ms`.
fn capability(queue_limit: usize, duration_ms: u64) -> CapabilityConfig {
    CapabilityConfig {
        queue_limit,
        duration_ms,
        ..CapabilityConfig::default()
    }
}

/// `nerve pack config PACK SETTINGS...`.
async fn pack_config(data: &Path, pack: &str, settings: &[&str]) {
    let mut args = vec!["pack", "config", pack];
    args.extend_from_slice(settings);
    cli(data, &args).await;
}

/// Points the `alma` pack at the fake archive, with more `settings`.
async fn configure_alma(data: &Path, fakes: &Fakes, settings: &[&str]) {
    let archive_url = format!("archive_url={}", fakes.archive_url);
    let mut all = vec![archive_url.as_str()];
    all.extend_from_slice(settings);
    pack_config(data, "alma", &all).await;
}

/// Points the `workspaces` pack at the fake Workspaces, polling every `poll_interval_s`.
async fn configure_workspaces(data: &Path, fakes: &Fakes, poll_interval_s: &str) {
    let base_url = format!("base_url={}", fakes.workspaces_url);
    let poll = format!("poll_interval_s={poll_interval_s}");
    pack_config(data, "workspaces", &[&base_url, &poll]).await;
}

/// Waits (at most `deadline`) until `condition` holds, polling every 100 ms.
async fn wait_for<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    while !condition().await {
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET /api/v1{path}`; `None` for a 404.
async fn try_get(api: &Api, path: &str) -> Option<Value> {
    let response = api
        .http
        .get(format!("{}/api/v1{path}", api.url))
        .header("X-Auth-Token", &api.token)
        .send()
        .await
        .unwrap();
    if response.status() == 404 {
        return None;
    }
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    Some(response.json().await.unwrap())
}

async fn fake_stats(url: &str) -> Value {
    reqwest::get(format!("{url}/_test/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn list(api: &Api, path: &str) -> Vec<Value> {
    api.get(path).await.as_array().cloned().unwrap_or_default()
}

fn execblocks(uids: impl IntoIterator<Item = String>, status_time: Option<String>) -> alma::Seed {
    let rows: Vec<Value> = uids
        .into_iter()
        .map(|uid| {
            json!({"asdm_uid": uid, "mous_uid": "uid://A001/X2f00/X1", "project_code": "2023.1.00042.S",
                   "qa0_status": "Pass", "status_time": status_time, "band": 6, "array": "12m"})
        })
        .collect();
    serde_json::from_value(json!({"execblocks": rows})).unwrap()
}

fn uid(i: usize) -> String {
    format!("uid://A002/X1a2b3c/X{i:x}")
}

/// Adds ASDMs `range` to the archive, 20 every 50 ms ("appearing over time").
async fn add_asdms(archive: &Archive, range: std::ops::Range<usize>, status_time: Option<String>) {
    let ids: Vec<usize> = range.collect();
    for chunk in ids.chunks(20) {
        archive
            .seed(execblocks(
                chunk.iter().map(|i| uid(*i)),
                status_time.clone(),
            ))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn capability_requests(fakes: &Fakes, capability: &str) -> (u64, u64) {
    let stats = fake_stats(&fakes.workspaces_url).await;
    let capability = &stats["capabilities"][capability];
    (
        capability["requests"].as_u64().unwrap_or(0),
        capability["by_state"]["Complete"].as_u64().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alma_500_asdms_become_500_capability_requests_never_more_than_4_at_once_across_a_restart_and_an_outage()
 {
    let started = Instant::now();
    let fakes = start_fakes().await;
    fakes
        .workspaces
        .configure_capability("alma_std_calibration", capability(100, 20));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = NerveServer::start(&binary(), data);
    configure_alma(
        data,
        &fakes,
        &[
            "asdm_poll_interval_s=0.5",
            "asdm_page_size=50",
            "asdm_lookback_hours=1",
        ],
    )
    .await;
    configure_workspaces(data, &fakes, "0.05").await;
    cli(data, &["rule", "enable", "alma.ingest_asdm"]).await;

    // 200 ASDMs appear; Nerve is killed (SIGKILL) while it works through them.
    add_asdms(&fakes.archive, 0..200, None).await;
    wait_for(
        "60 capability requests",
        Duration::from_secs(90),
        || async { capability_requests(&fakes, "alma_std_calibration").await.0 >= 60 },
    )
    .await;
    server.kill();
    // 100 more while Nerve is down.
    add_asdms(&fakes.archive, 200..300, None).await;
    let server = NerveServer::start(&binary(), data);
    let api = Api::new(&server);

    // The archive goes down (503 for everything) while 100 more appear, then comes back.
    wait_for(
        "150 capability requests",
        Duration::from_secs(90),
        || async { capability_requests(&fakes, "alma_std_calibration").await.0 >= 150 },
    )
    .await;
    fakes.archive.faults.set(FaultSettings {
        outage: Some(true),
        faults: None,
    });
    let refused_before = fakes.archive.faults.injected();
    add_asdms(&fakes.archive, 300..400, None).await;
    wait_for(
        "the sensor to run into the outage twice",
        Duration::from_secs(30),
        || async { fakes.archive.faults.injected() >= refused_before + 2 },
    )
    .await;
    // Two counted 500s after the outage, and the last 100 dated 10 minutes back (the archive
    // recorded them late): the look-back window finds them.
    fakes.archive.faults.set(FaultSettings {
        outage: Some(false),
        faults: Some(vec![nerve_fakes::Fault {
            path_prefix: "/api/v1/execblocks".to_owned(),
            method: None,
            status: 500,
            count: Some(2),
            delay_ms: 0,
        }]),
    });
    let late = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    add_asdms(&fakes.archive, 400..500, Some(late)).await;

    wait_for(
        "500 capability requests, all Complete",
        Duration::from_secs(150),
        || async { capability_requests(&fakes, "alma_std_calibration").await == (500, 500) },
    )
    .await;
    wait_for(
        "500 ingest workflows succeeded",
        Duration::from_secs(60),
        || async {
            list(
                &api,
                "/executions?action=alma.ingest_asdm&status=succeeded&limit=1000",
            )
            .await
            .len()
                == 500
        },
    )
    .await;
    let elapsed = started.elapsed();

    let stats = fake_stats(&fakes.workspaces_url).await;
    assert_eq!(stats["capability_requests"], 500, "{stats:#}");
    let at_workspaces = stats["max_concurrent_executing"]["alma_std_calibration"]
        .as_u64()
        .unwrap();
    assert!(
        at_workspaces <= 4,
        "never more than the throttle's 4 executing in Workspaces, saw {at_workspaces}"
    );
    // In Nerve: the most capability runs that were `running` at one moment. Runs the kill
    // abandoned are left out (their processes outlived Nerve; the maximum in Workspaces above
    // covers them).
    let runs = list(
        &api,
        "/executions?action=workspaces.capability_create_and_run&limit=1000",
    )
    .await;
    let max = max_running_at_once(&runs);
    assert_eq!(
        max, 4,
        "the throttle's 4 slots were used and never exceeded"
    );
    let requests: Value = reqwest::get(format!("{}/_test/requests", fakes.workspaces_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refs: BTreeSet<String> = requests["capability_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["external_ref"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = (0..500).map(|i| format!("{}:Pass", uid(i))).collect();
    assert_eq!(
        refs, expected,
        "one request per ASDM, with its external reference"
    );

    // Exactly one event per ASDM, across the kill and the outage.
    let events = list(&api, "/triggerinstances?trigger=alma.asdm_ready&limit=1000").await;
    let uids: BTreeSet<&str> = events
        .iter()
        .map(|e| e["payload"]["asdm_uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        (events.len(), uids.len()),
        (500, 500),
        "one alma.asdm_ready per ASDM"
    );
    let workflows = list(&api, "/executions?action=alma.ingest_asdm&limit=1000").await;
    assert_eq!(workflows.len(), 500, "one workflow per event");
    eprintln!(
        "observatory: 500 ASDMs in {elapsed:?}; max capability runs at once {max} in Nerve, \
         {at_workspaces} executing in Workspaces; {} runs in all; \
         creates that found an existing request (re-attached after the kill): {}; \
         archive requests refused on purpose: {}",
        runs.len(),
        stats["creates_of_existing"],
        fakes.archive.faults.injected()
    );
}

/// The most executions that were `running` at the same moment (from their status logs).
fn max_running_at_once(executions: &[Value]) -> usize {
    let mut edges: Vec<(String, i32)> = Vec::new();
    for execution in executions {
        if execution["status"] == "abandoned" {
            continue;
        }
        let started = execution["log"]
            .as_array()
            .and_then(|log| log.iter().find(|entry| entry["status"] == "running"))
            .and_then(|entry| entry["timestamp"].as_str());
        if let (Some(start), Some(end)) = (started, execution["end_timestamp"].as_str()) {
            edges.push((start.to_owned(), 1));
            edges.push((end.to_owned(), -1));
        }
    }
    // At equal times an end comes before a start (the slot is handed over).
    edges.sort();
    let (mut running, mut max) = (0i32, 0i32);
    for (_, delta) in edges {
        running += delta;
        max = max.max(running);
    }
    usize::try_from(max).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_capability_marks_the_asdm_not_calibrateable_and_calibrations_are_ingested_or_rejected()
 {
    let fakes = start_fakes().await;
    fakes.archive.seed_demo();
    let failing = "uid://A002/Xc7111c/X409e";
    let calibrated = "uid://A002/Xd0a1f3/X1b2c";
    fakes.workspaces.configure_capability(
        "alma_std_calibration",
        CapabilityConfig {
            fail_values: vec![failing.to_owned(), calibrated.to_owned()],
            ..capability(10, 50)
        },
    );
    fakes
        .workspaces
        .configure_capability("alma_calibration_ingest", capability(10, 50));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let server = NerveServer::start(&binary(), data);
    let api = Api::new(&server);

    // Before the pack is configured, the action says what to do.
    let unconfigured = run(
        &api,
        "alma.mark_not_calibrateable",
        json!({"asdm_uids": [failing], "reason": "other"}),
    )
    .await;
    assert_eq!(unconfigured["status"], "failed");
    assert!(
        unconfigured
            .to_string()
            .contains("nerve pack config alma archive_url="),
        "{unconfigured:#}"
    );

    configure_alma(
        data,
        &fakes,
        &[
            "asdm_poll_interval_s=0.5",
            "calibration_poll_interval_s=0.5",
        ],
    )
    .await;
    configure_workspaces(data, &fakes, "0.1").await;
    for rule in [
        "alma.ingest_asdm",
        "alma.ingest_calibration",
        "alma.reject_calibration",
    ] {
        cli(data, &["rule", "enable", rule]).await;
    }

    // The demo has 7 ASDMs with QA0 Pass or SemiPass (and one Fail, never offered).
    wait_for(
        "7 ingest workflows ended",
        Duration::from_secs(60),
        || async {
            let workflows = list(&api, "/executions?action=alma.ingest_asdm&limit=100").await;
            workflows.len() == 7
                && workflows
                    .iter()
                    .all(|w| matches!(w["status"].as_str(), Some("succeeded" | "failed")))
        },
    )
    .await;
    let status = |uid: &str| fakes.archive.execblock(uid).unwrap().calibration_status;
    assert_eq!(
        status(failing),
        "DoNotCalibrate",
        "the failed capability's ASDM is marked"
    );
    assert_eq!(
        status(calibrated),
        "Calibrated",
        "Calibrated is never overridden"
    );
    assert_eq!(status("uid://A002/Xc7111c/X3979"), "Ready");

    let workflows = list(&api, "/executions?action=alma.ingest_asdm&limit=100").await;
    let by_uid: BTreeMap<&str, &Value> = workflows
        .iter()
        .map(|w| (w["parameters"]["asdm"]["asdm_uid"].as_str().unwrap(), w))
        .collect();
    assert_eq!(by_uid.len(), 7);
    for (uid, workflow) in &by_uid {
        let expected = if [failing, calibrated].contains(uid) {
            "failed"
        } else {
            "succeeded"
        };
        assert_eq!(workflow["status"], expected, "{uid}: {workflow:#}");
    }
    let children = |workflow: &Value| {
        workflow["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let marked = children(by_uid[failing]);
    assert_eq!(marked.len(), 2, "the capability, then the marking");
    let mark = api.get(&format!("/executions/{}", marked[1])).await;
    assert_eq!(mark["action"]["ref"], "alma.mark_not_calibrateable");
    assert_eq!(mark["status"], "succeeded");
    assert_eq!(mark["result"]["result"]["updated"], json!([failing]));
    let refused = children(by_uid[calibrated]);
    let mark = api.get(&format!("/executions/{}", refused[1])).await;
    assert_eq!(mark["status"], "failed", "{mark:#}");
    assert_eq!(mark["result"]["result"]["conflicts"], json!([calibrated]));
    assert!(
        mark["result"]["result"]["message"]
            .as_str()
            .unwrap()
            .contains("already Calibrated")
    );

    // Calibrations: the one done by hand marks its ASDM, the good one is ingested.
    wait_for(
        "the calibrations handled",
        Duration::from_secs(30),
        || async {
            status("uid://A002/Xe1234a/X5b7") == "DoNotCalibrate"
                && capability_requests(&fakes, "alma_calibration_ingest").await == (1, 1)
        },
    )
    .await;

    // Marking again changes nothing and succeeds; an unknown ASDM is a clear failure.
    let again = run(
        &api,
        "alma.mark_not_calibrateable",
        json!({"asdm_uids": [failing], "reason": "other"}),
    )
    .await;
    assert_eq!(again["status"], "succeeded");
    assert_eq!(again["result"]["result"]["unchanged"], json!([failing]));
    let unknown = run(
        &api,
        "alma.mark_not_calibrateable",
        json!({"asdm_uids": ["uid://A002/X0/X0"], "reason": "other"}),
    )
    .await;
    assert_eq!(unknown["status"], "failed");
    assert_eq!(
        unknown["result"]["result"]["message"],
        "unknown to the archive: uid://A002/X0/X0"
    );
    let unknown_capability = run(
        &api,
        "workspaces.capability_create_and_run",
        json!({"capability_name": "no_such_capability", "parameters": {}}),
    )
    .await;
    assert_eq!(unknown_capability["status"], "failed");
    assert_eq!(unknown_capability["result"]["result"]["status"], 404);
    assert!(
        unknown_capability["result"]["result"]["error"]
            .as_str()
            .unwrap()
            .contains("no capability `no_such_capability`"),
        "{unknown_capability:#}"
    );

    let events = list(&api, "/triggerinstances?trigger=alma.asdm_ready&limit=100").await;
    assert_eq!(events.len(), 7, "one event per ready ASDM");
}

/// Runs an action through the API and waits for its end.
async fn run(api: &Api, action: &str, parameters: Value) -> Value {
    let response = api
        .post(
            "/executions",
            json!({"action": action, "parameters": parameters}),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for(
        &format!("execution {id} of {action} ends"),
        Duration::from_secs(60),
        || async {
            let status = api.get(&format!("/executions/{id}")).await["status"].clone();
            ["succeeded", "failed", "timeout", "canceled", "abandoned"]
                .iter()
                .any(|s| status == *s)
        },
    )
    .await;
    api.get(&format!("/executions/{id}")).await
}

fn write_file(path: &Path, bytes: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![b'x'; bytes]).unwrap();
}

/// Writes `path` in `chunks` pieces, 150 ms apart (a slow copy: never still for the settle delay).
async fn write_slowly(path: &Path, chunks: usize, chunk: usize) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).unwrap();
    for _ in 0..chunks {
        file.write_all(&vec![b'y'; chunk]).unwrap();
        file.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn workflow_requests(fakes: &Fakes) -> Vec<Value> {
    let requests: Value = reqwest::get(format!("{}/_test/requests", fakes.workspaces_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    requests["workflow_requests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn completed_ingests(fakes: &Fakes) -> usize {
    workflow_requests(fakes)
        .await
        .iter()
        .filter(|r| r["state"] == "Complete")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vlba_files_copied_in_slowly_or_while_nerve_is_down_each_start_exactly_one_ingest() {
    let fakes = start_fakes().await;
    fakes.workspaces.configure_workflow(
        "ingest_vlba_idifits",
        WorkflowConfig {
            duration_ms: 300,
            group_by: Some("obs_code".to_owned()),
            ..WorkflowConfig::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nerve");
    let output = dir.path().join("correlator/output");
    std::fs::create_dir_all(&output).unwrap();
    let server = NerveServer::start(&binary(), &data);
    let api = Api::new(&server);
    let watch = format!("watch_dirs=[\"{}\"]", output.display());
    pack_config(
        &data,
        "vlba",
        &[&watch, "settle_seconds=0.5", "reconcile_interval_s=1"],
    )
    .await;
    configure_workspaces(&data, &fakes, "0.1").await;
    cli(&data, &["rule", "enable", "vlba.ingest_idifits"]).await;
    wait_for(
        "the sensor has scanned the directory",
        Duration::from_secs(30),
        || async {
            try_get(&api, "/keys/vlba.IdifitsSensor:initialized")
                .await
                .is_some()
        },
    )
    .await;

    // Three files of one observation in a new project directory, two of another moved in from
    // partial copies, one written slowly, and files that are no FITS-IDI data.
    let project = output.join("oct20/bl229ae");
    for i in 0..3 {
        write_file(
            &project.join(format!(
                "VLBA_BL229AE_bl229ae_BIN0_SRC0_{i}_201019T083012.idifits"
            )),
            2000,
        );
    }
    for (i, name) in [
        "VLBA_BR235M_br235m_BIN0_SRC0_0_210726T164755.idifits",
        "VLBA_BR235M_br235m_BIN0_SRC1_0_210726T164755.idifits",
    ]
    .iter()
    .enumerate()
    {
        let partial = output.join(format!("{name}.part"));
        write_file(&partial, 1000 + i);
        std::fs::rename(&partial, output.join(name)).unwrap();
    }
    write_file(&output.join("BL229AE_A_201019T083012.idifits"), 10);
    write_file(&output.join("x.idifits.part"), 10);
    let slow = output.join("VLBA_TL015A_tl015arecor_BIN0_SRC0_1_201020T164655.idifits");
    write_slowly(&slow, 12, 1000).await;
    wait_for("6 ingests complete", Duration::from_secs(60), || async {
        completed_ingests(&fakes).await == 6
    })
    .await;

    // Nerve is killed; files arrive while it is down (one of them still being written when
    // it comes back).
    server.kill();
    for (i, name) in [
        "VLBA_UG002O_ug002o_BIN0_SRC0_0_180821T142741.idifits",
        "VLBA_UG002O_ug002o_BIN0_SRC0_1_180821T142741.idifits",
    ]
    .iter()
    .enumerate()
    {
        write_file(&output.join("aug18/ug002o").join(name), 3000 + i);
    }
    let late = output.join("VLBA_BD244A_bd244ainbeam1_BIN0_SRC0_0_211228T150536.idifits");
    let writer = {
        let late = late.clone();
        tokio::spawn(async move { write_slowly(&late, 8, 500).await })
    };
    let server = NerveServer::start(&binary(), &data);
    let api = Api::new(&server);
    writer.await.unwrap();
    wait_for("9 ingests complete", Duration::from_secs(60), || async {
        completed_ingests(&fakes).await == 9
    })
    .await;
    // A last file: once it is ingested, any duplicate of the earlier ones would have come too.
    write_file(
        &output.join("VLBA_BL229AE_bl229ae_BIN0_SRC0_3_201019T083012.idifits"),
        2000,
    );
    wait_for("10 ingests complete", Duration::from_secs(60), || async {
        completed_ingests(&fakes).await == 10
    })
    .await;

    let requests = workflow_requests(&fakes).await;
    assert_eq!(requests.len(), 10, "one ingest per file: {requests:#?}");
    let mut by_name = BTreeMap::new();
    for request in &requests {
        let argument = &request["argument"];
        by_name.insert(
            argument["file_name"].as_str().unwrap().to_owned(),
            argument.clone(),
        );
    }
    assert_eq!(by_name.len(), 10, "no file ingested twice");
    assert_eq!(
        by_name["VLBA_TL015A_tl015arecor_BIN0_SRC0_1_201020T164655.idifits"]["size_bytes"], 12_000,
        "the slow copy was ingested once complete"
    );
    assert_eq!(
        by_name["VLBA_BD244A_bd244ainbeam1_BIN0_SRC0_0_211228T150536.idifits"]["size_bytes"],
        4000
    );
    assert!(!by_name.contains_key("BL229AE_A_201019T083012.idifits"));
    let stats = fake_stats(&fakes.workspaces_url).await;
    let per_code = &stats["workflows"]["ingest_vlba_idifits"]["max_concurrent_running_by_group"];
    assert_eq!(
        per_code["BL229AE"], 1,
        "one ingest per observation code at a time: {per_code}"
    );
    assert_eq!(per_code["UG002O"], 1, "{per_code}");
    let events = list(
        &api,
        "/triggerinstances?trigger=vlba.idifits_ready&limit=100",
    )
    .await;
    assert_eq!(events.len(), 10, "one event per file");
    let event = events
        .iter()
        .find(|e| e["payload"]["obs_code"] == "TL015A")
        .unwrap();
    assert_eq!(event["payload"]["job_name"], "tl015arecor");
    assert_eq!(event["payload"]["program"], "TL015");
    assert_eq!(event["payload"]["segment"], "A");
    assert_eq!(event["payload"]["file_index"], 1);
    assert_eq!(event["payload"]["file_time"], "2020-10-20T16:46:55Z");
}

#[test]
fn the_observatory_packs_validate_and_their_rules_ship_disabled() {
    let root = repo_root();
    let packs: Vec<String> = ["alma", "vlba", "workspaces"]
        .iter()
        .map(|p| root.join("packs").join(p).display().to_string())
        .collect();
    let mut args = vec!["pack".to_owned(), "validate".to_owned()];
    args.extend(packs);
    let output = nerve().run(&args);
    assert_eq!(output.code, Some(0), "{output}");
    assert!(output.stdout.contains("3 valid, 0 invalid"), "{output}");
    for rule in std::fs::read_dir(root.join("packs/alma/rules"))
        .unwrap()
        .chain(std::fs::read_dir(root.join("packs/vlba/rules")).unwrap())
    {
        let text = std::fs::read_to_string(rule.unwrap().path()).unwrap();
        assert!(
            text.contains("\nenabled: false\n"),
            "shipped rules are disabled:\n{text}"
        );
    }
}
