//! The bridge from notify to the watch tasks: a watcher that sends into a tokio channel, and
//! [`Hints`], the set of paths to look at again that a burst of notify events boils down to.
//!
//! Notify events are only hints here: the watch tasks always look at the file system to find
//! out what changed, so a lost, doubled or reordered event cannot make them report wrongly,
//! and an overflow or error simply asks for a full rescan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// What notify reports.
pub(crate) type NotifyResult = notify::Result<Event>;

/// More hinted paths than this in one batch turn into one full rescan.
const MAX_HINTS: usize = 20_000;

/// Starts a notify watcher on `path` (a directory, recursive or not) sending to `events`.
/// Runs on the blocking pool (adding many recursive watches takes a while).
pub(crate) async fn start(
    path: &Path,
    recursive: bool,
    events: &mpsc::UnboundedSender<NotifyResult>,
) -> notify::Result<RecommendedWatcher> {
    let path = path.to_path_buf();
    let events = events.clone();
    let started = tokio::task::spawn_blocking(move || {
        let mut watcher = notify::recommended_watcher(move |result: NotifyResult| {
            let _ = events.send(result);
        })?;
        let mode = if recursive {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        watcher.watch(&path, mode)?;
        Ok(watcher)
    })
    .await;
    started.unwrap_or_else(|error| Err(notify::Error::generic(&error.to_string())))
}

/// The paths a batch of events asks to look at, or a full rescan.
#[derive(Debug, Default)]
pub(crate) struct Hints {
    /// Look at everything.
    pub(crate) full: bool,
    /// Restart the watcher (the watched path itself was removed, moved or replaced, or the
    /// watcher failed).
    pub(crate) rewatch: bool,
    /// Paths to look at.
    pub(crate) paths: BTreeSet<PathBuf>,
    /// The last watcher error, for the log.
    pub(crate) error: Option<String>,
}

impl Hints {
    pub(crate) fn is_empty(&self) -> bool {
        !self.full && !self.rewatch && self.paths.is_empty()
    }

    /// Adds one notify report. `root` is the watched path: an event on it means it was
    /// removed, moved or replaced.
    pub(crate) fn add(&mut self, result: NotifyResult, root: &Path) {
        let event = match result {
            Ok(event) => event,
            Err(error) => {
                self.full = true;
                self.rewatch = true;
                self.error = Some(error.to_string());
                return;
            }
        };
        if event.need_rescan() {
            self.full = true;
        }
        if is_noise(&event.kind) {
            return;
        }
        for path in event.paths {
            if path == root {
                self.full = true;
                self.rewatch = true;
            } else if !self.full {
                self.paths.insert(path);
            }
        }
        if self.full || self.paths.len() > MAX_HINTS {
            self.full = true;
            self.paths.clear();
        }
    }

    pub(crate) fn take(&mut self) -> Hints {
        std::mem::take(self)
    }
}

/// Events that change nothing: opening, reading and closing without writing (the line
/// watch's own reads would otherwise wake it up again and again).
pub(crate) fn is_noise(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => false,
        EventKind::Access(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, Flag, ModifyKind};

    use super::*;

    #[test]
    fn hints_collect_paths_and_escalate() {
        let root = Path::new("/w");
        let mut hints = Hints::default();
        assert!(hints.is_empty());
        hints.add(
            Ok(Event::new(EventKind::Create(CreateKind::File)).add_path("/w/a".into())),
            root,
        );
        hints.add(
            Ok(
                Event::new(EventKind::Access(AccessKind::Open(AccessMode::Read)))
                    .add_path("/w/b".into()),
            ),
            root,
        );
        hints.add(
            Ok(Event::new(EventKind::Modify(ModifyKind::Any)).add_path("/w/a".into())),
            root,
        );
        assert_eq!(hints.paths.iter().collect::<Vec<_>>(), [Path::new("/w/a")]);
        assert!(!hints.full);

        hints.add(
            Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan)),
            root,
        );
        assert!(hints.full && hints.paths.is_empty() && !hints.rewatch);

        let mut hints = Hints::default();
        hints.add(
            Ok(
                Event::new(EventKind::Remove(notify::event::RemoveKind::Folder))
                    .add_path("/w".into()),
            ),
            root,
        );
        assert!(hints.full && hints.rewatch);
        assert!(hints.take().full);
        assert!(hints.is_empty());
    }
}
