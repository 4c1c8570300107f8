//! The host against real processes (POSIX `sh` scripts speaking the protocol).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;

/// Records what sensors ask for; refuses payloads with `"bad": true`.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, String, Value)>>,
    process: Mutex<Vec<ProcessEvent>>,
    kv: Mutex<HashMap<String, String>>,
    notify: tokio::sync::Notify,
}

impl HostServices for Recorder {
    async fn dispatch(
        &self,
        sensor: &str,
        trigger: &str,
        payload: Value,
        _trace_tag: Option<String>,
    ) -> Result<String, String> {
        if payload.get("bad").is_some() {
            return Err("payload does not match the payload_schema".to_owned());
        }
        let mut events = self.events.lock().unwrap();
        events.push((sensor.to_owned(), trigger.to_owned(), payload));
        self.notify.notify_waiters();
        Ok(format!("ti-{}", events.len()))
    }

    async fn kv(&self, _sensor: &str, op: KvOp) -> Result<Value, String> {
        let mut kv = self.kv.lock().unwrap();
        Ok(match op {
            KvOp::Get { key, .. } => kv.get(&key).map_or(Value::Null, |v| json!(v)),
            KvOp::Set { key, value, .. } => {
                kv.insert(key, value);
                json!(true)
            }
            KvOp::Delete { key } => json!(kv.remove(&key).is_some()),
            KvOp::List { prefix, .. } => json!(
                kv.iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect::<Vec<_>>()
            ),
        })
    }

    async fn process_event(&self, event: ProcessEvent) {
        self.process.lock().unwrap().push(event);
        self.notify.notify_waiters();
    }
}

fn config() -> HostConfig {
    HostConfig {
        ready_timeout: Duration::from_millis(500),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        healthy_after: Duration::from_secs(30),
        shutdown_grace: Duration::from_millis(500),
        kill_grace: Duration::from_millis(500),
        log_tail: 50,
        ..HostConfig::default()
    }
}

fn spec(name: &str, script: &str, dir: &Path) -> SensorSpec {
    SensorSpec {
        sensor_ref: format!("test.{name}"),
        pack: "test".into(),
        class_name: name.into(),
        launch: Launch::Command {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            cwd: dir.to_path_buf(),
            env: vec![(
                OsString::from("PATH"),
                OsString::from("/usr/local/bin:/usr/bin:/bin"),
            )],
            runtime: "shell".into(),
        },
        config: serde_json::Map::new(),
        poll_interval: None,
        trigger_types: vec!["test.event".into()],
        triggers: Vec::new(),
        revision: String::new(),
        problems: Vec::new(),
    }
}

fn trigger(id: &str, path: &str) -> TriggerDict {
    TriggerDict {
        id: id.into(),
        trigger_ref: format!("test.watch_{id}"),
        name: format!("watch_{id}"),
        pack: "test".into(),
        trigger_type: "test.watch".into(),
        parameters: json!({"path": path}).as_object().unwrap().clone(),
    }
}

struct Fixture {
    host: SensorHost<Recorder>,
    recorder: Arc<Recorder>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let recorder = Arc::new(Recorder::default());
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let host = SensorHost::new(recorder.clone(), config(), cancel.clone(), tasks.clone());
        Self {
            host,
            recorder,
            cancel,
            tasks,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Waits (deadline 10 s) until `condition` holds, re-checking on every recorded event and at
    /// least every 20 ms for status changes.
    async fn until(&self, what: &str, condition: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !condition(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; statuses: {:#?}",
                self.host.statuses()
            );
            let _ =
                tokio::time::timeout(Duration::from_millis(20), self.recorder.notify.notified())
                    .await;
        }
    }

    fn events(&self, sensor: &str) -> Vec<(String, Value)> {
        self.recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _, _)| s == sensor)
            .map(|(_, t, p)| (t.clone(), p.clone()))
            .collect()
    }

    fn status(&self, sensor: &str) -> SensorStatus {
        self.host.status(sensor).expect("sensor known")
    }

    async fn stop(self) {
        self.host.stop_all();
        self.cancel.cancel();
        self.tasks.close();
        tokio::time::timeout(Duration::from_secs(10), self.tasks.wait())
            .await
            .expect("supervisors stop");
    }
}

/// Reads hello, says ready, echoes every later line into `$1`-named file, dispatches on
/// `add_trigger`.
const ECHO_SENSOR: &str = r#"
read hello
echo '{"type":"ready","protocol":1}'
while read line; do
  echo "$line" >> received.log
  case "$line" in
    *'"type":"add_trigger"'*) echo '{"type":"dispatch","trigger":"test.event","payload":{"n":1}}' ;;
    *'"type":"shutdown"'*) exit 0 ;;
  esac
done
"#;

#[tokio::test]
async fn handshake_triggers_and_dispatch() {
    let fixture = Fixture::new();
    let mut spec = spec("echo", ECHO_SENSOR, fixture.dir.path());
    spec.triggers = vec![trigger("a", "/one")];
    fixture.host.reconcile(vec![spec.clone()]);
    fixture
        .until("the dispatch after add_trigger", |f| {
            f.events("test.echo").len() == 1
        })
        .await;
    assert_eq!(
        fixture.events("test.echo")[0],
        ("test.event".to_owned(), json!({"n": 1}))
    );
    let status = fixture.status("test.echo");
    assert_eq!(status.state, SensorState::Running);
    assert_eq!(status.protocol, Some(1));
    assert_eq!(status.triggers.len(), 1);

    // Changing the triggers reaches the same process: update, add, remove.
    let pid = status.pid;
    spec.triggers = vec![trigger("a", "/changed"), trigger("b", "/two")];
    fixture.host.reconcile(vec![spec.clone()]);
    spec.triggers = vec![trigger("b", "/two")];
    fixture.host.reconcile(vec![spec.clone()]);
    let log = fixture.dir.path().join("received.log");
    fixture
        .until("remove_trigger", |_| {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("remove_trigger"))
        })
        .await;
    let received = std::fs::read_to_string(&log).unwrap();
    let kinds: Vec<String> = received
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "add_trigger",
            "update_trigger",
            "add_trigger",
            "remove_trigger"
        ]
    );
    assert!(received.contains("/changed"));
    assert_eq!(
        fixture.status("test.echo").pid,
        pid,
        "no restart for trigger changes"
    );
    assert_eq!(fixture.status("test.echo").restarts, 0);
    fixture.stop().await;
}

#[tokio::test]
async fn a_new_code_revision_restarts_that_sensor_alone() {
    let fixture = Fixture::new();
    let mut changed = spec("changed", ECHO_SENSOR, fixture.dir.path());
    changed.triggers = vec![trigger("a", "/one")];
    let mut other = spec("other", ECHO_SENSOR, fixture.dir.path());
    other.triggers = vec![trigger("b", "/two")];
    fixture.host.reconcile(vec![changed.clone(), other.clone()]);
    fixture
        .until("both sensors dispatched", |f| {
            f.events("test.changed").len() == 1 && f.events("test.other").len() == 1
        })
        .await;
    let (changed_pid, other_pid) = (
        fixture.status("test.changed").pid,
        fixture.status("test.other").pid,
    );

    // Same command line, same triggers, new code: a new process that gets its triggers again.
    changed.revision = "v2".into();
    fixture.host.reconcile(vec![changed.clone(), other.clone()]);
    fixture
        .until("the changed sensor re-sent its triggers", |f| {
            f.events("test.changed").len() == 2
        })
        .await;
    let now = fixture.status("test.changed");
    assert_ne!(now.pid, changed_pid, "the changed sensor is a new process");
    assert!(
        nix_gone(changed_pid.expect("had a pid")),
        "the old process is gone"
    );
    assert_eq!(
        fixture.status("test.other").pid,
        other_pid,
        "the other kept running"
    );
    fixture.stop().await;
}

#[tokio::test]
async fn kv_requests_are_scoped_to_the_sensor() {
    let fixture = Fixture::new();
    let script = r#"
read hello
echo '{"type":"ready","protocol":1}'
echo '{"type":"kv_set","id":"1","key":"cursor","value":"42"}'
read reply
echo '{"type":"kv_get","id":"2","key":"cursor"}'
read reply
echo "{\"type\":\"dispatch\",\"trigger\":\"test.event\",\"payload\":{\"reply\":$reply}}"
echo '{"type":"kv_get","id":"3","key":"test.kv:cursor","local":false}'
read reply
echo "{\"type\":\"dispatch\",\"trigger\":\"test.event\",\"payload\":{\"reply\":$reply}}"
while read line; do :; done
"#;
    fixture
        .host
        .reconcile(vec![spec("kv", script, fixture.dir.path())]);
    fixture
        .until("two dispatches", |f| f.events("test.kv").len() == 2)
        .await;
    assert_eq!(
        fixture.recorder.kv.lock().unwrap().get("test.kv:cursor"),
        Some(&"42".to_owned())
    );
    for (_, payload) in fixture.events("test.kv") {
        assert_eq!(payload["reply"]["ok"], json!(true));
        assert_eq!(payload["reply"]["value"], json!("42"));
    }
    fixture.stop().await;
}

#[tokio::test]
async fn rejected_dispatches_are_answered_and_counted() {
    let fixture = Fixture::new();
    let script = r#"
read hello
echo '{"type":"ready","protocol":1}'
echo '{"type":"dispatch","trigger":"test.event","payload":{"bad":true},"id":"d1"}'
read answer
echo "$answer" > answer.json
echo '{"type":"dispatch","trigger":"test.event","payload":{"good":true}}'
while read line; do :; done
"#;
    fixture
        .host
        .reconcile(vec![spec("reject", script, fixture.dir.path())]);
    fixture
        .until("the good dispatch", |f| f.events("test.reject").len() == 1)
        .await;
    let answer: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.dir.path().join("answer.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(answer["type"], "rejected");
    assert_eq!(answer["id"], "d1");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("payload_schema")
    );
    let status = fixture.status("test.reject");
    assert_eq!((status.dispatched, status.rejected), (1, 1));
    assert!(
        fixture
            .host
            .logs("test.reject")
            .unwrap()
            .iter()
            .any(|l| l.message.contains("rejected dispatch to `test.event`"))
    );
    fixture.stop().await;
}

#[tokio::test]
async fn crashing_hanging_and_flooding_sensors_restart_while_another_keeps_dispatching() {
    let fixture = Fixture::new();
    let steady = r#"
read hello
echo '{"type":"ready","protocol":1}'
n=0
while true; do
  n=$((n+1))
  echo "{\"type\":\"dispatch\",\"trigger\":\"test.event\",\"payload\":{\"n\":$n}}"
  sleep 0.05
done
"#;
    let crash = "echo 'boom: missing config' >&2; exit 1";
    let hang = "read hello; sleep 600";
    let flood = r#"
read hello
echo '{"type":"ready","protocol":1}'
i=0
while [ $i -lt 2000 ]; do echo "noise $i" >&2; echo "not json $i"; i=$((i+1)); done
exit 3
"#;
    let dir = fixture.dir.path();
    fixture.host.reconcile(vec![
        spec("steady", steady, dir),
        spec("crash", crash, dir),
        spec("hang", hang, dir),
        spec("flood", flood, dir),
    ]);
    fixture
        .until("three restarts of each broken sensor", |f| {
            ["test.crash", "test.hang", "test.flood"]
                .iter()
                .all(|s| f.status(s).restarts >= 2)
        })
        .await;
    let steady_before = fixture.events("test.steady").len();
    fixture
        .until("the steady sensor still dispatching", |f| {
            f.events("test.steady").len() > steady_before + 3
        })
        .await;
    assert_eq!(fixture.status("test.steady").restarts, 0);

    let crash = fixture.status("test.crash");
    assert_eq!(crash.last_exit.as_ref().unwrap().exit_code, Some(1));
    assert!(
        fixture
            .host
            .logs("test.crash")
            .unwrap()
            .iter()
            .any(|l| l.message == "boom: missing config"),
        "stderr is the sensor's log"
    );
    let hang = fixture.status("test.hang");
    assert!(
        hang.last_error
            .as_deref()
            .unwrap()
            .contains("no `ready` within"),
        "{hang:?}"
    );
    let flood = fixture.status("test.flood");
    assert!(flood.invalid_lines >= 2000, "{flood:?}");
    assert!(
        fixture.host.logs("test.flood").unwrap().len() <= 50,
        "tail is bounded"
    );

    let events = fixture.recorder.process.lock().unwrap().clone();
    let exits = events
        .iter()
        .filter(|e| matches!(e, ProcessEvent::Exited { sensor, exit_code: Some(1) } if sensor == "test.crash"))
        .count();
    assert!(exits >= 2, "every exit is reported: {events:?}");
    fixture.stop().await;
}

#[tokio::test]
async fn backoff_is_visible_and_a_restart_ends_it() {
    let recorder = Arc::new(Recorder::default());
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let host = SensorHost::new(
        recorder.clone(),
        HostConfig {
            backoff_initial: Duration::from_secs(600),
            backoff_max: Duration::from_secs(600),
            ..config()
        },
        cancel.clone(),
        tasks.clone(),
    );
    let dir = tempfile::tempdir().unwrap();
    host.reconcile(vec![spec("once", "exit 7", dir.path())]);
    let fixture = Fixture {
        host,
        recorder,
        cancel,
        tasks,
        dir,
    };
    fixture
        .until("backoff", |f| {
            f.status("test.once").state == SensorState::Backoff
        })
        .await;
    let status = fixture.status("test.once");
    assert!(status.next_restart_at.is_some());
    assert_eq!(
        status.restarts, 1,
        "the first restart of a crash series is immediate"
    );
    assert!(fixture.host.restart("test.once"));
    fixture
        .until("the asked restart", |f| f.status("test.once").restarts == 2)
        .await;
    fixture.stop().await;
}

#[tokio::test]
async fn protocol_mismatch_is_an_error_naming_both_versions() {
    let fixture = Fixture::new();
    let script = "read hello; echo '{\"type\":\"ready\",\"protocol\":7}'; while read l; do :; done";
    fixture
        .host
        .reconcile(vec![spec("future", script, fixture.dir.path())]);
    fixture
        .until("the mismatch", |f| {
            f.status("test.future").last_error.is_some()
        })
        .await;
    assert_eq!(
        fixture.status("test.future").last_error.unwrap(),
        "protocol version mismatch: the sensor speaks 7, this host speaks 1"
    );
    fixture.stop().await;
}

#[tokio::test]
async fn dispatches_written_just_before_exit_are_recorded() {
    let fixture = Fixture::new();
    let script = r#"
read hello
echo '{"type":"ready","protocol":1}'
i=0
while [ $i -lt 200 ]; do echo "{\"type\":\"dispatch\",\"trigger\":\"test.event\",\"payload\":{\"i\":$i}}"; i=$((i+1)); done
exit 0
"#;
    fixture
        .host
        .reconcile(vec![spec("burst", script, fixture.dir.path())]);
    fixture
        .until("all 200", |f| f.events("test.burst").len() >= 200)
        .await;
    let mut seen: Vec<i64> = fixture
        .events("test.burst")
        .iter()
        .map(|(_, p)| p["i"].as_i64().unwrap())
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 200, "each exactly once before the restart");
    fixture.stop().await;
}

#[tokio::test]
async fn a_stopping_sensor_is_served_until_it_exits() {
    let fixture = Fixture::new();
    // On shutdown: save state, wait for the answer, dispatch once more, then exit.
    let script = r#"
read hello
echo '{"type":"ready","protocol":1}'
while read line; do
  case "$line" in
    *'"type":"shutdown"'*)
      echo '{"type":"kv_set","id":"s1","key":"state","value":"saved on shutdown"}'
      read reply
      echo "$reply" > reply.json
      echo '{"type":"dispatch","trigger":"test.event","payload":{"last":true},"id":"d1"}'
      read answer
      echo "$answer" > answer.json
      exit 0 ;;
  esac
done
"#;
    fixture
        .host
        .reconcile(vec![spec("saver", script, fixture.dir.path())]);
    fixture
        .until("running", |f| {
            f.status("test.saver").state == SensorState::Running
        })
        .await;
    fixture.host.reconcile(vec![]);
    fixture
        .until("the sensor's clean exit", |f| {
            f.recorder.process.lock().unwrap().iter().any(|e| {
                matches!(e, ProcessEvent::Exited { sensor, exit_code } if sensor == "test.saver" && *exit_code == Some(0))
            })
        })
        .await;
    assert_eq!(
        fixture.recorder.kv.lock().unwrap().get("test.saver:state"),
        Some(&"saved on shutdown".to_owned())
    );
    let reply: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.dir.path().join("reply.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(reply["ok"], json!(true), "{reply}");
    let answer: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.dir.path().join("answer.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        answer["ok"],
        json!(true),
        "the last dispatch was confirmed: {answer}"
    );
    assert_eq!(fixture.events("test.saver").len(), 1);
    fixture.stop().await;
}

#[tokio::test]
async fn unavailable_runtime_is_shown_with_the_hint_and_removed_sensors_stop() {
    let fixture = Fixture::new();
    let mut missing = spec("node", "", fixture.dir.path());
    missing.launch = Launch::Unavailable {
        runtime: "node".into(),
        reason: "install Node.js 18 or newer".into(),
    };
    let echo = spec("echo", ECHO_SENSOR, fixture.dir.path());
    fixture.host.reconcile(vec![missing, echo.clone()]);
    fixture
        .until("unavailable", |f| {
            f.status("test.node").state == SensorState::Unavailable
                && f.status("test.echo").state == SensorState::Running
        })
        .await;
    assert_eq!(
        fixture.status("test.node").last_error.as_deref(),
        Some("install Node.js 18 or newer")
    );
    let pid = fixture.status("test.echo").pid.unwrap();
    fixture.host.reconcile(vec![]);
    assert!(fixture.host.statuses().is_empty());
    fixture
        .until("the removed sensor's process gone", |f| {
            f.recorder
                .process
                .lock()
                .unwrap()
                .iter()
                .any(|e| matches!(e, ProcessEvent::Exited { sensor, .. } if sensor == "test.echo"))
        })
        .await;
    assert!(
        nix_gone(pid),
        "the stopped sensor's process {pid} is really gone"
    );
    fixture.stop().await;
}

fn nix_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
        || std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
}

#[test]
fn trigger_keys_match_rule_keys() {
    let t = trigger("a", "/x");
    assert_eq!(session_key(&t), r#"test.watch?{"path":"/x"}"#);
    let mut shadow = t.clone();
    shadow.parameters.clear();
    assert_eq!(session_key(&shadow), "test.watch");
}

fn session_key(trigger: &TriggerDict) -> String {
    crate::session::trigger_key_for_tests(trigger)
}
