//! Key-value pairs as the API shows them (StackStorm's `KeyValuePairAPI` shape).

use nerve_store::{KvPair, KvScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A key-value pair. `value` is `********` for a secret unless it was decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyDto {
    /// Name (without the `<user>:` prefix in the user scope).
    pub name: String,
    /// The value, masked for secrets unless decrypted.
    pub value: String,
    /// Whether it is encrypted at rest.
    pub secret: bool,
    /// Whether `value` is masked (a secret not decrypted).
    pub encrypted: bool,
    /// `st2kv.system` or `st2kv.user`.
    pub scope: String,
    /// Owner of a user-scoped key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When it expires (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_timestamp: Option<String>,
    /// When it was first set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When it was last set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl KeyDto {
    /// The API view of a pair as the store returned it (`decrypted`: whether it was asked to).
    pub fn from_pair(pair: KvPair, decrypted: bool) -> Self {
        let (user, name) = match pair.scope {
            KvScope::User => match pair.name.split_once(':') {
                Some((user, name)) => (Some(user.to_owned()), name.to_owned()),
                None => (None, pair.name),
            },
            KvScope::System => (None, pair.name),
        };
        Self {
            name,
            value: pair.value,
            secret: pair.secret,
            encrypted: pair.secret && !decrypted,
            scope: format!("st2kv.{}", pair.scope.as_str()),
            user,
            expire_timestamp: pair.expire_at,
            created_at: Some(pair.created_at),
            updated_at: Some(pair.updated_at),
        }
    }
}

/// `PUT /api/v1/keys/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct KeySetBody {
    /// The value (a string; store JSON as text).
    pub value: String,
    /// Encrypt at rest and mask when read.
    #[serde(default)]
    pub secret: bool,
    /// Seconds to live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// `system` (default) or `user` (`st2kv.system`, `st2kv.user` accepted too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// For administrators: the owner of a user-scoped key (default: the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}
