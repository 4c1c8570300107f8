//! Unit tests of content collections and rule state.

use nerve_model::{Action, Rule};
use serde_json::json;

use super::*;
use crate::test_support::temp_store;

fn action(pack: &str, name: &str, description: &str) -> Action {
    serde_json::from_value(json!({
        "name": name, "pack": pack, "runner_type": "local-shell-cmd", "description": description
    }))
    .unwrap()
}

fn rule(enabled: bool) -> Rule {
    serde_json::from_value(json!({
        "name": "on_hook", "pack": "p", "enabled": enabled,
        "trigger": {"type": "core.st2.webhook"},
        "action": {"ref": "core.noop"}
    }))
    .unwrap()
}

#[test]
fn put_reports_created_updated_unchanged_and_lists_by_prefix() {
    let (_dir, store) = temp_store();
    let actions = store.actions();
    let first = action("p", "a", "one");
    assert_eq!(actions.put("p.a", &first).unwrap(), PutOutcome::Created);
    assert_eq!(actions.put("p.a", &first).unwrap(), PutOutcome::Unchanged);
    let second = action("p", "a", "two");
    assert_eq!(
        actions.put("p.a", &second).unwrap(),
        PutOutcome::Updated(first)
    );
    actions.put("p.b", &action("p", "b", "")).unwrap();
    actions.put("q.a", &action("q", "a", "")).unwrap();
    let in_p: Vec<_> = actions
        .list("p.")
        .unwrap()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(in_p, ["p.a", "p.b"]);
    assert_eq!(actions.len(), 3);
    assert_eq!(actions.delete("p.a").unwrap(), Some(second));
    assert_eq!(actions.delete("p.a").unwrap(), None);
    assert_eq!(actions.get("p.a").unwrap(), None);
    assert!(actions.put("", &action("p", "x", "")).is_err());
}

#[tokio::test]
async fn a_disabled_rule_stays_disabled_when_its_yaml_is_reloaded() {
    let (_dir, store) = temp_store();
    store.rules().put("p.on_hook", &rule(true)).unwrap();
    assert!(store.rule_record("p.on_hook").unwrap().unwrap().enabled);
    store
        .set_rule_enabled("p.on_hook", false, Some("flapping".to_owned()))
        .await
        .unwrap();
    // Reload: the YAML still says enabled.
    store.rules().put("p.on_hook", &rule(true)).unwrap();
    let record = store.rule_record("p.on_hook").unwrap().unwrap();
    assert_eq!(
        (record.enabled, record.disabled_reason.as_deref()),
        (false, Some("flapping"))
    );
    assert_eq!(store.rule_records("p.").unwrap().len(), 1);
    store
        .set_rule_enabled("p.on_hook", true, Some("ignored".to_owned()))
        .await
        .unwrap();
    let record = store.rule_record("p.on_hook").unwrap().unwrap();
    assert_eq!((record.enabled, record.disabled_reason), (true, None));
    store.remove_rule("p.on_hook").unwrap();
    assert_eq!(store.rule_record("p.on_hook").unwrap(), None);
    assert_eq!(store.rule_state("p.on_hook").unwrap(), None);
}

#[test]
fn packs_round_trip() {
    let (_dir, store) = temp_store();
    let pack = PackRecord {
        meta: serde_json::from_value(json!({"name": "demo", "version": "1.0.0"})).unwrap(),
        dir: "/packs/demo".into(),
        content_hash: "abc".to_owned(),
        installed_at: "2024-01-01T00:00:00Z".to_owned(),
        source: "builtin".to_owned(),
    };
    store.packs().put("demo", &pack).unwrap();
    assert_eq!(store.packs().get("demo").unwrap(), Some(pack));
}
