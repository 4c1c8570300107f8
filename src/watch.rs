//! Watching pack directories for edits, for `nerve pack install DIR --watch` and `nerve up --dev
//! DIR`: notify's events, filtered (editor swap files, `.git`, `__pycache__`, the pack's
//! virtualenv) and debounced, so one save (or a burst of them) is one reload.
//!
//! It only says which pack changed; reloading is the caller's, through the one install path
//! (`Platform::register_pack`), so a watched reload registers exactly what an install would.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// How long the tree must be quiet before a reload: editors write a file in several steps
/// (truncate, write, rename), and a reload of a half-written file would report a false error.
const QUIET: Duration = Duration::from_millis(40);

/// The longest a reload waits for the tree to be quiet.
const MAX_WAIT: Duration = Duration::from_millis(300);

/// Watches pack directories; dropping it stops watching.
pub(crate) struct PackWatcher {
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl PackWatcher {
    /// Starts watching `dirs` (recursively).
    ///
    /// # Errors
    /// A directory that does not exist or cannot be watched.
    pub(crate) fn new(dirs: &[PathBuf]) -> anyhow::Result<Self> {
        let (sender, events) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
                let Ok(event) = result else { return };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                for path in event.paths {
                    let _ = sender.send(path);
                }
            })
            .context("failed to start watching files")?;
        let mut canonical = Vec::new();
        for dir in dirs {
            let dir = dir
                .canonicalize()
                .with_context(|| format!("failed to resolve `{}`", dir.display()))?;
            watcher
                .watch(&dir, RecursiveMode::Recursive)
                .with_context(|| format!("failed to watch `{}`", dir.display()))?;
            canonical.push(dir);
        }
        Ok(Self {
            _watcher: watcher,
            events,
            dirs: canonical,
        })
    }

    /// The watched directories (canonical).
    pub(crate) fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Waits for the next burst of relevant changes and returns the watched directories they
    /// touched; `None` when watching ended.
    pub(crate) async fn changed(&mut self) -> Option<BTreeSet<PathBuf>> {
        let mut touched = BTreeSet::new();
        loop {
            let path = self.events.recv().await?;
            if let Some(dir) = self.owner(&path) {
                touched.insert(dir);
                break;
            }
        }
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let quiet = tokio::time::Instant::now() + QUIET;
            match tokio::time::timeout_at(quiet.min(deadline), self.events.recv()).await {
                Ok(Some(path)) => {
                    if let Some(dir) = self.owner(&path) {
                        touched.insert(dir);
                    }
                    if tokio::time::Instant::now() >= deadline {
                        break;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        Some(touched)
    }

    /// The watched directory `path` belongs to, if the change matters.
    fn owner(&self, path: &Path) -> Option<PathBuf> {
        let dir = self.dirs.iter().find(|dir| path.starts_with(dir))?;
        let relative = path.strip_prefix(dir).ok()?;
        relevant(relative).then(|| dir.clone())
    }
}

/// Whether a change at `relative` (inside a pack) can change what the pack registers or runs.
fn relevant(relative: &Path) -> bool {
    relative.components().all(|component| match component {
        Component::Normal(name) => {
            let name = name.to_string_lossy();
            !(name.starts_with('.')
                || name == "__pycache__"
                || name == "virtualenv"
                || name.ends_with(".pyc")
                || name.ends_with('~')
                || name.ends_with(".swp")
                || name.ends_with(".swx")
                // Vim's write test file.
                || name == "4913")
        }
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_and_runtime_files_are_not_changes() {
        for ignored in [
            ".git/index",
            "actions/.say.sh.swp",
            "actions/say.sh~",
            "sensors/__pycache__/s.cpython-311.pyc",
            "virtualenv/bin/python",
            "4913",
        ] {
            assert!(!relevant(Path::new(ignored)), "{ignored}");
        }
        for watched in ["pack.yaml", "actions/say.sh", "rules/r.yaml", ""] {
            assert!(relevant(Path::new(watched)), "{watched}");
        }
    }

    #[tokio::test]
    async fn a_burst_of_writes_is_one_change_of_its_pack() {
        let root = tempfile::tempdir().unwrap();
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        std::fs::create_dir_all(a.join("actions")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let mut watcher = PackWatcher::new(&[a.clone(), b.clone()]).unwrap();
        for n in 0..5 {
            std::fs::write(a.join("actions/say.sh"), format!("echo {n}\n")).unwrap();
        }
        let changed = tokio::time::timeout(Duration::from_secs(10), watcher.changed())
            .await
            .expect("a change is seen")
            .expect("still watching");
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            [a.canonicalize().unwrap()]
        );
        // Hidden files do not wake it; the next real change does, and names its pack.
        std::fs::write(b.join(".notes.swp"), "x").unwrap();
        std::fs::write(b.join("pack.yaml"), "name: b\n").unwrap();
        let changed = tokio::time::timeout(Duration::from_secs(10), watcher.changed())
            .await
            .expect("a change is seen")
            .expect("still watching");
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            [b.canonicalize().unwrap()]
        );
    }
}
