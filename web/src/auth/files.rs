//! Credential files: created with mode 0600, replaced atomically (write a temporary file, then
//! rename), and tightened back to 0600 if someone loosened them.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::{AuthError, random_hex};

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> AuthError + '_ {
    move |source| AuthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the admin token at `path`, or creates it with a new random token. Creation uses
/// `create_new`, so two processes starting at once agree on one token.
pub(super) fn load_or_create_token(path: &Path) -> Result<String, AuthError> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let token = random_hex()?;
            file.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io_error(path))?;
            tracing::info!(path = %path.display(), "Created the admin token.");
            Ok(token)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_token(path),
        Err(error) => Err(io_error(path)(error)),
    }
}

fn read_token(path: &Path) -> Result<String, AuthError> {
    tighten(path)?;
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let token = text.trim();
    if token.len() != 64 || !token.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(AuthError::MalformedToken {
            path: path.to_path_buf(),
        });
    }
    Ok(token.to_ascii_lowercase())
}

/// Sets mode 0600 on a credential file readable by others.
pub(super) fn tighten(path: &Path) -> Result<(), AuthError> {
    let metadata = std::fs::metadata(path).map_err(io_error(path))?;
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "Credential file was readable by others; setting mode 0600.");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io_error(path))?;
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically, mode 0600.
pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)))
        .and_then(|()| std::fs::rename(&temporary, path));
    result.map_err(io_error(path))
}
