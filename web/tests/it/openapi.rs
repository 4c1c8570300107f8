//! The OpenAPI document covers exactly the routes the router serves.

use axum::http::{Method, StatusCode};

use crate::support::{TestApp, request};

#[test]
fn document_lists_every_route_and_nothing_else() {
    let documented = nerve_web::openapi::operations();
    let served = nerve_web::openapi::router_operations();
    let missing: Vec<_> = served
        .iter()
        .filter(|op| !documented.contains(op))
        .collect();
    let extra: Vec<_> = documented
        .iter()
        .filter(|op| !served.contains(op))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without documentation: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
    assert!(served.len() > 45, "{}", served.len());
    let document = nerve_web::openapi::document();
    let mut ids = Vec::new();
    for (method, path) in &documented {
        let operation = &document["paths"][path][method.to_ascii_lowercase()];
        assert!(
            operation["responses"].is_object(),
            "{method} {path} has no responses"
        );
        ids.push(operation["operationId"].as_str().unwrap().to_owned());
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids repeat");
}

#[tokio::test]
async fn document_is_served_without_credentials() {
    let app = TestApp::new();
    let answer = app
        .send(request(Method::GET, "/api/v1/openapi.json", None, None))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let document = answer.body;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let executions = &document["paths"]["/api/v1/executions"]["get"];
    assert!(executions["responses"]["401"].is_object());
    assert!(
        executions["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "limit")
    );
    assert_eq!(
        document["paths"]["/api/v1/health"]["get"]["security"],
        serde_json::json!([])
    );
    assert!(document["components"]["schemas"]["ExecutionDto"].is_object());
    assert!(document["components"]["securitySchemes"]["hmac_signature"].is_object());
}
