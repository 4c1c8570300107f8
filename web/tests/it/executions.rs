//! Executions: paging and headers, filters, secret masking, run/cancel/re-run, output pages.

use axum::http::{Method, StatusCode};
use nerve_model::{ExecutionStatus, MASKED_VALUE};
use serde_json::{Value, json};

use crate::support::TestApp;

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|execution| execution["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_pages_newest_first_with_headers() {
    let app = TestApp::new();
    let mut created = Vec::new();
    for n in 0..5 {
        let execution = app
            .execution(
                "admin",
                ExecutionStatus::Succeeded,
                json!({"cmd": format!("echo {n}")}),
            )
            .await;
        created.push(execution.id);
    }
    created.reverse();
    let page = app
        .call(Method::GET, "/api/v1/executions?limit=2&offset=1", None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(ids(&page.body), created[1..3]);
    assert_eq!(page.header("x-total-count"), Some("5"));
    assert_eq!(page.header("x-limit"), Some("2"));

    let default = app.call(Method::GET, "/api/v1/executions", None).await;
    assert_eq!(default.header("x-limit"), Some("100"));
    assert_eq!(ids(&default.body), created);

    let too_many = app
        .call(Method::GET, "/api/v1/executions?limit=1001", None)
        .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert!(too_many.fault().contains("1000"), "{}", too_many.fault());
    let negative = app
        .call(Method::GET, "/api/v1/executions?limit=-5", None)
        .await;
    assert_eq!(negative.status, StatusCode::BAD_REQUEST);
    let not_a_number = app
        .call(Method::GET, "/api/v1/executions?limit=ten", None)
        .await;
    assert_eq!(not_a_number.status, StatusCode::BAD_REQUEST);
    assert!(not_a_number.body.get("faultstring").is_some());

    let all = app
        .call(Method::GET, "/api/v1/executions?limit=-1", None)
        .await;
    assert_eq!(
        (all.status, all.header("x-limit")),
        (StatusCode::OK, Some("-1"))
    );
    let key = app.api_key("alice", false);
    let refused = app
        .call_as(
            Method::GET,
            "/api/v1/executions?limit=-1",
            ("st2-api-key", &key),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn list_filters_by_status_user_action_and_time() {
    let app = TestApp::new();
    let running = app
        .execution("alice", ExecutionStatus::Running, json!({"cmd": "a"}))
        .await;
    let done = app
        .execution("bob", ExecutionStatus::Succeeded, json!({"cmd": "b"}))
        .await;
    let by_status = app
        .call(Method::GET, "/api/v1/executions?status=running", None)
        .await;
    assert_eq!(ids(&by_status.body), vec![running.id.clone()]);
    assert_eq!(by_status.header("x-total-count"), Some("1"));
    let by_user = app
        .call(Method::GET, "/api/v1/executions?user=bob", None)
        .await;
    assert_eq!(ids(&by_user.body), vec![done.id.clone()]);
    let by_action = app
        .call(
            Method::GET,
            "/api/v1/executions?action=core.local&status=succeeded",
            None,
        )
        .await;
    assert_eq!(ids(&by_action.body), vec![done.id.clone()]);
    let none = app
        .call(Method::GET, "/api/v1/executions?action=other.action", None)
        .await;
    assert_eq!(none.body, json!([]));
    let future = app
        .call(
            Method::GET,
            "/api/v1/executions?timestamp_gt=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(
        (future.status, future.body.clone()),
        (StatusCode::OK, json!([]))
    );
    let bad_status = app
        .call(Method::GET, "/api/v1/executions?status=done", None)
        .await;
    assert_eq!(bad_status.status, StatusCode::BAD_REQUEST);
    assert!(bad_status.fault().contains("succeeded"));
    let bad_time = app
        .call(
            Method::GET,
            "/api/v1/executions?timestamp_lt=yesterday",
            None,
        )
        .await;
    assert_eq!(bad_time.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secret_parameters_are_masked_everywhere() {
    let app = TestApp::new();
    let execution = app
        .execution(
            "admin",
            ExecutionStatus::Running,
            json!({"cmd": "login", "password": "hunter2"}),
        )
        .await;
    let one = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{}", execution.id),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["parameters"]["password"], MASKED_VALUE);
    assert_eq!(one.body["parameters"]["cmd"], "login");
    assert_eq!(one.body["action"]["ref"], "core.local");
    assert_eq!(one.body["status"], "running");
    assert!(!one.body.to_string().contains("hunter2"));

    let list = app.call(Method::GET, "/api/v1/executions", None).await;
    assert!(!list.body.to_string().contains("hunter2"));
    assert_eq!(list.body[0]["parameters"]["password"], MASKED_VALUE);

    // Administrators may ask for secrets; others may not.
    let shown = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{}?show_secrets=true", execution.id),
            None,
        )
        .await;
    assert_eq!(shown.body["parameters"]["password"], "hunter2");
    let key = app.api_key("alice", false);
    let refused = app
        .call_as(
            Method::GET,
            &format!("/api/v1/executions/{}?show_secrets=true", execution.id),
            ("st2-api-key", &key),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn executions_of_unknown_actions_mask_every_parameter() {
    let app = TestApp::new();
    let mut execution = app
        .execution("admin", ExecutionStatus::Succeeded, json!({}))
        .await;
    execution.id = nerve_store::new_id();
    execution.action = "gone.action".into();
    execution.parameters = serde_json::from_value(json!({"token": "abc", "n": 1})).unwrap();
    app.store.create_execution(&execution).await.unwrap();
    let one = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{}", execution.id),
            None,
        )
        .await;
    assert_eq!(
        one.body["parameters"],
        json!({"token": MASKED_VALUE, "n": MASKED_VALUE})
    );
}

#[tokio::test]
async fn run_cancel_and_rerun_go_through_the_platform() {
    let app = TestApp::new();
    let run = app
        .call(
            Method::POST,
            "/api/v1/executions",
            Some(json!({
                "action": "core.local",
                "parameters": {"cmd": "date", "password": "s3cret"},
                "trace_tag": "build-7"
            })),
        )
        .await;
    assert_eq!(run.status, StatusCode::CREATED, "{}", run.body);
    assert_eq!(run.body["parameters"]["password"], MASKED_VALUE);
    assert_eq!(run.body["context"]["user"], "admin");
    {
        let calls = app.platform.calls();
        let request = &calls.runs[0];
        assert_eq!(request.user, "admin");
        assert_eq!(request.trace_tag.as_deref(), Some("build-7"));
        assert_eq!(request.parameters["password"], "s3cret");
    }
    let id = run.body["id"].as_str().unwrap().to_owned();

    let rerun = app
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/re_run"),
            Some(json!({"parameters": {"cmd": "uptime"}})),
        )
        .await;
    assert_eq!(rerun.status, StatusCode::CREATED, "{}", rerun.body);
    assert_eq!(rerun.body["parameters"]["cmd"], "uptime");
    assert_eq!(rerun.body["parameters"]["password"], MASKED_VALUE);
    assert_eq!(rerun.body["context"]["rerun_of"], id.as_str());

    let canceled = app
        .call(Method::DELETE, &format!("/api/v1/executions/{id}"), None)
        .await;
    assert_eq!(canceled.status, StatusCode::OK);
    assert_eq!(canceled.body["status"], "canceled");
    let again = app
        .call(Method::DELETE, &format!("/api/v1/executions/{id}"), None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.fault().contains("already finished"));

    let invalid = app
        .call(
            Method::POST,
            "/api/v1/executions",
            Some(json!({"action": "core.local", "parameters": {"cmd": ""}})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid.fault(), "parameter `cmd` must not be empty");
    let unknown = app
        .call(
            Method::POST,
            "/api/v1/executions",
            Some(json!({"action": "no.such"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = app
        .call(
            Method::POST,
            "/api/v1/executions",
            Some(json!({"parameters": {}})),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.fault().contains("action"),
        "{}",
        malformed.fault()
    );
    let missing = app.call(Method::GET, "/api/v1/executions/nope", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.fault(), "execution `nope` not found");
}

#[tokio::test]
async fn output_pages_from_a_sequence_number() {
    let app = TestApp::new();
    let execution = app
        .execution("admin", ExecutionStatus::Running, json!({"cmd": "x"}))
        .await;
    for n in 0..5 {
        app.store
            .append_output(&execution.id, "stdout", &format!("line {n}"))
            .unwrap();
    }
    app.store
        .append_output(&execution.id, "stderr", "oops")
        .unwrap();
    let page = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{}/output?from=3&limit=2", execution.id),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let data: Vec<&str> = page
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["data"].as_str().unwrap())
        .collect();
    assert_eq!(data, ["line 3", "line 4"]);
    assert_eq!(page.body[0]["seq"], 3);
    assert_eq!(page.body[0]["output_type"], "stdout");
    assert_eq!(page.header("x-next-seq"), Some("6"));
    let stderr = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/executions/{}/output?output_type=stderr",
                execution.id
            ),
            None,
        )
        .await;
    assert_eq!(stderr.body.as_array().unwrap().len(), 1);
    let text = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/executions/{}/output?format=text&limit=2",
                execution.id
            ),
            None,
        )
        .await;
    assert_eq!(text.body, json!("line 0\nline 1\n"));
    let missing = app
        .call(Method::GET, "/api/v1/executions/nope/output", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// Records a finished `core.local` execution whose result is `result`.
async fn with_result(app: &TestApp, result: Value) -> String {
    let mut execution = app
        .execution("admin", ExecutionStatus::Succeeded, json!({"cmd": "x"}))
        .await;
    execution.id = nerve_store::new_id();
    execution.result = Some(result);
    app.store.create_execution(&execution).await.unwrap();
    execution.id
}

#[tokio::test]
async fn a_large_result_is_cut_on_request_and_downloadable_whole() {
    let app = TestApp::new();
    // 300 KB: kept in a file by the store, with a preview in the record.
    let big = json!({"data": "é".repeat(150_000)});
    let big_size = serde_json::to_vec(&big).unwrap().len();
    let id = with_result(&app, big.clone()).await;

    let whole = app
        .call(Method::GET, &format!("/api/v1/executions/{id}"), None)
        .await;
    assert_eq!(whole.body["result"], big);
    assert!(whole.body.get("result_truncated").is_none());

    let cut = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{id}?max_result_bytes=1001"),
            None,
        )
        .await;
    assert_eq!(cut.status, StatusCode::OK);
    assert_eq!(cut.body["result_truncated"], true);
    assert_eq!(cut.body["result_size"], json!(big_size));
    let start = cut.body["result"].as_str().unwrap();
    assert!(start.len() <= 1001 && start.len() > 900, "{}", start.len());
    assert!(start.starts_with("{\"data\":\"éé"), "{start}");

    let download = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{id}/result"),
            None,
        )
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.body, big);
    assert_eq!(
        download.header("content-disposition"),
        Some(format!("attachment; filename=\"{id}-result.json\"").as_str())
    );

    // A small inline result is returned whole under the limit, and cut (pretty JSON) above it.
    let small = with_result(&app, json!({"a": 1, "b": [1, 2, 3]})).await;
    let under = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{small}?max_result_bytes=1000"),
            None,
        )
        .await;
    assert_eq!(under.body["result"], json!({"a": 1, "b": [1, 2, 3]}));
    let over = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{small}?max_result_bytes=5"),
            None,
        )
        .await;
    assert_eq!(over.body["result"], "{\n  \"");
    assert_eq!(over.body["result_truncated"], true);

    let missing = app
        .call(
            Method::GET,
            &format!("/api/v1/executions/{}/result", nerve_store::new_id()),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
