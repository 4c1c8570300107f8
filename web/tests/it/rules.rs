//! Rules: effective enabled state, create from JSON or YAML, enable/disable with a reason.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use nerve_web::RuleSource;
use serde_json::{Value, json};

use crate::support::TestApp;

fn rule(name: &str) -> Value {
    json!({
        "name": name,
        "pack": "examples",
        "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "deploy"}},
        "criteria": {"trigger.body.repo": {"type": "equals", "pattern": "x"}},
        "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.repo }}"}}
    })
}

#[tokio::test]
async fn rules_are_created_listed_disabled_and_deleted() {
    let app = TestApp::new();
    let created = app
        .call(Method::POST, "/api/v1/rules", Some(rule("on_deploy")))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["ref"], "examples.on_deploy");
    assert_eq!(created.body["enabled"], true);

    let disabled = app
        .call(
            Method::PUT,
            "/api/v1/rules/examples.on_deploy/disable",
            Some(json!({"reason": "noisy"})),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(disabled.body["enabled"], false);
    assert_eq!(disabled.body["disabled_reason"], "noisy");

    let listed = app.call(Method::GET, "/api/v1/rules", None).await;
    assert_eq!(listed.header("x-total-count"), Some("1"));
    assert_eq!(listed.body[0]["enabled"], false);
    assert_eq!(listed.body[0]["disabled_reason"], "noisy");
    let only_enabled = app
        .call(Method::GET, "/api/v1/rules?enabled=true", None)
        .await;
    assert_eq!(only_enabled.body, json!([]));

    // st2's PUT with the whole rule and `enabled: true` only toggles it.
    let mut whole = listed.body[0].clone();
    whole["enabled"] = json!(true);
    let put = app
        .call(Method::PUT, "/api/v1/rules/examples.on_deploy", Some(whole))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["enabled"], true);
    assert!(put.body.get("disabled_reason").is_none());
    assert_eq!(
        app.platform.calls().rule_sources.len(),
        1,
        "no reload for a toggle"
    );

    let mismatched = app
        .call(
            Method::PUT,
            "/api/v1/rules/examples.other",
            Some(rule("on_deploy")),
        )
        .await;
    assert_eq!(mismatched.status, StatusCode::BAD_REQUEST);

    let enabled = app
        .call(Method::PUT, "/api/v1/rules/examples.on_deploy/enable", None)
        .await;
    assert_eq!(enabled.body["enabled"], true);
    let got = app
        .call(Method::GET, "/api/v1/rules/examples.on_deploy", None)
        .await;
    assert_eq!(got.body["trigger"]["type"], "core.st2.webhook");

    let deleted = app
        .call(Method::DELETE, "/api/v1/rules/examples.on_deploy", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app
        .call(Method::GET, "/api/v1/rules/examples.on_deploy", None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let disable_missing = app
        .call(
            Method::PUT,
            "/api/v1/rules/examples.on_deploy/disable",
            None,
        )
        .await;
    assert_eq!(disable_missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn yaml_rules_pass_through_and_errors_carry_positions() {
    let app = TestApp::new();
    let yaml = "name: r\ntrigger: {}\n";
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/rules")
        .header("x-auth-token", app.token())
        .header("content-type", "application/yaml")
        .body(Body::from(yaml))
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.fault(), "the rule has 1 error");
    assert_eq!(answer.body["details"][0]["line"], 2);
    assert_eq!(answer.body["details"][0]["col"], 3);
    assert_eq!(answer.body["details"][0]["field"], "trigger");
    assert_eq!(
        app.platform.calls().rule_sources,
        vec![RuleSource::Yaml(yaml.to_owned())]
    );
    let not_object = app
        .call(Method::POST, "/api/v1/rules", Some(json!([1])))
        .await;
    assert_eq!(not_object.status, StatusCode::BAD_REQUEST);
}
