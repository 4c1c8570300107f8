//! Key-value secrets at rest: key file creation and mode, no plaintext in the database files.

use nerve_store::{KvScope, KvWrite, StoreOptions};

use crate::support::{contains, open, read_all_files};

#[tokio::test]
async fn secrets_never_reach_the_database_files_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::default());
    let secret = "correct-horse-battery-staple-7f3a";
    let visible = "plain-value-visible-on-disk-91c2";
    let write = |name: &str, value: &str, secret: bool| KvWrite {
        name: name.to_owned(),
        value: value.to_owned(),
        secret,
        ..KvWrite::default()
    };
    store
        .kv()
        .set(&write("api_token", secret, true))
        .await
        .unwrap();
    store
        .kv()
        .set(&write("region", visible, false))
        .await
        .unwrap();
    assert_eq!(
        store
            .kv()
            .get(KvScope::System, "api_token", true)
            .unwrap()
            .unwrap()
            .value,
        secret
    );
    store.flush().await.unwrap();
    drop(store);

    let files = read_all_files(&dir.path().join("db"));
    assert!(!files.is_empty());
    // The scan works: the non-secret value is found on disk...
    assert!(
        files
            .iter()
            .any(|(_, bytes)| contains(bytes, visible.as_bytes())),
        "control value not found in {:?}",
        files.iter().map(|(path, _)| path).collect::<Vec<_>>()
    );
    // ...and the secret is not.
    for (path, bytes) in &files {
        assert!(
            !contains(bytes, secret.as_bytes()),
            "secret in plaintext in {}",
            path.display()
        );
    }
}

#[cfg(unix)]
#[test]
fn the_key_file_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StoreOptions::default());
    let keys = dir.path().join("keys");
    let key_file = keys.join("datastore.key");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&keys), 0o700);
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(text.trim().len(), 64);
    assert!(text.trim().chars().all(|c| c.is_ascii_hexdigit()));
    drop(store);
    // Reopening reuses it.
    let store = open(dir.path(), StoreOptions::default());
    drop(store);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), text);
}
