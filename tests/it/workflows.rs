//! Workflows end to end: orquesta and action-chain executions driven by the server, each task a
//! child execution run by the worker; cancel; load-time and offline validation.

use nerve_test_harness::{NerveServer, fixture};
use serde_json::{Value, json};

use crate::api::{Api, binary, wait_until};
use crate::nerve;

async fn start() -> (tempfile::TempDir, NerveServer, Api) {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    api.install_pack(&fixture("packs/workflows")).await;
    (dir, server, api)
}

/// Runs `action` and waits for its final status; returns the execution.
async fn run(api: &Api, action: &str, parameters: Value) -> Value {
    let id = start_execution(api, action, parameters).await;
    wait_for_final(api, &id).await
}

/// Requests an execution of `action`; returns its id.
async fn start_execution(api: &Api, action: &str, parameters: Value) -> String {
    let response = api
        .post(
            "/executions",
            json!({"action": action, "parameters": parameters}),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn wait_for_final(api: &Api, id: &str) -> Value {
    let final_statuses = ["succeeded", "failed", "canceled", "timeout", "abandoned"];
    wait_until(&format!("execution {id} finishes"), || async {
        let status = api.get(&format!("/executions/{id}")).await["status"].clone();
        final_statuses.iter().any(|s| status == *s)
    })
    .await;
    api.get(&format!("/executions/{id}")).await
}

/// Starts `action` and waits until its first task is running; returns the workflow's id.
async fn start_until_first_task_runs(api: &Api, action: &str, parameters: Value) -> String {
    let id = start_execution(api, action, parameters).await;
    wait_until("the first task runs", || async {
        let workflow = api.get(&format!("/executions/{id}")).await;
        match workflow["children"][0].as_str() {
            Some(child) => api.get(&format!("/executions/{child}")).await["status"] == "running",
            None => false,
        }
    })
    .await;
    id
}

/// The children of a workflow execution, in creation order, as (action, status, stdout).
async fn children(api: &Api, workflow: &Value) -> Vec<Value> {
    let mut children = Vec::new();
    for id in workflow["children"].as_array().cloned().unwrap_or_default() {
        children.push(
            api.get(&format!("/executions/{}", id.as_str().unwrap()))
                .await,
        );
    }
    children
}

#[tokio::test]
async fn branching_workflow_takes_the_success_and_the_failure_path() {
    let (_dir, _server, api) = start().await;

    let ok = run(&api, "workflows.branching", json!({})).await;
    assert_eq!(ok["status"], "succeeded", "{ok:#}");
    assert_eq!(ok["result"]["output"]["outcome"], "ok checked");
    let tasks = children(&api, &ok).await;
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    for task in &tasks {
        assert_eq!(task["action"]["ref"], "core.local");
        assert_eq!(task["status"], "succeeded");
        assert_eq!(task["context"]["parent"], ok["id"]);
        assert_eq!(task["context"]["trace_id"], ok["context"]["trace_id"]);
    }

    let failed = run(&api, "workflows.branching", json!({"fail": true})).await;
    // The failure is handled by the `when: failed()` branch, so the workflow succeeds.
    assert_eq!(failed["status"], "succeeded", "{failed:#}");
    assert_eq!(failed["result"]["output"]["outcome"], "failed with 3");
    let statuses: Vec<Value> = children(&api, &failed)
        .await
        .iter()
        .map(|t| t["status"].clone())
        .collect();
    assert_eq!(statuses, [json!("failed"), json!("succeeded")]);
}

#[tokio::test]
async fn with_items_runs_a_thousand_items_ten_at_a_time_in_item_order() {
    let (_dir, _server, api) = start().await;
    let workflow = run(
        &api,
        "workflows.items",
        json!({"count": 1000, "concurrency": 10}),
    )
    .await;
    assert_eq!(workflow["status"], "succeeded", "{workflow:#}");
    let lines: Vec<String> = workflow["result"]["output"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..1000).map(|i| format!("item-{i}")).collect();
    assert_eq!(lines, expected);
    let tasks = children(&api, &workflow).await;
    assert_eq!(tasks.len(), 1000);
    // At most ten items run at once: no task starts while ten others are running.
    let spans: Vec<(String, String)> = tasks
        .iter()
        .map(|t| {
            let started = t["log"]
                .as_array()
                .unwrap()
                .iter()
                .find(|entry| entry["status"] == "running")
                .unwrap()["timestamp"]
                .as_str()
                .unwrap()
                .to_owned();
            (started, t["end_timestamp"].as_str().unwrap().to_owned())
        })
        .collect();
    for (start, _) in &spans {
        let running = spans
            .iter()
            .filter(|(s, e)| s.as_str() <= start.as_str() && start.as_str() < e.as_str())
            .count();
        assert!(running <= 10, "{running} items running at {start}");
    }
}

#[tokio::test]
async fn action_chain_follows_on_success_and_on_failure() {
    let (_dir, _server, api) = start().await;

    let good = run(&api, "workflows.chain", json!({"code": 0})).await;
    assert_eq!(good["status"], "succeeded", "{good:#}");
    let names: Vec<Value> = good["result"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("first"), json!("good")]);
    assert_eq!(good["result"]["published"]["said"], "good");

    let bad = run(&api, "workflows.chain", json!({"code": 4})).await;
    let names: Vec<Value> = bad["result"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json!([t["name"], t["state"]]))
        .collect();
    assert_eq!(
        names,
        [json!(["first", "failed"]), json!(["bad", "succeeded"])],
        "{bad:#}"
    );
    assert_eq!(bad["result"]["published"]["said"], "bad after 4");
}

#[tokio::test]
async fn cancel_stops_the_running_child_and_cancels_the_workflow() {
    let (_dir, _server, api) = start().await;
    let id = start_until_first_task_runs(&api, "workflows.slow", json!({})).await;
    api.delete(&format!("/executions/{id}")).await;
    let workflow = wait_for_final(&api, &id).await;
    assert_eq!(workflow["status"], "canceled", "{workflow:#}");
    let tasks = children(&api, &workflow).await;
    assert_eq!(
        tasks.len(),
        1,
        "no task starts after the cancel: {tasks:#?}"
    );
    assert_eq!(tasks[0]["status"], "canceled");
}

#[tokio::test]
async fn pause_lets_the_running_task_finish_starts_nothing_new_and_resume_goes_on() {
    let (dir, server, api) = start().await;
    let gate = dir.path().join("gate");
    let parameters = json!({"gate": gate.display().to_string()});
    let id = start_until_first_task_runs(&api, "workflows.gated", parameters).await;

    // Paused with the CLI while its task runs: `pausing` until that task is done.
    let cli = nerve().with_data_dir(dir.path());
    let out = cli.run(&["execution", "pause", &id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("pausing"), "{out:?}");
    std::fs::write(&gate, "").unwrap();
    wait_until("the workflow paused", || async {
        api.get(&format!("/executions/{id}")).await["status"] == "paused"
    })
    .await;
    let workflow = api.get(&format!("/executions/{id}")).await;
    let tasks = children(&api, &workflow).await;
    assert_eq!(tasks.len(), 1, "no task starts while paused: {tasks:#?}");
    assert_eq!(tasks[0]["status"], "succeeded");
    let again = api
        .post(&format!("/executions/{id}/pause"), json!({}))
        .await;
    assert_eq!(again.status(), 200, "pausing again changes nothing");
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "paused");

    // A paused workflow survives a restart and resumes where it was.
    drop(api);
    server.stop();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    assert_eq!(
        api.get(&format!("/executions/{id}")).await["status"],
        "paused"
    );
    let out = cli.run(&["execution", "resume", &id]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let workflow = wait_for_final(&api, &id).await;
    assert_eq!(workflow["status"], "succeeded", "{workflow:#}");
    assert_eq!(workflow["result"]["output"]["said"], "second");
    let tasks = children(&api, &workflow).await;
    assert_eq!(tasks.len(), 3, "{tasks:#?}");

    // Only workflows pause.
    let plain = run(&api, "core.noop", json!({})).await;
    let refused = api
        .post(
            &format!("/executions/{}/pause", plain["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    let message = refused.text().await.unwrap();
    assert!(message.contains("only workflows"), "{message}");
}

#[tokio::test]
async fn trace_shows_the_workflow_with_each_task_under_it_and_timings() {
    let (dir, _server, _api) = start().await;
    let cli = nerve().with_data_dir(dir.path());
    let out = cli.run(&["run", "workflows.branching", "--trace-tag", "wf-trace"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let out = cli.run(&["trace", "get", "--trace-tag", "wf-trace"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let root = lines
        .iter()
        .position(|l| l.starts_with("execution workflows.branching "))
        .unwrap_or_else(|| panic!("the workflow is the root: {}", out.stdout));
    let tasks: Vec<&&str> = lines[root + 1..]
        .iter()
        .filter(|l| l.contains("execution core.local "))
        .collect();
    assert_eq!(tasks.len(), 2, "check and report_ok: {}", out.stdout);
    for task in &tasks {
        assert!(
            task.starts_with("├─ ") || task.starts_with("└─ "),
            "each task under the workflow: {}",
            out.stdout
        );
        assert!(task.contains(" +"), "an offset: {task}");
        assert!(task.contains("succeeded in "), "a duration: {task}");
    }
    assert!(lines[root].contains("succeeded in "), "{}", lines[root]);

    let json = cli.run(&["trace", "get", "--trace-tag", "wf-trace", "-o", "json"]);
    let traces: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        traces[0]["action_executions"].as_array().unwrap().len(),
        3,
        "{traces:#}"
    );
}

#[tokio::test]
async fn an_inquiry_holds_the_workflow_until_a_valid_response_arrives() {
    let (dir, _server, api) = start().await;
    let workflow_id = start_execution(&api, "workflows.approval", json!({})).await;
    let cli = nerve().with_data_dir(dir.path());
    let mut inquiry_id = String::new();
    wait_until("the inquiry waits", || {
        let out = cli.run(&["inquiry", "list", "-o", "json"]);
        let found = serde_json::from_str::<Value>(&out.stdout)
            .ok()
            .and_then(|list| {
                list.as_array()?
                    .iter()
                    .find(|i| i["parent"] == workflow_id.as_str())
                    .and_then(|i| i["id"].as_str().map(str::to_owned))
            });
        if let Some(id) = &found {
            inquiry_id.clone_from(id);
        }
        async move { found.is_some() }
    })
    .await;
    let inquiry = api.get(&format!("/inquiries/{inquiry_id}")).await;
    assert_eq!(inquiry["status"], "pending");
    assert_eq!(inquiry["route"], "ops");
    // As in StackStorm, a workflow waiting only for an answer shows `paused`, saying for what.
    wait_until("the workflow shows paused", || {
        let api = &api;
        let workflow_id = &workflow_id;
        async move { api.get(&format!("/executions/{workflow_id}")).await["status"] == "paused" }
    })
    .await;
    let workflow = api.get(&format!("/executions/{workflow_id}")).await;
    let reason = workflow["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(&inquiry_id), "{workflow:#}");
    // Resuming it does not run past the question: it still waits.
    let resumed = cli.run(&["execution", "resume", &workflow_id]);
    assert_eq!(resumed.code, Some(0), "{resumed:?}");
    assert_eq!(
        api.get(&format!("/executions/{workflow_id}")).await["status"],
        "paused"
    );

    // A response that does not match the schema is refused, naming the field.
    let out = cli.run(&[
        "inquiry",
        "respond",
        &inquiry_id,
        "-r",
        r#"{"approved": "yes"}"#,
    ]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("approved"), "{out:?}");
    let out = cli.run(&[
        "inquiry",
        "respond",
        &inquiry_id,
        "-r",
        r#"{"note": "no answer"}"#,
    ]);
    assert_eq!(out.code, Some(2), "a required field missing: {out:?}");
    assert_eq!(
        api.get(&format!("/inquiries/{inquiry_id}")).await["status"],
        "pending"
    );

    let out = cli.run(&[
        "inquiry",
        "respond",
        &inquiry_id,
        "-r",
        r#"{"approved": true}"#,
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let workflow = wait_for_final(&api, &workflow_id).await;
    assert_eq!(workflow["status"], "succeeded", "{workflow:#}");
    let said = workflow["result"]["output"]["said"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert_eq!(said, "approved=true");
    let answered = api.get(&format!("/inquiries/{inquiry_id}")).await;
    assert_eq!(answered["response"], json!({"approved": true}));

    // Answered once only.
    let again = api
        .put(
            &format!("/inquiries/{inquiry_id}"),
            json!({"response": {"approved": false}}),
        )
        .await;
    assert_eq!(again.status(), 409);
}

/// A workflow whose only task is a sub-workflow waiting for an answer shows `paused` too, and
/// both go on when the answer comes.
#[tokio::test]
async fn a_parent_workflow_waits_paused_with_its_sub_workflow_on_an_inquiry() {
    let (dir, _server, api) = start().await;
    let root_id = start_execution(&api, "workflows.nested_approval", json!({})).await;
    let status = |id: String| {
        let api = &api;
        async move { api.get(&format!("/executions/{id}")).await["status"].clone() }
    };
    wait_until("the sub-workflow starts", || {
        let api = &api;
        let root_id = &root_id;
        async move {
            let root = api.get(&format!("/executions/{root_id}")).await;
            root["children"].as_array().is_some_and(|c| !c.is_empty())
        }
    })
    .await;
    let root = api.get(&format!("/executions/{root_id}")).await;
    let sub_id = root["children"][0].as_str().unwrap().to_owned();
    wait_until("both workflows show paused", || {
        let (root, sub) = (status(root_id.clone()), status(sub_id.clone()));
        async move { root.await == "paused" && sub.await == "paused" }
    })
    .await;
    let root = api.get(&format!("/executions/{root_id}")).await;
    assert!(
        root["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(&sub_id),
        "{root:#}"
    );

    let cli = nerve().with_data_dir(dir.path());
    let list = cli.run(&["inquiry", "list", "-o", "json"]);
    let inquiries: Value = serde_json::from_str(&list.stdout).unwrap();
    let inquiry = inquiries
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["parent"] == sub_id.as_str())
        .unwrap_or_else(|| panic!("no inquiry under {sub_id}: {inquiries:#}"));
    let inquiry_id = inquiry["id"].as_str().unwrap();
    let out = cli.run(&[
        "inquiry",
        "respond",
        inquiry_id,
        "-r",
        r#"{"approved": true}"#,
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let root = wait_for_final(&api, &root_id).await;
    assert_eq!(root["status"], "succeeded", "{root:#}");
    assert_eq!(
        root["result"]["output"]["said"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        "approved=true"
    );
}

#[tokio::test]
async fn stackstorm_sequential_example_runs_unmodified() {
    let (_dir, _server, api) = start().await;
    let workflow = run(&api, "workflows.st2_sequential", json!({"name": "Stanley"})).await;
    assert_eq!(workflow["status"], "succeeded", "{workflow:#}");
    assert_eq!(
        workflow["result"]["output"]["greeting"],
        "Stanley, All your base are belong to us!"
    );
    assert_eq!(children(&api, &workflow).await.len(), 3);
}

#[tokio::test]
async fn sub_workflow_and_retried_task_join_before_the_last_task() {
    let (dir, _server, api) = start().await;
    let workflow = run(
        &api,
        "workflows.composite",
        json!({"dir": dir.path().display().to_string()}),
    )
    .await;
    assert_eq!(workflow["status"], "succeeded", "{workflow:#}");
    assert_eq!(workflow["result"]["output"]["final"], "joined: ok checked");
    let attempts = std::fs::read_to_string(dir.path().join("count")).unwrap();
    assert_eq!(
        attempts.trim(),
        "3",
        "retried until it succeeded, then no more"
    );
    let tasks = children(&api, &workflow).await;
    let actions: Vec<&str> = tasks
        .iter()
        .map(|t| t["action"]["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "core.local").count(),
        4,
        "three attempts of flaky and the joined task once: {actions:?}"
    );
    let sub = tasks
        .iter()
        .find(|t| t["action"]["ref"] == "workflows.branching")
        .expect("the sub-workflow is a child");
    assert_eq!(sub["status"], "succeeded");
    assert_eq!(
        children(&api, sub).await.len(),
        2,
        "the sub-workflow's own tasks"
    );
}

#[tokio::test]
async fn workflow_inspect_api_reports_problems_with_positions() {
    let (_dir, _server, api) = start().await;
    let definition =
        "version: 1.0\ntasks:\n  a:\n    action: core.noop\n    next:\n      - do: bb\n";
    let response = api
        .post(
            "/workflows/inspect",
            json!({"definition": definition, "runner": "orquesta"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["valid"], false, "{body:#}");
    assert_eq!(body["problems"][0]["line"], 6, "{body:#}");
    assert_eq!(body["problems"][0]["path"], "tasks.a.next[0].do");
}

#[test]
fn yaql_workflow_is_rejected_at_load_with_file_and_line() {
    let out = nerve().run(&["pack", "validate", "tests/fixtures/packs/workflows_broken"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains(
            "--> tests/fixtures/packs/workflows_broken/actions/workflows/yaql.yaml:10:12"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("YAQL expressions are not supported"));
    assert!(out.stderr.contains("in task `greet`"));
}

#[test]
fn workflow_inspect_reports_a_broken_file() {
    let file = "tests/fixtures/packs/workflows_broken/actions/workflows/yaql.yaml";
    let out = nerve().run(&["workflow", "inspect", file]);
    out.assert_code(2);
    assert!(
        out.stderr.contains(&format!("--> {file}:10:12")),
        "{}",
        out.stderr
    );
    let out = nerve().run(&["workflow", "inspect", file, "--output", "json"]);
    out.assert_code(2);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["line"], 10);
    assert_eq!(report["problems"][0]["col"], 12);

    let out = nerve().run(&[
        "workflow",
        "inspect",
        "tests/fixtures/packs/workflows/actions/workflows/chain.yaml",
    ]);
    out.assert_code(0);
}

/// The server is SIGKILLed while a workflow's first task runs. After the restart the task is
/// `abandoned` (it may have had effects, so it is not run again), its result is fed to the
/// workflow, and the run goes on from its stored state: each task has exactly one child.
#[tokio::test]
async fn workflow_resumes_after_a_sigkill_with_each_task_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    api.install_pack(&fixture("packs/workflows")).await;
    let id = start_until_first_task_runs(&api, "workflows.resumable", json!({})).await;
    server.kill();

    let server = NerveServer::start(&binary(), dir.path());
    let api = Api::new(&server);
    let workflow = wait_for_final(&api, &id).await;
    assert_eq!(workflow["status"], "succeeded", "{workflow:#}");
    assert_eq!(workflow["result"]["output"]["said"], "resumed");
    let tasks = children(&api, &workflow).await;
    let statuses: Vec<Value> = tasks.iter().map(|t| t["status"].clone()).collect();
    assert_eq!(
        statuses,
        [json!("abandoned"), json!("succeeded")],
        "{tasks:#?}"
    );
}
