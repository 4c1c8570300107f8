//! The rule tester against the built-in packs: matches, misses, and what it warns about.

use nerve_model::TriggerInstance;
use nerve_packs::{LoadedPack, load_rule_text};
use nerve_rules::{KvLookup, KvValue};
use serde_json::{Value, json};

use super::{Scene, Verdict, test_rule};

struct Kv;

impl KvLookup for Kv {
    fn get(&self, scope: &str, key: &str) -> Option<KvValue> {
        (scope == "system" && key == "greeting").then(|| KvValue {
            value: "hello".into(),
            secret: false,
        })
    }
}

fn builtin() -> (tempfile::TempDir, Vec<LoadedPack>) {
    let dir = tempfile::tempdir().unwrap();
    let dirs = crate::builtin::extract(dir.path()).unwrap();
    let (packs, failed) = nerve_packs::load_packs(&dirs, &[]);
    assert!(failed.is_empty(), "the built-in packs load");
    (dir, packs)
}

fn check(rule_yaml: &str, trigger: &str, payload: Value) -> Verdict {
    let (_dir, known) = builtin();
    let rule = load_rule_text("rule.yaml", rule_yaml, "default", &known)
        .unwrap_or_else(|diagnostics| panic!("{diagnostics:?}"))
        .rule;
    let event = TriggerInstance {
        id: None,
        trigger: trigger.to_owned(),
        payload,
        occurrence_time: None,
    };
    let config = json!({});
    let scene = Scene {
        kv: &Kv,
        config: &config,
        user: "stanley",
        known: &known,
    };
    test_rule(&rule, &event, &scene).unwrap()
}

const RULE: &str = "
name: deploy
pack: default
enabled: true
trigger:
  type: core.st2.webhook
  parameters: {url: deploy}
criteria:
  trigger.body.env: {type: equals, pattern: prod}
action:
  ref: core.local
  parameters:
    cmd: \"echo {{ st2kv.system.greeting }} {{ trigger.body.env }}\"
";

#[test]
fn a_matching_event_renders_the_action() {
    let verdict = check(
        RULE,
        "core.st2.webhook?{\"url\":\"deploy\"}",
        json!({"body": {"env": "prod"}}),
    );
    assert!(verdict.matched && verdict.trigger_matches);
    assert_eq!(verdict.explanation.criteria.len(), 1);
    assert!(verdict.explanation.criteria[0].result);
    let parameters = verdict.rendered.unwrap().unwrap();
    assert_eq!(parameters["cmd"], json!("echo hello prod"));
    assert!(verdict.warnings.is_empty(), "{:?}", verdict.warnings);
}

#[test]
fn a_failing_criterion_is_explained_and_nothing_rendered() {
    let verdict = check(RULE, "core.st2.webhook", json!({"body": {"env": "dev"}}));
    assert!(!verdict.matched);
    let criterion = &verdict.explanation.criteria[0];
    assert!(!criterion.result);
    assert_eq!(criterion.value, Some(json!("dev")));
    assert!(verdict.rendered.is_none());
}

#[test]
fn another_trigger_type_and_a_disabled_rule_are_warned_about() {
    let disabled = RULE.replace("enabled: true", "enabled: false");
    let verdict = check(
        &disabled,
        "core.st2.IntervalTimer",
        json!({"body": {"env": "prod"}}),
    );
    assert!(!verdict.matched);
    assert!(!verdict.trigger_matches);
    assert_eq!(verdict.warnings.len(), 2, "{:?}", verdict.warnings);
    assert!(verdict.warnings[0].contains("not the rule's trigger type"));
    assert!(verdict.warnings[1].contains("is disabled"));
    // Evaluated as if enabled: the criteria pass.
    assert!(verdict.explanation.matched, "{:?}", verdict.explanation);
}

#[test]
fn parameters_the_action_would_refuse_are_warned_about() {
    let rule = RULE.replace(
        "cmd: \"echo {{ st2kv.system.greeting }} {{ trigger.body.env }}\"",
        "cmd: echo\n    timeout: \"{{ trigger.body.env }}\"",
    );
    let verdict = check(&rule, "core.st2.webhook", json!({"body": {"env": "prod"}}));
    assert!(verdict.matched);
    assert_eq!(verdict.warnings.len(), 1, "{:?}", verdict.warnings);
    assert!(
        verdict.warnings[0].contains("parameters of action `core.local` are invalid"),
        "{:?}",
        verdict.warnings
    );
}
