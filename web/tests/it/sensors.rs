//! `/api/v1/sensortypes`: list with status, get, restart, logs; and the typed client for them.

use axum::http::{Method, StatusCode};
use nerve_web::Client;
use nerve_web::client::ListQuery;
use serde_json::json;

use crate::support::{TestApp, request};

#[tokio::test]
async fn sensor_types_list_in_ref_order_with_their_status() {
    let app = TestApp::new();
    let listed = app.call(Method::GET, "/api/v1/sensortypes", None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let refs: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|sensor| sensor["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["demo.Idle", "demo.Ticker", "other.Off"]);
    assert_eq!(listed.header("x-total-count"), Some("3"));

    let ticker = &listed.body[1];
    assert_eq!(ticker["pack"], "demo");
    assert_eq!(ticker["class_name"], "Ticker");
    assert_eq!(ticker["name"], "Ticker");
    assert_eq!(ticker["runtime"], "shell");
    assert_eq!(ticker["entry_point"], "ticker.sh");
    assert_eq!(ticker["enabled"], true);
    assert_eq!(ticker["trigger_types"], json!(["demo.tick"]));
    let status = &ticker["status"];
    assert_eq!(status["state"], "running");
    assert_eq!(status["reason"], json!(null));
    assert_eq!(status["pid"], 4242);
    assert_eq!(status["protocol"], 1);
    assert_eq!(
        (&status["dispatched"], &status["rejected"]),
        (&json!(7), &json!(1))
    );
    assert!(status["uptime_seconds"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(status["triggers"][0]["type"], "demo.tick");
    assert_eq!(status["triggers"][0]["parameters"], json!({"every": 5}));

    let idle = &listed.body[0]["status"];
    assert_eq!(idle["state"], "idle");
    assert_eq!(idle["reason"], "no enabled rule uses its trigger types");
    assert_eq!(idle["uptime_seconds"], json!(null));
    assert_eq!(listed.body[2]["status"]["state"], "disabled");
    assert_eq!(listed.body[2]["enabled"], false);

    let demo = app
        .call(
            Method::GET,
            "/api/v1/sensortypes?pack=demo&limit=1&offset=1",
            None,
        )
        .await;
    assert_eq!(demo.header("x-total-count"), Some("2"));
    assert_eq!(demo.body.as_array().unwrap().len(), 1);
    assert_eq!(demo.body[0]["ref"], "demo.Ticker");

    let anonymous = app
        .send(request(Method::GET, "/api/v1/sensortypes", None, None))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn one_sensor_type_or_404() {
    let app = TestApp::new();
    let one = app
        .call(Method::GET, "/api/v1/sensortypes/demo.Ticker", None)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["status"]["command"], "/bin/sh ticker.sh");
    let missing = app
        .call(Method::GET, "/api/v1/sensortypes/demo.Nope", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.fault(), "sensor `demo.Nope` not found");
}

#[tokio::test]
async fn restart_asks_the_platform_and_refuses_sensors_that_do_not_run() {
    let app = TestApp::new();
    let restarted = app
        .call(
            Method::POST,
            "/api/v1/sensortypes/demo.Ticker/restart",
            None,
        )
        .await;
    assert_eq!(restarted.status, StatusCode::OK, "{}", restarted.body);
    assert_eq!(restarted.body["ref"], "demo.Ticker");
    assert_eq!(restarted.body["status"]["restarts"], 1);
    assert_eq!(app.platform.calls().restarted, ["demo.Ticker"]);

    let idle = app
        .call(Method::POST, "/api/v1/sensortypes/demo.Idle/restart", None)
        .await;
    assert_eq!(idle.status, StatusCode::CONFLICT);
    assert_eq!(
        idle.fault(),
        "sensor `demo.Idle` is not running: no enabled rule uses its trigger types"
    );
    let missing = app
        .call(Method::POST, "/api/v1/sensortypes/demo.Nope/restart", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(app.platform.calls().restarted.len(), 1);
}

#[tokio::test]
async fn logs_are_the_kept_tail() {
    let app = TestApp::new();
    let all = app
        .call(Method::GET, "/api/v1/sensortypes/demo.Ticker/logs", None)
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body.as_array().unwrap().len(), 3);
    assert_eq!(
        all.body[0],
        json!({"at": "2024-05-01T10:00:01.000Z", "source": "host", "level": "info", "message": "line 1"})
    );
    let tail = app
        .call(
            Method::GET,
            "/api/v1/sensortypes/demo.Ticker/logs?tail=2",
            None,
        )
        .await;
    let messages: Vec<&str> = tail
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["line 2", "line 3"]);
    let idle = app
        .call(Method::GET, "/api/v1/sensortypes/demo.Idle/logs", None)
        .await;
    assert_eq!((idle.status, idle.body), (StatusCode::OK, json!([])));
    let missing = app
        .call(Method::GET, "/api/v1/sensortypes/demo.Nope/logs", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = app
        .call(
            Method::GET,
            "/api/v1/sensortypes/demo.Ticker/logs?tail=many",
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn client_reads_and_restarts_sensors() {
    let app = TestApp::new();
    let (url, cancel, _server) = app.serve().await;
    let client = Client::new(&url, Some(app.token()));

    let page = client
        .list_sensors(&ListQuery {
            pack: Some("demo".into()),
            ..ListQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[1].status.pid, Some(4242));
    let ticker = client.get_sensor("demo.Ticker").await.unwrap();
    assert_eq!(ticker.status.triggers[0].trigger_type, "demo.tick");
    assert_eq!(
        client
            .restart_sensor("demo.Ticker")
            .await
            .unwrap()
            .status
            .restarts,
        1
    );
    let refused = client.restart_sensor("demo.Idle").await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::CONFLICT));
    let lines = client.sensor_logs("demo.Ticker", Some(1)).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].message, "line 3");
    assert_eq!(
        client.sensor_logs("demo.Ticker", None).await.unwrap().len(),
        3
    );
    let missing = client.get_sensor("demo.Nope").await.unwrap_err();
    assert_eq!(missing.status(), Some(StatusCode::NOT_FOUND));
    cancel.cancel();
}
