//! Key-value: secrets masked unless an allowed caller decrypts, user scope isolation.

use axum::http::{Method, StatusCode};
use nerve_model::MASKED_VALUE;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn secrets_are_masked_unless_an_admin_decrypts() {
    let app = TestApp::new();
    let set = app
        .call(
            Method::PUT,
            "/api/v1/keys/db_password",
            Some(json!({"value": "hunter2", "secret": true, "ttl": 3600})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["value"], MASKED_VALUE);
    assert_eq!(set.body["scope"], "st2kv.system");
    assert!(set.body["expire_timestamp"].is_string());

    let masked = app
        .call(Method::GET, "/api/v1/keys/db_password", None)
        .await;
    assert_eq!(masked.body["value"], MASKED_VALUE);
    assert_eq!(
        (
            masked.body["secret"].clone(),
            masked.body["encrypted"].clone()
        ),
        (json!(true), json!(true))
    );
    let clear = app
        .call(Method::GET, "/api/v1/keys/db_password?decrypt=true", None)
        .await;
    assert_eq!(clear.body["value"], "hunter2");
    assert_eq!(clear.body["encrypted"], false);
    let listed = app.call(Method::GET, "/api/v1/keys", None).await;
    assert!(!listed.body.to_string().contains("hunter2"));
    let listed_clear = app
        .call(Method::GET, "/api/v1/keys?decrypt=true", None)
        .await;
    assert_eq!(listed_clear.body[0]["value"], "hunter2");

    let key = app.api_key("alice", false);
    let refused = app
        .call_as(
            Method::GET,
            "/api/v1/keys/db_password?decrypt=true",
            ("st2-api-key", &key),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused_list = app
        .call_as(
            Method::GET,
            "/api/v1/keys?decrypt=true",
            ("st2-api-key", &key),
            None,
        )
        .await;
    assert_eq!(refused_list.status, StatusCode::FORBIDDEN);
    let as_alice = app
        .call_as(
            Method::GET,
            "/api/v1/keys/db_password",
            ("st2-api-key", &key),
            None,
        )
        .await;
    assert_eq!(as_alice.body["value"], MASKED_VALUE);
}

#[tokio::test]
async fn user_scoped_keys_belong_to_their_owner() {
    let app = TestApp::new();
    let alice = app.api_key("alice", false);
    let bob = app.api_key("bob", false);
    let set = app
        .call_as(
            Method::PUT,
            "/api/v1/keys/token",
            ("st2-api-key", &alice),
            Some(json!({"value": "alice-secret", "secret": true, "scope": "user"})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        (set.body["name"].clone(), set.body["user"].clone()),
        (json!("token"), json!("alice"))
    );
    assert_eq!(set.body["scope"], "st2kv.user");

    // Bob neither sees nor reaches Alice's key.
    let bob_get = app
        .call_as(
            Method::GET,
            "/api/v1/keys/token?scope=user",
            ("st2-api-key", &bob),
            None,
        )
        .await;
    assert_eq!(bob_get.status, StatusCode::NOT_FOUND);
    let bob_list = app
        .call_as(
            Method::GET,
            "/api/v1/keys?scope=all",
            ("st2-api-key", &bob),
            None,
        )
        .await;
    assert_eq!(bob_list.body, json!([]));
    let bob_other = app
        .call_as(
            Method::GET,
            "/api/v1/keys/token?scope=user&user=alice",
            ("st2-api-key", &bob),
            None,
        )
        .await;
    assert_eq!(bob_other.status, StatusCode::FORBIDDEN);
    let bob_delete = app
        .call_as(
            Method::DELETE,
            "/api/v1/keys/token?scope=user",
            ("st2-api-key", &bob),
            None,
        )
        .await;
    assert_eq!(bob_delete.status, StatusCode::NOT_FOUND);

    // Alice may decrypt her own key; the admin may read it by naming her.
    let own = app
        .call_as(
            Method::GET,
            "/api/v1/keys/token?scope=user&decrypt=true",
            ("st2-api-key", &alice),
            None,
        )
        .await;
    assert_eq!(own.body["value"], "alice-secret");
    let admin = app
        .call(
            Method::GET,
            "/api/v1/keys/token?scope=user&user=alice&decrypt=true",
            None,
        )
        .await;
    assert_eq!(admin.body["value"], "alice-secret");
    let admin_own = app
        .call(Method::GET, "/api/v1/keys/token?scope=user", None)
        .await;
    assert_eq!(
        admin_own.status,
        StatusCode::NOT_FOUND,
        "the admin's own user scope is empty"
    );

    let deleted = app
        .call_as(
            Method::DELETE,
            "/api/v1/keys/token?scope=user",
            ("st2-api-key", &alice),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn bad_scopes_and_names_are_400() {
    let app = TestApp::new();
    let bad_scope = app
        .call(Method::GET, "/api/v1/keys?scope=galaxy", None)
        .await;
    assert_eq!(bad_scope.status, StatusCode::BAD_REQUEST);
    assert!(bad_scope.fault().contains("galaxy"));
    let not_string = app
        .call(Method::PUT, "/api/v1/keys/k", Some(json!({"value": 5})))
        .await;
    assert_eq!(not_string.status, StatusCode::BAD_REQUEST);
    let prefixed = app
        .call(
            Method::PUT,
            "/api/v1/keys/app.url",
            Some(json!({"value": "x"})),
        )
        .await;
    assert_eq!(prefixed.status, StatusCode::OK);
    app.call(
        Method::PUT,
        "/api/v1/keys/other",
        Some(json!({"value": "y"})),
    )
    .await;
    let by_prefix = app
        .call(Method::GET, "/api/v1/keys?prefix=app.", None)
        .await;
    assert_eq!(by_prefix.body.as_array().unwrap().len(), 1);
    assert_eq!(by_prefix.header("x-total-count"), Some("1"));
}
