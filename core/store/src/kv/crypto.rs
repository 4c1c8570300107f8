//! Encryption at rest for secret key-value pairs: XChaCha20-Poly1305 under a 32-byte key kept in
//! `<data_dir>/keys/datastore.key` (64 hex digits; file mode 0600, directory 0700).
//!
//! The key is created on the first open of a store. The `meta` tree keeps a key check (a fixed
//! text encrypted under the key), so that opening an existing store with the key file missing or
//! replaced is a clear error instead of secrets that silently fail to decrypt. Each secret is
//! encrypted with a fresh random 24-byte nonce and authenticated together with its scope and name,
//! so a ciphertext copied to another key does not decrypt either.

use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::table::Table;
use crate::{Result, StoreError};

const KEY_FILE: &str = "datastore.key";
const KEY_CHECK: &[u8] = b"kv_key_check";
const KEY_CHECK_TEXT: &[u8] = b"nerve datastore key check";
const PREFIX: &str = "xc20p1:";
const NONCE_LEN: usize = 24;

/// The datastore cipher.
pub(crate) struct SecretCipher {
    cipher: XChaCha20Poly1305,
}

impl SecretCipher {
    /// Loads `<keys_dir>/datastore.key`, or creates it when this store has never had one.
    pub(crate) fn open(keys_dir: &Path, meta: &Table) -> Result<Self> {
        let key_path = keys_dir.join(KEY_FILE);
        let check = meta.get_raw(KEY_CHECK)?;
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => {
                warn_if_readable_by_others(&key_path);
                parse_key(&text).ok_or_else(|| StoreError::MalformedKey {
                    path: key_path.clone(),
                })?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if check.is_some() {
                    return Err(StoreError::MissingKey { path: key_path });
                }
                create_key_file(keys_dir, &key_path)?
            }
            Err(source) => {
                return Err(StoreError::KeyFile {
                    path: key_path,
                    source,
                });
            }
        };
        let cipher = Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
        };
        match check {
            Some(check) => {
                let text = std::str::from_utf8(&check).ok();
                if text
                    .and_then(|text| cipher.decrypt(KEY_CHECK, text))
                    .as_deref()
                    != Some(KEY_CHECK_TEXT)
                {
                    return Err(StoreError::WrongKey { path: key_path });
                }
            }
            None => {
                let sealed = cipher.encrypt(KEY_CHECK, KEY_CHECK_TEXT)?;
                meta.insert_raw(KEY_CHECK, sealed.into_bytes())?;
            }
        }
        Ok(cipher)
    }

    /// Seals `plaintext`, bound to `aad`: `xc20p1:` + hex(nonce ‖ ciphertext ‖ tag).
    pub(crate) fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<String> {
        let mut nonce = [0_u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| StoreError::Random)?;
        let nonce = XNonce::from(nonce);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Only fails for messages beyond the cipher's length limit (256 GiB).
            .map_err(|_| StoreError::Random)?;
        let mut text = String::with_capacity(PREFIX.len() + 2 * (NONCE_LEN + sealed.len()));
        text.push_str(PREFIX);
        push_hex(&mut text, &nonce);
        push_hex(&mut text, &sealed);
        Ok(text)
    }

    /// Opens what [`SecretCipher::encrypt`] sealed with the same `aad`; `None` when it does not
    /// authenticate or is not in that format.
    pub(crate) fn decrypt(&self, aad: &[u8], text: &str) -> Option<Vec<u8>> {
        let bytes = parse_hex(text.strip_prefix(PREFIX)?)?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad })
            .ok()
    }
}

fn create_key_file(keys_dir: &Path, key_path: &Path) -> Result<[u8; 32]> {
    let key_error = |source| StoreError::KeyFile {
        path: key_path.to_path_buf(),
        source,
    };
    create_private_dir(keys_dir).map_err(|source| StoreError::DataDir {
        path: keys_dir.to_path_buf(),
        source,
    })?;
    let mut key = [0_u8; 32];
    getrandom::fill(&mut key).map_err(|_| StoreError::Random)?;
    let mut text = String::with_capacity(65);
    push_hex(&mut text, &key);
    text.push('\n');
    let temp: PathBuf = keys_dir.join(format!("{KEY_FILE}.tmp"));
    let mut file = private_file_options().open(&temp).map_err(key_error)?;
    file.write_all(text.as_bytes()).map_err(key_error)?;
    file.sync_all().map_err(key_error)?;
    drop(file);
    std::fs::rename(&temp, key_path).map_err(key_error)?;
    std::fs::File::open(keys_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(key_error)?;
    tracing::info!(path = %key_path.display(), "Created the datastore encryption key.");
    Ok(key)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file_options() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true).mode(0o600);
    options
}

#[cfg(not(unix))]
fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    options
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "The datastore key file is readable by other users; it should be mode 600.");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    parse_hex(text.trim())?.try_into().ok()
}

fn push_hex(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let mut text = String::new();
        push_hex(&mut text, &[0, 1, 0xab, 0xff]);
        assert_eq!(text, "0001abff");
        assert_eq!(parse_hex(&text), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex("zz"), None);
    }

    #[test]
    fn ciphertexts_are_bound_to_their_name() {
        let cipher = SecretCipher {
            cipher: XChaCha20Poly1305::new(&[7_u8; 32].into()),
        };
        let sealed = cipher.encrypt(b"system\0a", b"hunter2").unwrap();
        assert_eq!(
            cipher.decrypt(b"system\0a", &sealed).as_deref(),
            Some(&b"hunter2"[..])
        );
        assert_eq!(cipher.decrypt(b"system\0b", &sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(cipher.decrypt(b"system\0a", &tampered), None);
        // Fresh nonce each time.
        assert_ne!(sealed, cipher.encrypt(b"system\0a", b"hunter2").unwrap());
    }
}
