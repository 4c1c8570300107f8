//! `http-request` against a local server.

use nerve_runner::{RunRequest, RunStatus};
use serde_json::{Value, json};

use crate::support::*;

fn http_request(pack: &std::path::Path, parameters: Value) -> RunRequest {
    let action = action(
        "http",
        "http-request",
        json!({
            "method": {"type": "string"}, "body": {"type": "string"},
            "params": {"type": "object"}, "timeout": {"type": "number", "default": 60},
        }),
    );
    request(action, pack, parameters)
}

fn echo(request: &Recorded) -> Option<Reply> {
    if request.target.starts_with("/missing") {
        return Reply::json(404, &json!({"error": "no such thing"}));
    }
    if request.target.starts_with("/text") {
        return Reply::text(200, "plain words");
    }
    if request.target.starts_with("/hang") {
        return None;
    }
    Reply::json(
        200,
        &json!({
            "method": request.method,
            "target": request.target,
            "body": String::from_utf8_lossy(&request.body),
            "authorization": request.header("authorization"),
            "cookie": request.header("cookie"),
            "user_agent": request.header("user-agent"),
            "content_type": request.header("content-type"),
        }),
    )
}

#[tokio::test]
async fn a_get_returns_the_parsed_json_body() {
    let server = TestServer::start(echo).await;
    let pack = pack_dir();
    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": format!("{}/things", server.url), "params": {"q": "a b", "n": 2, "tag": ["x", "y"]},
               "username": "user", "password": "pw", "cookies": {"session": "s1"}}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.result["status_code"], json!(200));
    assert_eq!(outcome.result["parsed"], json!(true));
    let body = &outcome.result["body"];
    assert_eq!(body["method"], json!("GET"));
    assert_eq!(body["target"], json!("/things?q=a+b&n=2&tag=x&tag=y"));
    assert_eq!(body["authorization"], json!("Basic dXNlcjpwdw=="));
    assert_eq!(body["cookie"], json!("session=s1"));
    assert!(body["user_agent"].as_str().unwrap().starts_with("nerve/"));
    assert_eq!(outcome.result["headers"]["x-test"], json!("a, b"));
    assert_eq!(
        outcome.result["headers"]["content-type"],
        json!("application/json")
    );
}

#[tokio::test]
async fn a_body_makes_it_a_post_and_json_bodies_are_checked() {
    let server = TestServer::start(echo).await;
    let pack = pack_dir();
    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": server.url, "body": "{\"a\": 1}", "headers": {"Content-Type": "application/json"}}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.result["body"]["method"], json!("POST"));
    assert_eq!(outcome.result["body"]["body"], json!("{\"a\":1}"));

    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": server.url, "method": "put", "body": "raw text"}),
    ))
    .await;
    assert_eq!(outcome.result["body"]["method"], json!("PUT"));
    assert_eq!(outcome.result["body"]["body"], json!("raw text"));

    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": format!("{}/text", server.url)}),
    ))
    .await;
    assert_eq!(outcome.result["body"], json!("plain words"));
    assert_eq!(outcome.result["parsed"], json!(false));
}

#[tokio::test]
async fn an_error_status_fails_with_the_response_kept() {
    let server = TestServer::start(echo).await;
    let pack = pack_dir();
    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": format!("{}/missing", server.url)}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.result["status_code"], json!(404));
    assert_eq!(outcome.result["body"], json!({"error": "no such thing"}));
    assert_eq!(
        outcome.reason.as_deref(),
        Some("the server answered with status 404")
    );
}

#[tokio::test]
async fn a_blacklisted_host_is_refused_before_connecting() {
    let server = TestServer::start(echo).await;
    let pack = pack_dir();
    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": server.url, "url_hosts_blacklist": ["127.0.0.1"]}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .ends_with("is blacklisted")
    );
    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": server.url, "url_hosts_whitelist": ["example.com"]}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .ends_with("is not whitelisted")
    );
    assert!(server.requests().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_a_closed_port_fails() {
    let server = TestServer::start(echo).await;
    let pack = pack_dir();
    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": format!("{}/hang", server.url), "timeout": 0.3}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::TimedOut, "{outcome:?}");
    assert!(
        outcome.result["error"]
            .as_str()
            .unwrap()
            .starts_with("Action failed to complete in 0.3 seconds")
    );

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let (outcome, _) = run_collect(http_request(
        pack.path(),
        json!({"url": format!("http://{closed}/")}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(outcome.result["error"].as_str().is_some());
}
