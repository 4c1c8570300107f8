//! The datastore in workflow expressions: orquesta's `st2kv(key, decrypt=false)` function and
//! the action chain's `st2kv.system.<key>` / `system.<key>` variables with `decrypt_kv`.
//!
//! Template objects cannot borrow the caller's [`KvLookup`], so they read a [`KvCache`] and
//! note the keys it cannot answer yet; the evaluator looks those up and evaluates again.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use minijinja::value::{Kwargs, Object, ObjectRepr, Value as MjValue};
use minijinja::{Error, ErrorKind, State};
use nerve_rules::{KvLookup, KvValue};

use super::frame;

/// The two datastore scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum KvScope {
    System,
    User,
}

impl KvScope {
    fn as_str(self) -> &'static str {
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

#[derive(Debug, Default)]
struct CacheState {
    values: HashMap<(KvScope, String), Option<KvValue>>,
    decrypted: HashMap<(KvScope, String), Option<String>>,
    misses: Vec<Request>,
}

impl CacheState {
    fn miss(&mut self, request: Request) {
        if !self.misses.contains(&request) {
            self.misses.push(request);
        }
    }
}

/// Datastore answers gathered during one operation of a state machine.
#[derive(Debug, Default)]
pub(crate) struct KvCache {
    state: Mutex<CacheState>,
}

impl KvCache {
    fn state(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The item, `Some(None)` if it does not exist, `None` if not looked up yet (noted).
    fn get(&self, scope: KvScope, key: &str) -> Option<Option<KvValue>> {
        let mut state = self.state();
        let found = state.values.get(&(scope, key.to_owned())).cloned();
        if found.is_none() {
            state.miss(Request::Get(scope, key.to_owned()));
        }
        found
    }

    /// The plaintext of a secret, `Some(None)` if it cannot be decrypted, `None` if not
    /// asked yet (noted).
    fn decrypted(&self, scope: KvScope, key: &str) -> Option<Option<String>> {
        let mut state = self.state();
        let found = state.decrypted.get(&(scope, key.to_owned())).cloned();
        if found.is_none() {
            state.miss(Request::Decrypt(scope, key.to_owned()));
        }
        found
    }

    /// Answers the keys noted since the last call; false if there were none.
    pub(crate) fn resolve_misses(&self, lookup: &dyn KvLookup) -> bool {
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
                    let plain = lookup.decrypt(scope.as_str(), &key);
                    self.state().decrypted.insert((scope, key), plain);
                }
            }
        }
        true
    }
}

fn kv_error(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// `st2kv(key, decrypt=false, default=...)`: the value of a datastore item. `system.<key>`
/// reads the system scope; any other key the user scope (of the user the lookup stands for),
/// as StackStorm's `st2kv` does (`user.<key>` is accepted as the user scope too). A missing
/// item is an error unless `default` is given; a secret reads as its stored ciphertext unless
/// `decrypt=true`.
pub(super) fn st2kv_function(state: &State, key: String, kwargs: Kwargs) -> Result<MjValue, Error> {
    let frame = frame(state)?;
    let decrypt: Option<bool> = kwargs.get("decrypt")?;
    let default: Option<MjValue> = if kwargs.has("default") {
        Some(kwargs.get("default")?)
    } else {
        None
    };
    kwargs.assert_all_used()?;
    let (scope, name) = match (key.strip_prefix("system."), key.strip_prefix("user.")) {
        (Some(name), _) => (KvScope::System, name),
        (None, Some(name)) => (KvScope::User, name),
        (None, None) => (KvScope::User, key.as_str()),
    };
    let Some(item) = frame.kv.get(scope, name) else {
        // Answered before the next pass.
        return Ok(MjValue::from(""));
    };
    let Some(item) = item else {
        return match default {
            Some(value) => Ok(value),
            None => Err(kv_error(format!(
                "The key \"{key}\" does not exist in the StackStorm datastore."
            ))),
        };
    };
    if decrypt.unwrap_or(false) && item.secret {
        return match frame.kv.decrypted(scope, name) {
            None => Ok(MjValue::from("")),
            Some(Some(plain)) => Ok(MjValue::from(plain)),
            Some(None) => Err(kv_error(format!(
                "The key \"{key}\" could not be decrypted."
            ))),
        };
    }
    Ok(MjValue::from(item.value))
}

/// `st2kv` (action chains): `.system` and `.user`.
#[derive(Debug)]
struct KvRoot {
    cache: Arc<KvCache>,
}

pub(super) fn root(cache: &Arc<KvCache>) -> MjValue {
    MjValue::from_object(KvRoot {
        cache: Arc::clone(cache),
    })
}

pub(super) fn scope_node(cache: &Arc<KvCache>, scope: KvScope) -> MjValue {
    MjValue::from_object(KvNode {
        cache: Arc::clone(cache),
        scope,
        key: None,
    })
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
        Some(scope_node(&self.cache, scope))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("")
    }
}

/// `st2kv.<scope>` or `st2kv.<scope>.<key>`; attribute access extends the dotted key, as
/// StackStorm's `KeyValueLookup` does. A missing item renders as the empty string.
#[derive(Debug)]
struct KvNode {
    cache: Arc<KvCache>,
    scope: KvScope,
    key: Option<String>,
}

impl KvNode {
    fn text(&self) -> String {
        match &self.key {
            Some(key) => match self.cache.get(self.scope, key) {
                Some(Some(item)) => item.value,
                _ => String::new(),
            },
            None => String::new(),
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
            cache: Arc::clone(&self.cache),
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

/// The text of a datastore reference, for conversions to JSON.
pub(super) fn text_of_node(value: &MjValue) -> Option<String> {
    value.downcast_object_ref::<KvNode>().map(KvNode::text)
}

/// `decrypt_kv`: the plaintext of a secret datastore item (`st2kv.system.key | decrypt_kv`).
pub(super) fn decrypt_kv_filter(value: &MjValue) -> Result<String, Error> {
    let Some(node) = value.downcast_object_ref::<KvNode>() else {
        return Err(kv_error(
            "decrypt_kv applies to a datastore reference such as `st2kv.system.key`".to_owned(),
        ));
    };
    let Some(key) = &node.key else {
        return Err(kv_error(format!(
            "decrypt_kv needs a key, not st2kv.{}",
            node.scope.as_str()
        )));
    };
    let name = format!("st2kv.{}.{key}", node.scope.as_str());
    match node.cache.get(node.scope, key) {
        None => Ok(String::new()),
        Some(None) => Err(kv_error(format!(
            "Referenced datastore item \"{name}\" doesn't exist or it contains an empty string"
        ))),
        Some(Some(item)) if !item.secret => Err(kv_error(format!(
            "datastore item \"{name}\" is not encrypted; decrypt_kv only applies to secrets"
        ))),
        Some(Some(_)) => match node.cache.decrypted(node.scope, key) {
            None => Ok(String::new()),
            Some(Some(plain)) => Ok(plain),
            Some(None) => Err(kv_error(format!(
                "datastore item \"{name}\" could not be decrypted"
            ))),
        },
    }
}
