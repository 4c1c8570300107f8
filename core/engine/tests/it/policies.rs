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
