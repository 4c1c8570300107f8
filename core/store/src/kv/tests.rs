//! Unit tests of the key-value datastore: expiry with an injected clock, secrets, set outcomes,
//! names, listing and tampering.

use chrono::{DateTime, TimeDelta, Utc};
use nerve_model::MASKED_VALUE;

use super::*;
use crate::test_support::temp_store;

fn at(text: &str) -> DateTime<Utc> {
    parse_time(text).expect("timestamp")
}

fn write(name: &str, value: &str) -> KvWrite {
    KvWrite {
        name: name.to_owned(),
        value: value.to_owned(),
        ..KvWrite::default()
    }
}

#[tokio::test]
async fn ttl_hides_the_pair_at_once_and_purge_removes_it() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    let t0 = at("2030-01-01T00:00:00Z");
    let ttl = KvWrite {
        ttl_seconds: Some(60),
        ..write("session", "abc")
    };
    kv.set_at(&ttl, t0).await.unwrap();
    kv.set_at(&write("forever", "x"), t0).await.unwrap();

    let before = kv.get_at(
        KvScope::System,
        "session",
        false,
        t0 + TimeDelta::seconds(59),
    );
    let pair = before.unwrap().expect("alive before its ttl");
    assert_eq!(
        pair.expire_at.as_deref(),
        Some("2030-01-01T00:01:00.000000Z")
    );
    let after = kv.get_at(
        KvScope::System,
        "session",
        false,
        t0 + TimeDelta::seconds(60),
    );
    assert_eq!(after.unwrap(), None, "expired exactly at expire_at");
    let listed = kv
        .list_at(&KvFilter::default(), t0 + TimeDelta::seconds(61))
        .unwrap();
    assert_eq!(listed.total, 1);
    assert_eq!(listed.items[0].name, "forever");

    // Nothing is due before the expiry; afterwards one purge removes it, a second finds nothing.
    assert_eq!(kv.purge_expired(t0, 10).unwrap(), (0, false));
    assert_eq!(
        kv.purge_expired(t0 + TimeDelta::seconds(61), 10).unwrap(),
        (1, false)
    );
    assert_eq!(
        kv.purge_expired(t0 + TimeDelta::seconds(61), 10).unwrap(),
        (0, false)
    );
    assert!(
        store
            .inner
            .trees
            .kv
            .get_raw(b"system\0session")
            .unwrap()
            .is_none()
    );
    assert_eq!(store.inner.trees.kv_expiry.len(), 0);
}

#[tokio::test]
async fn resetting_without_ttl_clears_the_expiry_and_its_index_entry() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    let t0 = at("2030-01-01T00:00:00Z");
    let ttl = KvWrite {
        ttl_seconds: Some(5),
        ..write("k", "1")
    };
    kv.set_at(&ttl, t0).await.unwrap();
    kv.set_at(&write("k", "2"), t0).await.unwrap();
    assert_eq!(store.inner.trees.kv_expiry.len(), 0);
    let later = t0 + TimeDelta::days(1);
    assert_eq!(
        kv.get_at(KvScope::System, "k", false, later)
            .unwrap()
            .unwrap()
            .value,
        "2"
    );
    assert_eq!(kv.purge_expired(later, 10).unwrap(), (0, false));
}

#[tokio::test]
async fn set_reports_create_update_and_value_change() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    let first = kv.set(&write("k", "1")).await.unwrap();
    assert!(first.created && first.value_changed && first.old.is_none());
    let same = kv.set(&write("k", "1")).await.unwrap();
    assert!(!same.created && !same.value_changed);
    assert_eq!(same.old.unwrap().value, "1");
    let changed = kv.set(&write("k", "2")).await.unwrap();
    assert!(!changed.created && changed.value_changed);
    assert_eq!(
        changed.new.created_at, first.new.created_at,
        "created_at is kept"
    );

    // Secrets compare in plaintext but are masked in the outcome.
    let secret = |value: &str| KvWrite {
        secret: true,
        ..write("pw", value)
    };
    kv.set(&secret("a")).await.unwrap();
    let again = kv.set(&secret("a")).await.unwrap();
    assert!(!again.value_changed);
    assert_eq!(again.old.unwrap().value, MASKED_VALUE);
    assert_eq!(again.new.value, MASKED_VALUE);
    assert!(kv.set(&secret("b")).await.unwrap().value_changed);
}

#[tokio::test]
async fn secrets_are_masked_unless_decrypted_and_sealed_at_rest() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    let secret = KvWrite {
        secret: true,
        ..write("db_password", "hunter2")
    };
    kv.set(&secret).await.unwrap();
    let masked = kv
        .get(KvScope::System, "db_password", false)
        .unwrap()
        .unwrap();
    assert_eq!((masked.value.as_str(), masked.secret), (MASKED_VALUE, true));
    let plain = kv
        .get(KvScope::System, "db_password", true)
        .unwrap()
        .unwrap();
    assert_eq!(plain.value, "hunter2");
    let listed = kv.list(&KvFilter::default()).unwrap();
    assert_eq!(listed.items[0].value, MASKED_VALUE);
    let decrypted = kv
        .list(&KvFilter {
            decrypt: true,
            ..KvFilter::default()
        })
        .unwrap();
    assert_eq!(decrypted.items[0].value, "hunter2");

    let raw = store
        .inner
        .trees
        .kv
        .get_raw(b"system\0db_password")
        .unwrap()
        .unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("hunter2"), "{raw}");
    assert!(raw.contains("xc20p1:"), "{raw}");
}

#[tokio::test]
async fn tampered_or_moved_ciphertext_is_an_error_not_a_panic() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    let secret = KvWrite {
        secret: true,
        ..write("token", "s3cr3t")
    };
    kv.set(&secret).await.unwrap();
    let table = &store.inner.trees.kv;
    let mut stored: StoredKv = table.get(b"system\0token").unwrap().unwrap();

    // Flip one hex digit of the ciphertext.
    let last = stored.value.pop().unwrap();
    stored.value.push(if last == '0' { '1' } else { '0' });
    let bytes = table.encode(b"system\0token", &stored).unwrap();
    table.insert_raw(b"system\0token", bytes).unwrap();
    let error = kv.get(KvScope::System, "token", true).unwrap_err();
    assert!(matches!(error, StoreError::Decrypt { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "cannot decrypt secret `token` in scope `system`: the ciphertext is corrupt or was tampered with"
    );
    // Masked reads still work: they never touch the ciphertext.
    assert_eq!(
        kv.get(KvScope::System, "token", false)
            .unwrap()
            .unwrap()
            .value,
        MASKED_VALUE
    );

    // A valid ciphertext copied under another name does not decrypt either.
    kv.set(&secret).await.unwrap();
    let good = table.get_raw(b"system\0token").unwrap().unwrap();
    table.insert_raw(b"system\0other", good).unwrap();
    assert!(matches!(
        kv.get(KvScope::System, "other", true),
        Err(StoreError::Decrypt { .. })
    ));
}

#[tokio::test]
async fn user_scope_names_carry_the_user() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    let bad = KvWrite {
        scope: KvScope::User,
        ..write("no_user", "x")
    };
    assert!(matches!(
        kv.set(&bad).await,
        Err(StoreError::InvalidId { .. })
    ));
    for (user, name) in [("alice", "a"), ("alice", "b"), ("bob", "a")] {
        let pair = KvWrite {
            scope: KvScope::User,
            ..write(&KvScope::user_key(user, name), "v")
        };
        kv.set(&pair).await.unwrap();
    }
    kv.set(&write("alice:a", "system one")).await.unwrap();
    let alice = kv
        .list(&KvFilter {
            scope: Some(KvScope::User),
            prefix: "alice:".to_owned(),
            ..KvFilter::default()
        })
        .unwrap();
    let names: Vec<_> = alice.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alice:a", "alice:b"]);
    let everything = kv.list(&KvFilter::default()).unwrap();
    assert_eq!(everything.total, 4);
    assert_eq!(everything.items[0].scope, KvScope::System);
    let paged = kv
        .list(&KvFilter {
            limit: Some(2),
            offset: 1,
            ..KvFilter::default()
        })
        .unwrap();
    let names: Vec<_> = paged.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!((names, paged.total), (vec!["alice:a", "alice:b"], 4));
    assert_eq!(
        kv.get(KvScope::User, "alice:a", false)
            .unwrap()
            .unwrap()
            .value,
        "v"
    );
}

#[tokio::test]
async fn delete_returns_the_pair_once() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    kv.set(&write("k", "v")).await.unwrap();
    let deleted = kv.delete(KvScope::System, "k").await.unwrap().unwrap();
    assert_eq!(deleted.value, "v");
    assert_eq!(kv.delete(KvScope::System, "k").await.unwrap(), None);
    assert_eq!(kv.get(KvScope::System, "k", false).unwrap(), None);
}

#[tokio::test]
async fn the_view_judges_expiry_at_its_own_time_and_decrypts_on_request() {
    let (_dir, store) = temp_store();
    let kv = store.kv();
    let t0 = at("2030-01-01T00:00:00Z");
    kv.set_at(&write("a.b", "plain"), t0).await.unwrap();
    let secret = KvWrite {
        secret: true,
        ttl_seconds: Some(10),
        ..write("pw", "hunter2")
    };
    kv.set_at(&secret, t0).await.unwrap();
    let view = kv.view_at(t0 + TimeDelta::seconds(5));
    let plain = view.value(KvScope::System, "a.b").unwrap().unwrap();
    assert_eq!((plain.value.as_str(), plain.secret), ("plain", false));
    let masked = view.value(KvScope::System, "pw").unwrap().unwrap();
    assert_eq!((masked.value.as_str(), masked.secret), (MASKED_VALUE, true));
    assert_eq!(
        view.decrypted(KvScope::System, "pw").unwrap().as_deref(),
        Some("hunter2")
    );
    let later = kv.view_at(t0 + TimeDelta::seconds(10));
    assert_eq!(later.value(KvScope::System, "pw").unwrap(), None);
    assert_eq!(view.value(KvScope::System, "missing").unwrap(), None);
}

#[tokio::test]
async fn an_absurd_ttl_means_no_expiry_not_a_panic() {
    let (_dir, store) = temp_store();
    let forever = KvWrite {
        ttl_seconds: Some(u64::MAX),
        ..write("k", "v")
    };
    let outcome = store.kv().set(&forever).await.unwrap();
    assert_eq!(outcome.new.expire_at, None);
    let huge = KvWrite {
        ttl_seconds: Some(i64::MAX as u64),
        ..write("k2", "v")
    };
    assert_eq!(store.kv().set(&huge).await.unwrap().new.expire_at, None);
}
