//! API keys: created by an administrator, returned once, stored as SHA-256 hashes in
//! `apikeys.json` (mode 0600), looked up by hash.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::files::{tighten, write_private};
use super::{AuthError, random_hex};

/// An API key as listed: everything but the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyInfo {
    /// Id (used to delete it).
    pub id: String,
    /// The user requests with this key act as.
    pub user: String,
    /// Whether that user is an administrator.
    #[serde(default)]
    pub admin: bool,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A new API key: its description and the key itself, shown only in this response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The key's description.
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    /// The key; send it in the `St2-Api-Key` header. It cannot be shown again.
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    #[serde(flatten)]
    info: ApiKeyInfo,
    key_sha256: String,
}

pub(super) struct ApiKeys {
    path: PathBuf,
    keys: Mutex<Vec<StoredKey>>,
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl ApiKeys {
    pub(super) fn open(path: PathBuf) -> Result<Self, AuthError> {
        let keys = match std::fs::read(&path) {
            Ok(bytes) => {
                tighten(&path)?;
                serde_json::from_slice(&bytes).map_err(|source| AuthError::MalformedKeys {
                    path: path.clone(),
                    source,
                })?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(AuthError::Io { path, source }),
        };
        Ok(Self {
            path,
            keys: Mutex::new(keys),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<StoredKey>> {
        // A panic while holding the lock leaves a consistent Vec; keep going.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save(&self, keys: &[StoredKey]) -> Result<(), AuthError> {
        let bytes = serde_json::to_vec_pretty(keys).map_err(|source| AuthError::MalformedKeys {
            path: self.path.clone(),
            source,
        })?;
        write_private(&self.path, &bytes)
    }

    pub(super) fn create(
        &self,
        user: &str,
        admin: bool,
        description: Option<String>,
    ) -> Result<ApiKeyCreated, AuthError> {
        let key = random_hex()?;
        let info = ApiKeyInfo {
            id: nerve_store::new_id(),
            user: user.to_owned(),
            admin,
            created_at: nerve_store::timestamp(chrono::Utc::now()),
            description,
        };
        let mut keys = self.lock();
        let mut updated = keys.clone();
        updated.push(StoredKey {
            info: info.clone(),
            key_sha256: hash(&key),
        });
        self.save(&updated)?;
        *keys = updated;
        Ok(ApiKeyCreated { info, key })
    }

    pub(super) fn list(&self) -> Vec<ApiKeyInfo> {
        self.lock().iter().map(|key| key.info.clone()).collect()
    }

    pub(super) fn delete(&self, id: &str) -> Result<bool, AuthError> {
        let mut keys = self.lock();
        let updated: Vec<StoredKey> = keys
            .iter()
            .filter(|key| key.info.id != id)
            .cloned()
            .collect();
        if updated.len() == keys.len() {
            return Ok(false);
        }
        self.save(&updated)?;
        *keys = updated;
        Ok(true)
    }

    /// The key whose hash matches `presented`.
    pub(super) fn find(&self, presented: &str) -> Option<ApiKeyInfo> {
        let presented = hash(presented);
        self.lock()
            .iter()
            .find(|key| key.key_sha256 == presented)
            .map(|key| key.info.clone())
    }
}
