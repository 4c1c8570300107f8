//! `basename` and `dirname` (`expressions/functions/path.py`): Python's `posixpath`.

use minijinja::Error;
use minijinja::value::Value as MjValue;

use super::require_text;

/// `os.path.basename`: everything after the last `/`.
pub(super) fn basename(path: &MjValue) -> Result<String, Error> {
    let path = require_text(path, "basename")?;
    Ok(match path.rfind('/') {
        Some(i) => path[i + 1..].to_owned(),
        None => path,
    })
}

/// `os.path.dirname`: everything before the last `/`, trailing slashes removed unless the
/// result is all slashes.
pub(super) fn dirname(path: &MjValue) -> Result<String, Error> {
    let path = require_text(path, "dirname")?;
    let head = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        Ok(head.trim_end_matches('/').to_owned())
    } else {
        Ok(head.to_owned())
    }
}
