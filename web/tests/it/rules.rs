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

#[tokio::test]
async fn a_rule_is_validated_without_being_stored() {
    let app = TestApp::new();
    let yaml = "---\nname: r\npack: examples\ncritera: {}\n";
    let answer = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/rules/validate")
                .header("x-auth-token", app.token())
                .header("content-type", "application/yaml")
                .body(Body::from(yaml))
                .unwrap(),
        )
        .await;
    // Problems are an answer, not a failed request.
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["valid"], false);
    assert_eq!(answer.body["diagnostics"][0]["line"], 4);
    assert_eq!(answer.body["diagnostics"][0]["field"], "critera");
    assert_eq!(
        app.platform.calls().validated,
        vec![RuleSource::Yaml(yaml.to_owned())]
    );
    assert!(
        app.platform.calls().rule_sources.is_empty(),
        "nothing created"
    );

    let json_rule = app
        .call(Method::POST, "/api/v1/rules/validate", Some(rule("ok")))
        .await;
    assert_eq!(json_rule.status, StatusCode::OK);
    assert_eq!(json_rule.body["valid"], true);
    assert_eq!(json_rule.body["rule_ref"], "examples.fake");

    let not_a_rule = app
        .call(Method::POST, "/api/v1/rules/validate", Some(json!([1])))
        .await;
    assert_eq!(not_a_rule.status, StatusCode::BAD_REQUEST);
    assert!(
        not_a_rule.fault().contains("JSON object"),
        "{}",
        not_a_rule.body
    );
}

#[tokio::test]
async fn a_rule_is_tested_against_an_event_or_a_recorded_one() {
    let app = TestApp::new();
    let answer = app
        .call(
            Method::POST,
            "/api/v1/rules/test",
            Some(json!({"rule": "name: r\n", "event": {"trigger": "core.st2.webhook", "payload": {"n": 5}}})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["matched"], true);
    assert_eq!(answer.body["criteria"][0]["type"], "equals");
    let (source, event) = app.platform.calls().tested[0].clone();
    assert_eq!(source, RuleSource::Yaml("name: r\n".into()));
    assert_eq!(event.trigger, "core.st2.webhook");

    // A recorded event, by id.
    let recorded = app
        .call(
            Method::POST,
            "/api/v1/webhooks/st2",
            Some(json!({"trigger": "core.st2.webhook", "payload": {"n": 4}})),
        )
        .await;
    assert_eq!(recorded.status, StatusCode::ACCEPTED, "{}", recorded.body);
    let events = app
        .call(Method::GET, "/api/v1/triggerinstances", None)
        .await;
    let id = events.body[0]["id"].as_str().unwrap().to_owned();
    let answer = app
        .call(
            Method::POST,
            "/api/v1/rules/test",
            Some(json!({"rule": rule("r"), "trigger_instance": id})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["matched"], false);
    let (source, event) = app.platform.calls().tested[1].clone();
    assert!(matches!(source, RuleSource::Json(_)));
    assert_eq!(event.payload, json!({"n": 4}));

    for (body, status, says) in [
        (json!({"rule": "x"}), StatusCode::BAD_REQUEST, "`event`"),
        (
            json!({"rule": "x", "event": {"trigger": "t"}, "trigger_instance": "y"}),
            StatusCode::BAD_REQUEST,
            "not both",
        ),
        (
            json!({"rule": 5, "event": {"trigger": "t"}}),
            StatusCode::BAD_REQUEST,
            "YAML text",
        ),
        (
            json!({"event": {"trigger": "t"}}),
            StatusCode::BAD_REQUEST,
            "missing field `rule`",
        ),
        (
            json!({"rule": "x", "trigger_instance": nerve_store::new_id()}),
            StatusCode::NOT_FOUND,
            "not found",
        ),
    ] {
        let answer = app
            .call(Method::POST, "/api/v1/rules/test", Some(body.clone()))
            .await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert!(answer.fault().contains(says), "{body}: {}", answer.body);
    }
}
