//! A small API client and condition waiting for the end-to-end tests.

use std::time::Duration;

use nerve_test_harness::NerveServer;
use serde_json::Value;

pub(crate) fn binary() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_nerve"))
}

pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) token: String,
}

impl Api {
    pub(crate) fn new(server: &NerveServer) -> Api {
        Api {
            http: reqwest::Client::builder()
                // Long enough for a request that waits out a broker restart (the event is
                // accepted once the bus has it).
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            url: server.url.clone(),
            token: server.token.clone(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        self.get_ok(path).await.json().await.unwrap()
    }

    /// `GET`, asserting success.
    async fn get_ok(&self, path: &str) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}/api/v1{path}", self.url))
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1{path}", self.url))
            .header("X-Auth-Token", &self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

pub(crate) async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Api {
    /// `PUT` with a JSON body.
    pub(crate) async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .put(format!("{}/api/v1{path}", self.url))
            .header("X-Auth-Token", &self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `GET` of a list endpoint, asserting success: the items and the `X-Total-Count` header.
    pub(crate) async fn get_page(&self, path: &str) -> (Vec<Value>, usize) {
        let response = self.get_ok(path).await;
        let total = response
            .headers()
            .get("x-total-count")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("GET {path}: no X-Total-Count header"));
        let items: Value = response.json().await.unwrap();
        let Value::Array(items) = items else {
            panic!("GET {path}: not a list: {items}");
        };
        (items, total)
    }

    /// `DELETE`, asserting success.
    pub(crate) async fn delete(&self, path: &str) {
        let response = self
            .http
            .delete(format!("{}/api/v1{path}", self.url))
            .header("X-Auth-Token", &self.token)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "DELETE {path}: {}",
            response.status()
        );
    }

    /// Registers the pack directory `dir` (copied into the data dir), asserting success.
    pub(crate) async fn install_pack(&self, dir: &std::path::Path) {
        let response = self
            .post(
                "/packs/register",
                serde_json::json!({"path": dir.display().to_string()}),
            )
            .await;
        let status = response.status();
        assert!(
            status.is_success(),
            "installing {}: {status} {}",
            dir.display(),
            response.text().await.unwrap_or_default()
        );
    }
}
