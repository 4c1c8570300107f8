//! `with` items, and a serde round trip of the state mid-run.

use expect_test::expect;
use serde_json::{Map, json};

use super::*;

#[test]
fn with_items_names_and_zips_items() {
    check(
        r#"
version: 1.0
input: [hosts, cmds]
tasks:
  each:
    with: host, cmd in {{ zip(ctx().hosts, ctx().cmds) }}
    action: core.remote hosts={{ item(host) }} cmd="{{ item('cmd') }}"
    next:
      - publish: [{outs: "{{ result() | map(attribute='out') | list }}"}]
  plain:
    with:
      items: "{{ ctx().hosts }}"
    action: core.echo
    input: {message: "{{ item() }}"}
output: [{outs: "{{ ctx().outs }}"}]
"#,
        json!({"hosts": ["a", "b"], "cmds": ["x", "y", "z"]}),
        r#"
        plain[1] ok
        each[1] ok {"out": "B"}
        each[0] ok {"out": "A"}
        plain[0] ok
        "#,
        expect![[r#"
            start
              run each#0[0] core.remote {"hosts":"a","cmd":"x"}
              run each#0[1] core.remote {"hosts":"b","cmd":"y"}
              run plain#1[0] core.echo {"message":"a"}
              run plain#1[1] core.echo {"message":"b"}
            plain[1] ok
            each[1] ok {"out": "B"}
            each[0] ok {"out": "A"}
            plain[0] ok
              complete succeeded output={"outs":["A","B"]}
        "#]],
    );
}

#[test]
fn with_items_failure_stops_new_items_and_fails_the_task() {
    check(
        r#"
version: 1.0
tasks:
  each:
    with:
      items: "{{ range(5) | list }}"
      concurrency: 2
    action: core.echo message={{ item() }}
"#,
        json!({}),
        r#"
        each[0] ok "0"
        each[1] fail "1"
        each[2] ok "2"
        "#,
        expect![[r#"
            start
              run each#0[0] core.echo {"message":0}
              run each#0[1] core.echo {"message":1}
            each[0] ok "0"
              run each#0[2] core.echo {"message":2}
            each[1] fail "1"
            each[2] ok "2"
              complete failed output=null
                error {"type":"error","message":"Execution failed. See result for details.","task_id":"each","result":["0","1","2",null,null]}
        "#]],
    );
}

#[test]
fn with_items_over_no_items_succeeds_with_an_empty_result() {
    check(
        r#"
version: 1.0
tasks:
  each:
    with: "{{ [] }}"
    action: core.noop
    next: [{publish: [{n: "{{ result() | length }}"}]}]
output: [{n: "{{ ctx().n }}"}]
"#,
        json!({}),
        "",
        expect![[r#"
            start
              complete succeeded output={"n":0}
        "#]],
    );
}

/// A deterministic shuffle (xorshift), so the test needs no random crate.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = usize::try_from(seed % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
}

#[test]
fn with_items_thousand_items_concurrency_ten_in_item_order() {
    let workflow = parse(
        r#"
version: 1.0
input: [n]
tasks:
  each:
    with:
      items: "{{ range(ctx().n) | list }}"
      concurrency: 10
    action: core.echo
    input: {message: "{{ item() }}"}
    next:
      - publish: [{results: "{{ result() }}"}]
output: [{results: "{{ ctx().results }}"}]
"#,
    );
    let (mut state, mut pending) = workflow.start(object(json!({"n": 1000})), &NoKv);
    let mut outstanding: Vec<RunKey> = Vec::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15;
    let mut completed = None;
    let mut dispatched = 0;
    let mut round = 0;
    loop {
        for command in pending.drain(..) {
            match command {
                Command::RunTask(run) => {
                    let item = run.item_index.expect("an item");
                    assert_eq!(run.input["message"], json!(item));
                    outstanding.push(run.key());
                    dispatched += 1;
                }
                Command::Complete { status, output, .. } => completed = Some((status, output)),
                Command::Finishing { .. } => panic!("nothing fails"),
            }
        }
        assert!(outstanding.len() <= 10, "{} outstanding", outstanding.len());
        assert_eq!(state.outstanding().len(), outstanding.len());
        if outstanding.is_empty() {
            break;
        }
        // The engine persists the state between steps: continue from a deserialized copy.
        round += 1;
        if round % 25 == 0 {
            let saved = serde_json::to_vec(&state).expect("serializes");
            state = serde_json::from_slice(&saved).expect("deserializes");
        }
        // Answer a few of the outstanding executions, in a shuffled order.
        shuffle(&mut outstanding, seed);
        seed = seed.rotate_left(7) ^ 0xA5A5;
        let answer = 1 + usize::try_from(seed % 4).unwrap_or(0);
        for key in outstanding.split_off(outstanding.len().saturating_sub(answer)) {
            let item = key.item.expect("an item");
            pending.extend(
                state
                    .on_task_result(key, ResultStatus::Succeeded, json!({"item": item}), &NoKv)
                    .expect("result accepted"),
            );
        }
    }
    assert_eq!(dispatched, 1000);
    let (status, output) = completed.expect("the workflow completed");
    assert_eq!(status, crate::WorkflowStatus::Succeeded);
    let results = output["results"].as_array().expect("a list");
    assert_eq!(results.len(), 1000);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result, &json!({"item": i}));
    }
}

#[test]
fn state_round_trips_through_serde_mid_run() {
    let workflow = parse(JOIN_ALL);
    let (mut state, _) = workflow.start(Map::new(), &NoKv);
    let left = state.outstanding()[0];
    state
        .on_task_result(left, ResultStatus::Succeeded, json!("L"), &NoKv)
        .expect("result accepted");
    let saved = serde_json::to_string(&state).expect("serializes");
    let mut restored: State = serde_json::from_str(&saved).expect("deserializes");
    assert_eq!(restored, state);
    // Feed both the same remaining results: identical commands, identical states.
    let script = ["right", "other", "middle", "barrier"];
    for task in script {
        let key = *state
            .outstanding()
            .iter()
            .find(|k| state.task_name(k.instance) == Some(task))
            .expect("outstanding");
        let original = state.on_task_result(key, ResultStatus::Succeeded, json!(task), &NoKv);
        let again = restored.on_task_result(key, ResultStatus::Succeeded, json!(task), &NoKv);
        assert_eq!(original, again);
        let resaved: State =
            serde_json::from_str(&serde_json::to_string(&restored).expect("serializes"))
                .expect("deserializes");
        assert_eq!(resaved, restored);
    }
    assert!(state.is_finished() && restored.is_finished());
    assert_eq!(state, restored);
}

#[test]
fn with_items_pause_holds_remaining_items_and_cancel_closes_the_task() {
    const ITEMS: &str = r#"
version: 1.0
tasks:
  each:
    with:
      items: "{{ ['a', 'b', 'c', 'd'] }}"
      concurrency: 2
    action: core.echo message={{ item() }}
    next: [{publish: [{all: "{{ result() }}"}]}]
output: [{all: "{{ ctx().all }}"}]
"#;
    check(
        ITEMS,
        json!({}),
        r#"
        pause
        each[0] ok "A"
        each[1] ok "B"
        resume
        each[3] ok "D"
        each[2] ok "C"
        "#,
        expect![[r#"
            start
              run each#0[0] core.echo {"message":"a"}
              run each#0[1] core.echo {"message":"b"}
            pause
              -> Ok(()) pausing
            each[0] ok "A"
            each[1] ok "B"
            resume
              run each#0[2] core.echo {"message":"c"}
              run each#0[3] core.echo {"message":"d"}
            each[3] ok "D"
            each[2] ok "C"
              complete succeeded output={"all":["A","B","C","D"]}
        "#]],
    );
    check(
        ITEMS,
        json!({}),
        r#"
        each[0] ok "A"
        cancel
        each[1] ok "B"
        each[2] cancel
        "#,
        expect![[r#"
            start
              run each#0[0] core.echo {"message":"a"}
              run each#0[1] core.echo {"message":"b"}
            each[0] ok "A"
              run each#0[2] core.echo {"message":"c"}
            cancel
              finishing canceling cancel outstanding=[#0[1], #0[2]]
            each[1] ok "B"
            each[2] cancel
              complete canceled output=null
                error {"type":"error","message":"JinjaEvaluationException: Unable to evaluate expression '{{ ctx().all }}'. UndefinedError: the expression's value is undefined (a missing variable, key or attribute)"}
        "#]],
    );
}
