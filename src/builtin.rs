//! The built-in packs (`packs/` in the repository), embedded in the binary so `nerve` works from
//! any directory. They are written out to a directory before loading, because the pack loader
//! (like StackStorm's) reads packs from disk and action entry points are real files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use include_dir::{Dir, include_dir};

static BUILTIN_PACKS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/packs");

/// Names of the built-in packs, sorted.
pub(crate) fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = BUILTIN_PACKS
        .dirs()
        .filter_map(|dir| dir.path().file_name()?.to_str())
        .collect();
    names.sort_unstable();
    names
}

/// Writes every built-in pack under `target/<pack>/` and returns their directories.
/// Files starting with `#!` are made executable.
///
/// # Errors
/// The target directory cannot be written.
pub(crate) fn extract(target: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for name in names() {
        let Some(dir) = BUILTIN_PACKS.get_dir(name) else {
            continue;
        };
        write_dir(dir, target)?;
        dirs.push(target.join(name));
    }
    Ok(dirs)
}

fn write_dir(dir: &Dir<'_>, target: &Path) -> anyhow::Result<()> {
    let path = target.join(dir.path());
    fs::create_dir_all(&path).with_context(|| format!("failed to create `{}`", path.display()))?;
    for file in dir.files() {
        let path = target.join(file.path());
        fs::write(&path, file.contents())
            .with_context(|| format!("failed to write `{}`", path.display()))?;
        if file.contents().starts_with(b"#!") {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("failed to make `{}` executable", path.display()))?;
        }
    }
    for sub in dir.dirs() {
        write_dir(sub, target)?;
    }
    Ok(())
}
