//! Webhooks: generic and custom, 202 echoing the body, trace tags, and HMAC signatures.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

fn post(uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn generic_webhook_emits_and_echoes() {
    let app = TestApp::new();
    let token = app.token();
    let body = json!({"trigger": "mypack.event", "payload": {"k": "v"}}).to_string();
    let answer = app
        .send(post(
            "/api/v1/webhooks/st2",
            &[("x-auth-token", &token), ("st2-trace-tag", "build-42")],
            &body,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body, serde_json::from_str::<Value>(&body).unwrap());
    let emitted = app.platform.calls().emitted.clone();
    assert_eq!(emitted.len(), 1);
    assert_eq!(emitted[0].trigger, "mypack.event");
    assert_eq!(emitted[0].payload, json!({"k": "v"}));
    assert_eq!(emitted[0].trace_tag.as_deref(), Some("build-42"));
    assert_eq!(emitted[0].user.as_deref(), Some("admin"));

    for bad in ["[1, 2]", "\"text\"", "{not json", "{\"payload\": {}}"] {
        let answer = app
            .send(post(
                "/api/v1/webhooks/st2",
                &[("x-auth-token", &token)],
                bad,
            ))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let invalid = app
        .send(post(
            "/api/v1/webhooks/st2",
            &[("x-auth-token", &token)],
            &json!({"trigger": "mypack.event", "payload": {"invalid": 1}}).to_string(),
        ))
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(invalid.fault().contains("payload schema"));
    let unknown = app
        .send(post(
            "/api/v1/webhooks/st2",
            &[("x-auth-token", &token)],
            &json!({"trigger": "unknown.trigger"}).to_string(),
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let anonymous = app.send(post("/api/v1/webhooks/st2", &[], &body)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn custom_webhook_wraps_headers_and_body() {
    let app = TestApp::new();
    let key = app.api_key("ci", false);
    let answer = app
        .send(post(
            "/api/v1/webhooks/deploy",
            &[
                ("st2-api-key", &key),
                ("content-type", "application/json"),
                ("x-github-event", "push"),
                ("st2-trace-tag", "deploy-1"),
            ],
            r#"{"repo": "x"}"#,
        ))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body, json!({"repo": "x"}));
    let emitted = app.platform.calls().emitted.clone();
    let event = &emitted[0];
    assert_eq!(event.trigger, "core.webhook_deploy");
    assert_eq!(event.trace_tag.as_deref(), Some("deploy-1"));
    assert_eq!(event.user.as_deref(), Some("ci"));
    assert_eq!(event.payload["body"], json!({"repo": "x"}));
    assert_eq!(event.payload["headers"]["X-Github-Event"], "push");
    assert_eq!(event.payload["headers_lower"]["x-github-event"], "push");
    let text = event.payload.to_string();
    assert!(!text.contains(&key), "credentials are stripped: {text}");
    assert!(!text.to_ascii_lowercase().contains("st2-api-key"));

    let unknown = app
        .send(post(
            "/api/v1/webhooks/nowhere",
            &[("st2-api-key", &key)],
            "{}",
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.fault().contains("nowhere"));
    let bad_json = app
        .send(post(
            "/api/v1/webhooks/deploy",
            &[("st2-api-key", &key)],
            "{oops",
        ))
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    let text_body = app
        .send(post(
            "/api/v1/webhooks/deploy",
            &[("st2-api-key", &key), ("content-type", "text/plain")],
            "hello",
        ))
        .await;
    assert_eq!(text_body.status, StatusCode::ACCEPTED);
    assert_eq!(app.platform.calls().emitted[1].payload["body"], "hello");
}

#[tokio::test]
async fn hmac_signed_webhooks_need_no_token() {
    let app = TestApp::new();
    app.store
        .kv()
        .set(&nerve_store::KvWrite {
            name: nerve_web::hmac_key_name("deploy"),
            value: "shh".into(),
            secret: true,
            ..nerve_store::KvWrite::default()
        })
        .await
        .unwrap();
    let body = r#"{"ref": "main"}"#;
    let good = nerve_web::sign(b"shh", body.as_bytes());
    let accepted = app
        .send(post(
            "/api/v1/webhooks/deploy",
            &[("x-hub-signature-256", &good)],
            body,
        ))
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(app.platform.calls().emitted[0].user, None);

    let wrong = nerve_web::sign(b"not-the-secret", body.as_bytes());
    let rejected = app
        .send(post(
            "/api/v1/webhooks/deploy",
            &[("x-hub-signature-256", &wrong)],
            body,
        ))
        .await;
    assert_eq!(rejected.status, StatusCode::UNAUTHORIZED);
    assert!(rejected.fault().contains("does not match"));
    let tampered = app
        .send(post(
            "/api/v1/webhooks/deploy",
            &[("x-hub-signature-256", &good)],
            r#"{"ref": "evil"}"#,
        ))
        .await;
    assert_eq!(tampered.status, StatusCode::UNAUTHORIZED);
    // With a secret configured the signature is required, even with a token.
    let token = app.token();
    let missing = app
        .send(post(
            "/api/v1/webhooks/deploy",
            &[("x-auth-token", &token)],
            body,
        ))
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(missing.fault().contains("X-Hub-Signature-256"));
    assert_eq!(app.platform.calls().emitted.len(), 1);
}
