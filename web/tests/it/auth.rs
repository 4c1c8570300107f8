//! Authentication: every non-public route refuses missing and wrong credentials; tokens and API
//! keys are accepted in every documented place; API key management is for administrators.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, request};

fn concrete(path: &str) -> String {
    // `{id}` → `x1`; fine for every route: handlers answer 401 before looking anything up.
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push_str("x1");
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[tokio::test]
async fn every_non_public_route_requires_credentials() {
    let app = TestApp::new();
    let public = ["/health", "/api/v1/health", "/api/v1/openapi.json"];
    let mut checked = 0;
    for (method, path) in nerve_web::openapi::router_operations() {
        let method: Method = method.parse().unwrap();
        let uri = concrete(&path);
        let anonymous = app.send(request(method.clone(), &uri, None, None)).await;
        let wrong = app
            .send(request(
                method.clone(),
                &uri,
                Some(("x-auth-token", "0123")),
                None,
            ))
            .await;
        if public.contains(&path.as_str()) {
            assert_eq!(anonymous.status, StatusCode::OK, "{method} {path}");
            continue;
        }
        // The web UI's page and assets hold no data and load without credentials.
        if path == "/" || path.starts_with("/ui/") {
            assert_ne!(
                anonymous.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
            continue;
        }
        for (answer, what) in [
            (&anonymous, "without credentials"),
            (&wrong, "with a wrong token"),
        ] {
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {what}"
            );
            assert!(
                answer.fault().contains("X-Auth-Token"),
                "{method} {path}: the message says how to authenticate: {}",
                answer.fault()
            );
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} routes checked");
}

#[tokio::test]
async fn tokens_and_api_keys_are_accepted_where_documented() {
    let app = TestApp::new();
    let token = app.token();
    let key = app.api_key("alice", false);
    let cases = [
        request(
            Method::GET,
            "/api/v1/",
            Some(("x-auth-token", &token)),
            None,
        ),
        request(
            Method::GET,
            &format!("/api/v1/?x-auth-token={token}"),
            None,
            None,
        ),
        request(
            Method::GET,
            "/api/v1/",
            Some(("authorization", &format!("Bearer {token}"))),
            None,
        ),
        request(Method::GET, "/api/v1/", Some(("st2-api-key", &key)), None),
        request(
            Method::GET,
            &format!("/api/v1/?st2-api-key={key}"),
            None,
            None,
        ),
        request(
            Method::GET,
            "/api/v1/",
            Some(("authorization", &format!("Bearer {key}"))),
            None,
        ),
    ];
    let mut users = Vec::new();
    for case in cases {
        let uri = case.uri().clone();
        let answer = app.send(case).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
        users.push(answer.body["user"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        users,
        ["admin", "admin", "admin", "alice", "alice", "alice"]
    );
}

#[tokio::test]
async fn unauthenticated_answer_is_st2_shaped() {
    let app = TestApp::new();
    let answer = app
        .send(request(Method::GET, "/api/v1/executions", None, None))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer.fault().starts_with("authentication required"),
        "{}",
        answer.fault()
    );
    assert!(answer.fault().contains("admin.token"));
    assert!(answer.header("www-authenticate").is_some());
}

#[tokio::test]
async fn api_keys_are_managed_by_admins_only() {
    let app = TestApp::new();
    let created = app
        .call(
            Method::POST,
            "/api/v1/apikeys",
            Some(json!({"user": "bob", "description": "ci"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["user"], "bob");

    let listed = app.call(Method::GET, "/api/v1/apikeys", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert!(
        !listed.body.to_string().contains(&key),
        "listing must not show keys"
    );

    // bob is not an administrator.
    for (method, uri, body) in [
        (Method::GET, "/api/v1/apikeys".to_owned(), None),
        (Method::POST, "/api/v1/apikeys".to_owned(), Some(json!({}))),
        (Method::DELETE, format!("/api/v1/apikeys/{id}"), None),
    ] {
        let answer = app.call_as(method, &uri, ("st2-api-key", &key), body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let who = app
        .call_as(Method::GET, "/api/v1/", ("st2-api-key", &key), None)
        .await;
    assert_eq!(who.body["user"], "bob");

    let deleted = app
        .call(Method::DELETE, &format!("/api/v1/apikeys/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let revoked = app
        .call_as(Method::GET, "/api/v1/", ("st2-api-key", &key), None)
        .await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    let again = app
        .call(Method::DELETE, &format!("/api/v1/apikeys/{id}"), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_token_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::new();
    let path = app.dir.path().join("data/admin.token");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), app.token());
    let reopened = nerve_web::Auth::open(&app.dir.path().join("data")).unwrap();
    assert_eq!(reopened.admin_token(), app.token());
    assert_eq!(reopened.token_path(), path);
}
