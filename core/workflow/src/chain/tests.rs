//! Action-chain tests: runs driven by a script and compared as transcripts.

use std::fmt::Write as _;

use expect_test::{Expect, expect};
use serde_json::{Map, Value, json};

use super::{Chain, ChainState};
use crate::command::{Command, ResultStatus};
use crate::{KvLookup, KvValue, NoKv};

struct Kv;

impl KvLookup for Kv {
    fn get(&self, scope: &str, key: &str) -> Option<KvValue> {
        (scope == "system" && key == "base").then(|| KvValue {
            value: "/srv".to_owned(),
            secret: false,
        })
    }
}

const CHAIN: &str = r#"
vars:
  base: "{{ st2kv.system.base }}/{{ app }}"
chain:
  - name: build
    ref: core.local
    params:
      cmd: "make -C {{ base }}"
      retries: "{{ attempts }}"
      fixed: 3
    publish:
      artifact: "{{ build.stdout }}"
      code: "{{ build.return_code }}"
    on-success: deploy
    on-failure: notify
  - name: deploy
    ref: deploy.push
    parameters:
      path: "{{ artifact }}"
      from: "{{ __results.build.stdout }} {{ build.stdout }}"
    on-success: "{{ 'done' }}"
  - name: notify
    ref: chat.post
    params:
      message: "build of {{ app }} failed ({{ code }}): {{ build.stderr }}"
  - name: done
    ref: core.noop
default: build
"#;

fn parse(yaml: &str) -> Chain {
    Chain::parse(yaml).unwrap_or_else(|problems| {
        panic!(
            "unexpected problems:\n{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn record(transcript: &mut String, commands: &[Command]) {
    for command in commands {
        match command {
            Command::RunTask(run) => {
                let _ = writeln!(
                    transcript,
                    "  run {}#{} {} {}",
                    run.task,
                    run.instance,
                    run.action,
                    Value::Object(run.input.clone())
                );
            }
            Command::Finishing {
                status,
                outstanding,
                ..
            } => {
                let _ = writeln!(transcript, "  finishing {status} {outstanding:?}");
            }
            Command::Complete {
                status,
                output,
                errors,
            } => {
                let _ = writeln!(
                    transcript,
                    "  complete {status}\n  {}",
                    serde_json::to_string_pretty(output)
                        .unwrap_or_default()
                        .replace('\n', "\n  ")
                );
                for error in errors {
                    let _ = writeln!(transcript, "  error {}", error.message);
                }
            }
        }
    }
}

/// Script lines: `ok|fail|cancel <json result>` for the running node, or `pause`, `resume`,
/// `cancel!`.
fn check(yaml: &str, params: Value, script: &str, expect: Expect) {
    let chain = parse(yaml);
    let Value::Object(params) = params else {
        panic!("params must be an object")
    };
    let (mut state, commands) = chain.start(params, &Kv);
    let mut transcript = String::from("start\n");
    record(&mut transcript, &commands);
    for step in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let _ = writeln!(transcript, "{step}");
        let commands = match step {
            "pause" => state.pause().map(|()| Vec::new()),
            "resume" => state.resume(&Kv),
            "cancel!" => state.cancel(),
            _ => {
                let (status, result) = step.split_once(' ').unwrap_or((step, "null"));
                let status = match status {
                    "ok" => ResultStatus::Succeeded,
                    "fail" => ResultStatus::Failed,
                    "cancel" => ResultStatus::Canceled,
                    other => panic!("bad step {other}"),
                };
                let result: Value = serde_json::from_str(result).expect("result json");
                let key = state.outstanding().expect("a running node");
                state.on_result(key, status, result, &Kv)
            }
        };
        match commands {
            Ok(commands) => record(&mut transcript, &commands),
            Err(error) => {
                let _ = writeln!(transcript, "  error: {error}");
            }
        }
    }
    expect.assert_eq(&transcript);
}

#[test]
fn success_path_renders_params_and_publishes() {
    check(
        CHAIN,
        json!({"app": "shop", "attempts": 2}),
        r#"
        ok {"stdout": "shop.tgz", "return_code": 0}
        ok {"url": "https://shop"}
        ok
        "#,
        expect![[r#"
            start
              run build#0 core.local {"cmd":"make -C /srv/shop","retries":"2","fixed":3}
            ok {"stdout": "shop.tgz", "return_code": 0}
              run deploy#1 deploy.push {"path":"shop.tgz","from":"shop.tgz shop.tgz"}
            ok {"url": "https://shop"}
              run done#2 core.noop {}
            ok
              complete succeeded
              {
                "tasks": [
                  {
                    "id": "build",
                    "name": "build",
                    "state": "succeeded",
                    "result": {
                      "stdout": "shop.tgz",
                      "return_code": 0
                    },
                    "workflow": null
                  },
                  {
                    "id": "deploy",
                    "name": "deploy",
                    "state": "succeeded",
                    "result": {
                      "url": "https://shop"
                    },
                    "workflow": null
                  },
                  {
                    "id": "done",
                    "name": "done",
                    "state": "succeeded",
                    "result": null,
                    "workflow": null
                  }
                ],
                "published": {
                  "artifact": "shop.tgz",
                  "code": "0"
                }
              }
        "#]],
    );
}

#[test]
fn failure_path_follows_on_failure_and_keeps_its_status() {
    check(
        CHAIN,
        json!({"app": "shop", "attempts": 2}),
        r#"
        fail {"stdout": "", "stderr": "no rule", "return_code": 2}
        ok
        "#,
        expect![[r#"
            start
              run build#0 core.local {"cmd":"make -C /srv/shop","retries":"2","fixed":3}
            fail {"stdout": "", "stderr": "no rule", "return_code": 2}
              run notify#1 chat.post {"message":"build of shop failed (2): no rule"}
            ok
              complete succeeded
              {
                "tasks": [
                  {
                    "id": "build",
                    "name": "build",
                    "state": "failed",
                    "result": {
                      "stdout": "",
                      "stderr": "no rule",
                      "return_code": 2
                    },
                    "workflow": null
                  },
                  {
                    "id": "notify",
                    "name": "notify",
                    "state": "succeeded",
                    "result": null,
                    "workflow": null
                  }
                ],
                "published": {
                  "artifact": "",
                  "code": "2"
                }
              }
        "#]],
    );
}

#[test]
fn failure_without_on_failure_ends_the_chain_failed() {
    check(
        r#"
chain:
  - name: only
    ref: core.local
    params: {cmd: "false"}
"#,
        json!({}),
        r#"fail {"return_code": 1}"#,
        expect![[r#"
            start
              run only#0 core.local {"cmd":"false"}
            fail {"return_code": 1}
              complete failed
              {
                "tasks": [
                  {
                    "id": "only",
                    "name": "only",
                    "state": "failed",
                    "result": {
                      "return_code": 1
                    },
                    "workflow": null
                  }
                ],
                "published": {}
              }
        "#]],
    );
}

#[test]
fn rendering_errors_break_off_the_chain() {
    check(
        r#"
chain:
  - name: first
    ref: core.noop
    on-success: second
    publish:
      bad: "{{ first.missing.deeper }}"
  - name: second
    ref: core.noop
"#,
        json!({}),
        "ok {}",
        expect![[r#"
            start
              run first#0 core.noop {}
            ok {}
              complete failed
              {
                "tasks": [
                  {
                    "id": "first",
                    "name": "first",
                    "state": "succeeded",
                    "result": {},
                    "workflow": null
                  }
                ],
                "published": {},
                "error": "Failed rendering value for publish parameter in task \"first\": Unable to evaluate expression '{{ first.missing.deeper }}'. UndefinedError: `first.missing` is undefined"
              }
              error Failed rendering value for publish parameter in task "first": Unable to evaluate expression '{{ first.missing.deeper }}'. UndefinedError: `first.missing` is undefined
        "#]],
    );
    check(
        r#"
chain:
  - name: first
    ref: core.echo
    params: {message: "{{ undefined_param }}"}
"#,
        json!({}),
        "",
        expect![[r#"
            start
              complete failed
              {
                "tasks": [],
                "published": {},
                "error": "Failed to run task \"first\". Parameter rendering failed. Unable to evaluate expression '{{ undefined_param }}'. UndefinedError: `undefined_param` is undefined"
              }
              error Failed to run task "first". Parameter rendering failed. Unable to evaluate expression '{{ undefined_param }}'. UndefinedError: `undefined_param` is undefined
        "#]],
    );
}

#[test]
fn pause_resume_and_cancel() {
    check(
        CHAIN,
        json!({"app": "shop", "attempts": 1}),
        r#"
        pause
        ok {"stdout": "a", "return_code": 0}
        resume
        cancel!
        cancel
        "#,
        expect![[r#"
            start
              run build#0 core.local {"cmd":"make -C /srv/shop","retries":"1","fixed":3}
            pause
            ok {"stdout": "a", "return_code": 0}
            resume
              run deploy#1 deploy.push {"path":"a","from":"a a"}
            cancel!
              finishing canceling [RunKey { instance: 1, item: None, attempt: 1 }]
            cancel
              complete canceled
              {
                "tasks": [
                  {
                    "id": "build",
                    "name": "build",
                    "state": "succeeded",
                    "result": {
                      "stdout": "a",
                      "return_code": 0
                    },
                    "workflow": null
                  },
                  {
                    "id": "deploy",
                    "name": "deploy",
                    "state": "canceled",
                    "result": null,
                    "workflow": null
                  }
                ],
                "published": {
                  "artifact": "a",
                  "code": "0"
                }
              }
        "#]],
    );
}

#[test]
fn default_node_is_the_first_one_nothing_points_to() {
    let chain = parse(
        r#"
chain:
  - name: second
    ref: core.noop
  - name: first
    ref: core.noop
    on-success: second
"#,
    );
    assert_eq!(chain.start_node(), Some("first"));
}

#[test]
fn state_round_trips_through_serde() {
    let chain = parse(CHAIN);
    let Value::Object(params) = json!({"app": "shop", "attempts": 2}) else {
        unreachable!()
    };
    let (mut state, _) = chain.start(params, &Kv);
    let key = state.outstanding().expect("running");
    state
        .on_result(
            key,
            ResultStatus::Succeeded,
            json!({"stdout": "x", "return_code": 0}),
            &Kv,
        )
        .expect("accepted");
    let mut restored: ChainState =
        serde_json::from_str(&serde_json::to_string(&state).expect("serializes"))
            .expect("deserializes");
    assert_eq!(restored, state);
    let key = state.outstanding().expect("running");
    let original = state.on_result(key, ResultStatus::Succeeded, json!({}), &NoKv);
    let again = restored.on_result(key, ResultStatus::Succeeded, json!({}), &NoKv);
    assert_eq!(original, again);
    assert_eq!(state, restored);
    // A redelivered result changes nothing.
    assert_eq!(
        state.on_result(key, ResultStatus::Failed, json!({}), &NoKv),
        Ok(Vec::new())
    );
}

fn check_problems(yaml: &str, expect: Expect) {
    let text = match Chain::parse(yaml) {
        Ok(_) => "no problems\n".to_owned(),
        Err(problems) => problems.iter().map(|p| format!("{p}\n")).collect(),
    };
    expect.assert_eq(&text);
}

#[test]
fn problems_are_reported_with_their_place() {
    check_problems(
        r#"
chain:
  - name: a
    ref: core.noop
    on-success: bb
    on-failure: "{{ dynamic }}"
    params: {x: "{{ oops( }}"}
  - name: b
    rfe: core.noop
  - name: a
    ref: core.noop
  - ref: core.noop
    publish: [x]
default: c
vars: {v: "{% if %}"}
extra: 1
"#,
        expect![[r#"
            5:17 chain[0].on-success: unknown node `bb` in `on-success`
            7:17 chain[0].params.x: invalid Jinja template `{{ oops( }}`: TemplateSyntaxError: unexpected `}`
            8:5 chain[1]: a chain node needs `ref`
            9:5 chain[1].rfe: unknown field `rfe` (did you mean `ref`?)
            10:11 chain[2].name: node `a` is defined twice
            12:5 chain[3]: a chain node needs `name`
            13:14 chain[3].publish: `publish` is a mapping, not a list
            14:10 default: unknown node `c` in `default`
            15:11 vars.v: invalid Jinja template `{% if %}`: TemplateSyntaxError: unexpected end of block
            16:1 extra: unknown field `extra`
        "#]],
    );
    check_problems(
        "chain: []\n",
        expect![[r#"
        1:8 chain: `chain` is empty
    "#]],
    );
    check_problems(
        CHAIN,
        expect![[r#"
        no problems
    "#]],
    );
}

#[test]
fn empty_params_map_is_fine() {
    let chain = parse("chain:\n  - name: a\n    ref: core.noop\n");
    let (_, commands) = chain.start(Map::new(), &NoKv);
    assert_eq!(commands.len(), 1);
}
