//! The web UI's page and assets: public, embedded, with a strict policy, and complete (every
//! module the page imports is served).

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use crate::support::{TestApp, request};

#[tokio::test]
async fn the_page_is_public_and_carries_a_strict_policy() {
    let app = TestApp::new();
    let page = app.send(request(Method::GET, "/", None, None)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/ui/js/main.js">"#),
        "{html}"
    );
    // The page itself holds no data and no inline script.
    assert!(!html.contains("<script>"), "{html}");
}

#[tokio::test]
async fn assets_are_served_with_their_type_and_revalidated_by_etag() {
    let app = TestApp::new();
    let script = app
        .send(request(Method::GET, "/ui/js/main.js", None, None))
        .await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let etag = script.header("etag").unwrap().to_owned();
    let again = app
        .send(
            Request::builder()
                .uri("/ui/js/main.js")
                .header("if-none-match", &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let css = app
        .send(request(Method::GET, "/ui/app.css", None, None))
        .await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
}

#[tokio::test]
async fn paths_outside_the_ui_find_nothing() {
    let app = TestApp::new();
    for path in [
        "/ui/../Cargo.toml",
        "/ui/js/../../src/lib.rs",
        "/ui//etc/passwd",
        "/ui/nothing.js",
    ] {
        let answer = app.send(request(Method::GET, path, None, None)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
}

/// The relative module paths a script imports (`from './x.js'`).
fn imports(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|line| {
            let rest = line.trim().split(" from '").nth(1)?;
            Some(rest.split('\'').next()?.to_owned())
        })
        .collect()
}

/// Joins `relative` (`./a.js`, `../b.js`) to the directory of `from` (`js/pages/x.js`).
fn resolve(from: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for part in relative.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[tokio::test]
async fn every_module_the_page_imports_is_served() {
    let app = TestApp::new();
    let mut pending = vec!["js/main.js".to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let answer = app
            .send(request(Method::GET, &format!("/ui/{path}"), None, None))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "`{path}` is imported but not served"
        );
        let source = answer.body.as_str().unwrap();
        for import in imports(source) {
            pending.push(resolve(&path, &import));
        }
    }
    // The shell, the API client and one module per page.
    assert!(seen.len() >= 15, "{seen:?}");
    assert!(seen.contains("js/pages/executions.js"), "{seen:?}");
}
