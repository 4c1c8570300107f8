//! `nerve rule test`: explanations, the exact JSON shape, exit codes, rendering.

use expect_test::expect;

use crate::nerve;

const RULE1: &str = "tests/fixtures/packs/st2_hello/rules/rule1.yaml";

#[test]
fn matched_rule_prints_exact_json() {
    let out = nerve().run(&[
        "rule",
        "test",
        RULE1,
        "--event",
        "tests/fixtures/events/event1.json",
        "--output",
        "json",
    ]);
    out.assert_code(0);
    expect![[r#"
        {
          "matched": true,
          "criteria": [
            {
              "key": "trigger.greeting",
              "type": "iequals",
              "pattern": "yo",
              "value": "YO",
              "result": true
            },
            {
              "key": "trigger.tags#1",
              "type": "contains",
              "pattern": "urgent",
              "value": [
                "urgent",
                "db"
              ],
              "result": true
            },
            {
              "key": "trigger.tags#2",
              "type": "ncontains",
              "pattern": "ignore",
              "value": [
                "urgent",
                "db"
              ],
              "result": true
            }
          ],
          "action": {
            "ref": "st2_hello.greet",
            "parameters": {
              "greeting": "YO",
              "count": "3"
            }
          }
        }
    "#]]
    .assert_eq(&out.stdout);
    assert_eq!(out.stderr, "", "a clean match has no warnings");
}

#[test]
fn unmatched_rule_explains_the_failing_criterion_and_exits_1() {
    let out = nerve().run(&[
        "rule",
        "test",
        RULE1,
        "--event",
        "tests/fixtures/events/event1_nomatch.json",
    ]);
    out.assert_code(1);
    expect![[r#"
        rule `st2_hello.on_hello_event1` against an event of `st2_hello.event1`
          [pass] trigger.greeting iequals "yo": found "YO"; `iequals` of value "YO" and pattern "yo" is true
          [pass] trigger.tags#1 contains "urgent": found ["ignore","urgent"]; `contains` of value ["ignore","urgent"] and pattern "urgent" is true
          [FAIL] trigger.tags#2 ncontains "ignore": found ["ignore","urgent"]; `ncontains` of value ["ignore","urgent"] and pattern "ignore" is false
        NOT MATCHED
    "#]]
    .assert_eq(&out.stdout);
    let json = nerve()
        .run(&[
            "rule",
            "test",
            RULE1,
            "--event",
            "tests/fixtures/events/event1_nomatch.json",
            "-o",
            "json",
        ])
        .json();
    assert_eq!(json["matched"], false);
    assert!(
        json.get("action").is_none(),
        "no action when not matched: {json}"
    );
}

/// A payload full of shell metacharacters is rendered as the literal string it is.
#[test]
fn webhook_rule_with_search_and_bracket_keys_renders_payload_literally() {
    let out = nerve().run(&[
        "rule",
        "test",
        "tests/fixtures/packs/st2_hello/rules/webhook.yaml",
        "--event",
        "tests/fixtures/events/deploy.json",
        "-o",
        "json",
    ]);
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["criteria"][0]["key"], "trigger.body.fields");
    assert_eq!(json["criteria"][1]["value"], "staging");
    assert_eq!(
        json["action"]["parameters"]["cmd"],
        "echo deploying api; rm -rf /"
    );
}

#[test]
fn parameters_that_fail_the_action_schema_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"trigger": "st2_hello.event1", "payload": {"greeting": "yo", "count": "many", "tags": ["urgent"]}}"#,
    )
    .unwrap();
    let out = nerve().run(&["rule", "test", RULE1, "--event", event.to_str().unwrap()]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("warning: parameters of action `st2_hello.greet` are invalid at `count`"),
        "{out}"
    );
}

#[test]
fn kv_values_can_be_given_for_templates() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("rule.yaml");
    std::fs::write(
        &rule,
        "name: kv\nenabled: true\ntrigger: {type: core.st2.webhook, parameters: {url: x}}\n\
         criteria:\n  trigger.body.env:\n    type: equals\n    pattern: \"{{ st2kv.system.target_env }}\"\n\
         action: {ref: core.local, parameters: {cmd: \"deploy {{ st2kv.system.target_env }}\"}}\n",
    )
    .unwrap();
    let event = dir.path().join("event.yaml");
    std::fs::write(
        &event,
        "trigger: core.st2.webhook\npayload:\n  body: {env: prod}\n",
    )
    .unwrap();
    let out = nerve().run(&[
        "rule",
        "test",
        rule.to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
        "--kv",
        "target_env=prod",
        "-o",
        "json",
    ]);
    out.assert_code(0);
    assert_eq!(out.json()["action"]["parameters"]["cmd"], "deploy prod");
}

#[test]
fn invalid_rule_or_event_exits_2() {
    let out = nerve().run(&[
        "rule",
        "test",
        "tests/fixtures/packs/broken_yaml/rules/fields.yaml",
        "--event",
        "tests/fixtures/events/event1.json",
    ]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("unknown field `critera` in rule"),
        "{out}"
    );

    let out = nerve().run(&[
        "rule",
        "test",
        RULE1,
        "--event",
        "tests/fixtures/events/broken.json",
    ]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("tests/fixtures/events/broken.json` is not valid JSON"),
        "{out}"
    );

    let out = nerve().run(&[
        "rule",
        "test",
        RULE1,
        "--event",
        "tests/fixtures/packs/st2_hello/pack.yaml",
    ]);
    out.assert_code(2);
    assert!(out.stderr.contains("missing `trigger`"), "{out}");
}

#[test]
fn event_of_another_trigger_does_not_match() {
    let out = nerve().run(&[
        "rule",
        "test",
        RULE1,
        "--event",
        "tests/fixtures/events/deploy.json",
    ]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("the event's trigger `core.st2.webhook` is not the rule's trigger type `st2_hello.event1`"),
        "{out}"
    );
}
