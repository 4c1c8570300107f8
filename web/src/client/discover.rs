//! Finding the local server: `<data_dir>/server.json` (`{"url": ...}`, written by the server
//! once it listens) and `<data_dir>/admin.token`.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::auth::ADMIN_TOKEN_FILE;

/// The name of the server description file in the data directory.
pub const SERVER_INFO_FILE: &str = "server.json";

/// What `server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Base URL of the API, e.g. `http://127.0.0.1:9101`.
    pub url: String,
}

/// The local server's URL and admin token, when `data_dir` has both.
pub fn discover(data_dir: &Path) -> Option<(String, String)> {
    let info: ServerInfo =
        serde_json::from_slice(&std::fs::read(data_dir.join(SERVER_INFO_FILE)).ok()?).ok()?;
    let token = std::fs::read_to_string(data_dir.join(ADMIN_TOKEN_FILE)).ok()?;
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    Some((info.url, token.to_owned()))
}

/// Writes `<data_dir>/server.json` for [`discover`] (atomically: a temporary file, then rename).
///
/// # Errors
///
/// IO errors creating or writing the file.
pub fn write_server_info(data_dir: &Path, url: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let bytes = serde_json::to_vec_pretty(&ServerInfo {
        url: url.to_owned(),
    })
    .map_err(std::io::Error::other)?;
    let path = data_dir.join(SERVER_INFO_FILE);
    let temporary = data_dir.join(format!("{SERVER_INFO_FILE}.tmp"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)
}

/// Removes `<data_dir>/server.json` (at shutdown); a missing file is fine.
///
/// # Errors
///
/// IO errors other than the file being absent.
pub fn remove_server_info(data_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(data_dir.join(SERVER_INFO_FILE)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}
