//! The content hash of a pack directory: what nodes compare with the server to know they run
//! the same version of a pack.
//!
//! SHA-256 over every regular file under the pack (relative path, length, bytes), in path order.
//! Skipped, because they are made by running the pack rather than part of it: hidden entries
//! (`.git`, editor files), `__pycache__`, `*.pyc` and the pack's virtualenv (`virtualenv/`).
//! Symlinks are hashed as their target path, never followed (a link must not pull outside
//! files into the hash, or into a copy of the pack).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[cfg(test)]
mod tests;

/// The hex SHA-256 content hash of the pack at `dir`.
///
/// # Errors
/// A file or directory that cannot be read.
pub fn content_hash(dir: &Path) -> io::Result<String> {
    let mut files = Vec::new();
    collect(dir, Path::new(""), &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for relative in files {
        let path = dir.join(&relative);
        let name = relative.to_string_lossy().replace('\\', "/");
        let metadata = fs::symlink_metadata(&path)?;
        let bytes = if metadata.file_type().is_symlink() {
            let target = fs::read_link(&path)?;
            format!("symlink:{}", target.display()).into_bytes()
        } else {
            fs::read(&path)?
        };
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let digest = hasher.finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// The files of the pack at `dir` that its content hash covers, relative to it, sorted.
///
/// # Errors
/// A directory that cannot be read.
pub fn pack_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    collect(dir, Path::new(""), &mut files)?;
    files.sort();
    Ok(files)
}

/// The hex SHA-256 of the bytes of `files`, in the order given (not their paths, so a copy of
/// the pack elsewhere has the same revision); a file that cannot be read (a built-in sensor's
/// entry point names no file) counts as its path.
pub(crate) fn files_hash(files: &[&Path]) -> String {
    let mut hasher = Sha256::new();
    for file in files {
        let bytes =
            fs::read(file).unwrap_or_else(|_| file.to_string_lossy().into_owned().into_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let digest = hasher.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn skipped(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__" || name == "virtualenv" || name.ends_with(".pyc")
}

fn collect(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name_str) = name.to_str() else {
            continue;
        };
        if skipped(name_str) {
            continue;
        }
        let path = relative.join(&name);
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            collect(root, &path, files)?;
        } else if file_type.is_file() || file_type.is_symlink() {
            files.push(path);
        }
    }
    Ok(())
}
