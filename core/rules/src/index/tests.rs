//! The index: per-key candidates, the backstop pass, disabled rules, replace and remove.

use serde_json::json;

use super::RuleIndex;
use crate::rule::{CompiledRule, compile_rule};
use crate::template::{NoKv, RenderContext};
use crate::test_support::{now, rule};

fn compiled(
    name: &str,
    trigger: &str,
    criteria: serde_json::Value,
    backstop: bool,
    enabled: bool,
) -> CompiledRule {
    let mut r = rule(name, criteria, json!({}));
    r.trigger.trigger_type = trigger.to_owned();
    r.enabled = enabled;
    if backstop {
        r.kind = nerve_model::RuleKind::Backstop;
    }
    match compile_rule(r) {
        Ok(c) => c,
        Err(p) => panic!("{p:?}"),
    }
}

fn refs(rules: &[std::sync::Arc<CompiledRule>]) -> Vec<&str> {
    rules.iter().map(|r| r.rule_ref()).collect()
}

#[test]
fn candidates_are_per_trigger_key() {
    let mut index = RuleIndex::new();
    index.insert(compiled("a", "t.one", json!({}), false, true));
    index.insert(compiled("b", "t.two", json!({}), false, true));
    index.insert(compiled("c", "t.one", json!({}), false, false));
    assert_eq!(refs(index.candidates("t.one")), ["test.a", "test.c"]);
    assert_eq!(refs(index.candidates("t.two")), ["test.b"]);
    assert!(index.candidates("t.none").is_empty());
    assert_eq!(index.len(), 3);
}

#[test]
fn parameterized_triggers_have_their_own_key() {
    let mut index = RuleIndex::new();
    let mut r = rule("w", json!({}), json!({}));
    r.trigger.trigger_type = "core.st2.webhook".to_owned();
    r.trigger.parameters = serde_json::from_value(json!({"url": "deploy"})).unwrap();
    index.insert(compile_rule(r).unwrap());
    assert!(index.candidates("core.st2.webhook").is_empty());
    assert_eq!(
        refs(index.candidates(r#"core.st2.webhook?{"url":"deploy"}"#)),
        ["test.w"]
    );
}

#[test]
fn backstop_rules_fire_only_when_no_standard_rule_matched() {
    let mut index = RuleIndex::new();
    index.insert(compiled(
        "standard",
        "t",
        json!({"trigger.kind": {"type": "eq", "pattern": "known"}}),
        false,
        true,
    ));
    index.insert(compiled("fallback", "t", json!({}), true, true));
    index.insert(compiled(
        "fallback2",
        "t",
        json!({"trigger.kind": {"type": "exists"}}),
        true,
        true,
    ));
    index.insert(compiled("off", "t", json!({}), false, false));

    let known = json!({"kind": "known"});
    let ctx = RenderContext::new(&known, &NoKv, now());
    assert_eq!(refs(&index.matching("t", &ctx)), ["test.standard"]);

    let unknown = json!({"kind": "other"});
    let ctx = RenderContext::new(&unknown, &NoKv, now());
    assert_eq!(
        refs(&index.matching("t", &ctx)),
        ["test.fallback", "test.fallback2"]
    );

    assert!(index.matching("other", &ctx).is_empty());
}

#[test]
fn disabled_rules_never_match() {
    let mut index = RuleIndex::new();
    index.insert(compiled("off", "t", json!({}), false, false));
    index.insert(compiled("off_backstop", "t", json!({}), true, false));
    let payload = json!({"x": 1});
    let ctx = RenderContext::new(&payload, &NoKv, now());
    assert!(index.matching("t", &ctx).is_empty());
}

#[test]
fn replace_and_remove_by_ref() {
    let mut index = RuleIndex::new();
    index.insert(compiled(
        "a",
        "t",
        json!({"trigger.x": {"type": "eq", "pattern": 1}}),
        false,
        true,
    ));
    index.insert(compiled("b", "t", json!({}), false, true));
    let payload = json!({"x": 2});
    let ctx = RenderContext::new(&payload, &NoKv, now());
    assert_eq!(refs(&index.matching("t", &ctx)), ["test.b"]);

    let replaced = index.replace(compiled(
        "a",
        "t",
        json!({"trigger.x": {"type": "eq", "pattern": 2}}),
        false,
        true,
    ));
    assert!(replaced.is_some());
    assert_eq!(refs(index.candidates("t")), ["test.a", "test.b"]);
    assert_eq!(refs(&index.matching("t", &ctx)), ["test.a", "test.b"]);

    // Moving a rule to another trigger takes it out of the old key.
    index.insert(compiled("a", "u", json!({}), false, true));
    assert_eq!(refs(index.candidates("t")), ["test.b"]);
    assert_eq!(refs(index.candidates("u")), ["test.a"]);
    assert_eq!(index.len(), 2);

    assert_eq!(
        index.remove("test.b").map(|r| r.rule_ref().to_owned()),
        Some("test.b".to_owned())
    );
    assert!(index.candidates("t").is_empty());
    assert!(index.remove("test.b").is_none());
    assert!(index.get("test.a").is_some());
    assert_eq!(index.iter().count(), 1);
    assert!(!index.is_empty());
}

#[test]
fn simple_criteria_are_planned_and_others_fall_back() {
    let mut index = RuleIndex::new();
    index.extend([
        compiled("eq", "t", json!({"trigger.a.b": {"type": "equals", "pattern": "x"}, "trigger.n": {"type": "gt", "pattern": 1}}), false, true),
        compiled("ex", "t", json!({"trigger.a.b#2": {"type": "nexists"}, "trigger.s": {"type": "startswith", "pattern": "p"}}), false, true),
        compiled("re", "t", json!({"trigger.a.b": {"type": "regex", "pattern": "^x"}}), false, true),
        compiled("tpl", "t", json!({"trigger.n": {"type": "lt", "pattern": "{{ 5 }}"}}), false, true),
        compiled("idx", "t", json!({"trigger.l[0]": {"type": "eq", "pattern": 1}}), false, true),
    ]);
    let bucket = &index.by_key["t"];
    assert_eq!(bucket.plan.general_rules(), 3);

    let payload = json!({"a": {"b": "x"}, "n": 2, "s": "pq", "l": [1]});
    let ctx = RenderContext::new(&payload, &NoKv, now());
    assert_eq!(
        refs(&index.matching("t", &ctx)),
        ["test.eq", "test.re", "test.tpl", "test.idx"]
    );
    let payload = json!({"n": 2, "s": "pq", "l": [2]});
    let ctx = RenderContext::new(&payload, &NoKv, now());
    assert_eq!(refs(&index.matching("t", &ctx)), ["test.ex", "test.tpl"]);
}
