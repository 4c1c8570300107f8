//! Result size cap: a large result goes to a file and comes back whole.

use nerve_model::ExecutionStatus as S;
use nerve_store::{ExecutionFilter, StoreOptions};
use serde_json::{Value, json};

use crate::support::{execution, temp_store};

#[tokio::test]
async fn a_large_result_goes_to_a_file_and_comes_back_whole() {
    let (dir, store) = temp_store();
    let requested = execution("core.local");
    let id = requested.id.clone();
    store.create_execution(&requested).await.unwrap();
    store.transition(&id, S::Running, None, None).await.unwrap();
    let big = json!({"stdout": "x".repeat(300 * 1024), "return_code": 0});
    let size = serde_json::to_vec(&big).unwrap().len() as u64;
    assert!(size > StoreOptions::default().max_inline_result_bytes as u64);
    let done = store
        .transition(&id, S::Succeeded, None, Some(big.clone()))
        .await
        .unwrap();

    let file = dir.path().join("results").join(format!("{id}.json"));
    assert_eq!(done.result_file.as_deref(), Some(file.as_path()));
    assert_eq!(done.result_size, size);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    let Some(Value::String(preview)) = &done.execution.result else {
        panic!("expected a string preview, got {:?}", done.execution.result);
    };
    assert!(
        preview.len() < 5 * 1024,
        "preview is {} bytes",
        preview.len()
    );
    assert!(preview.starts_with("{\"stdout\":\"xxx"), "{preview:.40}");
    assert!(preview.ends_with(&format!("[truncated; {size} bytes in all]")));

    // The record in the tree stays small; listings carry the preview; the getter the whole.
    let listed = store.list_executions(&ExecutionFilter::default()).unwrap();
    assert_eq!(listed.items[0].execution.result, done.execution.result);
    assert_eq!(
        store.get_execution(&id).unwrap().unwrap().result,
        Some(big.clone())
    );

    // Updating something else keeps the file.
    store
        .update_execution(&id, |execution| {
            execution.worker = Some("w1".to_owned());
            Ok::<(), ()>(())
        })
        .await
        .unwrap();
    assert_eq!(store.get_execution(&id).unwrap().unwrap().result, Some(big));
    assert!(file.exists());

    // A small result replaces it inline and the file goes.
    let small = store
        .update_execution(&id, |execution| {
            execution.result = Some(json!({"ok": true}));
            Ok::<(), ()>(())
        })
        .await
        .unwrap();
    assert_eq!(small.result_file, None);
    assert!(!file.exists());
    assert_eq!(
        store.get_execution(&id).unwrap().unwrap().result,
        Some(json!({"ok": true}))
    );
}

#[tokio::test]
async fn a_missing_result_file_is_a_clear_error() {
    let (dir, store) = temp_store();
    let mut requested = execution("core.local");
    requested.result = Some(json!("y".repeat(300 * 1024)));
    store.create_execution(&requested).await.unwrap();
    let file = dir
        .path()
        .join("results")
        .join(format!("{}.json", requested.id));
    std::fs::remove_file(&file).unwrap();
    let error = store.get_execution(&requested.id).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("cannot access result file `{}`", file.display())
    );
    // The record itself is still readable.
    assert!(store.execution_record(&requested.id).unwrap().is_some());
}
