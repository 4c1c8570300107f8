//! Authentication: the admin token and API keys, who a request is from, and the middleware that
//! refuses requests without valid credentials.
//!
//! * **Admin token.** [`Auth::open`] creates `<data_dir>/admin.token` on first start: 256 random
//!   bits as 64 hex digits, mode 0600; later starts reuse it. It authenticates as user `admin`,
//!   an administrator.
//! * **API keys.** Created by an administrator (`POST /api/v1/apikeys`), shown once, and kept
//!   only as SHA-256 hashes in `<data_dir>/apikeys.json` (mode 0600). Each carries the user it
//!   was created for and whether that user is an administrator.
//! * **Where credentials go** (StackStorm's names): header `X-Auth-Token`, query `x-auth-token`,
//!   or `Authorization: Bearer <token>` for the admin token; header `St2-Api-Key` or query
//!   `st2-api-key` for API keys (`Authorization: Bearer <api key>` works too, for Prometheus).
//!
//! Token comparison is constant time; API keys are looked up by their hash, so the key itself is
//! never compared. This module does not decide what a user may do with a resource; handlers do
//! (see [`Principal::admin`]).

mod apikeys;
mod files;
mod middleware;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

pub use apikeys::{ApiKeyCreated, ApiKeyInfo};
pub(crate) use middleware::{Caller, require_auth};

use apikeys::ApiKeys;

/// The name of the admin token file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The name of the API key file in the data directory.
pub const API_KEYS_FILE: &str = "apikeys.json";

/// The user the admin token authenticates as.
pub const ADMIN_USER: &str = "admin";

/// Why the credential files could not be created or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A credential file could not be read or written.
    #[error("cannot access `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The admin token file does not hold 64 hex digits.
    #[error(
        "admin token file `{path}` is malformed: expected 64 hex digits; delete it to create a new token"
    )]
    MalformedToken {
        /// The file.
        path: PathBuf,
    },
    /// The API key file is not valid JSON.
    #[error("API key file `{path}` is malformed")]
    MalformedKeys {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// The admin token.
    AdminToken,
    /// An API key, by id.
    ApiKey(String),
    /// A webhook request whose HMAC signature verified.
    WebhookSignature,
}

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name (`admin` for the admin token).
    pub user: String,
    /// Administrators may manage API keys and decrypt any secret.
    pub admin: bool,
    /// How the request authenticated.
    pub method: AuthMethod,
}

/// Why credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// None were given.
    Missing,
    /// Some were given but matched nothing.
    Invalid,
}

/// The credentials a server accepts. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    admin_token: String,
    token_path: PathBuf,
    keys: ApiKeys,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token_path", &self.inner.token_path)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Opens the credentials under `data_dir` (created if needed): reads `admin.token`, or creates
    /// it (mode 0600) with a new random token; reads `apikeys.json` if present.
    ///
    /// # Errors
    ///
    /// [`AuthError::Io`] when a file cannot be read or written, [`AuthError::MalformedToken`] and
    /// [`AuthError::MalformedKeys`] for files that are not ours, [`AuthError::Random`].
    pub fn open(data_dir: &Path) -> Result<Auth, AuthError> {
        std::fs::create_dir_all(data_dir).map_err(|source| AuthError::Io {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let token_path = data_dir.join(ADMIN_TOKEN_FILE);
        let admin_token = files::load_or_create_token(&token_path)?;
        let keys = ApiKeys::open(data_dir.join(API_KEYS_FILE))?;
        Ok(Auth {
            inner: Arc::new(Inner {
                admin_token,
                token_path,
                keys,
            }),
        })
    }

    /// The admin token (what the CLI on this machine reads from the token file).
    pub fn admin_token(&self) -> &str {
        &self.inner.admin_token
    }

    /// Where the admin token is kept.
    pub fn token_path(&self) -> &Path {
        &self.inner.token_path
    }

    /// Creates an API key for `user`; the key is returned once and only its hash is kept.
    ///
    /// # Errors
    ///
    /// [`AuthError::Io`] when the key file cannot be written, [`AuthError::Random`].
    pub fn create_api_key(
        &self,
        user: &str,
        admin: bool,
        description: Option<String>,
    ) -> Result<ApiKeyCreated, AuthError> {
        self.inner.keys.create(user, admin, description)
    }

    /// Every API key (without the keys themselves).
    pub fn api_keys(&self) -> Vec<ApiKeyInfo> {
        self.inner.keys.list()
    }

    /// Deletes an API key; `false` when there is none with this id.
    ///
    /// # Errors
    ///
    /// [`AuthError::Io`] when the key file cannot be written.
    pub fn delete_api_key(&self, id: &str) -> Result<bool, AuthError> {
        self.inner.keys.delete(id)
    }

    /// Checks a presented admin token in constant time.
    fn is_admin_token(&self, presented: &str) -> bool {
        let expected = self.inner.admin_token.as_bytes();
        let presented = presented.as_bytes();
        presented.len() == expected.len() && bool::from(presented.ct_eq(expected))
    }

    /// Who the credentials in `headers` or `query` belong to.
    pub(crate) fn authenticate(
        &self,
        headers: &HeaderMap,
        query: &HashMap<String, String>,
    ) -> Result<Principal, AuthFailure> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let bearer = header("authorization").and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let token = header("x-auth-token")
            .or_else(|| query.get("x-auth-token").map(String::as_str))
            .or(bearer);
        let api_key =
            header("st2-api-key").or_else(|| query.get("st2-api-key").map(String::as_str));
        if token.is_none() && api_key.is_none() {
            return Err(AuthFailure::Missing);
        }
        if let Some(token) = token {
            if self.is_admin_token(token) {
                return Ok(Principal {
                    user: ADMIN_USER.to_owned(),
                    admin: true,
                    method: AuthMethod::AdminToken,
                });
            }
        }
        // A bearer credential may also be an API key (Prometheus can only send bearer tokens).
        for key in api_key.into_iter().chain(bearer) {
            if let Some(info) = self.inner.keys.find(key) {
                return Ok(Principal {
                    user: info.user,
                    admin: info.admin,
                    method: AuthMethod::ApiKey(info.id),
                });
            }
        }
        Err(AuthFailure::Invalid)
    }

    /// The 401 message for a failure, saying how to authenticate.
    pub(crate) fn failure_message(&self, failure: &AuthFailure) -> String {
        let how = format!(
            "send the admin token from `{}` in the `X-Auth-Token` header (or `Authorization: \
             Bearer <token>`), or an API key in the `St2-Api-Key` header",
            self.inner.token_path.display()
        );
        match failure {
            AuthFailure::Missing => format!("authentication required: {how}"),
            AuthFailure::Invalid => format!("invalid or unknown token or API key: {how}"),
        }
    }
}

/// 256 random bits as 64 lowercase hex digits.
pub(crate) fn random_hex() -> Result<String, AuthError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| AuthError::Random)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests;
