//! `local-shell-cmd` and `local-shell-script` end to end.

use nerve_runner::{RunError, RunStatus, run};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::*;

fn cmd_request(pack: &std::path::Path, parameters: serde_json::Value) -> nerve_runner::RunRequest {
    let action = action(
        "local",
        "local-shell-cmd",
        json!({"cmd": {"type": "string"}}),
    );
    request(action, pack, parameters)
}

#[tokio::test]
async fn a_command_succeeds_with_the_stackstorm_result() {
    let pack = pack_dir();
    let (outcome, lines) = run_collect(cmd_request(
        pack.path(),
        json!({"cmd": "echo hello; echo oops >&2"}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(
        outcome.result,
        json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "hello", "stderr": "oops"})
    );
    assert_eq!(lines.len(), 2);
}

#[tokio::test]
async fn json_output_becomes_a_value_and_failures_carry_the_exit_code() {
    let pack = pack_dir();
    let (outcome, _) = run_collect(cmd_request(
        pack.path(),
        json!({"cmd": r#"echo '{"n": [1, 2]}'"#}),
    ))
    .await;
    assert_eq!(outcome.result["stdout"], json!({"n": [1, 2]}));

    let (outcome, _) = run_collect(cmd_request(
        pack.path(),
        json!({"cmd": "echo bad input >&2; exit 3"}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.result["return_code"], json!(3));
    assert_eq!(outcome.result["failed"], json!(true));
    assert_eq!(
        outcome.reason.as_deref(),
        Some("exited with code 3: bad input")
    );
}

#[tokio::test]
async fn a_command_that_outlives_its_timeout_ends_as_timeout() {
    let pack = pack_dir();
    let (outcome, _) = run_collect(cmd_request(
        pack.path(),
        json!({"cmd": "echo started; sleep 300", "timeout": 1}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::TimedOut);
    assert_eq!(outcome.result["return_code"], json!(-9));
    assert_eq!(outcome.result["stdout"], json!("started"));
    assert_eq!(
        outcome.result["error"],
        json!("Action failed to complete in 1 seconds")
    );
}

#[tokio::test]
async fn cancelling_a_command_ends_it_as_canceled() {
    let pack = pack_dir();
    let request = cmd_request(pack.path(), json!({"cmd": "echo started; sleep 300"}));
    let (sink, mut receiver) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let running = tokio::spawn(run(request, sink, cancel.clone()));
    assert_eq!(next_line(&mut receiver).await.line, "started");
    cancel.cancel();
    let outcome = tokio::time::timeout(DEADLINE, running)
        .await
        .expect("ends promptly")
        .unwrap()
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Canceled);

    // Cancelled before it starts: nothing is spawned.
    let marker = pack.path().join("ran");
    let request = cmd_request(
        pack.path(),
        json!({"cmd": format!("touch {}", marker.display())}),
    );
    let cancel = CancellationToken::new();
    cancel.cancel();
    let outcome = run(request, mpsc::channel(1).0, cancel).await.unwrap();
    assert_eq!(outcome.status, RunStatus::Canceled);
    assert!(!marker.exists());
}

#[tokio::test]
async fn the_environment_is_stackstorms_and_nothing_of_nerves() {
    let pack = pack_dir();
    let mut request = cmd_request(
        pack.path(),
        json!({"cmd": "env | sort", "env": {"MY_VAR": "x y", "ST2_ACTION_PACK_NAME": "spoofed", "N": 5}}),
    );
    request.api_url = Some("http://127.0.0.1:9101".into());
    request.auth_token = Some("tok".into());
    let (outcome, _) = run_collect(request).await;
    let stdout = outcome.result["stdout"].as_str().unwrap().to_owned();
    for expected in [
        "MY_VAR=x y",
        "N=5",
        "ST2_ACTION_PACK_NAME=tests",
        "ST2_ACTION_EXECUTION_ID=exec-1",
        "NERVE_EXECUTION_ID=exec-1",
        "ST2_ACTION_API_URL=http://127.0.0.1:9101",
        "ST2_ACTION_AUTH_TOKEN=tok",
        "ST2_ACTION_DEBUG=False",
    ] {
        assert!(
            stdout.lines().any(|line| line == expected),
            "{expected} in {stdout}"
        );
    }
    // The test process runs under cargo, which sets CARGO_* variables; none may leak.
    assert!(!stdout.contains("CARGO"), "{stdout}");
}

#[tokio::test]
async fn the_working_directory_is_the_actions_directory_unless_cwd_is_given() {
    let pack = pack_dir();
    let (outcome, _) = run_collect(cmd_request(pack.path(), json!({"cmd": "pwd"}))).await;
    let actions = pack.path().join("actions").canonicalize().unwrap();
    assert_eq!(outcome.result["stdout"], json!(actions.to_str().unwrap()));

    let other = tempdir();
    let (outcome, _) = run_collect(cmd_request(
        pack.path(),
        json!({"cmd": "pwd", "cwd": other.path().to_str().unwrap()}),
    ))
    .await;
    let other = other.path().canonicalize().unwrap();
    assert_eq!(outcome.result["stdout"], json!(other.to_str().unwrap()));

    let (outcome, _) = run_collect(cmd_request(
        pack.path(),
        json!({"cmd": "pwd", "cwd": "/no/such/dir"}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("working directory `/no/such/dir` does not exist or is not a directory")
    );
}

#[tokio::test]
async fn sudo_wraps_the_command_in_sudo() {
    let pack = pack_dir();
    // A fake `sudo` first on PATH records its argv and stdin, then runs the command.
    let bin = tempdir();
    write_script(
        bin.path(),
        "sudo",
        "#!/bin/sh\nprintf '<%s>' \"$@\" > \"$SUDO_LOG\"\nread -r password\necho \"$password\" >> \"$SUDO_LOG\"\nshift 3\nexec \"$@\"\n",
    );
    let log = bin.path().join("log");
    let mut request = cmd_request(
        pack.path(),
        json!({"cmd": "echo as-root", "sudo": true, "sudo_password": "pw",
               "env": {"SUDO_LOG": log.to_str().unwrap()}}),
    );
    let path = format!("{}:{}", bin.path().display(), request.base_env["PATH"]);
    request.base_env.insert("PATH".into(), path);
    let (outcome, _) = run_collect(request).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.result["stdout"], json!("as-root"));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "<-E><-S><--></bin/sh><-c><echo as-root>pw\n"
    );
}

fn script_action() -> nerve_model::Action {
    action(
        "script",
        "local-shell-script",
        json!({
            "name": {"type": "string"},
            "verbose": {"type": "boolean"},
            "quiet": {"type": "boolean"},
            "tags": {"type": "array"},
            "first": {"type": "string", "position": 0},
            "third": {"type": "object", "position": 5},
            "second": {"type": "integer", "position": 2},
        }),
    )
}

const PRINT_ARGS: &str = "#!/bin/sh\nfor arg in \"$@\"; do printf '<%s>\\n' \"$arg\"; done\n";

#[tokio::test]
async fn script_arguments_follow_stackstorm_and_are_never_shell_parsed() {
    let pack = pack_dir();
    let script = write_script(&pack.path().join("actions"), "args.sh", PRINT_ARGS);
    let marker = pack.path().join("pwned");
    let payload = format!("$(touch {}); rm -rf", marker.display());
    let mut request = request(
        script_action(),
        pack.path(),
        json!({
            "name": payload, "verbose": true, "quiet": false, "tags": ["a", "b"],
            "first": "it's `here`", "third": {"k": "v"}, "second": 0, "timeout": 30,
        }),
    );
    request.entry_point = Some(script);
    let (outcome, _) = run_collect(request).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let expected = format!(
        "<--name={payload}>\n<--verbose>\n<--tags=['a', 'b']>\n<it's `here`>\n<0>\n<{{\"k\":\"v\"}}>"
    );
    assert_eq!(outcome.result["stdout"], json!(expected));
    assert!(!marker.exists(), "the payload was not executed");
}

#[tokio::test]
async fn kwarg_op_is_honoured() {
    let pack = pack_dir();
    let script = write_script(&pack.path().join("actions"), "args.sh", PRINT_ARGS);
    let mut request = request(
        script_action(),
        pack.path(),
        json!({"name": "n", "verbose": true, "kwarg_op": "-"}),
    );
    request.entry_point = Some(script);
    let (outcome, _) = run_collect(request).await;
    // Missing positionals are still passed, as empty arguments.
    assert_eq!(
        outcome.result["stdout"],
        json!("<-name=n>\n<-verbose>\n<>\n<>\n<>")
    );
}

#[tokio::test]
async fn scripts_without_the_executable_bit_run_through_their_shebang_or_the_shell() {
    use std::os::unix::fs::PermissionsExt;

    let pack = pack_dir();
    let actions = pack.path().join("actions");
    let with_shebang = actions.join("bash.sh");
    std::fs::write(
        &with_shebang,
        "#!/bin/bash\n[[ -n $BASH_VERSION ]] && echo \"bash $1\"\n",
    )
    .unwrap();
    let without = actions.join("plain.sh");
    std::fs::write(&without, "echo \"plain $1\"\n").unwrap();
    for (path, expected) in [(&with_shebang, "bash x"), (&without, "plain x")] {
        let mut request = request(
            action(
                "s",
                "local-shell-script",
                json!({"a": {"type": "string", "position": 0}}),
            ),
            pack.path(),
            json!({"a": "x"}),
        );
        request.entry_point = Some(path.clone());
        let (outcome, _) = run_collect(request).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
        assert_eq!(outcome.result["stdout"], json!(expected));
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "the file mode is never changed");
    }
}

#[tokio::test]
async fn a_missing_entry_point_fails_clearly() {
    let pack = pack_dir();
    let mut missing = request(script_action(), pack.path(), json!({}));
    missing.entry_point = Some(pack.path().join("actions/missing.sh"));
    let (outcome, _) = run_collect(missing).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let reason = outcome.reason.unwrap();
    assert!(reason.starts_with("entry point `"), "{reason}");
    assert!(reason.contains("missing.sh` is not readable"), "{reason}");

    let without_entry_point = request(script_action(), pack.path(), json!({}));
    let error = run(
        without_entry_point,
        mpsc::channel(1).0,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, RunError::MissingEntryPoint { .. }));
}

#[tokio::test]
async fn noop_succeeds_and_workflow_runners_are_not_ours() {
    let pack = pack_dir();
    let (outcome, lines) = run_collect(request(
        action("n", "noop", json!({})),
        pack.path(),
        json!({}),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(outcome.result, json!({}));
    assert!(lines.is_empty());

    let error = run(
        request(action("w", "orquesta", json!({})), pack.path(), json!({})),
        mpsc::channel(1).0,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "runner `orquesta` (action `tests.w`) is not run by nerve-runner"
    );
}
