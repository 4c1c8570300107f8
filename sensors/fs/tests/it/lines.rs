//! `fs.file_watch.line`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use nerve_sensor_sdk::testing::KvStore;
use serde_json::json;

use super::{dispatches, start, trigger, until_log};

const LINE_WATCH: &str = "fs.file_watch.line";

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

#[tokio::test]
async fn appended_lines_partial_lines_and_truncation() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("app.log");
    append(&path, "old line\n");
    let mut host = start(&KvStore::new()).await;
    host.add_trigger(trigger(LINE_WATCH, "log", json!({"file_path": path})));
    until_log(&mut host, "following from byte 9").await;

    append(&path, "one\ntwo\n");
    let lines = host.dispatches(2).await;
    assert_eq!(lines[0].trigger, "fs.log");
    assert_eq!(
        lines[0].payload,
        json!({"file_path": path.to_str().unwrap(), "file_name": "app.log", "line": "one"})
    );
    assert_eq!(lines[1].payload["line"], "two");

    // A partial line is held until its newline arrives.
    append(&path, "thr");
    append(&path, "ee\r\n");
    assert_eq!(host.next_dispatch().await.payload["line"], "three");

    // Truncated: read again from the start.
    fs::write(&path, "fresh\n").unwrap();
    assert_eq!(host.next_dispatch().await.payload["line"], "fresh");

    // Rotated: the old file's rest first, then the new file.
    append(&path, "last of old\n");
    fs::rename(&path, temp.path().join("app.log.1")).unwrap();
    append(&path, "first of new\n");
    let rotated: Vec<_> = host
        .dispatches(2)
        .await
        .into_iter()
        .map(|d| d.payload["line"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rotated, ["last of old", "first of new"]);

    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn the_cursor_survives_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("events.log");
    let kv = KvStore::new();
    let watch = trigger(LINE_WATCH, "events", json!({"file_path": path}));

    let mut host = start(&kv).await;
    host.add_trigger(watch.clone());
    until_log(&mut host, "following from byte 0").await;
    // The file did not exist when the watch started: all of it is new.
    append(&path, "a\n");
    assert_eq!(host.next_dispatch().await.payload["line"], "a");
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);

    append(&path, "b\nc\npartial");

    let mut host = start(&kv).await;
    host.add_trigger(watch.clone());
    let lines: Vec<_> = until_log(&mut host, "following from byte 6")
        .await
        .into_iter()
        .map(|d| d.payload["line"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines, ["b", "c"]);
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);

    append(&path, " done\n");
    let mut host = start(&kv).await;
    host.add_trigger(watch);
    let lines: Vec<_> = until_log(&mut host, "following")
        .await
        .into_iter()
        .map(|d| d.payload["line"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines, ["partial done"]);
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}
