//! `st2kv.system.*` / `st2kv.user.*` in templates, backed by the caller's [`KvLookup`].
//!
//! Template objects must be `'static`, but the lookup is borrowed for one render. So objects
//! never call the lookup: they read answers from a [`KvSession`] and note the keys they could
//! not answer. After a render pass the session asks the lookup for those keys and the
//! template is rendered again; a template that touches no datastore key renders once. The
//! result is still a pure function of the snapshot the lookup exposes.
//!
//! As in StackStorm's `KeyValueLookup`, `{{ st2kv.system.a.b }}` reads the key `a.b`, a
//! missing key renders as the empty string, and a secret renders as its stored (encrypted)
//! value unless piped through `decrypt_kv`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Object, ObjectRepr, Value as MjValue};
use minijinja::{Error, ErrorKind};

/// A datastore item as a template sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvValue {
    /// The stored value. For a secret this is what the store holds (its ciphertext), which is
    /// what `{{ st2kv.system.key }}` renders without `decrypt_kv`.
    pub value: String,
    /// Whether the item is encrypted.
    pub secret: bool,
}

/// Key-value lookups for `st2kv.system.*` / `st2kv.user.*` in templates; the caller provides
/// a snapshot. `scope` is `"system"` or `"user"`; for `"user"` the implementation knows which
/// user the render is for (StackStorm stores those keys as `<user>:<key>`).
pub trait KvLookup: Send + Sync {
    /// The item `key` in `scope`, or `None` if it does not exist.
    fn get(&self, scope: &str, key: &str) -> Option<KvValue>;

    /// The plaintext of the secret item `key` in `scope`, for the `decrypt_kv` filter.
    /// `None` if the item is missing or cannot be decrypted. The default cannot decrypt.
    fn decrypt(&self, scope: &str, key: &str) -> Option<String> {
        let _ = (scope, key);
        None
    }
}

/// A [`KvLookup`] with no items.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKv;

impl KvLookup for NoKv {
    fn get(&self, _scope: &str, _key: &str) -> Option<KvValue> {
        None
    }
}

/// The two datastore scopes templates can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvScope {
    /// `st2kv.system.*`.
    System,
    /// `st2kv.user.*`: the keys of the user the lookup stands for.
    User,
}

impl KvScope {
    /// `"system"` or `"user"`, as [`KvLookup`] takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            KvScope::System => "system",
            KvScope::User => "user",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Request {
    Get(KvScope, String),
    Decrypt(KvScope, String),
}

/// The outcome of `decrypt_kv` on an item.
#[derive(Debug, Clone)]
enum Decrypted {
    Plain(String),
    Failed(String),
}

#[derive(Debug, Default)]
struct SessionState {
    values: HashMap<(KvScope, String), Option<KvValue>>,
    decrypted: HashMap<(KvScope, String), Decrypted>,
    misses: Vec<Request>,
}

impl SessionState {
    fn note_miss(&mut self, request: Request) {
        if !self.misses.contains(&request) {
            self.misses.push(request);
        }
    }
}

/// Datastore answers collected across the render passes of one template (or one set of
/// parameters, or one operation of a workflow): template objects cannot borrow the caller's
/// [`KvLookup`], so they read answers from here and note what they could not answer, and
/// [`KvSession::resolve_misses`] asks the lookup before the next pass.
#[derive(Debug, Default)]
pub struct KvSession {
    state: Mutex<SessionState>,
}

impl KvSession {
    fn state(&self) -> std::sync::MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of an item, or `""` (recording a miss) if it has not been looked up yet.
    fn value(&self, scope: KvScope, key: &str) -> String {
        let mut state = self.state();
        match state.values.get(&(scope, key.to_owned())) {
            Some(Some(item)) => item.value.clone(),
            Some(None) => String::new(),
            None => {
                state.note_miss(Request::Get(scope, key.to_owned()));
                String::new()
            }
        }
    }

    /// The item `key` in `scope`: `Some(None)` when it does not exist, `None` when it was not
    /// looked up yet (noted for the next [`KvSession::resolve_misses`]).
    pub fn item(&self, scope: KvScope, key: &str) -> Option<Option<KvValue>> {
        let mut state = self.state();
        let found = state.values.get(&(scope, key.to_owned())).cloned();
        if found.is_none() {
            state.note_miss(Request::Get(scope, key.to_owned()));
        }
        found
    }

    /// The plaintext of the secret `key` in `scope`: `Some(Err(message))` when it is missing,
    /// not a secret or cannot be decrypted, `None` when not asked yet (noted).
    pub fn decrypted(&self, scope: KvScope, key: &str) -> Option<Result<String, String>> {
        self.decrypt(scope, key).map(|outcome| match outcome {
            Decrypted::Plain(text) => Ok(text),
            Decrypted::Failed(message) => Err(message),
        })
    }

    fn decrypt(&self, scope: KvScope, key: &str) -> Option<Decrypted> {
        let mut state = self.state();
        let found = state.decrypted.get(&(scope, key.to_owned())).cloned();
        if found.is_none() {
            state.note_miss(Request::Decrypt(scope, key.to_owned()));
        }
        found
    }

    /// Answers the keys the last pass could not; returns false if there were none.
    pub fn resolve_misses(&self, lookup: &dyn KvLookup) -> bool {
        let misses = std::mem::take(&mut self.state().misses);
        if misses.is_empty() {
            return false;
        }
        for request in misses {
            match request {
                Request::Get(scope, key) => {
                    let item = lookup.get(scope.as_str(), &key);
                    self.state().values.insert((scope, key), item);
                }
                Request::Decrypt(scope, key) => {
                    let name = format!("st2kv.{}.{key}", scope.as_str());
                    let outcome = match lookup.get(scope.as_str(), &key) {
                        None => Decrypted::Failed(missing_item(&name)),
                        Some(item) if item.value.is_empty() => {
                            Decrypted::Failed(missing_item(&name))
                        }
                        Some(item) if !item.secret => Decrypted::Failed(format!(
                            "datastore item \"{name}\" is not encrypted; decrypt_kv only applies to secrets"
                        )),
                        Some(_) => match lookup.decrypt(scope.as_str(), &key) {
                            Some(plain) => Decrypted::Plain(plain),
                            None => Decrypted::Failed(format!(
                                "datastore item \"{name}\" could not be decrypted"
                            )),
                        },
                    };
                    self.state().decrypted.insert((scope, key), outcome);
                }
            }
        }
        true
    }
}

fn missing_item(name: &str) -> String {
    format!("Referenced datastore item \"{name}\" doesn't exist or it contains an empty string")
}

/// `st2kv` (and its alias `kv`) over `session`: `.system` and `.user`.
pub fn kv_root(session: &Arc<KvSession>) -> MjValue {
    KvRoot::value(session)
}

/// `st2kv.<scope>` over `session` (the action chain's `system` variable).
pub fn kv_scope(session: &Arc<KvSession>, scope: KvScope) -> MjValue {
    MjValue::from_object(KvNode {
        session: Arc::clone(session),
        scope,
        key: None,
    })
}

/// The text of a datastore reference (`st2kv.system.key`), for conversions to JSON; `None`
/// for any other value.
pub fn kv_text(value: &MjValue) -> Option<String> {
    value.downcast_object_ref::<KvNode>().map(KvNode::text)
}

/// `st2kv` (and its alias `kv`): `.system` and `.user`.
#[derive(Debug)]
pub(crate) struct KvRoot {
    session: Arc<KvSession>,
}

impl KvRoot {
    pub(crate) fn value(session: &Arc<KvSession>) -> MjValue {
        MjValue::from_object(KvRoot {
            session: Arc::clone(session),
        })
    }
}

impl Object for KvRoot {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let scope = match key.as_str()? {
            "system" => KvScope::System,
            "user" => KvScope::User,
            _ => return None,
        };
        Some(kv_scope(&self.session, scope))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("")
    }
}

/// `st2kv.<scope>` (with `key: None`) or `st2kv.<scope>.<key>`; further attribute access
/// extends the dotted key.
#[derive(Debug)]
pub(crate) struct KvNode {
    session: Arc<KvSession>,
    scope: KvScope,
    key: Option<String>,
}

impl KvNode {
    /// The item's value as StackStorm renders it (`""` if missing).
    pub(crate) fn text(&self) -> String {
        match &self.key {
            Some(key) => self.session.value(self.scope, key),
            None => String::new(),
        }
    }

    /// `decrypt_kv` on this item.
    pub(crate) fn decrypt(&self) -> Result<String, Error> {
        let name = match &self.key {
            Some(key) => key,
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("decrypt_kv needs a key, not st2kv.{}", self.scope.as_str()),
                ));
            }
        };
        match self.session.decrypt(self.scope, name) {
            Some(Decrypted::Plain(text)) => Ok(text),
            Some(Decrypted::Failed(message)) => {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            }
            // Answered before the next pass.
            None => Ok(String::new()),
        }
    }
}

impl Object for KvNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let segment = match key.as_str() {
            Some(s) => s.to_owned(),
            None => key.to_string(),
        };
        let key = match &self.key {
            Some(prefix) => format!("{prefix}.{segment}"),
            None => segment,
        };
        Some(MjValue::from_object(KvNode {
            session: Arc::clone(&self.session),
            scope: self.scope,
            key: Some(key),
        }))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        !self.text().is_empty()
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}
