//! SSE on a real socket: the event stream delivers masked execution events and output lines,
//! the output stream replays, follows and ends, and shutdown closes open streams.

use futures_util::{Stream, StreamExt};
use nerve_model::{ExecutionStatus, MASKED_VALUE};
use nerve_web::Client;
use nerve_web::client::SseFrame;
use serde_json::{Value, json};
use tokio::time::timeout;

use crate::support::{DEADLINE, TestApp};

/// Reads frames until `done` says so, failing after the deadline.
async fn read_until<S>(frames: &mut S, mut done: impl FnMut(&[SseFrame]) -> bool) -> Vec<SseFrame>
where
    S: Stream<Item = Result<SseFrame, nerve_web::ClientError>> + Unpin,
{
    let mut seen = Vec::new();
    let result = timeout(DEADLINE, async {
        while let Some(frame) = frames.next().await {
            seen.push(frame.unwrap());
            if done(&seen) {
                return;
            }
        }
    })
    .await;
    assert!(result.is_ok(), "deadline passed; frames so far: {seen:#?}");
    seen
}

fn data(frame: &SseFrame) -> Value {
    serde_json::from_str(&frame.data).unwrap()
}

#[tokio::test]
async fn stream_delivers_masked_execution_events_and_output() {
    let app = TestApp::new();
    let (url, cancel, server) = app.serve().await;
    let client = Client::new(&url, Some(app.token()));
    let mut all = Box::pin(client.stream_events("/stream", &[]).await.unwrap());

    let execution = app
        .execution(
            "admin",
            ExecutionStatus::Requested,
            json!({"cmd": "login", "password": "hunter2"}),
        )
        .await;
    // Wait for the create event before changing the execution, so it is seen as created.
    let id = execution.id.clone();
    let created = read_until(&mut all, |frames| {
        frames.iter().any(|f| f.event == "st2.execution__create")
    })
    .await;
    let mut only_other = Box::pin(
        client
            .stream_events("/stream", &[("execution_id", "someone-else".to_owned())])
            .await
            .unwrap(),
    );
    app.store
        .transition(&execution.id, ExecutionStatus::Running, None, None)
        .await
        .unwrap();
    app.store
        .append_output(&execution.id, "stdout", "hello from the action")
        .unwrap();

    let mut frames = created;
    frames.extend(
        read_until(&mut all, |frames| {
            frames
                .iter()
                .any(|f| f.event == "st2.execution.output__create")
                && frames.iter().any(|f| f.event == "st2.execution__update")
        })
        .await,
    );
    for frame in &frames {
        assert!(!frame.data.contains("hunter2"), "secret leaked: {frame:?}");
    }
    let create = frames
        .iter()
        .find(|f| f.event == "st2.execution__create")
        .expect("create event");
    assert_eq!(data(create)["id"], id.as_str());
    let update = frames
        .iter()
        .find(|f| f.event == "st2.execution__update")
        .unwrap();
    assert_eq!(data(update)["status"], "running");
    assert_eq!(data(update)["parameters"]["password"], MASKED_VALUE);
    let output = frames
        .iter()
        .find(|f| f.event == "st2.execution.output__create")
        .unwrap();
    assert_eq!(data(output)["data"], "hello from the action");
    assert_eq!(data(output)["execution_id"], id.as_str());

    // The filtered stream saw none of it: shutting down ends it without a frame.
    cancel.cancel();
    let rest = timeout(DEADLINE, only_other.next())
        .await
        .expect("stream ends at shutdown");
    assert!(rest.is_none(), "unexpected frame: {rest:?}");
    assert!(timeout(DEADLINE, all.next()).await.is_ok());
    timeout(DEADLINE, server)
        .await
        .expect("graceful shutdown with open streams")
        .unwrap();
}

#[tokio::test]
async fn output_stream_replays_follows_and_ends_when_final() {
    let app = TestApp::new();
    let (url, cancel, _server) = app.serve().await;
    let client = Client::new(&url, Some(app.token()));
    let execution = app
        .execution("admin", ExecutionStatus::Running, json!({"cmd": "x"}))
        .await;
    for line in ["one", "two"] {
        app.store
            .append_output(&execution.id, "stdout", line)
            .unwrap();
    }
    let mut lines = Box::pin(client.stream_output(&execution.id, 1).await.unwrap());
    let first = timeout(DEADLINE, lines.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((first.seq, first.data.as_str()), (1, "two"));

    app.store
        .append_output(&execution.id, "stderr", "three")
        .unwrap();
    let next = timeout(DEADLINE, lines.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (next.seq, next.output_type.as_str(), next.data.as_str()),
        (2, "stderr", "three")
    );

    app.store
        .append_output(&execution.id, "stdout", "last")
        .unwrap();
    app.store
        .transition(&execution.id, ExecutionStatus::Succeeded, None, None)
        .await
        .unwrap();
    let last = timeout(DEADLINE, lines.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(last.data, "last");
    let end = timeout(DEADLINE, lines.next())
        .await
        .expect("stream ends when final");
    assert!(end.is_none(), "{end:?}");

    let missing = client.stream_output("nope", 0).await.err().expect("404");
    assert_eq!(missing.status(), Some(reqwest::StatusCode::NOT_FOUND));
    cancel.cancel();
}
