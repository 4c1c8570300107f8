use serde_json::{Value, json};

use super::*;

fn trigger(trigger_type: &str, parameters: Value) -> TriggerDict {
    TriggerDict {
        id: "t1".to_owned(),
        trigger_ref: "fs.t1".to_owned(),
        name: "t1".to_owned(),
        pack: "fs".to_owned(),
        trigger_type: trigger_type.to_owned(),
        parameters: parameters.as_object().cloned().unwrap_or_default(),
    }
}

fn error(trigger_type: &str, parameters: Value) -> String {
    WatchSpec::parse(&trigger(trigger_type, parameters))
        .unwrap_err()
        .to_string()
}

#[test]
fn file_watch_defaults() {
    let spec = WatchSpec::parse(&trigger(FILE_WATCH, json!({"path": "/data"}))).unwrap();
    assert_eq!(
        spec,
        WatchSpec::Files(FileWatchSpec {
            path: "/data".into(),
            glob: None,
            recursive: false,
            events: EventSet::ALL,
        })
    );
}

#[test]
fn file_watch_with_everything() {
    let parameters = json!({"path": "/data", "glob": "**/*.tar", "recursive": true, "events": ["created", "deleted"]});
    let WatchSpec::Files(spec) = WatchSpec::parse(&trigger(FILE_WATCH, parameters)).unwrap() else {
        panic!("not a file watch");
    };
    assert_eq!(spec.glob.as_deref(), Some("**/*.tar"));
    assert!(spec.recursive);
    assert!(spec.events.contains(FileEvent::Created));
    assert!(!spec.events.contains(FileEvent::Modified));
    assert!(spec.events.contains(FileEvent::Deleted));
}

#[test]
fn relative_paths_become_absolute() {
    let spec = WatchSpec::parse(&trigger(
        FILE_WATCH_LINE,
        json!({"file_path": "logs/app.log"}),
    ))
    .unwrap();
    let WatchSpec::Lines(spec) = spec else {
        panic!("not a line watch")
    };
    assert!(spec.file_path.is_absolute());
    assert!(spec.file_path.ends_with("logs/app.log"));
}

#[test]
fn errors_name_the_parameter() {
    let cases = [
        (FILE_WATCH, json!({}), "parameter `path` is required"),
        (
            FILE_WATCH,
            json!({"path": 3}),
            "parameter `path` must be a string",
        ),
        (
            FILE_WATCH,
            json!({"path": "/d", "recursive": "yes"}),
            "parameter `recursive` must be a boolean",
        ),
        (
            FILE_WATCH,
            json!({"path": "/d", "events": ["renamed"]}),
            "unknown event `renamed`",
        ),
        (
            FILE_WATCH,
            json!({"path": "/d", "glob": "a[b"}),
            "parameter `glob` is not a valid glob: `a[b`",
        ),
        (
            FILE_WATCH_LINE,
            json!({"path": "/d"}),
            "parameter `file_path` is required",
        ),
        ("fs.other", json!({}), "unknown trigger type `fs.other`"),
    ];
    for (trigger_type, parameters, expected) in cases {
        let message = error(trigger_type, parameters.clone());
        assert!(message.contains(expected), "{parameters}: {message}");
    }
}

#[test]
fn same_target_compares_paths_only() {
    let a = WatchSpec::parse(&trigger(FILE_WATCH, json!({"path": "/d", "glob": "*.a"}))).unwrap();
    let b = WatchSpec::parse(&trigger(FILE_WATCH, json!({"path": "/d", "glob": "*.b"}))).unwrap();
    let c = WatchSpec::parse(&trigger(FILE_WATCH, json!({"path": "/e"}))).unwrap();
    let d = WatchSpec::parse(&trigger(FILE_WATCH_LINE, json!({"file_path": "/d"}))).unwrap();
    assert!(a.same_target(&b));
    assert!(!a.same_target(&c));
    assert!(!a.same_target(&d));
}
