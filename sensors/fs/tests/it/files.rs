//! `fs.file_watch`.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;

use nerve_sensor_sdk::Exit;
use nerve_sensor_sdk::testing::KvStore;
use serde_json::json;

use super::{dispatches, put, start, trigger, until_log};

const FILE_WATCH: &str = "fs.file_watch";

#[tokio::test]
async fn create_modify_delete_are_reported() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("incoming");
    fs::create_dir(&dir).unwrap();
    put(&dir, "before.txt", "already here");
    let mut host = start(&KvStore::new()).await;
    host.add_trigger(trigger(FILE_WATCH, "w1", json!({"path": dir})));
    let early = until_log(&mut host, "watching; 1 matching file(s) now").await;
    assert!(
        early.is_empty(),
        "a new watch reports nothing that was there: {early:?}"
    );

    put(&dir, "a.txt", "hello");
    let created = host.next_dispatch().await;
    assert_eq!(created.trigger, "fs.w1");
    let path = dir.join("a.txt");
    assert_eq!(created.payload["event"], "created");
    assert_eq!(created.payload["path"], path.to_str().unwrap());
    assert_eq!(created.payload["name"], "a.txt");
    assert_eq!(created.payload["directory"], dir.to_str().unwrap());
    assert_eq!(created.payload["size"], 5);
    let mtime = created.payload["mtime"].as_str().expect("an mtime");
    chrono::DateTime::parse_from_rfc3339(mtime).expect("RFC 3339");

    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b", world").unwrap();
    drop(file);
    let modified = host.next_dispatch().await;
    assert_eq!(
        (
            modified.payload["event"].clone(),
            modified.payload["size"].clone()
        ),
        (json!("modified"), json!(12))
    );

    fs::remove_file(&path).unwrap();
    let deleted = host.next_dispatch().await;
    assert_eq!(deleted.payload["event"], "deleted");
    assert_eq!(deleted.payload["name"], "a.txt");
    assert_eq!(deleted.payload["size"], json!(null));
    assert_eq!(deleted.payload["mtime"], json!(null));

    let (exit, rest) = host.shutdown().await;
    assert_eq!(exit, Exit::Shutdown);
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn glob_and_recursion_filter_files() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    fs::create_dir(&dir).unwrap();
    let mut host = start(&KvStore::new()).await;
    host.add_trigger(trigger(
        FILE_WATCH,
        "deep",
        json!({"path": dir, "glob": "**/*.csv", "recursive": true}),
    ));
    until_log(&mut host, "watching").await;
    host.add_trigger(trigger(
        FILE_WATCH,
        "flat",
        json!({"path": dir, "glob": "*.csv"}),
    ));
    until_log(&mut host, "watching").await;

    // A directory tree created after the watch started, files in it at once.
    fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    put(&dir, "sub/c.csv", "c");
    put(&dir, "sub/deeper/d.csv", "d");
    put(&dir, "sub/skip.txt", "x");
    put(&dir, "b.txt", "b");
    put(&dir, "a.csv", "a");

    let mut seen = BTreeSet::new();
    while seen.len() < 4 {
        let dispatch = host.next_dispatch().await;
        assert_eq!(dispatch.payload["event"], "created", "{dispatch:?}");
        let relative = dispatch.payload["path"]
            .as_str()
            .unwrap()
            .strip_prefix(&format!("{}/", dir.display()))
            .unwrap()
            .to_owned();
        assert!(seen.insert((dispatch.trigger, relative)), "doubled");
    }
    let expected: BTreeSet<(String, String)> = [
        ("fs.deep", "a.csv"),
        ("fs.deep", "sub/c.csv"),
        ("fs.deep", "sub/deeper/d.csv"),
        ("fs.flat", "a.csv"),
    ]
    .into_iter()
    .map(|(trigger, path)| (trigger.to_owned(), path.to_owned()))
    .collect();
    assert_eq!(seen, expected);
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn events_parameter_limits_what_is_dispatched() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("d");
    fs::create_dir(&dir).unwrap();
    put(&dir, "x", "1");
    put(&dir, "y", "1");
    let mut host = start(&KvStore::new()).await;
    host.add_trigger(trigger(
        FILE_WATCH,
        "gone",
        json!({"path": dir, "events": ["deleted"]}),
    ));
    until_log(&mut host, "watching; 2 matching").await;
    put(&dir, "z", "1");
    fs::write(dir.join("y"), "changed").unwrap();
    fs::remove_file(dir.join("x")).unwrap();
    let dispatch = host.next_dispatch().await;
    assert_eq!(
        (
            dispatch.payload["event"].clone(),
            dispatch.payload["name"].clone()
        ),
        (json!("deleted"), json!("x"))
    );
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn a_burst_of_500_files_gives_exactly_500_created_events() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("burst");
    fs::create_dir(&dir).unwrap();
    let mut host = start(&KvStore::new()).await;
    host.add_trigger(trigger(FILE_WATCH, "burst", json!({"path": dir})));
    until_log(&mut host, "watching").await;

    for i in 0..500 {
        fs::write(dir.join(format!("file-{i:03}.dat")), format!("content {i}")).unwrap();
    }
    let mut created = BTreeSet::new();
    while created.len() < 500 {
        let dispatch = host.next_dispatch().await;
        if dispatch.payload["event"] == "created" {
            let name = dispatch.payload["name"].as_str().unwrap().to_owned();
            assert!(created.insert(name.clone()), "`{name}` created twice");
        }
    }
    let (_, rest) = host.shutdown().await;
    let late_created: Vec<_> = dispatches(&rest)
        .into_iter()
        .filter(|(_, payload)| payload["event"] == "created")
        .collect();
    assert_eq!(late_created, []);
}

#[tokio::test]
async fn changes_while_stopped_are_reported_once_on_restart() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("inbox");
    fs::create_dir(&dir).unwrap();
    let kv = KvStore::new();
    let watch = trigger(FILE_WATCH, "inbox", json!({"path": dir}));

    let mut host = start(&kv).await;
    host.add_trigger(watch.clone());
    until_log(&mut host, "watching").await;
    put(&dir, "kept.txt", "1");
    put(&dir, "changed.txt", "1");
    put(&dir, "removed.txt", "1");
    let first: BTreeSet<_> = host
        .dispatches(3)
        .await
        .into_iter()
        .map(|d| d.payload["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(first.len(), 3);
    let (exit, rest) = host.shutdown().await;
    assert_eq!(exit, Exit::Shutdown);
    assert_eq!(dispatches(&rest), []);

    // While the sensor is not running.
    put(&dir, "new.txt", "1");
    fs::write(dir.join("changed.txt"), "longer now").unwrap();
    fs::remove_file(dir.join("removed.txt")).unwrap();
    put(&dir, "flash.txt", "1");
    fs::remove_file(dir.join("flash.txt")).unwrap();

    let mut host = start(&kv).await;
    host.add_trigger(watch.clone());
    let mut events: Vec<(String, String)> = until_log(&mut host, "watching")
        .await
        .into_iter()
        .map(|d| {
            (
                d.payload["name"].as_str().unwrap().to_owned(),
                d.payload["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("changed.txt".to_owned(), "modified".to_owned()),
            ("new.txt".to_owned(), "created".to_owned()),
            ("removed.txt".to_owned(), "deleted".to_owned()),
        ]
    );
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);

    // Nothing changed since: nothing is reported again.
    let mut host = start(&kv).await;
    host.add_trigger(watch);
    assert_eq!(until_log(&mut host, "watching").await, []);
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn a_missing_path_is_watched_once_it_appears() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("later");
    let mut host = start(&KvStore::new()).await;
    host.add_trigger(trigger(
        FILE_WATCH,
        "later",
        json!({"path": dir, "recursive": true}),
    ));
    until_log(&mut host, "does not exist").await;
    fs::create_dir_all(dir.join("sub")).unwrap();
    put(&dir, "sub/first.txt", "1");
    let dispatch = host.next_dispatch().await;
    assert_eq!(
        (
            dispatch.payload["event"].clone(),
            dispatch.payload["name"].clone()
        ),
        (json!("created"), json!("first.txt"))
    );
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn removing_a_trigger_stops_it_and_deletes_its_state() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("w");
    fs::create_dir(&dir).unwrap();
    let kv = KvStore::new();
    let mut host = start(&kv).await;
    let watch = trigger(FILE_WATCH, "w", json!({"path": dir}));
    host.add_trigger(watch.clone());
    until_log(&mut host, "watching").await;
    assert!(
        kv.keys()
            .iter()
            .any(|key| key.starts_with("fs.FileWatchSensor:seen:w")),
        "{:?}",
        kv.keys()
    );

    host.remove_trigger(watch);
    // Hooks run in order: once the next trigger is watching, the removal is done.
    host.add_trigger(trigger(
        "fs.file_watch.line",
        "other",
        json!({"file_path": temp.path().join("log")}),
    ));
    until_log(&mut host, "following").await;
    assert!(
        kv.keys().iter().all(|key| !key.contains(":seen:w")),
        "{:?}",
        kv.keys()
    );

    put(&dir, "ignored.txt", "1");
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn a_watched_file_reports_its_own_changes() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("report.csv");
    fs::write(&file, "1\n").unwrap();
    let mut host = start(&KvStore::new()).await;
    host.add_trigger(trigger(FILE_WATCH, "one", json!({"path": file})));
    until_log(&mut host, "watching; 1 matching").await;
    fs::write(temp.path().join("neighbour.csv"), "x").unwrap();
    fs::write(&file, "1\n2\n").unwrap();
    let modified = host.next_dispatch().await;
    assert_eq!(modified.payload["event"], "modified");
    assert_eq!(modified.payload["path"], file.to_str().unwrap());
    fs::remove_file(&file).unwrap();
    // `fs::write` truncates, then writes: a slow observer may see both steps.
    let deleted = loop {
        let dispatch = host.next_dispatch().await;
        if dispatch.payload["event"] != "modified" {
            break dispatch;
        }
    };
    assert_eq!(deleted.payload["event"], "deleted");
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
}

#[tokio::test]
async fn updating_the_filter_keeps_the_state_of_the_path() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("u");
    fs::create_dir(&dir).unwrap();
    put(&dir, "a.csv", "1");
    put(&dir, "b.txt", "1");
    let kv = KvStore::new();
    let mut host = start(&kv).await;
    host.add_trigger(trigger(
        FILE_WATCH,
        "u",
        json!({"path": dir, "glob": "*.csv"}),
    ));
    until_log(&mut host, "watching; 1 matching").await;

    // Same path, wider glob: `b.txt` was there all along and is not news.
    host.update_trigger(trigger(FILE_WATCH, "u", json!({"path": dir})));
    assert_eq!(until_log(&mut host, "watching; 2 matching").await, []);
    put(&dir, "c.txt", "1");
    let created = host.next_dispatch().await;
    assert_eq!(
        (
            created.payload["event"].clone(),
            created.payload["name"].clone()
        ),
        (json!("created"), json!("c.txt"))
    );

    // Another path: the old state goes, the new watch starts afresh.
    let other = temp.path().join("v");
    fs::create_dir(&other).unwrap();
    put(&other, "d.txt", "1");
    host.update_trigger(trigger(FILE_WATCH, "u", json!({"path": other})));
    assert_eq!(until_log(&mut host, "watching; 1 matching").await, []);
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);
    let meta = kv.get("fs.FileWatchSensor:seen:u").expect("saved");
    assert!(meta.contains(other.to_str().unwrap()), "{meta}");
}

#[tokio::test]
async fn a_large_snapshot_is_saved_in_buckets_and_reloaded() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("big");
    fs::create_dir(&dir).unwrap();
    let kv = KvStore::new();
    let watch = trigger(FILE_WATCH, "big", json!({"path": dir}));
    let mut host = start(&kv).await;
    host.add_trigger(watch.clone());
    until_log(&mut host, "watching; 0 matching").await;

    // Long names, so that the snapshot outgrows one saved bucket (256 KiB).
    let count = 2500;
    for i in 0..count {
        put(&dir, &format!("{i:0>120}"), "x");
    }
    let mut created = BTreeSet::new();
    while created.len() < count {
        let dispatch = host.next_dispatch().await;
        assert_eq!(dispatch.payload["event"], "created");
        created.insert(dispatch.payload["name"].as_str().unwrap().to_owned());
    }
    let (_, rest) = host.shutdown().await;
    assert_eq!(dispatches(&rest), []);

    let keys = kv.keys();
    let generation_0 = keys
        .iter()
        .filter(|key| key.contains(":seen:big:0:"))
        .count();
    let generation_1 = keys
        .iter()
        .filter(|key| key.contains(":seen:big:1:"))
        .count();
    assert_eq!(generation_0, 0, "the first generation is deleted: {keys:?}");
    assert!(
        generation_1 > 1,
        "the second generation has several buckets: {keys:?}"
    );
    for key in keys.iter().filter(|key| key.contains(":seen:big:")) {
        assert!(
            kv.get(key).unwrap().len() <= 256 * 1024,
            "`{key}` is too big"
        );
    }

    let mut host = start(&kv).await;
    host.add_trigger(watch);
    assert_eq!(
        until_log(&mut host, &format!("watching; {count} matching")).await,
        []
    );
    host.shutdown().await;
}
