//! Service endpoints, packs, actions, triggers, events, traces, metrics and the fallback.

use axum::http::{Method, StatusCode};
use nerve_store::{TraceComponent, TraceComponentKind};
use serde_json::json;

use crate::support::{TestApp, request};

#[tokio::test]
async fn health_needs_no_credentials_and_unknown_paths_are_json_404() {
    let app = TestApp::new();
    for uri in ["/health", "/api/v1/health"] {
        let answer = app.send(request(Method::GET, uri, None, None)).await;
        assert_eq!(
            (answer.status, answer.body.clone()),
            (StatusCode::OK, json!({"status": "ok"}))
        );
    }
    let missing = app.call(Method::GET, "/api/v1/nothing-here", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.fault().contains("/api/v1/nothing-here"));
    let version = app.call(Method::GET, "/api/v1", None).await;
    assert_eq!(version.body["name"], "nerve");
}

#[tokio::test]
async fn metrics_report_store_counts_and_platform_samples() {
    let app = TestApp::new();
    app.execution("admin", nerve_model::ExecutionStatus::Failed, json!({}))
        .await;
    let anonymous = app.send(request(Method::GET, "/metrics", None, None)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let answer = app.call(Method::GET, "/metrics", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = answer.body.as_str().unwrap();
    assert!(text.contains("# TYPE nerve_executions gauge"), "{text}");
    assert!(
        text.contains("nerve_executions{status=\"failed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("nerve_executions{status=\"running\"} 0"),
        "{text}"
    );
    assert!(text.contains("nerve_trigger_instances 0"), "{text}");
    assert!(
        text.contains("nerve_fake_queue_depth{queue=\"work\\\"items\"} 3"),
        "{text}"
    ); // Queue depths from the platform, the API's own latencies, execution latencies.
    assert!(
        text.contains("nerve_queue_messages{queue=\"nerve.work\",state=\"ready\"} 4"),
        "{text}"
    );
    assert!(
        text.contains("nerve_queue_consumers{queue=\"nerve.work\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE nerve_http_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE nerve_execution_run_seconds summary"),
        "{text}"
    );
    assert!(
        text.contains("nerve_execution_run_seconds{quantile=\"0.99\"}"),
        "{text}"
    );
    assert_eq!(
        text.matches("# TYPE nerve_execution_run_seconds").count(),
        1,
        "one TYPE line per family: {text}"
    );
    assert!(text.contains("nerve_event_streams 0"), "{text}");
}

#[tokio::test]
async fn packs_register_list_and_remove() {
    let app = TestApp::new();
    let pack_dir = app.dir.path().join("hello");
    let failed = app
        .call(
            Method::POST,
            "/api/v1/packs/register",
            Some(json!({"path": pack_dir.display().to_string()})),
        )
        .await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST);
    assert_eq!(failed.body["details"][0]["file"], "pack.yaml");
    std::fs::create_dir_all(&pack_dir).unwrap();
    std::fs::write(pack_dir.join("pack.yaml"), "name: hello\n").unwrap();
    let registered = app
        .call(
            Method::POST,
            "/api/v1/packs/register",
            Some(json!({"path": pack_dir.display().to_string()})),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.body);
    assert_eq!(registered.body["pack"]["ref"], "hello");
    assert_eq!(registered.body["actions"], 1);
    let listed = app.call(Method::GET, "/api/v1/packs", None).await;
    assert_eq!(listed.body[0]["ref"], "hello");
    let one = app.call(Method::GET, "/api/v1/packs/hello", None).await;
    assert_eq!(one.body["version"], "1.0.0");
    let removed = app.call(Method::DELETE, "/api/v1/packs/hello", None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let gone = app.call(Method::GET, "/api/v1/packs/hello", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn actions_show_own_and_merged_parameters() {
    let app = TestApp::new();
    let listed = app
        .call(Method::GET, "/api/v1/actions?pack=core", None)
        .await;
    assert_eq!(listed.body[0]["ref"], "core.local");
    assert_eq!(listed.body[0]["runner_type"], "local-shell-cmd");
    let none = app
        .call(Method::GET, "/api/v1/actions?pack=other", None)
        .await;
    assert_eq!(none.body, json!([]));
    let view = app
        .call(
            Method::GET,
            "/api/v1/actions/views/parameters/core.local",
            None,
        )
        .await;
    assert_eq!(view.status, StatusCode::OK);
    assert_eq!(view.body["parameters"]["password"]["secret"], true);
    assert!(
        view.body["parameters"].get("timeout").is_some(),
        "runner parameters are merged"
    );
    assert_eq!(view.body["parameters_schema"]["type"], "object");
    assert_eq!(view.body["runner"]["name"], "local-shell-cmd");
    let missing = app.call(Method::GET, "/api/v1/actions/no.such", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn events_can_be_listed_filtered_and_re_emitted() {
    let app = TestApp::new();
    let token = app.token();
    for trigger in ["a.one", "b.two"] {
        let body = json!({"trigger": trigger, "payload": {"n": 1}});
        let answer = app
            .call_as(
                Method::POST,
                "/api/v1/webhooks/st2",
                ("x-auth-token", &token),
                Some(body),
            )
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED);
    }
    let all = app
        .call(Method::GET, "/api/v1/triggerinstances", None)
        .await;
    assert_eq!(all.header("x-total-count"), Some("2"));
    assert_eq!(all.body[0]["trigger"], "b.two");
    assert_eq!(all.body[0]["status"], "pending");
    let one = app
        .call(
            Method::GET,
            "/api/v1/triggerinstances?trigger=a.one&status=pending",
            None,
        )
        .await;
    assert_eq!(one.body.as_array().unwrap().len(), 1);
    let id = one.body[0]["id"].as_str().unwrap().to_owned();
    let re_emitted = app
        .call(
            Method::POST,
            &format!("/api/v1/triggerinstances/{id}/re_emit"),
            None,
        )
        .await;
    assert_eq!(re_emitted.status, StatusCode::CREATED);
    assert_ne!(re_emitted.body["id"], id.as_str());
    assert_eq!(re_emitted.body["payload"], json!({"n": 1}));
    let bad = app
        .call(Method::GET, "/api/v1/triggerinstances?status=lost", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let types = app.call(Method::GET, "/api/v1/triggertypes", None).await;
    assert_eq!(types.body[0]["ref"], "core.st2.webhook");
    let one_type = app
        .call(Method::GET, "/api/v1/triggertypes/core.st2.webhook", None)
        .await;
    assert_eq!(one_type.status, StatusCode::OK);
    let triggers = app.call(Method::GET, "/api/v1/triggers", None).await;
    assert_eq!(triggers.body, json!([]));
}

#[tokio::test]
async fn traces_recent_by_id_and_tag() {
    let app = TestApp::new();
    let component = |id: &str| TraceComponent {
        id: id.into(),
        component_ref: "a.one".into(),
        caused_by: None,
        updated_at: nerve_store::timestamp(chrono::Utc::now()),
    };
    app.store
        .add_to_trace(
            "trace1",
            "build-9",
            TraceComponentKind::TriggerInstance,
            component("ti1"),
        )
        .unwrap();
    let older = nerve_store::new_id_at(chrono::Utc::now() - chrono::Duration::minutes(1));
    let newer = nerve_store::new_id();
    for id in [&newer, &older] {
        app.store
            .add_to_trace(
                id,
                id,
                TraceComponentKind::Execution,
                component(&format!("x-{id}")),
            )
            .unwrap();
    }
    let by_id = app.call(Method::GET, "/api/v1/traces/trace1", None).await;
    assert_eq!(by_id.body["trace_tag"], "build-9");
    assert_eq!(by_id.body["trigger_instances"][0]["object_id"], "ti1");
    let by_tag = app
        .call(Method::GET, "/api/v1/traces?trace_tag=build-9", None)
        .await;
    assert_eq!(by_tag.body[0]["id"], "trace1");
    // Without a tag: recent traces, ULIDs newest first, then other ids; paged.
    let recent = app.call(Method::GET, "/api/v1/traces", None).await;
    assert_eq!(recent.status, StatusCode::OK);
    let ids: Vec<&str> = recent
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|trace| trace["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [newer.as_str(), &older, "trace1"]);
    assert_eq!(recent.header("x-total-count"), Some("3"));
    assert_eq!(recent.header("x-limit"), Some("100"));
    let second = app
        .call(Method::GET, "/api/v1/traces?limit=1&offset=1", None)
        .await;
    assert_eq!(second.body.as_array().unwrap().len(), 1);
    assert_eq!(second.body[0]["id"], older.as_str());
    assert_eq!(second.header("x-total-count"), Some("3"));
    let too_many = app
        .call(Method::GET, "/api/v1/traces?limit=5000", None)
        .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert!(
        too_many
            .fault()
            .contains("larger than the maximum page size"),
        "{}",
        too_many.body
    );
    let enforcements = app
        .call(Method::GET, "/api/v1/ruleenforcements", None)
        .await;
    assert_eq!(
        (enforcements.status, enforcements.body),
        (StatusCode::OK, json!([]))
    );
}
