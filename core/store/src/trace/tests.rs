//! Unit tests of traces: idempotent components, lookup by tag, listing newest first, removal on
//! purge.

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

fn ids(page: &Page<TraceRecord>) -> Vec<&str> {
    page.items.iter().map(|trace| trace.id.as_str()).collect()
}

fn filter(trace_tag: Option<&str>, offset: usize, limit: Option<usize>) -> TraceFilter {
    TraceFilter {
        trace_tag: trace_tag.map(str::to_owned),
        limit,
        offset,
    }
}

#[test]
fn traces_list_newest_first_in_pages_with_a_total() {
    let (_dir, store) = temp_store();
    assert_eq!(
        store.list_traces(&TraceFilter::default()).unwrap(),
        Page {
            items: Vec::new(),
            total: 0
        }
    );
    let start = Utc::now() - chrono::Duration::hours(1);
    let at = |minutes: i64| crate::new_id_at(start + chrono::Duration::minutes(minutes));
    let (oldest, middle, newest) = (at(0), at(10), at(20));
    // Written out of time order: the listing follows the ids, not the writes.
    for (id, tag) in [(&middle, "b"), (&newest, "a"), (&oldest, "a")] {
        store
            .add_to_trace(
                id,
                tag,
                TraceComponentKind::TriggerInstance,
                component(&format!("ti-{id}"), "x.y", None),
            )
            .unwrap();
    }
    let all = store.list_traces(&TraceFilter::default()).unwrap();
    assert_eq!(ids(&all), [&newest, &middle, &oldest]);
    assert_eq!(all.total, 3);
    assert_eq!(all.items[0].trigger_instances[0].id, format!("ti-{newest}"));

    let second = store.list_traces(&filter(None, 1, Some(1))).unwrap();
    assert_eq!((ids(&second), second.total), (vec![middle.as_str()], 3));
    let beyond = store.list_traces(&filter(None, 5, Some(10))).unwrap();
    assert_eq!((beyond.items.len(), beyond.total), (0, 3));
    let none = store.list_traces(&filter(None, 0, Some(0))).unwrap();
    assert_eq!((none.items.len(), none.total), (0, 3));

    let tagged = store.list_traces(&filter(Some("a"), 0, None)).unwrap();
    assert_eq!(
        (ids(&tagged), tagged.total),
        (vec![newest.as_str(), &oldest], 2)
    );
    let tagged_page = store.list_traces(&filter(Some("a"), 1, Some(5))).unwrap();
    assert_eq!(
        (ids(&tagged_page), tagged_page.total),
        (vec![oldest.as_str()], 2)
    );
    let unknown = store.list_traces(&filter(Some("zzz"), 0, None)).unwrap();
    assert_eq!((unknown.items.len(), unknown.total), (0, 0));
}

#[test]
fn traces_with_ids_that_are_not_ulids_list_after_the_rest_in_key_order() {
    let (_dir, store) = temp_store();
    let ulid_old = crate::new_id_at(Utc::now() - chrono::Duration::minutes(5));
    let ulid_new = crate::new_id();
    // `zz-custom` sorts after every ULID and `00-custom` before: neither is a time.
    for id in ["zz-custom", &ulid_old, "00-custom", &ulid_new, "m-custom"] {
        store
            .add_to_trace(
                id,
                id,
                TraceComponentKind::Execution,
                component(&format!("x-{id}"), "core.noop", None),
            )
            .unwrap();
    }
    let all = store.list_traces(&TraceFilter::default()).unwrap();
    assert_eq!(
        ids(&all),
        [
            ulid_new.as_str(),
            &ulid_old,
            "00-custom",
            "m-custom",
            "zz-custom"
        ]
    );
    assert_eq!(all.total, 5);
    let across = store.list_traces(&filter(None, 1, Some(2))).unwrap();
    assert_eq!(ids(&across), [ulid_old.as_str(), "00-custom"]);
    assert_eq!(across.total, 5);
    let tagged = store
        .list_traces(&filter(Some("m-custom"), 0, None))
        .unwrap();
    assert_eq!(ids(&tagged), ["m-custom"]);
}
