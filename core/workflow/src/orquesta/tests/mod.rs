//! Orquesta tests: runs driven by a small script (results fed back by task name) and
//! compared as transcripts, validation problems compared as text.

mod items;
mod problems;
mod runs;

use std::collections::HashMap;
use std::fmt::Write as _;

use expect_test::Expect;
use serde_json::{Map, Value};

use super::{State, Workflow};
use crate::command::{Command, ResultStatus, RunKey};
use crate::{KvLookup, KvValue, NoKv};

/// A datastore for tests: `system` and `user` items, secrets decrypt to `plain(<value>)`.
#[derive(Default)]
struct FakeKv {
    items: HashMap<(String, String), KvValue>,
}

impl FakeKv {
    fn with(mut self, scope: &str, key: &str, value: &str, secret: bool) -> Self {
        self.items.insert(
            (scope.to_owned(), key.to_owned()),
            KvValue {
                value: value.to_owned(),
                secret,
            },
        );
        self
    }
}

impl KvLookup for FakeKv {
    fn get(&self, scope: &str, key: &str) -> Option<KvValue> {
        self.items.get(&(scope.to_owned(), key.to_owned())).cloned()
    }

    fn decrypt(&self, scope: &str, key: &str) -> Option<String> {
        self.get(scope, key)
            .filter(|item| item.secret)
            .map(|item| format!("plain({})", item.value))
    }
}

fn parse(yaml: &str) -> Workflow {
    match Workflow::parse(yaml) {
        Ok(workflow) => workflow,
        Err(problems) => panic!(
            "unexpected problems:\n{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("not an object: {other}"),
    }
}

fn line(command: &Command) -> String {
    match command {
        Command::RunTask(run) => {
            let mut text = format!("run {}#{}", run.task, run.instance);
            if let Some(item) = run.item_index {
                let _ = write!(text, "[{item}]");
            }
            let _ = write!(text, " {} {}", run.action, Value::Object(run.input.clone()));
            if run.attempt > 1 {
                let _ = write!(text, " attempt={}", run.attempt);
            }
            if let Some(delay) = run.delay_secs {
                let _ = write!(text, " delay={delay}");
            }
            text
        }
        Command::Finishing {
            status,
            cancel,
            outstanding,
        } => {
            let keys: Vec<String> = outstanding.iter().map(key_text).collect();
            format!(
                "finishing {status}{} outstanding=[{}]",
                if *cancel { " cancel" } else { "" },
                keys.join(", ")
            )
        }
        Command::Complete {
            status,
            output,
            errors,
        } => {
            let mut text = format!("complete {status} output={output}");
            for error in errors {
                let _ = write!(
                    text,
                    "\n    error {}",
                    serde_json::to_string(error).unwrap_or_default()
                );
            }
            text
        }
    }
}

fn key_text(key: &RunKey) -> String {
    match key.item {
        Some(item) => format!("#{}[{item}]", key.instance),
        None => format!("#{}", key.instance),
    }
}

/// Runs a workflow with a script, one step a line:
/// `<task>[<item>] ok|fail|cancel <json result>`, `pause`, `resume`, `cancel`.
/// A task step answers the oldest outstanding execution of that task (and item).
struct Driver<'k> {
    state: State,
    kv: &'k dyn KvLookup,
    transcript: String,
}

impl<'k> Driver<'k> {
    fn start(yaml: &str, input: Value, kv: &'k dyn KvLookup) -> Self {
        let workflow = parse(yaml);
        let (state, commands) = workflow.start(object(input), kv);
        let mut driver = Driver {
            state,
            kv,
            transcript: String::from("start\n"),
        };
        driver.record(&commands);
        driver
    }

    fn record(&mut self, commands: &[Command]) {
        for command in commands {
            let _ = writeln!(self.transcript, "  {}", line(command));
        }
    }

    fn key_of(&self, task: &str, item: Option<usize>) -> RunKey {
        let outstanding = self.state.outstanding();
        *outstanding
            .iter()
            .find(|k| k.item == item && self.state.task_name(k.instance) == Some(task))
            .unwrap_or_else(|| {
                panic!("no outstanding execution of {task} {item:?}: {outstanding:?}")
            })
    }

    fn step(&mut self, step: &str) {
        let _ = writeln!(self.transcript, "{step}");
        let commands = match step {
            "pause" => {
                let result = self.state.pause();
                let _ = writeln!(self.transcript, "  -> {result:?} {}", self.state.status());
                return;
            }
            "resume" => self.state.resume(self.kv),
            "cancel" => self.state.cancel(self.kv),
            _ => {
                let mut parts = step.splitn(3, ' ');
                let target = parts.next().unwrap_or_default();
                let status = match parts.next() {
                    Some("ok") => ResultStatus::Succeeded,
                    Some("fail") => ResultStatus::Failed,
                    Some("cancel") => ResultStatus::Canceled,
                    other => panic!("bad step status {other:?}"),
                };
                let result: Value = parts.next().map_or(Value::Null, |json| {
                    serde_json::from_str(json).expect("result json")
                });
                let (task, item) = match target.split_once('[') {
                    Some((task, rest)) => (
                        task,
                        Some(
                            rest.trim_end_matches(']')
                                .parse::<usize>()
                                .expect("item index"),
                        ),
                    ),
                    None => (target, None),
                };
                let key = self.key_of(task, item);
                self.state.on_task_result(key, status, result, self.kv)
            }
        };
        match commands {
            Ok(commands) => self.record(&commands),
            Err(error) => {
                let _ = writeln!(self.transcript, "  error: {error}");
            }
        }
    }
}

fn check(yaml: &str, input: Value, script: &str, expect: Expect) {
    check_kv(yaml, input, script, &NoKv, expect);
}

fn check_kv(yaml: &str, input: Value, script: &str, kv: &dyn KvLookup, expect: Expect) {
    let mut driver = Driver::start(yaml, input, kv);
    for step in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        driver.step(step);
    }
    expect.assert_eq(&driver.transcript);
}

const BRANCHING: &str = r#"
version: 1.0
input:
  - host
  - attempts: 2
vars:
  - greeting: "hello {{ ctx().host }}"
tasks:
  check:
    action: core.local
    input:
      cmd: "ping -c {{ ctx().attempts }} {{ ctx('host') }}"
    next:
      - when: "{{ succeeded() }}"
        publish:
          - status: up
          - latency: "{{ result().stdout | int }}"
        do: report
      - when: "{{ failed() }}"
        publish: status=down reason="{{ result().stderr }}"
        do:
          - alert
          - report
  alert:
    action: 'chat.post message="{{ ctx().host }} is {{ ctx().status }}: {{ ctx().reason }}"' 
  report:
    action: core.echo
    input:
      message: "{{ ctx().greeting }}: {{ ctx().status }}"
output:
  - status: "{{ ctx().status }}"
  - latency: "{{ ctx().get('latency') }}"
"#;

const JOIN_ALL: &str = r#"
version: 1.0
tasks:
  setup:
    next:
      - do: [left, right, other]
  left:
    action: core.noop
    next:
      - publish: [{from_left: "{{ result() }}"}]
        do: barrier
  right:
    action: core.noop
    next:
      - publish: [{from_right: "{{ result() }}"}]
        do: middle
  middle:
    action: core.noop
    next:
      - do: barrier
  barrier:
    join: all
    action: core.echo
    input:
      message: "{{ ctx().from_left }} {{ ctx().from_right }}"
  other:
    action: core.noop
output:
  - both: "{{ [ctx().from_left, ctx().from_right] }}"
"#;

const RETRY: &str = r#"
version: 1.0
tasks:
  flaky:
    action: core.http url=http://x
    delay: 5
    retry:
      when: "{{ failed() or result().status_code != 200 }}"
      count: 2
      delay: 3
    next:
      - when: "{{ succeeded() }}"
        publish: [{code: "{{ result().status_code }}"}]
output: [{code: "{{ ctx().code }}"}]
"#;

const PARALLEL: &str = r#"
version: 1.0
tasks:
  fast:
    action: core.local cmd=false
    next:
      - when: "{{ succeeded() }}"
        do: after_fast
  slow:
    action: core.local cmd="sleep 10"
    next:
      - do: after_slow
  after_fast:
    action: core.noop
  after_slow:
    action: core.noop
output:
  - done: "{{ task_status('after_slow') }}"
"#;
