//! The client commands end to end: each test starts its own `nerve up` on a fresh data dir and
//! drives it with the real binary, which finds the server through that data dir.

use std::path::Path;
use std::time::{Duration, Instant};

use nerve_test_harness::{Nerve, NerveServer, Output, fixture};
use serde_json::{Value, json};

/// A server and a CLI pointed at the same data dir.
struct Env {
    server: NerveServer,
    nerve: Nerve,
    dir: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let binary = Path::new(env!("CARGO_BIN_EXE_nerve"));
        let server = NerveServer::start(binary, dir.path());
        let nerve = Nerve::new(binary).with_data_dir(dir.path());
        Env { server, nerve, dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.nerve.run(args)
    }

    /// Runs a command that must exit 0 and print JSON.
    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        output.assert_code(0);
        output.json()
    }

    /// Asks `query` again until `done` holds for its JSON answer, at most 60 s.
    fn wait_for(&self, what: &str, query: &[&str], done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let value = self.json(query);
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}: {value:#}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn stdout_lines(output: &Output) -> Vec<&str> {
    output.stdout.lines().collect()
}

/// The value of a `label: value` line of a record.
fn field<'a>(output: &'a Output, label: &str) -> Option<&'a str> {
    output
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix(label)?.strip_prefix(':').map(str::trim))
}

#[test]
fn run_prints_live_output_and_exits_with_the_status() {
    let env = Env::start();

    let hi = env.run(&["run", "core.local", "cmd=echo hi"]);
    hi.assert_code(0);
    assert_eq!(
        stdout_lines(&hi),
        ["hi"],
        "only the output on stdout:\n{hi}"
    );
    assert!(hi.stderr.contains("succeeded: core.local"), "{hi}");

    let streams = env.run(&["run", "core.local", "cmd=echo out; echo err >&2"]);
    streams.assert_code(0);
    assert_eq!(stdout_lines(&streams), ["out"], "{streams}");
    assert!(
        streams.stderr.lines().any(|line| line == "err"),
        "{streams}"
    );

    let failed = env.run(&["run", "core.local", "cmd=exit 3"]);
    failed.assert_code(1);
    assert!(failed.stderr.contains("failed: core.local"), "{failed}");
    assert!(failed.stderr.contains("return code 3"), "{failed}");

    let json = env.run(&["run", "core.local", "cmd=echo quiet", "-o", "json"]);
    json.assert_code(0);
    let execution = json.json();
    assert_eq!(execution["status"], "succeeded");
    assert_eq!(execution["result"]["stdout"], "quiet");

    let invalid = env.run(&["run", "core.local", "no-equals-sign"]);
    invalid.assert_code(2);
    let unknown = env.run(&["run", "core.nope"]);
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("core.nope"), "{unknown}");
}

#[test]
fn async_run_prints_the_id_to_get_and_tail() {
    let env = Env::start();
    let started = env.run(&["run", "core.local", "cmd=echo later", "--async"]);
    started.assert_code(0);
    let id = started.stdout.trim();
    assert!(
        !id.is_empty() && !id.contains(char::is_whitespace),
        "{started}"
    );
    assert!(
        started
            .stderr
            .contains(&format!("nerve execution get {id}")),
        "{started}"
    );

    let tail = env.run(&["execution", "tail", id]);
    tail.assert_code(0);
    assert_eq!(stdout_lines(&tail), ["later"], "{tail}");

    let get = env.run(&["execution", "get", id]);
    get.assert_code(0);
    assert!(get.stdout.contains(id), "{get}");
    assert!(get.stdout.contains("core.local"), "{get}");
    assert!(get.stdout.contains("succeeded"), "{get}");

    let list = env.json(&["execution", "list", "--action", "core.local", "-o", "json"]);
    assert!(
        list.as_array().unwrap().iter().any(|e| e["id"] == id),
        "{list:#}"
    );

    let rerun = env.run(&["execution", "rerun", id, "cmd=echo again"]);
    rerun.assert_code(0);
    assert_eq!(stdout_lines(&rerun), ["again"], "{rerun}");
}

#[test]
fn cancel_stops_a_running_execution() {
    let env = Env::start();
    let started = env.run(&["run", "core.local", "cmd=sleep 30", "--async"]);
    started.assert_code(0);
    let id = started.stdout.trim().to_owned();

    env.run(&["execution", "cancel", &id]).assert_code(0);
    // `tail` returns once the execution is final, without polling.
    let ended = env.run(&["execution", "tail", &id, "-o", "json"]);
    ended.assert_code(1);
    assert_eq!(ended.json()["status"], "canceled", "{ended}");

    let again = env.run(&["execution", "cancel", &id]);
    again.assert_code(2);
    assert!(again.stderr.contains("error:"), "{again}");
}

const WEBHOOK_RULE: &str = r#"---
name: cli_echo
pack: default
description: Echo the message of a webhook.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: cli_echo
action:
  ref: core.local
  parameters:
    cmd: "echo {{ trigger.body.msg }}"
"#;

#[test]
fn rules_are_created_fired_disabled_and_rejected() {
    let env = Env::start();
    let rule_file = env.dir.path().join("echo.yaml");
    std::fs::write(&rule_file, WEBHOOK_RULE).unwrap();
    let created = env.run(&["rule", "create", rule_file.to_str().unwrap()]);
    created.assert_code(0);
    assert!(created.stdout.contains("default.cli_echo"), "{created}");

    let client = nerve_web::Client::new(&env.server.url, Some(env.server.token.clone()));
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(client.webhook("cli_echo", &json!({"msg": "hello-from-webhook"}), None))
        .unwrap();
    let executions = env.wait_for(
        "the rule's execution succeeded",
        &["execution", "list", "--action", "core.local", "-o", "json"],
        |list| {
            list.as_array()
                .unwrap()
                .iter()
                .any(|e| e["rule"]["ref"] == "default.cli_echo" && e["status"] == "succeeded")
        },
    );
    let execution = &executions[0];
    assert_eq!(execution["result"]["stdout"], "hello-from-webhook");
    let id = execution["id"].as_str().unwrap();
    let table = env.run(&["execution", "list", "--action", "core.local"]);
    table.assert_code(0);
    assert!(table.stdout.contains("rule default.cli_echo"), "{table}");

    let trace = env.run(&["trace", "get", "--execution", id]);
    trace.assert_code(0);
    assert!(trace.stdout.contains("event core.st2.webhook"), "{trace}");
    assert!(trace.stdout.contains("rule default.cli_echo"), "{trace}");
    assert!(
        trace.stdout.contains(&format!("execution core.local {id}")),
        "{trace}"
    );

    env.run(&[
        "rule",
        "disable",
        "default.cli_echo",
        "--reason",
        "maintenance",
    ])
    .assert_code(0);
    let get = env.run(&["rule", "get", "default.cli_echo"]);
    get.assert_code(0);
    assert_eq!(field(&get, "enabled"), Some("no"), "{get}");
    assert_eq!(field(&get, "disabled reason"), Some("maintenance"), "{get}");
    let list = env.run(&["rule", "list"]);
    assert!(list.stdout.contains("disabled: maintenance"), "{list}");
    env.run(&["rule", "enable", "default.cli_echo"])
        .assert_code(0);
    assert_eq!(
        env.json(&["rule", "get", "default.cli_echo", "-o", "json"])["enabled"],
        true
    );

    let broken_file = env.dir.path().join("broken.yaml");
    std::fs::write(&broken_file, WEBHOOK_RULE.replace("action:", "acton:")).unwrap();
    let broken = env.run(&["rule", "create", broken_file.to_str().unwrap()]);
    broken.assert_code(2);
    assert!(
        broken.stderr.contains("acton"),
        "the field is named:\n{broken}"
    );
    assert!(
        broken.stderr.contains("broken.yaml:"),
        "the file is named:\n{broken}"
    );

    env.run(&["rule", "delete", "default.cli_echo"])
        .assert_code(0);
    let gone = env.run(&["rule", "get", "default.cli_echo"]);
    gone.assert_code(1);
    assert!(gone.stderr.contains("not found"), "{gone}");
}

#[test]
fn secret_keys_are_masked_unless_decrypted() {
    let env = Env::start();
    env.run(&["key", "set", "db_password", "hunter2-xyz", "--secret"])
        .assert_code(0);
    env.run(&["key", "set", "region", "eu-west", "--ttl", "3600"])
        .assert_code(0);

    let masked = env.run(&["key", "get", "db_password"]);
    masked.assert_code(0);
    assert!(masked.stdout.contains("********"), "{masked}");
    assert!(!masked.stdout.contains("hunter2-xyz"), "{masked}");

    let clear = env.run(&["key", "get", "db_password", "--decrypt"]);
    clear.assert_code(0);
    assert!(clear.stdout.contains("hunter2-xyz"), "{clear}");

    for args in [&["key", "list"][..], &["key", "list", "-o", "json"][..]] {
        let list = env.run(args);
        list.assert_code(0);
        assert!(list.stdout.contains("db_password"), "{list}");
        assert!(list.stdout.contains("eu-west"), "{list}");
        assert!(!list.stdout.contains("hunter2-xyz"), "{list}");
    }

    env.run(&["key", "delete", "region"]).assert_code(0);
    env.run(&["key", "get", "region"]).assert_code(1);
}

#[test]
fn installed_pack_actions_are_listed_and_run() {
    let env = Env::start();
    let pack_dir = fixture("packs/st2_hello");
    let install = env.run(&["pack", "install", pack_dir.to_str().unwrap()]);
    install.assert_code(0);
    assert!(
        install.stdout.contains("installed pack `st2_hello`"),
        "{install}"
    );

    let list = env.run(&["action", "list", "--pack", "st2_hello"]);
    list.assert_code(0);
    assert!(list.stdout.contains("st2_hello.greet"), "{list}");
    assert!(!list.stdout.contains("core.local"), "{list}");

    let get = env.run(&["action", "get", "st2_hello.greet"]);
    get.assert_code(0);
    assert!(
        get.stdout
            .lines()
            .any(|line| line.starts_with("greeting") && line.contains("yes")),
        "required parameter shown:\n{get}"
    );

    let greet = env.run(&["run", "st2_hello.greet", "greeting=Hi", "name=Ada"]);
    greet.assert_code(0);
    let lines = stdout_lines(&greet);
    assert!(
        lines.contains(&"[Hi]") && lines.contains(&"[Ada]"),
        "{greet}"
    );

    let packs = env.run(&["pack", "list"]);
    assert!(packs.stdout.contains("st2_hello"), "{packs}");
    env.run(&["pack", "remove", "st2_hello"]).assert_code(0);
    env.run(&["pack", "get", "st2_hello"]).assert_code(1);
}

#[test]
fn traces_are_found_by_tag() {
    let env = Env::start();
    env.run(&[
        "run",
        "core.local",
        "cmd=echo tagged",
        "--trace-tag",
        "cli-tag",
    ])
    .assert_code(0);
    let trace = env.run(&["trace", "get", "--trace-tag", "cli-tag"]);
    trace.assert_code(0);
    assert!(trace.stdout.contains("(tag `cli-tag`)"), "{trace}");
    assert!(trace.stdout.contains("execution core.local"), "{trace}");
    env.run(&["trace", "get", "--trace-tag", "no-such-tag"])
        .assert_code(1);
}

#[test]
fn trace_list_shows_recent_traces_newest_first_and_by_tag() {
    let env = Env::start();
    let mut trace_ids = Vec::new();
    for tag in ["list-a", "list-b"] {
        let run = env.json(&[
            "run",
            "core.local",
            "cmd=echo listed",
            "--trace-tag",
            tag,
            "--output",
            "json",
        ]);
        trace_ids.push(run["context"]["trace_id"].as_str().unwrap().to_owned());
    }
    let (older, newer) = (&trace_ids[0], &trace_ids[1]);

    // JSON: newest first (the server may list traces of its own too, such as sensors starting).
    let listed = env.json(&["trace", "list", "--output", "json", "-n", "1000"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|trace| trace["id"].as_str().unwrap())
        .filter(|id| trace_ids.iter().any(|mine| mine == id))
        .collect();
    assert_eq!(ids, [newer.as_str(), older.as_str()], "{listed:#}");

    // The table: id, tag, start and how many events, rule firings and executions.
    let table = env.run(&["trace", "list"]);
    table.assert_code(0);
    let lines = stdout_lines(&table);
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "ID",
            "TAG",
            "STARTED",
            "EVENTS",
            "ENFORCEMENTS",
            "EXECUTIONS"
        ],
        "{table}"
    );
    let row = |id: &str| lines.iter().position(|line| line.starts_with(id));
    let (newer_row, older_row) = (row(newer).unwrap(), row(older).unwrap());
    assert!(newer_row < older_row, "{table}");
    let cells: Vec<&str> = lines[newer_row].split_whitespace().collect();
    assert_eq!(cells[1], "list-b", "{table}");
    assert_eq!(cells[cells.len() - 3..], ["0", "0", "1"], "{table}");

    // By tag, and a page of one with a note on how to see the rest.
    let tagged = env.run(&["trace", "list", "--trace-tag", "list-a"]);
    tagged.assert_code(0);
    assert!(tagged.stdout.contains(older.as_str()), "{tagged}");
    assert!(!tagged.stdout.contains(newer.as_str()), "{tagged}");
    let first = env.run(&["trace", "list", "-n", "1"]);
    first.assert_code(0);
    assert_eq!(stdout_lines(&first).len(), 2, "{first}");
    assert!(first.stderr.contains("note: showing 1 to 1 of"), "{first}");
    let none = env.run(&["trace", "list", "--trace-tag", "no-such-tag"]);
    none.assert_code(0);
    assert!(
        none.stdout.contains("no trace has the tag `no-such-tag`"),
        "{none}"
    );

    // A page size the server refuses is explained.
    let too_big = env.run(&["trace", "list", "-n", "5000"]);
    too_big.assert_code(2);
    assert!(
        too_big.stderr.contains("larger than the maximum page size"),
        "{too_big}"
    );
}

#[test]
fn without_a_server_the_cli_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let nerve = super::nerve().with_data_dir(dir.path());
    let output = nerve.run(&["execution", "list"]);
    output.assert_code(2);
    assert!(output.stderr.contains("no Nerve server found"), "{output}");
    assert!(
        output.stderr.contains("start one with `nerve up`"),
        "{output}"
    );
}

#[test]
fn a_stopped_server_is_reported_with_its_url() {
    let env = Env::start();
    let url = env.server.url.clone();
    let Env { server, nerve, dir } = env;
    server.kill();
    let output = nerve.run(&["rule", "list"]);
    output.assert_code(2);
    assert!(
        output.stderr.contains("cannot reach the Nerve API"),
        "{output}"
    );
    assert!(output.stderr.contains(&url), "{output}");
    drop(dir);
}
