//! Running actions: shell, script arguments, python, timeout, cancel, validation.

use nerve_engine::RunRequest;
use nerve_model::ExecutionStatus;
use serde_json::json;

use crate::support::{TestEnv, fixture_pack, params};

fn request(action: &str, parameters: serde_json::Value) -> RunRequest {
    RunRequest {
        action: action.to_owned(),
        parameters: params(parameters),
        user: "tester".to_owned(),
        ..RunRequest::default()
    }
}

#[tokio::test]
async fn core_local_runs_and_records_output() {
    let env = TestEnv::start(&[]).await;
    let execution = env
        .engine
        .run(request("core.local", json!({"cmd": "echo hi"})))
        .await
        .unwrap();
    let done = env
        .wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_eq!(done.result.as_ref().unwrap()["stdout"], "hi");
    assert_eq!(env.stdout(&execution.id), "hi\n");
    let statuses: Vec<ExecutionStatus> = done.log.iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [
            ExecutionStatus::Requested,
            ExecutionStatus::Scheduled,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded
        ]
    );
}

/// `core.echo` passes the message as one argv element: shell syntax is printed, never run.
#[tokio::test]
async fn payload_with_shell_syntax_reaches_the_script_as_one_literal_argument() {
    let env = TestEnv::start(&[]).await;
    let marker = env.dir.path().join("pwned");
    let message = format!("$(touch {}); rm -rf /nonexistent-nerve", marker.display());
    let execution = env
        .engine
        .run(request("core.echo", json!({"message": message})))
        .await
        .unwrap();
    let done = env
        .wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_eq!(env.stdout(&execution.id), format!("{message}\n"));
    assert!(!marker.exists(), "the payload was executed");
}

#[tokio::test]
async fn script_action_gets_positional_and_named_arguments() {
    let env = TestEnv::start(&[fixture_pack("st2_hello")]).await;
    let execution = env
        .engine
        .run(request(
            "st2_hello.greet",
            json!({"greeting": "Hi", "name": "Ada", "count": "3", "loud": true}),
        ))
        .await
        .unwrap();
    assert_eq!(
        execution.parameters["count"],
        json!(3),
        "cast to the declared integer type"
    );
    let done = env
        .wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_eq!(
        env.stdout(&execution.id),
        "[--count=3]\n[--loud]\n[Hi]\n[Ada]\n"
    );
}

#[tokio::test]
async fn timeout_ends_in_timeout_status() {
    let env = TestEnv::start(&[]).await;
    let execution = env
        .engine
        .run(request(
            "core.local",
            json!({"cmd": "sleep 30", "timeout": 1}),
        ))
        .await
        .unwrap();
    let done = env
        .wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    assert_eq!(done.status, ExecutionStatus::Timeout, "{done:#?}");
}

#[tokio::test]
async fn cancel_stops_a_running_action() {
    let env = TestEnv::start(&[]).await;
    let execution = env
        .engine
        .run(request(
            "core.local",
            json!({"cmd": "echo $$; exec sleep 30"}),
        ))
        .await
        .unwrap();
    env.wait_for_execution(&execution.id, |_| !env.stdout(&execution.id).is_empty())
        .await;
    let pid: i32 = env.stdout(&execution.id).trim().parse().unwrap();
    env.engine.cancel(&execution.id).await.unwrap();
    let done = env
        .wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    assert_eq!(done.status, ExecutionStatus::Canceled, "{done:#?}");
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ");
    assert!(!alive, "process {pid} is still running");
    let again = env.engine.cancel(&execution.id).await.unwrap_err();
    assert!(again.to_string().contains("already finished"), "{again}");
}

#[tokio::test]
async fn invalid_parameters_are_refused_with_the_reason() {
    let env = TestEnv::start(&[]).await;
    let error = env
        .engine
        .run(request("core.local", json!({})))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("\"cmd\" is a required property"),
        "{error}"
    );
    let error = env
        .engine
        .run(request("core.local", json!({"cmd": "id", "sudo": true})))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("parameter `sudo` is immutable"),
        "{error}"
    );
    let error = env
        .engine
        .run(request("core.locl", json!({"cmd": "id"})))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("did you mean `core.local`?"),
        "{error}"
    );
    assert!(
        env.all_executions().is_empty(),
        "nothing is recorded for a refused request"
    );
}

#[tokio::test]
async fn python_action_with_stackstorm_api_returns_its_result() {
    let env = TestEnv::start(&[fixture_pack("st2_hello")]).await;
    // The fixture's action reads the datastore through the API, which this test does not run:
    // `get_value` then returns None and the action reports failure with its own result.
    let execution = env
        .engine
        .run(request(
            "st2_hello.lookup",
            json!({"key": "k", "password": "s3cret"}),
        ))
        .await
        .unwrap();
    let done = env
        .wait_for_execution(&execution.id, |e| e.status.is_final())
        .await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
    assert_eq!(
        done.result.as_ref().unwrap()["result"],
        json!({"error": "no such key", "key": "k"})
    );
}
