//! The store's key-value view as the rules crate's `KvLookup` (for `st2kv.*` in templates).

use nerve_rules::{KvLookup, KvValue};
use nerve_store::{KvScope, KvView};

/// `st2kv.system.*` / `st2kv.user.*` lookups against the store at one point in time.
pub(crate) struct StoreKv(pub(crate) KvView);

impl KvLookup for StoreKv {
    fn get(&self, scope: &str, key: &str) -> Option<KvValue> {
        let scope = KvScope::parse(scope)?;
        let value = self.0.value(scope, key).ok()??;
        Some(KvValue {
            value: value.value,
            secret: value.secret,
        })
    }

    fn decrypt(&self, scope: &str, key: &str) -> Option<String> {
        let scope = KvScope::parse(scope)?;
        self.0.decrypted(scope, key).ok()?
    }
}
