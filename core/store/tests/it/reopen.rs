//! Reopening a store (drop + open on the same directory) keeps everything; a missing, wrong or
//! damaged key file and a corrupt record are clear errors.

use nerve_model::{EnforcementStatus, ExecutionStatus as S, RuleEnforcement};
use nerve_store::{
    KvScope, KvWrite, StoreError, StoreOptions, TraceComponent, TraceComponentKind, timestamp,
};

use crate::support::{event, execution, open};

#[tokio::test]
async fn everything_survives_a_reopen_and_output_numbering_continues() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::default());
    let mut first = event("core.st2.webhook");
    first.trace_id = Some("trace-1".to_owned());
    store.record_trigger_instance(&first).await.unwrap();
    let requested = execution("core.local");
    store.create_execution(&requested).await.unwrap();
    store
        .transition(&requested.id, S::Running, None, None)
        .await
        .unwrap();
    let enforcement = RuleEnforcement {
        id: String::new(),
        trigger_instance_id: first.id.clone(),
        rule: "p.r".to_owned(),
        execution_id: Some(requested.id.clone()),
        status: EnforcementStatus::Succeeded,
        failure_reason: None,
        enforced_at: timestamp(chrono::Utc::now()),
    };
    store.record_enforcement_once(&enforcement).await.unwrap();
    for n in 0..3 {
        store
            .append_output(&requested.id, "stdout", &format!("{n}"))
            .unwrap();
    }
    let secret = KvWrite {
        name: "pw".to_owned(),
        value: "hunter2".to_owned(),
        secret: true,
        ..KvWrite::default()
    };
    store.kv().set(&secret).await.unwrap();
    store
        .set_rule_enabled("p.r", false, Some("noisy".to_owned()))
        .await
        .unwrap();
    let component = TraceComponent {
        id: first.id.clone(),
        component_ref: first.trigger.clone(),
        caused_by: None,
        updated_at: timestamp(chrono::Utc::now()),
    };
    store
        .add_to_trace(
            "trace-1",
            "deploy",
            TraceComponentKind::TriggerInstance,
            component,
        )
        .unwrap();
    store.flush().await.unwrap();
    let before = store.get_execution(&requested.id).unwrap();
    drop(store);

    let store = open(dir.path(), StoreOptions::default());
    assert_eq!(
        store.trigger_instance(&first.id).unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_execution(&requested.id).unwrap(), before);
    assert_eq!(
        store.executions_with_status(&[S::Running]).unwrap()[0]
            .execution
            .id,
        requested.id
    );
    assert_eq!(
        store.pending_trigger_instances().unwrap(),
        vec![first.clone()]
    );
    let stored = store.enforcement(&first.id, "p.r").unwrap().unwrap();
    assert_eq!(stored.execution_id.as_deref(), Some(requested.id.as_str()));
    assert_eq!(
        store
            .kv()
            .get(KvScope::System, "pw", true)
            .unwrap()
            .unwrap()
            .value,
        "hunter2"
    );
    assert_eq!(
        store
            .rule_state("p.r")
            .unwrap()
            .unwrap()
            .disabled_reason
            .as_deref(),
        Some("noisy")
    );
    assert_eq!(store.find_traces_by_tag("deploy").unwrap()[0].id, "trace-1");
    assert_eq!(
        store.append_output(&requested.id, "stdout", "3").unwrap(),
        Some(3)
    );
    let lines: Vec<_> = store
        .output(&requested.id, 0, 10)
        .unwrap()
        .into_iter()
        .map(|line| (line.seq, line.data))
        .collect();
    assert_eq!(
        lines,
        [
            (0, "0".into()),
            (1, "1".into()),
            (2, "2".into()),
            (3, "3".into())
        ]
    );
}

#[tokio::test]
async fn a_missing_or_replaced_key_file_on_an_existing_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::default());
    let secret = KvWrite {
        name: "pw".to_owned(),
        value: "hunter2".to_owned(),
        secret: true,
        ..KvWrite::default()
    };
    store.kv().set(&secret).await.unwrap();
    drop(store);
    let key_file = dir.path().join("keys").join("datastore.key");
    let original = std::fs::read_to_string(&key_file).unwrap();

    std::fs::remove_file(&key_file).unwrap();
    let error = nerve_store::Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(matches!(error, StoreError::MissingKey { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("is missing but this store was created with one")
    );
    assert!(!key_file.exists(), "no new key is made up in its place");

    std::fs::write(&key_file, "ab".repeat(32)).unwrap();
    let error = nerve_store::Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(matches!(error, StoreError::WrongKey { .. }), "{error:?}");

    std::fs::write(&key_file, "not hex").unwrap();
    let error = nerve_store::Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "datastore key file `{}` is malformed: expected 64 hex digits",
            key_file.display()
        )
    );

    std::fs::write(&key_file, original).unwrap();
    let store = open(dir.path(), StoreOptions::default());
    assert_eq!(
        store
            .kv()
            .get(KvScope::System, "pw", true)
            .unwrap()
            .unwrap()
            .value,
        "hunter2"
    );
}

#[tokio::test]
async fn a_corrupt_record_names_its_tree_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::default());
    let requested = execution("core.local");
    store.create_execution(&requested).await.unwrap();
    drop(store);
    {
        // Damage the record behind the store's back (only this test touches sled directly).
        let db = sled::open(dir.path().join("db")).unwrap();
        let tree = db.open_tree("executions").unwrap();
        tree.insert(requested.id.as_bytes(), &b"{not json"[..])
            .unwrap();
        db.flush().unwrap();
    }
    let store = open(dir.path(), StoreOptions::default());
    let error = store.get_execution(&requested.id).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "corrupt record in tree `executions` at key `{}`",
            requested.id
        )
    );
    let error = store
        .transition(&requested.id, S::Running, None, None)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::Corrupt {
            tree: "executions",
            ..
        }
    ));
    // Purge keeps it (and says so in the log) rather than failing or deleting blindly.
    let stats = store
        .purge(chrono::Utc::now() + chrono::TimeDelta::days(365))
        .unwrap();
    assert_eq!(stats.executions, 0);
    assert!(
        store.execution_record(&requested.id).is_err(),
        "still there, still corrupt"
    );
}

#[test]
fn an_unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("occupied");
    std::fs::write(&file, "").unwrap();
    let error = nerve_store::Store::open(&file, StoreOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot open data dir `{}", file.display())),
        "{error}"
    );
}
