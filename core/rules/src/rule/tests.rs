//! Rule compilation problems, rule-level verdicts and action parameter rendering.

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use super::compile_rule;
use crate::template::{NoKv, RenderContext};
use crate::test_support::{TestKv, compile, now, rule};

fn problems(criteria: Value, parameters: Value, expected: Expect) {
    let text = match compile_rule(rule("r", criteria, parameters)) {
        Ok(_) => "no problems".to_owned(),
        Err(problems) => problems.iter().map(|p| format!("{p}\n")).collect(),
    };
    expected.assert_eq(&text);
}

#[test]
fn compile_reports_problems_with_paths() {
    problems(
        json!({"trigger.x": {"type": "equal", "pattern": 1}}),
        json!({}),
        expect![[r#"
            criteria."trigger.x".type: unknown operator `equal`; did you mean `equals`?
        "#]],
    );
    problems(
        json!({"trigger.x": {"type": "greatherthan", "pattern": 1}, "trigger.y": {"pattern": 1}}),
        json!({}),
        expect![[r#"
            criteria."trigger.x".type: unknown operator `greatherthan`; did you mean `greaterthan`?
            criteria."trigger.y": criterion has no `type` (operator); it never matches
        "#]],
    );
    problems(
        json!({"trigger.f": {"type": "search", "pattern": {"item.a": {"type": "eq", "pattern": 1}}}}),
        json!({}),
        expect![[r#"
            criteria."trigger.f".condition: `search` needs a `condition`: `any`, `all`, `all2any` or `any2any`
        "#]],
    );
    problems(
        json!({"trigger.f": {"type": "search", "condition": "some", "pattern": {"item.a": {"type": "eqq", "pattern": 1}, "item.b": "x"}}}),
        json!({}),
        expect![[r#"
            criteria."trigger.f".condition: unknown search condition `some`; expected `any`, `all`, `all2any` or `any2any`
            criteria."trigger.f".pattern."item.a".type: unknown operator `eqq`; did you mean `eq`?
            criteria."trigger.f".pattern."item.b": a child criterion must be a mapping with `type` and `pattern`
        "#]],
    );
    problems(
        json!({"trigger.f": {"type": "search", "condition": "any", "pattern": "x"}}),
        json!({}),
        expect![[r#"
            criteria."trigger.f".pattern: `search` needs a mapping of child criteria as its pattern
        "#]],
    );
    problems(
        json!({
            "trigger.a": {"type": "regex", "pattern": "("},
            "trigger.b": {"type": "equals", "pattern": "{{ trigger.x"},
            "trigger.c-d": {"type": "exists"},
            "trigger.e": {"type": "td_lt", "pattern": "soon"},
            "trigger.g": {"type": "Search", "condition": "any", "pattern": {}}
        }),
        json!({"cmd": "echo {{ trigger.x", "env": {"list": ["ok", "{% if %}"]}}),
        expect![[r#"
            criteria."trigger.a".pattern: pattern is invalid for `regex`: re.error: Parsing error at position 1: Opening parenthesis without closing parenthesis
            criteria."trigger.b".pattern: invalid Jinja template: syntax error: unexpected end of input, expected end of variable block (line 1)
            criteria."trigger.c-d": invalid criteria key `trigger.c-d`: unexpected character `-` at column 9
            criteria."trigger.e".pattern: pattern is invalid for `td_lt`: ValueError: could not convert string to float: 'soon'
            criteria."trigger.g".type: `search` must be written in lower case (StackStorm fails on `Search`)
            action.parameters.cmd: invalid Jinja template: syntax error: unexpected end of input, expected end of variable block (line 1)
            action.parameters.env.list.1: invalid Jinja template: syntax error: unexpected end of block (line 1)
        "#]],
    );
    problems(
        json!({"trigger.a": {"type": "eq", "pattern": "{{ trigger.b }}"}, "trigger.c#2": {"type": "iregex", "pattern": "^x"}}),
        json!({"cmd": "echo {{ trigger.a }}"}),
        expect!["no problems"],
    );
}

#[test]
fn action_parameters_render_as_strings() {
    let (compiled, _) = compile(
        json!({}),
        json!({
            "cmd": "echo {{ trigger.msg }}",
            "count": "{{ trigger.n }}",
            "flag": "{{ trigger.ok }}",
            "literal": 5,
            "trailing": "text\n",
            "nested": {"list": ["{{ trigger.n + 1 }}", false], "secret": "{{ st2kv.system.secret_greeting | decrypt_kv }}"},
            "config": "{{ config_context.region }}"
        }),
    );
    let payload = json!({"msg": "hi", "n": 5, "ok": true});
    let config = json!({"region": "eu"});
    let kv = TestKv::new();
    let ctx = RenderContext::new(&payload, &kv, now()).with_config(&config);
    let rendered = compiled.render_action_parameters(&ctx).unwrap();
    assert_eq!(
        Value::Object(rendered),
        json!({
            "cmd": "echo hi",
            "count": "5",
            "flag": "True",
            "literal": 5,
            "trailing": "text",
            "nested": {"list": ["6", false], "secret": "Hello World"},
            "config": "eu"
        })
    );
}

#[test]
fn rules_say_whether_they_need_the_pack_config() {
    let (nested, _) = compile(
        json!({}),
        json!({"a": {"b": ["x", "{{ config_context.region }}"]}}),
    );
    assert!(nested.uses_config_context());
    let (plain, _) = compile(json!({}), json!({"cmd": "echo {{ trigger.msg }}", "n": 1}));
    assert!(!plain.uses_config_context());
}

#[test]
fn action_parameter_errors_name_the_parameter() {
    let (compiled, _) = compile(json!({}), json!({"a": {"b": ["{{ trigger.missing }}"]}}));
    let payload = json!({"x": 1});
    let ctx = RenderContext::new(&payload, &NoKv, now());
    let error = compiled.render_action_parameters(&ctx).unwrap_err();
    expect!["failed to render parameter `a.b.0` `{{ trigger.missing }}`: undefined value: `trigger.missing` is undefined (line 1)"]
        .assert_eq(&error.to_string());
}

#[test]
fn rule_level_verdicts() {
    let payload = json!({"x": 1});
    let ctx = RenderContext::new(&payload, &NoKv, now());

    let mut disabled = rule("d", json!({}), json!({}));
    disabled.enabled = false;
    let disabled = compile_rule(disabled).unwrap();
    assert!(!disabled.matches(&ctx));
    expect!["rule `test.d` does not match: the rule is disabled"]
        .assert_eq(&disabled.explain(&ctx).to_string());

    let empty = compile_rule(rule("e", json!({}), json!({}))).unwrap();
    assert!(empty.matches(&ctx));
    expect!["rule `test.e` matches: the rule has no criteria"]
        .assert_eq(&empty.explain(&ctx).to_string());

    let criteria = compile_rule(rule(
        "c",
        json!({"trigger.x": {"type": "nexists"}}),
        json!({}),
    ))
    .unwrap();
    let null = Value::Null;
    let null_ctx = RenderContext::new(&null, &NoKv, now());
    assert!(!criteria.matches(&null_ctx));
    expect![[r#"
        rule `test.c` does not match: the payload is empty; a rule with criteria never matches it
          [pass] trigger.x nexists: key not found (or null)"#]]
    .assert_eq(&criteria.explain(&null_ctx).to_string());
    assert_eq!(criteria.rule_ref(), "test.c");
    assert_eq!(criteria.trigger_key(), "test.trigger");
}

#[test]
fn explanation_serializes_for_the_api() {
    let compiled = compile_rule(rule(
        "j",
        json!({"trigger.x": {"type": "gt", "pattern": 0}}),
        json!({}),
    ))
    .unwrap();
    let payload = json!({"x": 1});
    let ctx = RenderContext::new(&payload, &NoKv, now());
    let explanation = serde_json::to_value(compiled.explain(&ctx)).unwrap();
    assert_eq!(
        explanation,
        json!({
            "rule_ref": "test.j", "matched": true, "reason": null,
            "criteria": [{"key": "trigger.x", "operator": "gt", "pattern": 0, "value": 1, "result": true,
                          "reason": "`greaterthan` of value 1 and pattern 0 is true"}]
        })
    );
}
