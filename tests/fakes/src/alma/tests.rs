use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::test_support::{Routed, call};

impl Routed for Archive {
    fn routes(self: Arc<Self>) -> Router {
        router(self)
    }
}

fn eb(uid: &str, qa0: &str, status_time: &str) -> Value {
    json!({"asdm_uid": uid, "project_code": "2017.1.00886.L", "qa0_status": qa0, "status_time": status_time})
}

fn uids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["asdm_uid"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn execblocks_are_paged_in_status_time_then_uid_order_and_filtered() {
    let archive = Archive::new();
    let seed = json!({"execblocks": [
        eb("uid://A002/X1/X3", "Pass", "2024-01-01T00:00:02Z"),
        eb("uid://A002/X1/X1", "Pass", "2024-01-01T00:00:01Z"),
        eb("uid://A002/X1/X2", "Pass", "2024-01-01T00:00:01Z"),
        eb("uid://A002/X1/X4", "Fail", "2024-01-01T00:00:03Z"),
        eb("uid://A002/X1/X5", "SemiPass", "2024-01-01T00:00:04Z"),
        eb("uid://A002/X1/X0", "Pass", "2023-12-31T00:00:00Z"),
    ]});
    let (status, body) = call(&archive, Method::POST, "/_test/seed", Some(seed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["execblocks"], 6);

    let base =
        "/api/v1/execblocks?qa0_status=Pass,SemiPass&updated_since=2024-01-01T00:00:00Z&limit=2";
    let (status, first) = call(&archive, Method::GET, base, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(uids(&first), ["uid://A002/X1/X1", "uid://A002/X1/X2"]);
    let token = first["next_page_token"].as_str().unwrap().to_owned();
    let next = format!(
        "{base}&page_token={}",
        token.replace('+', "%2B").replace('|', "%7C")
    );
    let (_, second) = call(&archive, Method::GET, &next, None).await;
    assert_eq!(uids(&second), ["uid://A002/X1/X3", "uid://A002/X1/X5"]);
    assert_eq!(
        second["next_page_token"],
        Value::Null,
        "the last page has no token"
    );
    assert_eq!(second["items"][1]["calibration_status"], "Ready");
}

#[tokio::test]
async fn list_parameters_are_checked_with_clear_errors() {
    let archive = Archive::new();
    let (status, body) = call(
        &archive,
        Method::GET,
        "/api/v1/execblocks?updated_since=yesterday",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("updated_since"),
        "{body}"
    );
    let (status, _) = call(&archive, Method::GET, "/api/v1/execblocks?limit=0", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = call(
        &archive,
        Method::GET,
        "/api/v1/calibrations?page_token=nonsense",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("page_token"),
        "{body}"
    );
}

#[tokio::test]
async fn calibration_status_is_set_idempotently_and_calibrated_is_never_overridden() {
    let archive = Archive::new();
    archive.seed_demo();
    let path = "/api/v1/execblocks/uid%3A%2F%2FA002%2FXc7111c%2FX3979/calibration-status";
    let update =
        json!({"calibration_status": "DoNotCalibrate", "reason": "other", "comment": "test"});
    let (status, body) = call(&archive, Method::PUT, path, Some(update.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], true);
    let (status, body) = call(&archive, Method::PUT, path, Some(update.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["changed"], false, "setting it again changes nothing");
    let (_, eb) = call(
        &archive,
        Method::GET,
        "/api/v1/execblocks/uid%3A%2F%2FA002%2FXc7111c%2FX3979",
        None,
    )
    .await;
    assert_eq!(eb["calibration_status"], "DoNotCalibrate");

    let calibrated = "/api/v1/execblocks/uid%3A%2F%2FA002%2FXd0a1f3%2FX1b2c/calibration-status";
    let (status, body) = call(&archive, Method::PUT, calibrated, Some(update.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already Calibrated")
    );

    let missing = "/api/v1/execblocks/uid%3A%2F%2FA002%2FX0%2FX0/calibration-status";
    let (status, _) = call(&archive, Method::PUT, missing, Some(update)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &archive,
        Method::PUT,
        path,
        Some(json!({"calibration_status": "Calibrated", "reason": "x"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "Calibrated is not set through this endpoint"
    );

    let (_, stats) = call(&archive, Method::GET, "/_test/stats", None).await;
    assert_eq!(stats["requests"]["status_changes"], 1);
    assert_eq!(stats["requests"]["status_conflicts"], 1);
}

#[tokio::test]
async fn outage_and_counted_faults_fail_service_requests_but_not_the_control_api() {
    let archive = Archive::new();
    let (status, _) = call(
        &archive,
        Method::POST,
        "/_test/faults",
        Some(json!({"outage": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&archive, Method::GET, "/api/v1/execblocks", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = call(&archive, Method::GET, "/_test/stats", None).await;
    assert_eq!(status, StatusCode::OK);

    let faults = json!({"outage": false, "faults": [{"path_prefix": "/api/v1/calibrations", "status": 500, "count": 2}]});
    call(&archive, Method::POST, "/_test/faults", Some(faults)).await;
    for _ in 0..2 {
        let (status, _) = call(&archive, Method::GET, "/api/v1/calibrations", None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    let (status, _) = call(&archive, Method::GET, "/api/v1/calibrations", None).await;
    assert_eq!(status, StatusCode::OK, "the fault was used up");
    let (status, _) = call(&archive, Method::GET, "/api/v1/execblocks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(archive.faults.injected(), 3);
}

#[tokio::test]
async fn the_clock_dates_seeded_rows_and_bad_seeds_are_refused_whole() {
    let archive = Archive::new();
    let (status, _) = call(
        &archive,
        Method::POST,
        "/_test/clock",
        Some(json!({"now": "2024-05-01T12:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &archive,
        Method::POST,
        "/_test/clock",
        Some(json!({"advance_s": 60})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["now"], "2024-05-01T12:01:00.000Z");
    call(&archive, Method::POST, "/_test/seed", Some(json!({"execblocks": [{"asdm_uid": "uid://A002/X1/X1", "project_code": "2017.1.00886.L"}]}))).await;
    let eb = archive.execblock("uid://A002/X1/X1").unwrap();
    assert_eq!(rfc3339(eb.status_time), "2024-05-01T12:01:00.000Z");
    assert_eq!(eb.qa0_status, "Pass");

    let bad = json!({"execblocks": [
        {"asdm_uid": "uid://A002/X1/X2", "project_code": "2017.1.00886.L"},
        {"asdm_uid": "uid://A002/X1/X3", "project_code": "2017.1.00886.L", "status_time": "soon"},
    ]});
    let (status, body) = call(&archive, Method::POST, "/_test/seed", Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("status_time"),
        "{body}"
    );
    assert!(
        archive.execblock("uid://A002/X1/X2").is_none(),
        "nothing of a bad seed is added"
    );
    let (status, _) = call(
        &archive,
        Method::POST,
        "/_test/seed",
        Some(json!({"execblocks": [{"asdm_uid": "x"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "project_code is required");
}

#[tokio::test]
async fn calibrations_list_by_delivery_time() {
    let archive = Archive::new();
    archive.seed_demo();
    let since = rfc3339(archive.now() - Duration::minutes(7));
    let (status, page) = call(
        &archive,
        Method::GET,
        &format!("/api/v1/calibrations?delivered_since={since}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["mous_uid"], "uid://A001/X1465/X2a0");
    assert_eq!(items[0]["manual_calibration_script"], true);
}
