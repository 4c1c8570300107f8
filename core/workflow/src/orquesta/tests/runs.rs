//! Runs: transitions, joins, retries, engine commands, fail-fast, pause and cancel.

use expect_test::expect;
use serde_json::{Map, Value, json};

use super::*;

#[test]
fn branching_success_path_publishes_and_renders_output() {
    check(
        BRANCHING,
        json!({"host": "db1"}),
        r#"
        check ok {"stdout": "12"}
        report ok {"stdout": "done"}
        "#,
        expect![[r#"
            start
              run check#0 core.local {"cmd":"ping -c 2 db1"}
            check ok {"stdout": "12"}
              run report#1 core.echo {"message":"hello db1: up"}
            report ok {"stdout": "done"}
              complete succeeded output={"status":"up","latency":12}
        "#]],
    );
}

#[test]
fn branching_failure_path_is_remediated() {
    check(
        BRANCHING,
        json!({"host": "db1", "attempts": 5}),
        r#"
        check fail {"stderr": "timeout"}
        alert ok
        report ok
        "#,
        expect![[r#"
            start
              run check#0 core.local {"cmd":"ping -c 5 db1"}
            check fail {"stderr": "timeout"}
              run alert#1 chat.post {"message":"db1 is down: timeout"}
              run report#2 core.echo {"message":"hello db1: down"}
            alert ok
            report ok
              complete succeeded output={"status":"down","latency":null}
        "#]],
    );
}

#[test]
fn join_all_waits_for_every_inbound_branch_and_merges_contexts() {
    check(
        JOIN_ALL,
        json!({}),
        r#"
        left ok "L"
        right ok "R"
        other ok
        middle ok
        barrier ok
        "#,
        expect![[r#"
            start
              run left#1 core.noop {}
              run right#2 core.noop {}
              run other#3 core.noop {}
            left ok "L"
            right ok "R"
              run middle#4 core.noop {}
            other ok
            middle ok
              run barrier#5 core.echo {"message":"L R"}
            barrier ok
              complete succeeded output={"both":["L","R"]}
        "#]],
    );
}

const JOIN_COUNT: &str = r#"
version: 1.0
tasks:
  a:
    action: core.noop
    next: [{do: barrier}]
  b:
    action: core.noop
    next: [{do: barrier}]
  c:
    action: core.noop
    next: [{do: barrier}]
  barrier:
    join: 2
    action: core.echo
    input: {message: "{{ task_status('a') }} {{ task_status('b') }} {{ task_status('c') }}"}
"#;

#[test]
fn join_count_runs_once_when_enough_branches_arrived() {
    check(
        JOIN_COUNT,
        json!({}),
        r#"
        c ok
        a ok
        barrier ok
        b ok
        "#,
        expect![[r#"
            start
              run a#0 core.noop {}
              run b#1 core.noop {}
              run c#2 core.noop {}
            c ok
            a ok
              run barrier#3 core.echo {"message":"succeeded running succeeded"}
            barrier ok
            b ok
              complete succeeded output=null
        "#]],
    );
}

#[test]
fn join_that_can_no_longer_be_satisfied_fails_the_workflow() {
    check(
        r#"
version: 1.0
tasks:
  a:
    action: core.noop
    next: [{when: "{{ succeeded() }}", do: barrier}]
  b:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        do: barrier
      - when: "{{ failed() }}"
        do: noop
  barrier:
    join: all
    action: core.noop
"#,
        json!({}),
        r#"
        a ok
        b fail "boom"
        "#,
        expect![[r#"
            start
              run a#0 core.noop {}
              run b#1 core.noop {}
            a ok
            b fail "boom"
              complete failed output=null
                error {"type":"error","message":"Execution failed. See result for details.","task_id":"b","result":"boom"}
                error {"type":"error","message":"UnreachableJoinError: The join task \"barrier\" is partially satisfied but unsatisfiable.","task_id":"barrier"}
        "#]],
    );
}

#[test]
fn retry_repeats_the_task_with_its_delay_until_when_is_false() {
    check(
        RETRY,
        json!({}),
        r#"
        flaky fail {"error": "refused"}
        flaky ok {"status_code": 503}
        flaky ok {"status_code": 200}
        "#,
        expect![[r#"
            start
              run flaky#0 core.http {"url":"http://x"} delay=5
            flaky fail {"error": "refused"}
              run flaky#0 core.http {"url":"http://x"} attempt=2 delay=3
            flaky ok {"status_code": 503}
              run flaky#0 core.http {"url":"http://x"} attempt=3 delay=3
            flaky ok {"status_code": 200}
              complete succeeded output={"code":200}
        "#]],
    );
}

#[test]
fn retry_stops_after_count_and_the_last_outcome_stands() {
    check(
        RETRY,
        json!({}),
        r#"
        flaky fail {"error": "refused"}
        flaky fail {"error": "refused"}
        flaky fail {"error": "still refused"}
        "#,
        expect![[r#"
            start
              run flaky#0 core.http {"url":"http://x"} delay=5
            flaky fail {"error": "refused"}
              run flaky#0 core.http {"url":"http://x"} attempt=2 delay=3
            flaky fail {"error": "refused"}
              run flaky#0 core.http {"url":"http://x"} attempt=3 delay=3
            flaky fail {"error": "still refused"}
              complete failed output=null
                error {"type":"error","message":"Execution failed. See result for details.","task_id":"flaky","result":{"error":"still refused"}}
                error {"type":"error","message":"JinjaEvaluationException: Unable to evaluate expression '{{ ctx().code }}'. UndefinedError: the expression's value is undefined (a missing variable, key or attribute)"}
        "#]],
    );
}

#[test]
fn stale_and_duplicate_results_change_nothing() {
    let workflow = parse(RETRY);
    let (mut state, commands) = workflow.start(Map::new(), &NoKv);
    let Command::RunTask(first) = &commands[0] else {
        panic!("expected a task: {commands:?}")
    };
    let commands = state
        .on_task_result(first.key(), ResultStatus::Failed, Value::Null, &NoKv)
        .expect("result accepted");
    assert_eq!(commands.len(), 1, "a retry: {commands:?}");
    // The first attempt's result again (a redelivery): ignored.
    let again = state
        .on_task_result(first.key(), ResultStatus::Succeeded, Value::Null, &NoKv)
        .expect("duplicate accepted");
    assert!(again.is_empty());
    // An instance that does not exist is the engine's mistake.
    let error = state
        .on_task_result(
            RunKey {
                instance: 7,
                item: None,
                attempt: 1,
            },
            ResultStatus::Succeeded,
            Value::Null,
            &NoKv,
        )
        .expect_err("unknown instance");
    expect!["no task instance 7 in this run"].assert_eq(&error.to_string());
}

#[test]
fn fail_fast_stops_scheduling_but_awaits_running_tasks() {
    check(
        PARALLEL,
        json!({}),
        r#"
        fast fail {"stderr": "nope"}
        slow ok
        "#,
        expect![[r#"
            start
              run fast#0 core.local {"cmd":false}
              run slow#1 core.local {"cmd":"sleep 10"}
            fast fail {"stderr": "nope"}
              finishing failed outstanding=[#1]
            slow ok
              complete failed output={"done":"null"}
                error {"type":"error","message":"Execution failed. See result for details.","task_id":"fast","result":{"stderr":"nope"}}
        "#]],
    );
}

#[test]
fn continue_on_failure_still_fails_the_workflow() {
    check(
        r#"
version: 1.0
vars: [{stderr: null}]
tasks:
  task1:
    action: core.local cmd=false
    next:
      - when: "{{ failed() }}"
        publish: [{stderr: "{{ result().stderr }}"}]
        do: continue
output: [{stderr: "{{ ctx().stderr }}"}]
"#,
        json!({}),
        r#"
        task1 fail {"stderr": "bad"}
        "#,
        expect![[r#"
            start
              run task1#0 core.local {"cmd":false}
            task1 fail {"stderr": "bad"}
              complete failed output={"stderr":"bad"}
                error {"type":"error","message":"Execution failed. See result for details.","task_id":"task1","result":{"stderr":"bad"}}
        "#]],
    );
}

#[test]
fn noop_on_failure_remediates() {
    check(
        r#"
version: 1.0
vars: [{stderr: null}]
tasks:
  task1:
    action: core.local cmd=false
    next:
      - when: "{{ failed() }}"
        publish: [{stderr: "{{ result().stderr }}"}]
        do: noop
output: [{stderr: "{{ ctx().stderr }}"}]
"#,
        json!({}),
        r#"
        task1 fail {"stderr": "bad"}
        "#,
        expect![[r#"
            start
              run task1#0 core.local {"cmd":false}
            task1 fail {"stderr": "bad"}
              complete succeeded output={"stderr":"bad"}
        "#]],
    );
}

#[test]
fn fail_command_fails_the_workflow_after_running_its_sibling_tasks() {
    check(
        r#"
version: 1.0
tasks:
  post:
    action: core.http url=http://x
    next:
      - when: "{{ succeeded() and result().status_code != 200 }}"
        publish: [{msg: "status {{ result().status_code }}"}]
        do: [log, fail]
  log:
    action: core.echo message="{{ ctx().msg }}"
    next: [{do: never}]
  never:
    action: core.noop
"#,
        json!({}),
        r#"
        post ok {"status_code": 500}
        log ok
        "#,
        expect![[r#"
            start
              run post#0 core.http {"url":"http://x"}
            post ok {"status_code": 500}
              run log#2 core.echo {"message":"status 500"}
              finishing failed outstanding=[#2]
            log ok
              complete failed output=null
                error {"type":"error","message":"The workflow failed on the `fail` command after task \"post\".","task_id":"post"}
        "#]],
    );
}

#[test]
fn retry_command_retries_up_to_three_times_without_delay() {
    check(
        r#"
version: 1.0
tasks:
  task1:
    action: core.http url=http://x
    delay: 2
    next:
      - when: "{{ result().status_code != 200 }}"
        do: retry
      - when: "{{ result().status_code == 200 }}"
        do: task2
  task2:
    action: core.noop
"#,
        json!({}),
        r#"
        task1 ok {"status_code": 500}
        task1 ok {"status_code": 500}
        task1 ok {"status_code": 500}
        task1 ok {"status_code": 500}
        "#,
        expect![[r#"
            start
              run task1#0 core.http {"url":"http://x"} delay=2
            task1 ok {"status_code": 500}
              run task1#0 core.http {"url":"http://x"} attempt=2
            task1 ok {"status_code": 500}
              run task1#0 core.http {"url":"http://x"} attempt=3
            task1 ok {"status_code": 500}
              run task1#0 core.http {"url":"http://x"} attempt=4
            task1 ok {"status_code": 500}
              complete succeeded output=null
        "#]],
    );
}

#[test]
fn missing_required_input_fails_at_start() {
    check(
        r#"
version: 1.0
input: [host, {port: 22}, user]
tasks:
  t:
    action: core.noop
"#,
        json!({"port": 2222}),
        "",
        expect![[r#"
            start
              complete failed output=null
                error {"type":"error","message":"Input \"host\" is required but was not given."}
                error {"type":"error","message":"Input \"user\" is required but was not given."}
        "#]],
    );
}

#[test]
fn input_defaults_and_vars_may_use_earlier_values() {
    check(
        r#"
version: 1.0
input:
  - name
  - greeting: "hello {{ ctx().name }}"
vars:
  - shout: "{{ ctx().greeting | upper }}"
  - count: 3
tasks:
  t:
    action: core.echo
    input:
      message: "{{ ctx().shout }}"
      times: "{{ ctx().count }}"
      literal: 5
output:
  - input: "{{ ctx() }}"
"#,
        json!({"name": "ann"}),
        "t ok",
        expect![[r#"
            start
              run t#0 core.echo {"message":"HELLO ANN","times":3,"literal":5}
            t ok
              complete succeeded output={"input":{"name":"ann","greeting":"hello ann","shout":"HELLO ANN","count":3}}
        "#]],
    );
}

#[test]
fn output_rendering_error_fails_a_succeeded_workflow() {
    check(
        r#"
version: 1.0
tasks:
  t:
    action: core.noop
output:
  - good: "{{ task_status('t') }}"
  - bad: "{{ ctx().st2.user }}"
"#,
        json!({}),
        "t ok",
        expect![[r#"
            start
              run t#0 core.noop {}
            t ok
              complete failed output={"good":"succeeded"}
                error {"type":"error","message":"JinjaEvaluationException: Unable to evaluate expression '{{ ctx().st2.user }}'. UndefinedError: `(...).st2` is undefined"}
        "#]],
    );
}

#[test]
fn st2kv_reads_through_the_kv_lookup() {
    let kv = FakeKv::default()
        .with("system", "api.url", "https://api", false)
        .with("user", "token", "cipher", true);
    check_kv(
        r#"
version: 1.0
tasks:
  t:
    action: core.http
    input:
      url: "{{ st2kv('system.api.url') }}/v1"
      token: "{{ st2kv('token', decrypt=true) }}"
      raw: "{{ st2kv('user.token') }}"
      fallback: "{{ st2kv('system.missing', default='none') }}"
    next:
      - publish: [{missing: "{{ st2kv('system.missing') }}"}]
"#,
        json!({}),
        "t ok",
        &kv,
        expect![[r#"
            start
              run t#0 core.http {"url":"https://api/v1","token":"plain(cipher)","raw":"cipher","fallback":"none"}
            t ok
              complete failed output=null
                error {"type":"error","message":"JinjaEvaluationException: Unable to evaluate expression '{{ st2kv('system.missing') }}'. TemplateError: The key \"system.missing\" does not exist in the StackStorm datastore.","task_id":"t","task_transition_id":"continue__t0"}
        "#]],
    );
}

#[test]
fn pause_holds_new_tasks_until_resume() {
    check(
        PARALLEL,
        json!({}),
        r#"
        pause
        fast ok
        pause
        slow ok
        resume
        after_fast ok
        after_slow ok
        "#,
        expect![[r#"
            start
              run fast#0 core.local {"cmd":false}
              run slow#1 core.local {"cmd":"sleep 10"}
            pause
              -> Ok(()) pausing
            fast ok
            pause
              -> Ok(()) pausing
            slow ok
            resume
              run after_fast#2 core.noop {}
              run after_slow#3 core.noop {}
            after_fast ok
            after_slow ok
              complete succeeded output={"done":"succeeded"}
        "#]],
    );
}

#[test]
fn cancel_awaits_running_tasks_and_ends_canceled() {
    check(
        PARALLEL,
        json!({}),
        r#"
        cancel
        fast ok
        slow cancel
        cancel
        "#,
        expect![[r#"
            start
              run fast#0 core.local {"cmd":false}
              run slow#1 core.local {"cmd":"sleep 10"}
            cancel
              finishing canceling cancel outstanding=[#0, #1]
            fast ok
            slow cancel
              complete canceled output={"done":"null"}
            cancel
              error: cannot cancel a run that is canceled
        "#]],
    );
}

#[test]
fn a_canceled_task_cancels_the_workflow() {
    check(
        PARALLEL,
        json!({}),
        r#"
        fast cancel
        slow ok
        "#,
        expect![[r#"
            start
              run fast#0 core.local {"cmd":false}
              run slow#1 core.local {"cmd":"sleep 10"}
            fast cancel
              finishing canceling cancel outstanding=[#1]
            slow ok
              complete canceled output={"done":"null"}
        "#]],
    );
}

#[test]
fn expression_errors_fail_the_workflow_with_the_task_named() {
    check(
        r#"
version: 1.0
tasks:
  t:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        publish: [{x: "{{ result().missing.deeper }}"}]
        do: u
  u:
    action: core.noop
"#,
        json!({}),
        r#"t ok {"present": 1}"#,
        expect![[r#"
            start
              run t#0 core.noop {}
            t ok {"present": 1}
              complete failed output=null
                error {"type":"error","message":"JinjaEvaluationException: Unable to evaluate expression '{{ result().missing.deeper }}'. UndefinedError: `(...).missing` is undefined","task_id":"t","task_transition_id":"u__t0"}
        "#]],
    );
}

#[test]
fn task_without_action_completes_at_once_and_delay_is_passed_on() {
    check(
        r#"
version: 1.0
input: [{wait: 30}]
tasks:
  start:
    next:
      - publish: [{began: true}]
        do: later
  later:
    action: core.noop
    delay: "{{ ctx().wait }}"
output: [{began: "{{ ctx().began }}"}]
"#,
        json!({}),
        "later ok",
        expect![[r#"
            start
              run later#1 core.noop {} delay=30
            later ok
              complete succeeded output={"began":true}
        "#]],
    );
}

#[test]
fn tasks_without_actions_looping_forever_fail_the_workflow() {
    check(
        r#"
version: 1.0
tasks:
  start:
    next: [{do: ping}]
  ping:
    next: [{do: pong}]
  pong:
    next: [{do: ping}]
"#,
        json!({}),
        "",
        expect![[r#"
            start
              complete failed output=null
                error {"type":"error","message":"WorkflowLoopError: more than 1000 tasks started without waiting for any action; the workflow loops through tasks without actions."}
        "#]],
    );
}
