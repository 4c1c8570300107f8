//! The datastore in workflow expressions: orquesta's `st2kv(key, decrypt=false)` function. The
//! action chain's `st2kv.system.<key>` / `system.<key>` variables and `decrypt_kv` are the
//! rules crate's ([`nerve_rules::kv_root`], [`nerve_rules::decrypt_kv`]), over the same
//! [`KvSession`]: template objects cannot borrow the caller's lookup, so they read the session
//! and note the keys it cannot answer yet; the evaluator looks those up and evaluates again.

use minijinja::value::{Kwargs, Value as MjValue};
use minijinja::{Error, ErrorKind, State};
use nerve_rules::KvScope;

use super::frame;

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
    let Some(item) = frame.kv.item(scope, name) else {
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
            Some(Ok(plain)) => Ok(MjValue::from(plain)),
            Some(Err(_)) => Err(kv_error(format!(
                "The key \"{key}\" could not be decrypted."
            ))),
        };
    }
    Ok(MjValue::from(item.value))
}
