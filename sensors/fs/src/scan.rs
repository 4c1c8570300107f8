//! Observing the file system for a directory watch: a full scan, or the paths notify named.
//! Blocking IO; callers run it on the blocking pool.
//!
//! Directories are followed only when the watch is recursive, and never through symlinks (no
//! loops); a symlink to a file counts as that file. A directory that cannot be read is
//! reported as unreadable, so that its files are not taken for deleted.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::filter::Filter;
use crate::snapshot::{FileState, Observation, Scope};

/// What the watched path is right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootKind {
    Dir,
    File,
    Missing,
}

pub(crate) fn root_kind(root: &Path) -> RootKind {
    match fs::metadata(root) {
        Ok(metadata) if metadata.is_dir() => RootKind::Dir,
        Ok(_) => RootKind::File,
        Err(_) => RootKind::Missing,
    }
}

/// The result of observing a batch of hints.
#[derive(Debug)]
pub(crate) enum Observed {
    /// The watched path does not exist (or cannot be read): nothing can be said.
    RootMissing,
    /// One observation per hint (or one for everything).
    Seen(Vec<Observation>),
}

/// Observes everything (`full`) or the hinted paths. When the watched path is a file, it is
/// the only file, keyed by its name. `file_mode` says the watched path was a file when last
/// seen: then its absence (in a directory that exists) means it was deleted, whereas a
/// missing watched directory says nothing about its files.
pub(crate) fn observe(
    root: &Path,
    filter: &Filter,
    full: bool,
    hints: &[PathBuf],
    file_mode: bool,
) -> Observed {
    match root_kind(root) {
        RootKind::Missing if file_mode && root.parent().is_some_and(Path::is_dir) => {
            Observed::Seen(vec![Observation {
                scope: Scope::All,
                files: BTreeMap::new(),
                unreadable: Vec::new(),
            }])
        }
        RootKind::Missing => Observed::RootMissing,
        RootKind::File => {
            let name = root
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut files = BTreeMap::new();
            match fs::metadata(root) {
                Ok(metadata) if metadata.is_file() && filter.matches(&name) => {
                    files.insert(name, file_state(&metadata));
                }
                _ => {}
            }
            Observed::Seen(vec![Observation {
                scope: Scope::All,
                files,
                unreadable: Vec::new(),
            }])
        }
        RootKind::Dir => {
            let mut observations = Vec::new();
            let mut whole = full;
            if !whole {
                for path in hints {
                    match relative(root, path) {
                        Some(relative) if relative.is_empty() => whole = true,
                        // Outside a non-recursive watch's reach: nothing there is tracked.
                        Some(relative) if filter.recursive() || !relative.contains('/') => {
                            observations.push(observe_path(root, &relative, path, filter));
                        }
                        Some(_) | None => {}
                    }
                    if whole {
                        break;
                    }
                }
            }
            if whole {
                observations = vec![scan_all(root, filter)];
            }
            Observed::Seen(observations)
        }
    }
}

/// Every matching file under `root` (a directory).
pub(crate) fn scan_all(root: &Path, filter: &Filter) -> Observation {
    let mut files = BTreeMap::new();
    let mut unreadable = Vec::new();
    walk(root, "", filter, &mut files, &mut unreadable);
    Observation {
        scope: Scope::All,
        files,
        unreadable,
    }
}

fn observe_path(root: &Path, relative: &str, path: &Path, filter: &Filter) -> Observation {
    let mut files = BTreeMap::new();
    let mut unreadable = Vec::new();
    match fs::symlink_metadata(path) {
        Ok(link) if link.is_dir() => {
            if filter.recursive() {
                walk(root, relative, filter, &mut files, &mut unreadable);
            }
        }
        Ok(_) => match fs::metadata(path) {
            Ok(metadata) if metadata.is_file() => {
                if filter.matches(relative) {
                    files.insert(relative.to_owned(), file_state(&metadata));
                }
            }
            // A symlink to a directory (not followed), a dangling one, or a vanished file.
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(_) => unreadable.push(relative.to_owned()),
        },
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(_) => unreadable.push(relative.to_owned()),
    }
    Observation {
        scope: Scope::Under(relative.to_owned()),
        files,
        unreadable,
    }
}

fn walk(
    root: &Path,
    start: &str,
    filter: &Filter,
    files: &mut BTreeMap<String, FileState>,
    unreadable: &mut Vec<String>,
) {
    let mut stack = vec![start.to_owned()];
    while let Some(directory) = stack.pop() {
        let path = if directory.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&directory)
        };
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(error) if error.kind() == ErrorKind::NotFound => continue,
            Err(_) => {
                unreadable.push(directory);
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else {
                unreadable.push(directory.clone());
                break;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if directory.is_empty() {
                name
            } else {
                format!("{directory}/{name}")
            };
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                if filter.recursive() {
                    stack.push(relative);
                }
                continue;
            }
            match fs::metadata(entry.path()) {
                Ok(metadata) if metadata.is_file() && filter.matches(&relative) => {
                    files.insert(relative, file_state(&metadata));
                }
                _ => {}
            }
        }
    }
}

/// `path` relative to `root`, `/`-separated; `None` when it is not under `root`.
pub(crate) fn relative(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for component in rest.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

pub(crate) fn file_state(metadata: &Metadata) -> FileState {
    FileState {
        size: metadata.len(),
        mtime_ns: metadata.modified().map_or(0, system_time_ns),
    }
}

fn system_time_ns(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |ns| -ns),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn scans_follow_the_filter() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
        for name in ["a.csv", "b.txt", "sub/c.csv", "sub/deeper/d.csv"] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let names = |glob: Option<&str>, recursive: bool| -> Vec<String> {
            let filter = Filter::new(glob, recursive).unwrap();
            scan_all(dir.path(), &filter).files.into_keys().collect()
        };
        assert_eq!(names(None, false), ["a.csv", "b.txt"]);
        assert_eq!(names(Some("*.csv"), false), ["a.csv"]);
        assert_eq!(
            names(Some("**/*.csv"), true),
            ["a.csv", "sub/c.csv", "sub/deeper/d.csv"]
        );
        assert_eq!(names(Some("*.csv"), true), ["a.csv"]);
        let all = scan_all(dir.path(), &Filter::new(None, true).unwrap()).files;
        assert_eq!(all["b.txt"].size, 5);
    }

    #[test]
    fn hints_observe_their_subtree() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/x"), "x").unwrap();
        let filter = Filter::new(None, true).unwrap();
        let Observed::Seen(observations) = observe(
            dir.path(),
            &filter,
            false,
            &[dir.path().join("sub"), dir.path().join("gone")],
            false,
        ) else {
            panic!("the root exists");
        };
        assert_eq!(observations.len(), 2);
        assert_eq!(observations[0].scope, Scope::Under("sub".to_owned()));
        assert_eq!(observations[0].files.keys().collect::<Vec<_>>(), ["sub/x"]);
        assert_eq!(observations[1].scope, Scope::Under("gone".to_owned()));
        assert!(observations[1].files.is_empty());
        assert!(matches!(
            observe(&dir.path().join("nope"), &filter, true, &[], false),
            Observed::RootMissing
        ));
    }

    #[test]
    fn a_file_root_is_keyed_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.csv");
        fs::write(&file, "1,2\n").unwrap();
        let Observed::Seen(observations) =
            observe(&file, &Filter::new(None, false).unwrap(), true, &[], false)
        else {
            panic!("the root exists");
        };
        assert_eq!(
            observations[0].files.keys().collect::<Vec<_>>(),
            ["report.csv"]
        );
    }

    #[test]
    fn relative_paths() {
        let root = Path::new("/data/in");
        assert_eq!(
            relative(root, Path::new("/data/in/a/b")).as_deref(),
            Some("a/b")
        );
        assert_eq!(relative(root, Path::new("/data/in")).as_deref(), Some(""));
        assert_eq!(relative(root, Path::new("/data/other")), None);
    }
}
