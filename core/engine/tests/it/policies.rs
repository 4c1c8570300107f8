//! `action.concurrency`: never more than the threshold running; the rest delayed, then run.

use std::collections::HashMap;
use std::path::Path;

use nerve_engine::RunRequest;
use nerve_model::ExecutionStatus;
use serde_json::json;

use crate::support::{TestEnv, params};

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn concurrency_policy_holds_at_most_threshold_running() {
    let packs = tempfile::tempdir().unwrap();
    let pack = packs.path().join("limited");
    write(
        &pack,
        "pack.yaml",
        "name: limited\ndescription: d\nversion: 1.0.0\nauthor: a\n",
    );
    write(
        &pack,
        "actions/slow.yaml",
        "name: slow\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: sleep 0.3\n",
    );
    write(
        &pack,
        "policies/two.yaml",
        "name: two\nresource_ref: limited.slow\npolicy_type: action.concurrency\nparameters:\n  threshold: 2\n",
    );
    let env = TestEnv::start(&[pack]).await;
    let mut changes = env.store.subscribe();
    for _ in 0..6 {
        env.engine
            .run(RunRequest {
                action: "limited.slow".into(),
                parameters: params(json!({})),
                user: "t".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // Watch every change until all six finished, checking the running count each time.
    let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
    let mut max_running = 0;
    let mut seen_delayed = false;
    loop {
        let all = env.all_executions();
        let counts: HashMap<ExecutionStatus, usize> =
            all.iter().fold(HashMap::new(), |mut m, e| {
                *m.entry(e.status).or_default() += 1;
                m
            });
        let busy = counts.get(&ExecutionStatus::Running).copied().unwrap_or(0)
            + counts
                .get(&ExecutionStatus::Scheduled)
                .copied()
                .unwrap_or(0);
        max_running = max_running.max(busy);
        seen_delayed |= counts.contains_key(&ExecutionStatus::Delayed);
        if counts.get(&ExecutionStatus::Succeeded) == Some(&6) {
            break;
        }
        tokio::time::timeout_at(deadline, changes.recv())
            .await
            .expect("all executions finish")
            .ok();
    }
    assert!(max_running <= 2, "{max_running} ran at once");
    assert!(seen_delayed, "the policy delayed some executions");
}

/// `action.retry` on failure: the action fails twice, then succeeds; each retry is a new
/// execution linked to the one it retries.
#[tokio::test]
async fn retry_policy_reruns_until_success() {
    let packs = tempfile::tempdir().unwrap();
    let state = packs.path().join("attempts");
    let pack = packs.path().join("flaky");
    write(
        &pack,
        "pack.yaml",
        "name: flaky\ndescription: d\nversion: 1.0.0\nauthor: a\n",
    );
    write(
        &pack,
        "actions/flaky.yaml",
        &format!(
            "name: flaky\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: \"echo x >> {0}; test $(wc -l < {0}) -ge 3\"\n",
            state.display()
        ),
    );
    write(
        &pack,
        "policies/retry.yaml",
        "name: retry\nresource_ref: flaky.flaky\npolicy_type: action.retry\nparameters:\n  retry_on: failure\n  max_retry_count: 3\n",
    );
    let env = TestEnv::start(&[pack]).await;
    let first = env
        .engine
        .run(RunRequest {
            action: "flaky.flaky".into(),
            parameters: params(json!({})),
            user: "t".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let succeeded = env
        .wait_for_executions(1, |e| e.status == ExecutionStatus::Succeeded)
        .await;
    let all = env.all_executions();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(
        all.iter()
            .filter(|e| e.status == ExecutionStatus::Failed)
            .count(),
        2
    );
    assert_eq!(succeeded[0].context.retry_attempt, 2);
    let chain_start = all.iter().find(|e| e.context.retry_attempt == 1).unwrap();
    assert_eq!(
        chain_start.context.rerun_of.as_deref(),
        Some(first.id.as_str())
    );
}
