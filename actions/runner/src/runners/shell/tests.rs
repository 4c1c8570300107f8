use std::time::Duration;

use serde_json::json;

use super::*;
use crate::Captured;

fn finished(ending: Ending, exit: Option<Exit>, stdout: &str, stderr: &str) -> Finished {
    let captured = |text: &str| Captured {
        text: text.to_owned(),
        total_bytes: text.len() as u64,
        dropped_bytes: 0,
    };
    Finished {
        pid: 1,
        ending,
        exit,
        stdout: captured(stdout),
        stderr: captured(stderr),
        elapsed: Duration::ZERO,
    }
}

#[test]
fn shebang_is_split_like_the_kernel() {
    let parse = |head: &str| {
        shebang(head.as_bytes()).map(|(i, a)| {
            (
                i.to_string_lossy().into_owned(),
                a.map(|a| a.to_string_lossy().into_owned()),
            )
        })
    };
    assert_eq!(parse("#!/bin/bash\necho"), Some(("/bin/bash".into(), None)));
    assert_eq!(
        parse("#! /usr/bin/env python3 -u\n"),
        Some(("/usr/bin/env".into(), Some("python3 -u".into())))
    );
    assert_eq!(parse("echo hi\n"), None);
    assert_eq!(parse("#!\n"), None);
}

#[test]
fn output_is_stripped_once_and_json_decoded() {
    assert_eq!(decode_output("hi\n"), json!("hi"));
    assert_eq!(decode_output("hi\n\n"), json!("hi\n"));
    assert_eq!(decode_output("hi\r\n"), json!("hi"));
    assert_eq!(decode_output("{\"a\": 1}\n"), json!({"a": 1}));
    assert_eq!(decode_output("5\n"), json!(5));
    assert_eq!(decode_output(""), json!(""));
}

#[test]
fn statuses_follow_stackstorm() {
    let timeout = Some(Duration::from_secs(3));
    let ok = shell_outcome(
        &finished(Ending::Exited, Some(Exit::Code(0)), "x\n", ""),
        timeout,
        false,
    );
    assert_eq!(ok.status, RunStatus::Succeeded);
    assert_eq!(
        ok.result,
        json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "x", "stderr": ""})
    );
    assert_eq!(ok.reason, None);

    let failed = shell_outcome(
        &finished(
            Ending::Exited,
            Some(Exit::Code(2)),
            "",
            "first\nno such file\n",
        ),
        timeout,
        false,
    );
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.result["return_code"], json!(2));
    assert_eq!(
        failed.reason.as_deref(),
        Some("exited with code 2: no such file")
    );

    let timed_out = shell_outcome(
        &finished(Ending::TimedOut, Some(Exit::Signal(15)), "", ""),
        timeout,
        false,
    );
    assert_eq!(timed_out.status, RunStatus::TimedOut);
    assert_eq!(timed_out.result["return_code"], json!(-9));
    assert_eq!(
        timed_out.result["error"],
        json!("Action failed to complete in 3 seconds")
    );

    let abandoned = shell_outcome(
        &finished(Ending::Exited, Some(Exit::Signal(15)), "", ""),
        timeout,
        false,
    );
    assert_eq!(abandoned.status, RunStatus::Abandoned);
    assert_eq!(abandoned.result["return_code"], json!(-15));

    let killed = shell_outcome(
        &finished(Ending::Exited, Some(Exit::Signal(9)), "", ""),
        timeout,
        false,
    );
    assert_eq!(killed.status, RunStatus::Failed);
    assert_eq!(
        killed.reason.as_deref(),
        Some("killed by signal 9 (SIGKILL)")
    );

    let canceled = shell_outcome(
        &finished(Ending::Canceled, Some(Exit::Signal(15)), "", ""),
        timeout,
        false,
    );
    assert_eq!(canceled.status, RunStatus::Canceled);
}

#[test]
fn wrong_sudo_password_is_reported_like_stackstorm() {
    let outcome = shell_outcome(
        &finished(
            Ending::Exited,
            Some(Exit::Code(1)),
            "",
            "[sudo] password for stanley: \nsudo: 3 incorrect password attempts\n",
        ),
        None,
        true,
    );
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.result["return_code"], json!(-1));
    assert_eq!(
        outcome.result["error"],
        json!("Invalid sudo password provided or sudo is not configured for this user (stanley)")
    );
}
