//! `KvView`: the read handle the rules engine renders templates with. It is cheap to create and
//! clone, reads live data one key at a time (each read is consistent for its key), and judges
//! expiry at the time it was created, so one rule evaluation sees one clock.

use chrono::{DateTime, Utc};

use crate::Result;
use crate::kv::{Kv, KvScope};

/// A value as a template sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvValue {
    /// The plaintext of a non-secret; [`nerve_model::MASKED_VALUE`] for a secret.
    pub value: String,
    /// Whether it is a secret (use [`KvView::decrypted`], StackStorm's `decrypt_kv`).
    pub secret: bool,
}

/// Read-only key lookups at a fixed time.
#[derive(Debug, Clone)]
pub struct KvView {
    kv: Kv,
    now: DateTime<Utc>,
}

impl KvView {
    pub(crate) fn new(kv: Kv, now: DateTime<Utc>) -> Self {
        Self { kv, now }
    }

    /// The time expiry is judged at.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// A value, masked if secret; `None` if absent or expired.
    ///
    /// # Errors
    ///
    /// Database errors and [`crate::StoreError::Corrupt`].
    pub fn value(&self, scope: KvScope, name: &str) -> Result<Option<KvValue>> {
        Ok(self
            .kv
            .get_at(scope, name, false, self.now)?
            .map(|pair| KvValue {
                value: pair.value,
                secret: pair.secret,
            }))
    }

    /// A value in plaintext, secrets decrypted; `None` if absent or expired.
    ///
    /// # Errors
    ///
    /// [`crate::StoreError::Decrypt`] for a ciphertext that does not authenticate; database
    /// errors and [`crate::StoreError::Corrupt`].
    pub fn decrypted(&self, scope: KvScope, name: &str) -> Result<Option<String>> {
        Ok(self
            .kv
            .get_at(scope, name, true, self.now)?
            .map(|pair| pair.value))
    }
}
