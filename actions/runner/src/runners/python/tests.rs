use std::time::Duration;

use serde_json::json;

use super::*;
use crate::Captured;

const D: &str = RESULT_DELIMITER;

fn finished(exit: Option<Exit>, stdout: &str, stderr: &str) -> Finished {
    let captured = |text: &str| Captured {
        text: text.to_owned(),
        total_bytes: text.len() as u64,
        dropped_bytes: 0,
    };
    Finished {
        pid: 1,
        ending: Ending::Exited,
        exit,
        stdout: captured(stdout),
        stderr: captured(stderr),
        elapsed: Duration::ZERO,
    }
}

#[test]
fn result_section_is_taken_out_of_stdout() {
    let stdout = format!("hello\n{D}{{\"result\": 3, \"status\": null}}\n{D}");
    assert_eq!(
        split_stdout(&stdout),
        (
            "hello\n".to_owned(),
            Some("{\"result\": 3, \"status\": null}\n".to_owned())
        )
    );
    assert_eq!(split_stdout("plain"), ("plain".to_owned(), None));
}

#[test]
fn status_tuple_and_exit_code_decide_the_status() {
    let run = |exit: i32, section: &str| {
        let stdout = format!("{D}{section}\n{D}");
        python_outcome(
            &finished(Some(Exit::Code(exit)), &stdout, ""),
            ResultSection::default(),
            None,
        )
    };
    let plain = run(0, r#"{"result": {"a": 1}, "status": null}"#);
    assert_eq!(plain.status, RunStatus::Succeeded);
    assert_eq!(
        plain.result,
        json!({"exit_code": 0, "stdout": "", "stderr": "", "result": {"a": 1}})
    );
    let ok = run(0, r#"{"result": "x", "status": true}"#);
    assert_eq!(ok.status, RunStatus::Succeeded);
    let refused = run(0, r#"{"result": "why", "status": false}"#);
    assert_eq!(refused.status, RunStatus::Failed);
    assert_eq!(refused.result["result"], json!("why"));
    let crashed = python_outcome(
        &finished(Some(Exit::Code(1)), "", "Traceback ...\nValueError: boom\n"),
        ResultSection::default(),
        None,
    );
    assert_eq!(crashed.status, RunStatus::Failed);
    assert_eq!(crashed.result["result"], json!(null));
    assert_eq!(
        crashed.reason.as_deref(),
        Some("exited with code 1: ValueError: boom")
    );
}

#[tokio::test]
async fn filter_lifts_the_result_section_out_of_the_stream() {
    let (tx, rx) = mpsc::channel(16);
    let (sink, mut out) = mpsc::channel(16);
    let filter = tokio::spawn(filter_result(rx, sink));
    let lines = [
        (Stream::Stdout, "before".to_owned()),
        (Stream::Stdout, String::new()),
        (Stream::Stderr, "log line".to_owned()),
        (Stream::Stdout, format!("partial{D}{{\"result\":")),
        (Stream::Stdout, " 1, \"status\": null}".to_owned()),
        (Stream::Stdout, D.to_owned()),
    ];
    for (stream, line) in lines {
        tx.send(OutputLine { stream, line }).await.unwrap();
    }
    drop(tx);
    let section = filter.await.unwrap();
    assert_eq!(
        section.text.as_deref(),
        Some("{\"result\": 1, \"status\": null}")
    );
    let mut forwarded = Vec::new();
    while let Some(line) = out.recv().await {
        forwarded.push((line.stream, line.line));
    }
    assert_eq!(
        forwarded,
        [
            (Stream::Stdout, "before".to_owned()),
            (Stream::Stdout, String::new()),
            (Stream::Stderr, "log line".to_owned()),
            (Stream::Stdout, "partial".to_owned()),
        ]
    );
}
