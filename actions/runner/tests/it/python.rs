//! `python-script`: unmodified StackStorm Python actions through the embedded wrapper.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use nerve_runner::{Interpreter, RunRequest, RunStatus};
use serde_json::{Value, json};

use crate::support::*;

/// A request for a Python action whose file holds `code`.
async fn python_request(pack: &tempfile::TempDir, code: &str, parameters: Value) -> RunRequest {
    let path = pack.path().join("actions/my_action.py");
    std::fs::write(&path, code).unwrap();
    let action = action(
        "my_action",
        "python-script",
        json!({"name": {"type": "string"}, "token": {"type": "string", "secret": true}}),
    );
    let mut request = request(action, pack.path(), parameters);
    request.entry_point = Some(path);
    request.python = python3().await;
    request
}

#[tokio::test]
async fn a_stackstorm_action_runs_unmodified() {
    let pack = pack_dir();
    let code = r#"
import sys
from st2common.runners.base_action import Action

class Helper(object):
    pass

class Greet(Action):
    def run(self, name, token=None):
        print("hello " + name)
        self.logger.info("logged")
        return {"greeting": "hi " + name, "greeting_from": self.config.get("who"),
                "argv_has_token": any("tok-123" in arg for arg in sys.argv)}
"#;
    let mut request =
        python_request(&pack, code, json!({"name": "nerve", "token": "tok-123"})).await;
    request.pack_config = json!({"who": "config"});
    let (outcome, lines) = run_collect(request).await;

    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.result["result"],
        json!({"greeting": "hi nerve", "greeting_from": "config", "argv_has_token": false})
    );
    assert_eq!(outcome.result["exit_code"], json!(0));
    assert_eq!(outcome.result["stdout"], json!("hello nerve\n"));
    assert!(
        outcome.result["stderr"]
            .as_str()
            .unwrap()
            .contains("actions.python.Greet: INFO     logged"),
        "{outcome:?}"
    );
    // The stream carries the action's output but not the result section.
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|l| l.stream == nerve_runner::Stream::Stdout)
        .map(|l| l.line.as_str())
        .collect();
    assert_eq!(stdout, ["hello nerve"]);
}

#[tokio::test]
async fn a_status_tuple_decides_success() {
    let pack = pack_dir();
    let code = r#"
from st2common.runners.base_action import Action

class Check(Action):
    def run(self, name):
        return (name == "ok", {"checked": name})
"#;
    let (outcome, _) = run_collect(python_request(&pack, code, json!({"name": "ok"})).await).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(outcome.result["result"], json!({"checked": "ok"}));

    let (outcome, _) = run_collect(python_request(&pack, code, json!({"name": "bad"})).await).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.result["result"], json!({"checked": "bad"}));
    assert_eq!(outcome.result["exit_code"], json!(0));
}

#[tokio::test]
async fn an_exception_fails_with_the_traceback() {
    let pack = pack_dir();
    let code = r#"
from st2common.runners.base_action import Action

class Boom(Action):
    def run(self, name):
        raise ValueError("boom: " + name)
"#;
    let (outcome, _) = run_collect(python_request(&pack, code, json!({"name": "x"})).await).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.result["exit_code"], json!(1));
    assert_eq!(outcome.result["result"], Value::Null);
    let stderr = outcome.result["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("Traceback (most recent call last)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("my_action.py\", line 6, in run"),
        "{stderr}"
    );
    assert_eq!(
        outcome.reason.as_deref(),
        Some("exited with code 1: ValueError: boom: x")
    );
}

#[tokio::test]
async fn an_invalid_status_and_a_syntax_error_fail_clearly() {
    let pack = pack_dir();
    let code = r#"
from st2common.runners.base_action import Action

class Odd(Action):
    def run(self):
        return ("yes", 1)
"#;
    let (outcome, _) = run_collect(python_request(&pack, code, json!({})).await).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.result["exit_code"], json!(220));
    assert!(
        outcome.reason.as_deref().unwrap().starts_with(
            "Status returned from the action run() method must either be True or False"
        )
    );

    let (outcome, _) = run_collect(python_request(&pack, "def broken(:\n", json!({})).await).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert!(
        outcome.reason.as_deref().unwrap().contains("SyntaxError"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn legacy_imports_and_old_constructors_still_work() {
    let pack = pack_dir();
    let code = r#"
from st2actions.runners.pythonrunner import Action

class Old(Action):
    def __init__(self, config):
        super(Old, self).__init__(config)

    def run(self):
        return self.action_service is not None
"#;
    let (outcome, _) = run_collect(python_request(&pack, code, json!({})).await).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.result["result"], json!(true));
}

#[tokio::test]
async fn a_python_action_times_out() {
    let pack = pack_dir();
    let code = r#"
import time
from st2common.runners.base_action import Action

class Slow(Action):
    def run(self):
        print("working", flush=True)
        time.sleep(300)
"#;
    let mut request = python_request(&pack, code, json!({"timeout": 1})).await;
    request.grace = std::time::Duration::from_millis(200);
    let (outcome, _) = run_collect(request).await;
    assert_eq!(outcome.status, RunStatus::TimedOut);
    assert_eq!(outcome.result["stdout"], json!("working\n"));
    assert_eq!(
        outcome.result["error"],
        json!("Action failed to complete in 1 seconds")
    );
}

#[tokio::test]
async fn a_missing_interpreter_is_a_clear_failure() {
    let pack = pack_dir();
    let mut request = python_request(&pack, "", json!({})).await;
    request.python = Interpreter::Missing {
        hint: "install python3 (apt install python3)".into(),
    };
    let (outcome, _) = run_collect(request).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("python runtime not available: install python3 (apt install python3)")
    );
}

/// A key-value API like Nerve's: `/api/v1/keys[/{name}]`.
fn kv_handler(store: Arc<Mutex<BTreeMap<String, String>>>) -> impl Fn(&Recorded) -> Option<Reply> {
    move |request: &Recorded| {
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((request.target.as_str(), ""));
        let mut store = store.lock().unwrap();
        if path == "/api/v1/keys" {
            let prefix = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("prefix="))
                .map(|p| p.replace("%3A", ":"))
                .unwrap_or_default();
            let items: Vec<Value> = store
                .iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(name, value)| json!({"name": name, "value": value, "scope": "system"}))
                .collect();
            return Reply::json(200, &Value::Array(items));
        }
        let name = path.strip_prefix("/api/v1/keys/")?.replace("%3A", ":");
        match request.method.as_str() {
            "GET" => match store.get(&name) {
                Some(value) => Reply::json(200, &json!({"name": name, "value": value})),
                None => Reply::json(404, &json!({"faultstring": "not found"})),
            },
            "PUT" => {
                let body: Value = serde_json::from_slice(&request.body).ok()?;
                store.insert(name.clone(), body["value"].as_str()?.to_owned());
                Reply::json(200, &body)
            }
            "DELETE" => match store.remove(&name) {
                Some(_) => Reply::text(204, ""),
                None => Reply::json(404, &json!({"faultstring": "not found"})),
            },
            _ => Reply::text(405, ""),
        }
    }
}

#[tokio::test]
async fn the_datastore_round_trips_through_the_api() {
    let store = Arc::new(Mutex::new(BTreeMap::new()));
    store
        .lock()
        .unwrap()
        .insert("global_key".to_owned(), "global".to_owned());
    let server = TestServer::start(kv_handler(store.clone())).await;
    let pack = pack_dir();
    let code = r#"
from st2common.runners.base_action import Action

class Counter(Action):
    def run(self):
        svc = self.action_service
        before = svc.get_value("count")
        svc.set_value("count", 41 + 1)
        svc.set_value("other", "x", ttl=60)
        after = svc.get_value("count")
        listed = sorted(kv.name for kv in svc.list_values())
        deleted = svc.delete_value("other")
        deleted_again = svc.delete_value("other")
        return {"before": before, "after": after, "listed": listed,
                "global": svc.get_value("global_key", local=False),
                "deleted": deleted, "deleted_again": deleted_again}
"#;
    let mut request = python_request(&pack, code, json!({})).await;
    request.api_url = Some(server.url.clone());
    request.auth_token = Some("exec-token".into());
    let (outcome, _) = run_collect(request).await;

    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        outcome.result["result"],
        json!({
            "before": null, "after": "42",
            "listed": ["tests.Counter:count", "tests.Counter:other"],
            "global": "global", "deleted": true, "deleted_again": false,
        })
    );
    assert_eq!(
        store
            .lock()
            .unwrap()
            .get("tests.Counter:count")
            .map(String::as_str),
        Some("42")
    );
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-auth-token") == Some("exec-token"))
    );
    let put = requests
        .iter()
        .find(|r| r.method == "PUT" && r.target.contains("other"))
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&put.body).unwrap(),
        json!({"name": "tests.Counter:other", "value": "x", "scope": "system", "ttl": 60})
    );
    assert!(
        requests
            .iter()
            .any(|r| r.target == "/api/v1/keys/tests.Counter%3Acount?scope=system&decrypt=false")
    );
}
