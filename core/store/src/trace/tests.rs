//! Unit tests of traces: idempotent components, lookup by tag, removal on purge.

use super::*;
use crate::test_support::temp_store;

fn component(id: &str, component_ref: &str, caused_by: Option<CausedBy>) -> TraceComponent {
    TraceComponent {
        id: id.to_owned(),
        component_ref: component_ref.to_owned(),
        caused_by,
        updated_at: timestamp(Utc::now()),
    }
}

#[test]
fn components_are_added_once_and_traces_found_by_tag() {
    let (_dir, store) = temp_store();
    let event = component("ti1", "core.st2.webhook", None);
    store
        .add_to_trace(
            "t1",
            "deploy-42",
            TraceComponentKind::TriggerInstance,
            event.clone(),
        )
        .unwrap();
    let cause = Some(CausedBy {
        kind: TraceComponentKind::TriggerInstance,
        id: "ti1".to_owned(),
    });
    store
        .add_to_trace(
            "t1",
            "deploy-42",
            TraceComponentKind::RuleEnforcement,
            component("ti1:p.r", "p.r", cause),
        )
        .unwrap();
    store
        .add_to_trace(
            "t1",
            "deploy-42",
            TraceComponentKind::Execution,
            component("e1", "p.act", None),
        )
        .unwrap();
    // Re-adding updates in place.
    let trace = store
        .add_to_trace("t1", "ignored", TraceComponentKind::TriggerInstance, event)
        .unwrap();
    assert_eq!(trace.trigger_instances.len(), 1);
    assert_eq!(trace.trace_tag, "deploy-42");
    store
        .add_to_trace(
            "t2",
            "deploy-42",
            TraceComponentKind::TriggerInstance,
            component("ti2", "x.y", None),
        )
        .unwrap();
    let found: Vec<_> = store
        .find_traces_by_tag("deploy-42")
        .unwrap()
        .into_iter()
        .map(|trace| trace.id)
        .collect();
    assert_eq!(found, ["t2", "t1"]);
    assert!(store.find_traces_by_tag("other").unwrap().is_empty());
    assert_eq!(
        store.get_trace("t1").unwrap().unwrap().rule_enforcements[0].id,
        "ti1:p.r"
    );
}

#[test]
fn a_trace_without_components_is_deleted_with_its_tag_entry() {
    let (_dir, store) = temp_store();
    store
        .add_to_trace(
            "t",
            "tag",
            TraceComponentKind::TriggerInstance,
            component("ti", "a.b", None),
        )
        .unwrap();
    store
        .add_to_trace(
            "t",
            "tag",
            TraceComponentKind::RuleEnforcement,
            component("ti:p.r", "p.r", None),
        )
        .unwrap();
    store
        .add_to_trace(
            "t",
            "tag",
            TraceComponentKind::Execution,
            component("e", "p.a", None),
        )
        .unwrap();
    assert!(
        !store
            .remove_from_trace("t", TraceComponentKind::TriggerInstance, "ti", true)
            .unwrap()
    );
    let trace = store.get_trace("t").unwrap().unwrap();
    assert!(trace.trigger_instances.is_empty() && trace.rule_enforcements.is_empty());
    assert!(
        store
            .remove_from_trace("t", TraceComponentKind::Execution, "e", false)
            .unwrap()
    );
    assert_eq!(store.get_trace("t").unwrap(), None);
    assert!(store.find_traces_by_tag("tag").unwrap().is_empty());
}

#[test]
fn a_tag_that_names_its_trace_needs_no_index_entry_and_is_found() {
    let (_dir, store) = temp_store();
    let event = component("e1", "core.st2.webhook", None);
    // An event's own trace: tag `trigger_instance-<trace id>`.
    store
        .add_to_trace(
            "e1",
            "trigger_instance-e1",
            TraceComponentKind::TriggerInstance,
            event,
        )
        .unwrap();
    // An event re-emitted from `e1` keeps its tag but starts trace `e2`: that one is indexed.
    store
        .add_to_trace(
            "e2",
            "trigger_instance-e1",
            TraceComponentKind::TriggerInstance,
            component("e2", "core.st2.webhook", None),
        )
        .unwrap();
    // A run's own trace: tag `<trace id>`.
    store
        .add_to_trace(
            "r1",
            "r1",
            TraceComponentKind::Execution,
            component("x1", "core.noop", None),
        )
        .unwrap();
    let index_keys = store
        .inner
        .trees
        .traces_idx
        .ids("tag", "trigger_instance-e1", true);
    let indexed: Vec<String> = index_keys.map(Result::unwrap).collect();
    assert_eq!(indexed, ["e2"]);
    let found = |tag: &str| -> Vec<String> {
        store
            .find_traces_by_tag(tag)
            .unwrap()
            .into_iter()
            .map(|trace| trace.id)
            .collect()
    };
    assert_eq!(found("trigger_instance-e1"), ["e2", "e1"]);
    assert_eq!(found("r1"), ["r1"]);
    assert!(found("trigger_instance-r1").is_empty());
}
