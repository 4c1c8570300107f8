//! The typed client against a real server on port 0, and server discovery.

use nerve_model::MASKED_VALUE;
use nerve_web::client::{ExecutionQuery, ListQuery};
use nerve_web::dto::{KeySetBody, RunBody};
use nerve_web::{Client, discover, write_server_info};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn client_calls_a_real_server() {
    let app = TestApp::new();
    let (url, cancel, _server) = app.serve().await;
    let client = Client::new(&url, Some(app.token()));

    assert_eq!(client.version().await.unwrap().user, "admin");
    let run = client
        .run(&RunBody {
            action: "core.local".into(),
            parameters: serde_json::from_value(json!({"cmd": "date", "password": "p"})).unwrap(),
            trace_tag: None,
            context: serde_json::Map::new(),
        })
        .await
        .unwrap();
    assert_eq!(run.parameters["password"], MASKED_VALUE);
    let fetched = client.get_execution(&run.id).await.unwrap();
    assert_eq!(fetched.id, run.id);
    assert_eq!(fetched.action.reference, "core.local");
    let page = client
        .list_executions(&ExecutionQuery {
            action: Some("core.local".into()),
            limit: Some(10),
            ..ExecutionQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (1, 1));
    assert!(client.output(&run.id, 0).await.unwrap().is_empty());
    let rerun = client
        .rerun(
            &run.id,
            serde_json::from_value(json!({"cmd": "uptime"})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rerun.parameters["cmd"], "uptime");
    assert_eq!(
        client.cancel(&run.id).await.unwrap().status.as_str(),
        "canceled"
    );

    let missing = client.get_execution("nope").await.unwrap_err();
    assert_eq!(missing.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(missing.faultstring(), Some("execution `nope` not found"));

    let rule_error = client.create_rule_yaml("name: r\n").await.unwrap_err();
    assert_eq!(rule_error.status(), Some(StatusCode::BAD_REQUEST));
    match &rule_error {
        nerve_web::ClientError::Http { details, .. } => assert_eq!(details[0].line, 2),
        other => panic!("unexpected error {other:?}"),
    }

    client
        .set_key(
            "api_token",
            &KeySetBody {
                value: "t0k3n".into(),
                secret: true,
                ..KeySetBody::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        client
            .get_key("api_token", None, false)
            .await
            .unwrap()
            .value,
        MASKED_VALUE
    );
    assert_eq!(
        client.get_key("api_token", None, true).await.unwrap().value,
        "t0k3n"
    );
    assert_eq!(
        client
            .list_keys(None, Some("all"), false)
            .await
            .unwrap()
            .total,
        1
    );
    client.delete_key("api_token", None).await.unwrap();
    let deleted = client.get_key("api_token", None, false).await.unwrap_err();
    assert_eq!(deleted.status(), Some(StatusCode::NOT_FOUND));

    let actions = client.list_actions(&ListQuery::default()).await.unwrap();
    assert_eq!(actions.items[0].reference, "core.local");
    let echoed = client
        .webhook(
            "st2",
            &json!({"trigger": "a.b", "payload": {}}),
            Some("tag-1"),
        )
        .await
        .unwrap();
    assert_eq!(echoed["trigger"], "a.b");
    let events = client
        .list_trigger_instances(Some("a.b"), None, None)
        .await
        .unwrap();
    assert_eq!(events.items[0].trace_tag.as_deref(), Some("tag-1"));

    let wrong = Client::new(&url, Some("wrong".into()));
    let refused = wrong.version().await.unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(refused.faultstring().unwrap().contains("X-Auth-Token"));

    let key = client
        .create_api_key(&nerve_web::dto::ApiKeyCreateBody {
            user: Some("carol".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let carol = Client::new(&url, None).with_api_key(key.key);
    assert_eq!(carol.version().await.unwrap().user, "carol");
    cancel.cancel();
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = Client::new(&url, None).version().await.unwrap_err();
    assert!(
        matches!(error, nerve_web::ClientError::Transport { .. }),
        "{error:?}"
    );
    assert_eq!(error.status(), None);
}

#[test]
fn discovery_reads_what_the_server_wrote() {
    let app = TestApp::new();
    let data_dir = app.dir.path().join("data");
    assert_eq!(discover(&data_dir), None, "no server.json yet");
    write_server_info(&data_dir, "http://127.0.0.1:4242").unwrap();
    assert_eq!(
        discover(&data_dir),
        Some(("http://127.0.0.1:4242".to_owned(), app.token()))
    );
    nerve_web::client::remove_server_info(&data_dir).unwrap();
    assert_eq!(discover(&data_dir), None);
}
