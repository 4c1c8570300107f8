//! `GET /api/v1/traces` against a real server: recent traces newest first, in pages with a
//! total, filtered by tag, behind the same authentication as every other route.

use nerve_test_harness::NerveServer;
use serde_json::{Value, json};

use crate::api::{Api, binary, wait_until};

/// Runs `core.noop` with a trace tag; returns the run's trace id.
async fn run_tagged(api: &Api, trace_tag: &str) -> String {
    let response = api
        .post(
            "/executions",
            json!({"action": "core.noop", "parameters": {}, "trace_tag": trace_tag}),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status} {body}");
    body["context"]["trace_id"].as_str().unwrap().to_owned()
}

fn ids(traces: &[Value]) -> Vec<&str> {
    traces
        .iter()
        .map(|trace| trace["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn traces_list_recent_newest_first_in_pages_and_by_tag() {
    let data = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), data.path());
    let api = Api::new(&server);
    let mut mine = Vec::new();
    for tag in ["recent-a", "recent-b", "recent-a"] {
        mine.push(run_tagged(&api, tag).await);
    }
    let newest_first: Vec<&str> = mine.iter().rev().map(String::as_str).collect();

    // Without a tag: every trace, ours among them newest first (the server may record others,
    // such as its sensors starting).
    wait_until("the three runs' traces are listed", || async {
        let (all, _) = api.get_page("/traces?limit=1000").await;
        let listed: Vec<&str> = ids(&all)
            .into_iter()
            .filter(|id| mine.iter().any(|m| m == id))
            .collect();
        listed == newest_first
    })
    .await;
    let (all, total) = api.get_page("/traces?limit=1000").await;
    assert!(total >= 3 && all.len() == total, "{total} {all:?}");
    let newest = &all[ids(&all).iter().position(|id| *id == mine[2]).unwrap()];
    assert_eq!(newest["trace_tag"], "recent-a");
    assert_eq!(newest["action_executions"][0]["ref"], "core.noop");
    // Pages cut the same list; the total counts every trace. Asked again until no trace came
    // in between the two requests.
    wait_until("a page agrees with the whole list", || async {
        let (all, total) = api.get_page("/traces?limit=1000").await;
        let (page, page_total) = api.get_page("/traces?limit=2&offset=1").await;
        page_total == total && ids(&page) == ids(&all)[1..3]
    })
    .await;

    // With a tag: only its traces, newest first, paged.
    let (tagged, total) = api.get_page("/traces?trace_tag=recent-a").await;
    assert_eq!((ids(&tagged), total), (vec![mine[2].as_str(), &mine[0]], 2));
    let (second, total) = api
        .get_page("/traces?trace_tag=recent-a&limit=1&offset=1")
        .await;
    assert_eq!((ids(&second), total), (vec![mine[0].as_str()], 2));
    let (none, total) = api.get_page("/traces?trace_tag=no-such-tag").await;
    assert_eq!((none.len(), total), (0, 0));

    // Paging mistakes are explained; credentials are required as everywhere.
    let url = format!("{}/api/v1/traces?limit=5000", api.url);
    let too_big = api
        .http
        .get(&url)
        .header("X-Auth-Token", &api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 400);
    let fault: Value = too_big.json().await.unwrap();
    assert!(
        fault["faultstring"]
            .as_str()
            .unwrap()
            .contains("larger than the maximum page size 1000"),
        "{fault}"
    );
    let anonymous = api
        .http
        .get(format!("{}/api/v1/traces", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
