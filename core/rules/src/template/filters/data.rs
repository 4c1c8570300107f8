//! Data filters (`expressions/functions/data.py`, `datastore.py`, `jinja.py::use_none`).

use minijinja::Error;
use minijinja::value::{Kwargs, Value as MjValue};

use super::{arg, py_error, yaml};
use crate::jsonpath::JsonPath;
use crate::py::{self, DumpOptions};
use crate::template::convert::{from_json, py_str, to_json};
use crate::template::kv::KvNode;

/// `decrypt_kv`: the plaintext of a secret datastore item (`st2kv.system.key | decrypt_kv`).
///
/// # Errors
///
/// When `value` is not a datastore reference, or the item is missing, not a secret or cannot
/// be decrypted.
pub fn decrypt_kv(value: &MjValue) -> Result<String, Error> {
    match value.downcast_object_ref::<KvNode>() {
        Some(node) => node.decrypt(),
        None => Err(py_error(
            "decrypt_kv applies to a datastore reference such as `st2kv.system.key`",
        )),
    }
}

/// `from_json_string`: `orjson.loads(str(value))`.
pub(super) fn from_json_string(value: &MjValue) -> Result<MjValue, Error> {
    let text = py_str(value);
    let parsed: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| py_error(format!("JSONDecodeError: {e}")))?;
    Ok(from_json(&parsed))
}

/// `from_yaml_string`: `yaml.safe_load(str(value))`.
pub(super) fn from_yaml_string(value: &MjValue) -> Result<MjValue, Error> {
    let parsed =
        yaml::safe_load(&py_str(value)).map_err(|e| py_error(format!("YAMLError: {e}")))?;
    Ok(from_json(&parsed))
}

/// `to_json_string(value, indent=None, sort_keys=False, separators=(",", ": "))`.
pub(super) fn to_json_string(
    value: &MjValue,
    indent: Option<MjValue>,
    sort_keys: Option<MjValue>,
    separators: Option<MjValue>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let indent = arg(indent, &kwargs, "indent")?;
    let sort_keys = arg(sort_keys, &kwargs, "sort_keys")?;
    let separators = arg(separators, &kwargs, "separators")?;
    kwargs.assert_all_used()?;
    let mut options = DumpOptions {
        item_separator: ",".to_owned(),
        key_separator: ": ".to_owned(),
        ..DumpOptions::default()
    };
    options.indent = match indent {
        None => None,
        Some(v) => match v.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                let n = i64::try_from(v.clone())
                    .map_err(|_| py_error(format!("TypeError: bad indent {}", py_str(&v))))?;
                Some(" ".repeat(usize::try_from(n).unwrap_or(0)))
            }
        },
    };
    options.sort_keys = sort_keys.is_some_and(|v| v.is_true());
    if let Some(separators) = separators {
        let parts: Vec<MjValue> = separators.try_iter()?.collect();
        match parts.as_slice() {
            [item, key] => {
                options.item_separator = py_str(item);
                options.key_separator = py_str(key);
            }
            _ => {
                return Err(py_error(
                    "ValueError: separators must be an (item, key) pair",
                ));
            }
        }
    }
    Ok(py::dumps(&to_json(value)?, &options))
}

/// `to_yaml_string(value, indent=None, allow_unicode=True)`.
pub(super) fn to_yaml_string(
    value: &MjValue,
    indent: Option<MjValue>,
    allow_unicode: Option<MjValue>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let indent = arg(indent, &kwargs, "indent")?;
    let allow_unicode = arg(allow_unicode, &kwargs, "allow_unicode")?;
    kwargs.assert_all_used()?;
    let indent = match indent {
        None => 2,
        Some(v) => usize::try_from(v.clone())
            .ok()
            .filter(|n| (2..10).contains(n))
            .unwrap_or(2),
    };
    let allow_unicode = allow_unicode.is_none_or(|v| v.is_true());
    Ok(yaml::safe_dump(&to_json(value)?, indent, allow_unicode))
}

/// `json_escape`: `json.dumps(value).strip('"')`.
pub(super) fn json_escape(value: &MjValue) -> Result<String, Error> {
    let dumped = py::dumps(&to_json(value)?, &DumpOptions::default());
    Ok(dumped.trim_matches('"').to_owned())
}

/// `jsonpath_query(value, query)`: every match, or `None` when nothing matches.
pub(super) fn jsonpath_query(value: &MjValue, query: &MjValue) -> Result<MjValue, Error> {
    let query = py_str(query);
    let path = JsonPath::parse(&query)
        .map_err(|e| py_error(format!("invalid jsonpath `{query}`: {e}")))?;
    let matches = path
        .find_all(&to_json(value)?)
        .map_err(|e| py_error(e.to_string()))?;
    if matches.is_empty() {
        Ok(MjValue::from(()))
    } else {
        Ok(from_json(&serde_json::Value::Array(matches)))
    }
}

/// `to_complex`: `json.dumps(value)`.
pub(super) fn to_complex(value: &MjValue) -> Result<String, Error> {
    Ok(py::dumps(&to_json(value)?, &DumpOptions::default()))
}

/// The string `use_none` turns `None` into.
pub(crate) const NONE_MAGIC_VALUE: &str = "%*****__%NONE%__*****%";

/// `use_none`: `None` becomes a magic string (StackStorm turns it back into `None` when
/// casting action parameters).
pub(super) fn use_none(value: MjValue) -> MjValue {
    if value.is_none() {
        MjValue::from(NONE_MAGIC_VALUE)
    } else {
        value
    }
}
