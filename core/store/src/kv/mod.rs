//! Key-value datastore with StackStorm's semantics: scopes `system` and `user` (user names are
//! stored as `<user>:<name>`), string values, TTLs, and secrets encrypted at rest.
//!
//! * An expired pair is invisible at once (every read compares `expire_at` with `now`) and
//!   removed by [`crate::Store::purge`] through the `kv_expiry` index.
//! * A secret's value is stored sealed (see `crypto`); reads return the plaintext only with
//!   `decrypt: true`, otherwise [`nerve_model::MASKED_VALUE`]. The ciphertext never leaves the
//!   store.
//! * Every read and write has an `_at(…, now)` form so that expiry can be tested with a chosen
//!   clock; the plain forms use the system clock.
//! * Writes flush before returning: they answer sensor and API requests.

mod crypto;
mod view;

use chrono::{DateTime, TimeDelta, Utc};
use nerve_model::MASKED_VALUE;
use serde::{Deserialize, Serialize};

pub(crate) use crypto::SecretCipher;
pub use view::{KvValue, KvView};

use crate::change::{ChangeKind, ChangeOp};
use crate::time::{parse_time, timestamp};
use crate::{Page, Result, Store, StoreError};

/// A key-value scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvScope {
    /// Global keys (`st2kv.system.*`), also used for sensor-local keys (`<pack>.<Class>:<name>`).
    #[default]
    System,
    /// Per-user keys (`st2kv.user.*`), stored as `<user>:<name>`.
    User,
}

impl KvScope {
    /// `system` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
        }
    }

    /// Parses `system`/`st2kv.system` or `user`/`st2kv.user`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "system" | "st2kv.system" => Some(Self::System),
            "user" | "st2kv.user" => Some(Self::User),
            _ => None,
        }
    }

    /// The stored name of a user-scoped key: `<user>:<name>`.
    pub fn user_key(user: &str, name: &str) -> String {
        format!("{user}:{name}")
    }
}

impl std::fmt::Display for KvScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key-value pair as shown to callers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvPair {
    /// Scope.
    pub scope: KvScope,
    /// Name (`<user>:<name>` in the user scope).
    pub name: String,
    /// The value; [`MASKED_VALUE`] for a secret read without `decrypt`.
    pub value: String,
    /// Whether the value is encrypted at rest.
    pub secret: bool,
    /// When it expires (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<String>,
    /// When it was first set.
    pub created_at: String,
    /// When it was last set.
    pub updated_at: String,
}

/// A write for [`Kv::set`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvWrite {
    /// Scope (system by default).
    pub scope: KvScope,
    /// Name (`<user>:<name>` in the user scope).
    pub name: String,
    /// The value.
    pub value: String,
    /// Encrypt it at rest and mask it in listings.
    pub secret: bool,
    /// Seconds to live; `None` for no expiry (as is a TTL too large to represent).
    pub ttl_seconds: Option<u64>,
}

/// What [`Kv::set`] did, for the `key_value_pair.create|update|value_change` triggers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvSetOutcome {
    /// There was no (unexpired) pair before.
    pub created: bool,
    /// The value differs from the old one (compared in plaintext for secrets).
    pub value_changed: bool,
    /// The previous pair, masked if secret.
    pub old: Option<KvPair>,
    /// The new pair, masked if secret.
    pub new: KvPair,
}

/// Filter for [`Kv::list`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvFilter {
    /// One scope, or `None` for both.
    pub scope: Option<KvScope>,
    /// Only names starting with this.
    pub prefix: String,
    /// Return secrets in plaintext.
    pub decrypt: bool,
    /// Page size; `None` for all.
    pub limit: Option<usize>,
    /// Matches to skip.
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredKv {
    value: String,
    secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expire_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl StoredKv {
    fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expire_at
            .as_deref()
            .and_then(parse_time)
            .is_some_and(|expire_at| expire_at <= now)
    }

    fn expire_ms(&self) -> Option<u64> {
        let expire_at = parse_time(self.expire_at.as_deref()?)?;
        u64::try_from(expire_at.timestamp_millis()).ok()
    }
}

/// The key-value datastore; get it with [`Store::kv`].
#[derive(Clone, Debug)]
pub struct Kv {
    store: Store,
}

fn kv_key(scope: KvScope, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(scope.as_str().len() + 1 + name.len());
    key.extend_from_slice(scope.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(name.as_bytes());
    key
}

fn split_key(key: &[u8]) -> Option<(KvScope, String)> {
    let separator = key.iter().position(|byte| *byte == 0)?;
    let scope = KvScope::parse(std::str::from_utf8(&key[..separator]).ok()?)?;
    let name = std::str::from_utf8(&key[separator + 1..]).ok()?;
    Some((scope, name.to_owned()))
}

fn expiry_key(expire_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut index_key = expire_ms.to_be_bytes().to_vec();
    index_key.extend_from_slice(key);
    index_key
}

fn check_name(scope: KvScope, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if scope == KvScope::User
        && name
            .split_once(':')
            .is_none_or(|(user, rest)| user.is_empty() || rest.is_empty())
    {
        Some("user-scoped names are `<user>:<name>`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidId {
            what: "key name",
            id: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

impl Store {
    /// The key-value datastore.
    pub fn kv(&self) -> Kv {
        Kv {
            store: self.clone(),
        }
    }
}

impl Kv {
    fn change_id(scope: KvScope, name: &str) -> String {
        format!("{scope}:{name}")
    }

    /// Turns a stored pair into what callers see, decrypting or masking secrets.
    fn reveal(
        &self,
        scope: KvScope,
        name: &str,
        stored: StoredKv,
        decrypt: bool,
    ) -> Result<KvPair> {
        let value = match (stored.secret, decrypt) {
            (false, _) => stored.value,
            (true, false) => MASKED_VALUE.to_owned(),
            (true, true) => self.open_secret(scope, name, &stored.value)?,
        };
        Ok(KvPair {
            scope,
            name: name.to_owned(),
            value,
            secret: stored.secret,
            expire_at: stored.expire_at,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        })
    }

    fn open_secret(&self, scope: KvScope, name: &str, sealed: &str) -> Result<String> {
        self.store
            .inner
            .cipher
            .decrypt(&kv_key(scope, name), sealed)
            .and_then(|plain| String::from_utf8(plain).ok())
            .ok_or_else(|| StoreError::Decrypt {
                scope: scope.as_str(),
                name: name.to_owned(),
            })
    }

    fn load(&self, key: &[u8], now: DateTime<Utc>) -> Result<Option<StoredKv>> {
        let stored: Option<StoredKv> = self.store.inner.trees.kv.get(key)?;
        Ok(stored.filter(|stored| !stored.is_expired(now)))
    }

    /// A pair, or `None` if absent or expired. Secrets are masked unless `decrypt`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Decrypt`] when a secret's ciphertext does not authenticate; database errors
    /// and [`StoreError::Corrupt`].
    pub fn get(&self, scope: KvScope, name: &str, decrypt: bool) -> Result<Option<KvPair>> {
        self.get_at(scope, name, decrypt, Utc::now())
    }

    /// [`Kv::get`] with an explicit clock.
    ///
    /// # Errors
    ///
    /// As [`Kv::get`].
    pub fn get_at(
        &self,
        scope: KvScope,
        name: &str,
        decrypt: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<KvPair>> {
        match self.load(&kv_key(scope, name), now)? {
            Some(stored) => self.reveal(scope, name, stored, decrypt).map(Some),
            None => Ok(None),
        }
    }

    /// Sets a pair (creating or replacing it) and flushes.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidId`] for an empty name or a user-scoped name without `<user>:`,
    /// database and flush errors.
    pub async fn set(&self, write: &KvWrite) -> Result<KvSetOutcome> {
        self.set_at(write, Utc::now()).await
    }

    /// [`Kv::set`] with an explicit clock (TTLs count from `now`).
    ///
    /// # Errors
    ///
    /// As [`Kv::set`].
    pub async fn set_at(&self, write: &KvWrite, now: DateTime<Utc>) -> Result<KvSetOutcome> {
        let outcome = self.set_nowait(write, now)?;
        self.store.flush().await?;
        Ok(outcome)
    }

    fn set_nowait(&self, write: &KvWrite, now: DateTime<Utc>) -> Result<KvSetOutcome> {
        check_name(write.scope, &write.name)?;
        let inner = &self.store.inner;
        let table = &inner.trees.kv;
        let key = kv_key(write.scope, &write.name);
        let _guard = inner.locks.lock(table.name, &key);
        let raw_old: Option<StoredKv> = table.get(&key)?;
        let old = raw_old.clone().filter(|old| !old.is_expired(now));
        let old_plain = match &old {
            Some(old) if old.secret => self.open_secret(write.scope, &write.name, &old.value).ok(),
            Some(old) => Some(old.value.clone()),
            None => None,
        };
        let value = if write.secret {
            inner.cipher.encrypt(&key, write.value.as_bytes())?
        } else {
            write.value.clone()
        };
        // A TTL beyond the calendar's range means "never expires" rather than a panic.
        let expire_at = write
            .ttl_seconds
            .and_then(|ttl| TimeDelta::try_seconds(i64::try_from(ttl).ok()?))
            .and_then(|ttl| now.checked_add_signed(ttl))
            .map(timestamp);
        let now_text = timestamp(now);
        let stored = StoredKv {
            value,
            secret: write.secret,
            expire_at,
            created_at: old
                .as_ref()
                .map_or_else(|| now_text.clone(), |old| old.created_at.clone()),
            updated_at: now_text,
        };
        let bytes = table.encode(&key, &stored)?;
        if let Some(expire_ms) = stored.expire_ms() {
            inner
                .trees
                .kv_expiry
                .insert_raw(&expiry_key(expire_ms, &key), sled::IVec::default())?;
        }
        table.insert_raw(&key, bytes)?;
        if let Some(old_ms) = raw_old.as_ref().and_then(StoredKv::expire_ms) {
            if Some(old_ms) != stored.expire_ms() {
                inner.trees.kv_expiry.remove(&expiry_key(old_ms, &key))?;
            }
        }
        inner.feed.send(
            ChangeKind::Kv,
            Self::change_id(write.scope, &write.name),
            ChangeOp::Put,
        );
        let value_changed = old_plain.as_deref() != Some(write.value.as_str());
        Ok(KvSetOutcome {
            created: old.is_none(),
            value_changed,
            old: old
                .map(|old| self.reveal(write.scope, &write.name, old, false))
                .transpose()?,
            new: self.reveal(write.scope, &write.name, stored, false)?,
        })
    }

    /// Deletes a pair and flushes; returns it (masked if secret), or `None` if it was absent or
    /// already expired.
    ///
    /// # Errors
    ///
    /// Database and flush errors.
    pub async fn delete(&self, scope: KvScope, name: &str) -> Result<Option<KvPair>> {
        self.delete_at(scope, name, Utc::now()).await
    }

    /// [`Kv::delete`] with an explicit clock.
    ///
    /// # Errors
    ///
    /// As [`Kv::delete`].
    pub async fn delete_at(
        &self,
        scope: KvScope,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KvPair>> {
        let removed = self.remove(&kv_key(scope, name), None)?;
        self.store.flush().await?;
        removed
            .filter(|stored| !stored.is_expired(now))
            .map(|stored| self.reveal(scope, name, stored, false))
            .transpose()
    }

    /// Removes a pair under its lock, with its expiry index entry. With `only_if_expired_at`,
    /// removes it only if it is expired at that time (purge).
    fn remove(
        &self,
        key: &[u8],
        only_if_expired_at: Option<DateTime<Utc>>,
    ) -> Result<Option<StoredKv>> {
        let inner = &self.store.inner;
        let table = &inner.trees.kv;
        let _guard = inner.locks.lock(table.name, key);
        let Some(stored) = table.get::<StoredKv>(key)? else {
            return Ok(None);
        };
        if only_if_expired_at.is_some_and(|now| !stored.is_expired(now)) {
            return Ok(None);
        }
        table.remove(key)?;
        if let Some(expire_ms) = stored.expire_ms() {
            inner.trees.kv_expiry.remove(&expiry_key(expire_ms, key))?;
        }
        if let Some((scope, name)) = split_key(key) {
            inner.feed.send(
                ChangeKind::Kv,
                Self::change_id(scope, &name),
                ChangeOp::Delete,
            );
        }
        Ok(Some(stored))
    }

    /// Pairs matching `filter` in name order (scope `system` before `user`), with the total
    /// count. Expired pairs are left out.
    ///
    /// # Errors
    ///
    /// [`StoreError::Decrypt`] when decrypting a secret fails; database errors and
    /// [`StoreError::Corrupt`].
    pub fn list(&self, filter: &KvFilter) -> Result<Page<KvPair>> {
        self.list_at(filter, Utc::now())
    }

    /// [`Kv::list`] with an explicit clock.
    ///
    /// # Errors
    ///
    /// As [`Kv::list`].
    pub fn list_at(&self, filter: &KvFilter, now: DateTime<Utc>) -> Result<Page<KvPair>> {
        let table = &self.store.inner.trees.kv;
        let scopes = match filter.scope {
            Some(scope) => vec![scope],
            None => vec![KvScope::System, KvScope::User],
        };
        let mut candidates = Vec::new();
        for scope in scopes {
            for entry in table.scan_prefix(&kv_key(scope, &filter.prefix)) {
                let (key, value) = entry?;
                let stored: StoredKv = table.decode(&key, &value)?;
                if stored.is_expired(now) {
                    continue;
                }
                if let Some((scope, name)) = split_key(&key) {
                    candidates.push((scope, name, stored));
                }
            }
        }
        let page = Page::collect(
            candidates.into_iter().map(Ok),
            |_| true,
            filter.offset,
            filter.limit,
        )?;
        let items = page
            .items
            .into_iter()
            .map(|(scope, name, stored)| self.reveal(scope, &name, stored, filter.decrypt))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: page.total,
        })
    }

    /// A cheap read handle for template lookups (`{{ st2kv.system.x }}`) that treats pairs as
    /// expired at `now`.
    pub fn view_at(&self, now: DateTime<Utc>) -> KvView {
        KvView::new(self.clone(), now)
    }

    /// [`Kv::view_at`] the current time.
    pub fn view(&self) -> KvView {
        self.view_at(Utc::now())
    }

    /// Removes up to `budget` pairs that expired by `now`; returns how many were removed and
    /// whether expired pairs may remain.
    pub(crate) fn purge_expired(&self, now: DateTime<Utc>, budget: usize) -> Result<(usize, bool)> {
        let inner = &self.store.inner;
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let end = (now_ms.saturating_add(1)).to_be_bytes().to_vec();
        let due: Vec<sled::IVec> = inner
            .trees
            .kv_expiry
            .range(..end)
            .take(budget.saturating_add(1))
            .map(|entry| entry.map(|(key, _)| key))
            .collect::<Result<_>>()?;
        let more = due.len() > budget;
        let mut removed = 0;
        for index_key in due.into_iter().take(budget) {
            let key = index_key.get(8..).unwrap_or_default();
            if self.remove(key, Some(now))?.is_some() {
                removed += 1;
            }
            // Stale entry (the pair was re-set with another expiry, or is gone).
            inner.trees.kv_expiry.remove(&index_key)?;
        }
        Ok((removed, more))
    }
}

#[cfg(test)]
mod tests;
