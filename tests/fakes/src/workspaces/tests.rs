use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::test_support::{Routed, call};

impl Routed for Workspaces {
    fn routes(self: Arc<Self>) -> Router {
        router(self)
    }
}

async fn get(ws: &Arc<Workspaces>, uri: &str) -> (StatusCode, Value) {
    call(ws, Method::GET, uri, None).await
}

async fn post(ws: &Arc<Workspaces>, uri: &str) -> (StatusCode, Value) {
    call(ws, Method::POST, uri, None).await
}

/// Creates an `alma_std_calibration` request.
async fn create_request(ws: &Arc<Workspaces>, body: Value) -> (StatusCode, Value) {
    call(
        ws,
        Method::POST,
        "/capability/alma_std_calibration/request/create",
        Some(body),
    )
    .await
}

fn quick(queue_limit: usize, duration_ms: u64) -> CapabilityConfig {
    CapabilityConfig {
        queue_limit,
        duration_ms,
        ..CapabilityConfig::default()
    }
}

async fn wait_for_state(ws: &Arc<Workspaces>, uri: &str, wanted: &str) -> Value {
    for _ in 0..400 {
        let (_, body) = get(ws, uri).await;
        if body["state"] == wanted {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{uri} did not reach {wanted}");
}

#[tokio::test]
async fn create_is_idempotent_per_external_ref_and_unknown_capabilities_are_404() {
    let ws = Workspaces::new();
    let body = json!({"parameters": {"asdm_uid": "uid://A002/X1/X1"}, "external_ref": "uid://A002/X1/X1:Pass"});
    let (status, first) = create_request(&ws, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["state"], "Created");
    let (status, again) = create_request(&ws, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], first["id"]);
    let (status, body) = call(
        &ws,
        Method::POST,
        "/capability/nope/request/create",
        Some(json!({"parameters": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("alma_std_calibration"),
        "{body}"
    );
    let (_, stats) = get(&ws, "/_test/stats").await;
    assert_eq!(stats["capability_requests"], 1);
    assert_eq!(stats["creates_of_existing"], 1);
}

#[tokio::test]
async fn the_capability_queue_limits_executions_and_records_the_maximum() {
    let ws = Workspaces::new();
    ws.configure_capability("alma_std_calibration", quick(2, 100));
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = json!({"parameters": {"n": i}, "external_ref": format!("ref-{i}")});
        let (_, created) = create_request(&ws, body).await;
        let id = created["id"].as_u64().unwrap();
        let (status, submitted) = post(&ws, &format!("/capability/request/{id}/submit")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let expected = if i < 2 { "Executing" } else { "Queued" };
        assert_eq!(
            submitted["current_execution"]["state"], expected,
            "request {i}"
        );
        ids.push(id);
    }
    let (_, queue) = get(&ws, "/capability/alma_std_calibration/queue").await;
    assert_eq!(
        queue,
        json!({"limit": 2, "executing": 2, "queued": 3, "paused": false})
    );
    // Submitting again is harmless.
    let (status, _) = post(&ws, &format!("/capability/request/{}/submit", ids[0])).await;
    assert_eq!(status, StatusCode::OK);
    for id in &ids {
        let done = wait_for_state(&ws, &format!("/capability/request/{id}"), "Complete").await;
        assert!(done["current_execution"]["finished_at"].is_string());
    }
    let (_, stats) = get(&ws, "/_test/stats").await;
    assert_eq!(stats["max_concurrent_executing"]["alma_std_calibration"], 2);
    assert_eq!(
        stats["capabilities"]["alma_std_calibration"]["by_state"]["Complete"],
        5
    );
}

#[tokio::test]
async fn failing_values_fail_matching_requests_and_cancel_frees_the_slot() {
    let ws = Workspaces::new();
    let mut config = quick(1, 50);
    config.fail_values = vec!["uid://A002/X1/Xbad".to_owned()];
    ws.configure_capability("alma_std_calibration", config);
    let create = |uid: &str| json!({"parameters": {"asdm_uid": uid}, "external_ref": uid});
    let (_, bad) = create_request(&ws, create("uid://A002/X1/Xbad")).await;
    let (_, good) = create_request(&ws, create("uid://A002/X1/Xgood")).await;
    let (bad, good) = (bad["id"].as_u64().unwrap(), good["id"].as_u64().unwrap());
    post(&ws, &format!("/capability/request/{bad}/submit")).await;
    post(&ws, &format!("/capability/request/{good}/submit")).await;
    wait_for_state(&ws, &format!("/capability/request/{bad}"), "Failed").await;
    wait_for_state(&ws, &format!("/capability/request/{good}"), "Complete").await;

    ws.configure_capability("alma_std_calibration", quick(1, 60_000));
    let (_, slow) = create_request(&ws, create("slow")).await;
    let slow = slow["id"].as_u64().unwrap();
    post(&ws, &format!("/capability/request/{slow}/submit")).await;
    let (status, cancelled) = post(&ws, &format!("/capability/request/{slow}/cancel")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["state"], "Cancelled");
    let (status, _) = post(&ws, &format!("/capability/request/{slow}/cancel")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, queue) = get(&ws, "/capability/alma_std_calibration/queue").await;
    assert_eq!(queue["executing"], 0);
}

#[tokio::test]
async fn workflows_run_with_files_and_transient_restarts_and_count_per_group() {
    let ws = Workspaces::new();
    ws.configure_workflow(
        "ingest_vlba_idifits",
        WorkflowConfig {
            duration_ms: 120,
            transient_restarts: 1,
            ..WorkflowConfig::default()
        },
    );
    let mut ids = Vec::new();
    for (i, obs) in ["BL229AE", "BL229AE", "BR235M"].iter().enumerate() {
        let body = json!({"argument": {"obs_code": obs, "path": format!("/data/{i}")}, "external_ref": format!("/data/{i}")});
        let (status, created) = call(
            &ws,
            Method::POST,
            "/workflows/ingest_vlba_idifits/requests/create",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["workflow_request_id"].as_u64().unwrap();
        let (status, _) = call(
            &ws,
            Method::PUT,
            &format!("/workflows/ingest_vlba_idifits/requests/{id}/files/metadata.json"),
            Some(json!({"a": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, running) = post(
            &ws,
            &format!("/workflows/ingest_vlba_idifits/requests/{id}/submit"),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(running["state"], "Running");
        ids.push(id);
    }
    for id in &ids {
        let done = wait_for_state(&ws, &format!("/workflows/requests/{id}"), "Complete").await;
        assert_eq!(done["restarts"], 1);
        assert_eq!(done["files"], json!(["metadata.json"]));
    }
    let (_, stats) = get(&ws, "/_test/stats").await;
    let workflow = &stats["workflows"]["ingest_vlba_idifits"];
    assert_eq!(workflow["max_concurrent_running"], 3);
    assert_eq!(
        workflow["max_concurrent_running_by_group"],
        json!({"BL229AE": 2, "BR235M": 1})
    );
    let (status, _) = post(&ws, &format!("/workflows/requests/{}/abort", ids[0])).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an ended workflow cannot be aborted"
    );
}
