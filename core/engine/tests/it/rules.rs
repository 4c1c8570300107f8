//! Events through rules to executions; idempotency under redelivery.

use nerve_model::{EnforcementStatus, ExecutionStatus, Rule};
use serde_json::json;

use crate::support::{TestEnv, params};

fn webhook_rule(url: &str, cmd: &str) -> Rule {
    serde_json::from_value(json!({
        "name": format!("on_{url}"),
        "pack": "tests",
        "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": url}},
        "criteria": {"trigger.body.kind": {"type": "equals", "pattern": "deploy"}},
        "action": {"ref": "core.local", "parameters": {"cmd": cmd}}
    }))
    .unwrap()
}

fn webhook_key(url: &str) -> String {
    format!("core.st2.webhook?{}", json!({"url": url}))
}

#[tokio::test]
async fn webhook_event_fires_rule_with_rendered_parameters() {
    let env = TestEnv::start(&[]).await;
    env.engine
        .create_rule(webhook_rule(
            "deploy",
            "echo deploying {{ trigger.body.repo }}",
        ))
        .await
        .unwrap();
    let event = env
        .engine
        .emit(
            &webhook_key("deploy"),
            json!({"headers": {}, "body": {"kind": "deploy", "repo": "api"}}),
            Some("build-42".into()),
        )
        .await
        .unwrap();
    let executions = env.wait_for_executions(1, |e| e.status.is_final()).await;
    let execution = &executions[0];
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:#?}"
    );
    assert_eq!(env.stdout(&execution.id), "deploying api\n");
    assert_eq!(execution.context.rule.as_deref(), Some("tests.on_deploy"));
    assert_eq!(
        execution.context.trigger_instance.as_deref(),
        Some(event.id.as_str())
    );
    assert_eq!(execution.context.user, "stanley");
    let trace = env.store.find_traces_by_tag("build-42").unwrap();
    assert_eq!(trace.len(), 1);

    // Another url and a non-matching payload fire nothing.
    env.engine
        .emit(
            &webhook_key("other"),
            json!({"body": {"kind": "deploy"}}),
            None,
        )
        .await
        .unwrap();
    env.engine
        .emit(
            &webhook_key("deploy"),
            json!({"body": {"kind": "test"}}),
            None,
        )
        .await
        .unwrap();
    let enforcements = env
        .store
        .list_enforcements(&nerve_store::EnforcementFilter::default())
        .unwrap();
    assert_eq!(enforcements.total, 1);
}

#[tokio::test]
async fn rule_rendering_invalid_parameters_records_a_failed_enforcement() {
    let env = TestEnv::start(&[]).await;
    let rule: Rule = serde_json::from_value(json!({
        "name": "bad_params", "pack": "tests", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "bad"}},
        "action": {"ref": "core.local", "parameters": {"cmd": "{{ trigger.body.missing }}"}}
    }))
    .unwrap();
    env.engine.create_rule(rule).await.unwrap();
    let event = env
        .engine
        .emit(&webhook_key("bad"), json!({"body": {}}), None)
        .await
        .unwrap();
    let mut changes = env.store.subscribe();
    let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
    let enforcement = loop {
        if let Some(e) = env
            .store
            .enforcement(&event.id, "tests.bad_params")
            .unwrap()
        {
            break e;
        }
        tokio::time::timeout_at(deadline, changes.recv())
            .await
            .expect("enforcement recorded")
            .ok();
    };
    assert_eq!(enforcement.status, EnforcementStatus::Failed);
    assert!(enforcement.failure_reason.unwrap().contains("missing"));
    assert!(env.all_executions().is_empty());
}

#[tokio::test]
async fn invalid_payload_is_rejected_and_nothing_recorded() {
    let env = TestEnv::start(&[]).await;
    let error = env
        .engine
        .emit("core.st2.IntervalTimer", json!({"executed_at": 5}), None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("payload does not match"),
        "{error}"
    );
    let error = env
        .engine
        .emit("core.st2.webhok", json!({}), None)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("did you mean `core.st2.webhook`?"),
        "{error}"
    );
    assert!(
        env.store
            .list_trigger_instances(&nerve_store::TriggerInstanceFilter::default())
            .unwrap()
            .items
            .is_empty()
    );
    let _ = params(json!({}));
}

#[tokio::test]
async fn completion_emits_the_action_trigger_with_secrets_masked() {
    let env = TestEnv::start(&[crate::support::fixture_pack("st2_hello")]).await;
    let listener: Rule = serde_json::from_value(json!({
        "name": "on_completion", "pack": "tests", "enabled": true,
        "trigger": {"type": "core.st2.generic.actiontrigger"},
        "criteria": {"trigger.action_ref": {"type": "equals", "pattern": "nothing.matches"}},
        "action": {"ref": "core.noop"}
    }))
    .unwrap();
    env.engine.create_rule(listener).await.unwrap();
    let execution = env
        .engine
        .run(nerve_engine::RunRequest {
            action: "st2_hello.lookup".into(),
            parameters: params(json!({"key": "k", "password": "hunter2"})),
            user: "tester".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    env.wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    let mut changes = env.store.subscribe();
    let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
    let event = loop {
        let events = env
            .store
            .list_trigger_instances(&nerve_store::TriggerInstanceFilter::default())
            .unwrap()
            .items;
        // Only this execution's: the pack's sensor may fire other executions meanwhile.
        if let Some(event) = events.into_iter().find(|e| {
            e.trigger == "core.st2.generic.actiontrigger"
                && e.payload["execution_id"] == json!(execution.id)
        }) {
            break event;
        }
        tokio::time::timeout_at(deadline, changes.recv())
            .await
            .expect("action trigger emitted")
            .ok();
    };
    assert_eq!(event.payload["execution_id"], json!(execution.id));
    assert_eq!(event.payload["parameters"]["password"], "********");
    assert!(!event.payload.to_string().contains("hunter2"));
}

/// Without a rule listening, completions record no `actiontrigger` events.
#[tokio::test]
async fn no_action_trigger_event_when_no_rule_listens() {
    let env = TestEnv::start(&[]).await;
    let execution = env
        .engine
        .run(nerve_engine::RunRequest {
            action: "core.noop".into(),
            parameters: params(json!({})),
            user: "t".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    env.wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    // Stopping waits for every engine task, including the completion handling.
    let dir = env.stop().await;
    let store = nerve_store::Store::open(dir.path(), nerve_store::StoreOptions::default()).unwrap();
    let events = store
        .list_trigger_instances(&nerve_store::TriggerInstanceFilter::default())
        .unwrap();
    assert_eq!(events.total, 0, "{:#?}", events.items);
}

/// A custom webhook rule renders the payload into a `local-shell-script` action's arguments.
#[tokio::test]
async fn webhook_rule_runs_a_script_action_with_rendered_arguments() {
    let env = TestEnv::start(&[crate::support::fixture_pack("st2_hello")]).await;
    let rule: Rule = serde_json::from_value(json!({
        "name": "greet_hook", "pack": "tests", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "greet"}},
        "action": {"ref": "st2_hello.greet", "parameters": {"greeting": "{{ trigger.body.word }}", "name": "{{ trigger.body.who }}", "count": "{{ trigger.body.n }}"}}
    }))
    .unwrap();
    env.engine.create_rule(rule).await.unwrap();
    env.engine
        .emit(
            &webhook_key("greet"),
            json!({"body": {"word": "Hello", "who": "O'Brien; ls", "n": 2}}),
            None,
        )
        .await
        .unwrap();
    let executions = env
        .wait_for_executions(1, |e| e.action == "st2_hello.greet" && e.status.is_final())
        .await;
    let execution = &executions[0];
    assert_eq!(
        execution.status,
        ExecutionStatus::Succeeded,
        "{execution:#?}"
    );
    assert_eq!(
        env.stdout(&execution.id),
        "[--count=2]\n[Hello]\n[O'Brien; ls]\n"
    );
}

/// `http-request` (core.http) against a local server.
#[tokio::test]
async fn http_action_calls_a_local_server() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let n = socket.read(&mut request).await.unwrap();
        let body = r#"{"ok":true}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let env = TestEnv::start(&[]).await;
    let execution = env
        .engine
        .run(nerve_engine::RunRequest {
            action: "core.http".into(),
            parameters: params(json!({"url": format!("http://{address}/hook"), "method": "GET"})),
            user: "t".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let done = env
        .wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let result = done.result.unwrap();
    assert_eq!(result["status_code"], 200);
    assert_eq!(result["body"], json!({"ok": true}));
    let request = server.await.unwrap();
    assert!(request.starts_with("GET /hook HTTP/1.1"), "{request}");
}

/// A rule firing `core.noop`: the execution is created `scheduled` (no policy can hold it back),
/// the worker records `running` and `succeeded` together, the event ends `processed`, and the
/// trace holds the event, the enforcement and the execution.
#[tokio::test]
async fn a_fired_noop_is_recorded_through_every_status() {
    let env = TestEnv::start(&[]).await;
    let rule: Rule = serde_json::from_value(json!({
        "name": "on_noop", "pack": "tests", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "noop"}},
        "action": {"ref": "core.noop"}
    }))
    .unwrap();
    env.engine.create_rule(rule).await.unwrap();
    let event = env
        .engine
        .emit(&webhook_key("noop"), json!({"body": {}}), None)
        .await
        .unwrap();
    let executions = env.wait_for_executions(1, |e| e.status.is_final()).await;
    let execution = &executions[0];
    let statuses: Vec<ExecutionStatus> = execution.log.iter().map(|entry| entry.status).collect();
    assert_eq!(
        statuses,
        [
            ExecutionStatus::Requested,
            ExecutionStatus::Scheduled,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded
        ],
        "{execution:#?}"
    );
    assert_eq!(execution.result, Some(json!({})));
    let mut changes = env.store.subscribe();
    let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
    while env
        .store
        .trigger_instance(&event.id)
        .unwrap()
        .unwrap()
        .status
        != nerve_model::TriggerInstanceStatus::Processed
    {
        tokio::time::timeout_at(deadline, changes.recv())
            .await
            .expect("the event is marked processed")
            .ok();
    }
    let trace = env.store.get_trace(&event.id).unwrap().unwrap();
    assert_eq!(
        (
            trace.trigger_instances.len(),
            trace.rule_enforcements.len(),
            trace.executions.len()
        ),
        (1, 1, 1)
    );
    assert_eq!(trace.executions[0].id, execution.id);
}
