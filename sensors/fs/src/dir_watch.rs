//! The task behind one `fs.file_watch` trigger: load the saved snapshot, watch with notify,
//! turn what changed on disk into `created`/`modified`/`deleted` events, save the snapshot.
//!
//! The snapshot is the single source of truth: notify events only say where to look, and an
//! event is dispatched when what is on disk differs from the snapshot. The snapshot takes the
//! change at once; if the host does not confirm the event (no reply, connection lost) the
//! change is taken back and found again by a rescan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use nerve_sensor_sdk::{LogLevel, RequestError, SensorContext, TriggerDict};
use notify::RecommendedWatcher;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::control::{StopMode, Timing, sleep_until};
use crate::filter::Filter;
use crate::params::FileWatchSpec;
use crate::scan::{Observed, RootKind, observe, root_kind};
use crate::snapshot::{Change, FileState, Observation, Snapshot, diff};
use crate::state::{SnapshotMeta, SnapshotStore};
use crate::watcher::{self, Hints, NotifyResult};

/// Which changes of a reconciliation are taken silently, without an event.
enum Baseline {
    /// None: every change is an event.
    None,
    /// All: a new watch takes what is there as its starting point.
    All,
    /// Files the filter that was in force before (this one) did not match, and so were
    /// never reported: taken as the starting point when the filter changed.
    NewlyMatching(Filter),
}

/// Runs the watch until `stop` says otherwise.
pub(crate) async fn run(
    ctx: SensorContext,
    trigger: TriggerDict,
    spec: FileWatchSpec,
    filter: Filter,
    timing: Timing,
    mut stop: watch::Receiver<StopMode>,
) {
    let (events, mut notify_events) = mpsc::unbounded_channel();
    let mut watch = DirWatch {
        store: SnapshotStore::new(ctx.clone(), &trigger.id),
        ctx,
        trigger_ref: trigger.trigger_ref,
        spec,
        filter: Arc::new(filter),
        timing,
        snapshot: Snapshot::new(1),
        saved_once: false,
        file_mode: false,
        watcher: None,
        watched: None,
        events,
        persist_at: None,
        last_persist: Instant::now(),
        retry_at: None,
        missing_logged: false,
    };

    let loaded = loop {
        let loaded = tokio::select! {
            loaded = watch.store.load() => loaded,
            _ = stop.changed() => return,
        };
        match loaded {
            Ok(loaded) => break loaded,
            Err(error) => {
                let message = format!("cannot read the saved state ({error}); retrying");
                watch.log(LogLevel::Warning, &message).await;
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(watch.timing.retry_every) => {}
                }
            }
        }
    };
    watch.start(loaded).await;

    let mut hints = Hints::default();
    let mut flush_at = None;
    loop {
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() != StopMode::Running {
                    break;
                }
            }
            Some(result) = notify_events.recv() => {
                let watched = watch.watched_dir();
                hints.add(result, &watched);
                while let Ok(result) = notify_events.try_recv() {
                    hints.add(result, &watched);
                }
                if !hints.is_empty() && flush_at.is_none() {
                    flush_at = Some(Instant::now() + watch.timing.debounce);
                }
            }
            () = sleep_until(flush_at) => {
                flush_at = None;
                watch.process(hints.take()).await;
            }
            () = sleep_until(watch.retry_at) => {
                watch.retry_at = None;
                watch.process(Hints { full: true, rewatch: true, ..Hints::default() }).await;
            }
            () = sleep_until(watch.persist_at) => watch.persist().await,
        }
    }

    if *stop.borrow() == StopMode::Discard {
        return;
    }
    // Stopping for good or for a restart: handle what notify already said, then save.
    let watched = watch.watched_dir();
    while let Ok(result) = notify_events.try_recv() {
        hints.add(result, &watched);
    }
    if !hints.is_empty() {
        watch.process(hints.take()).await;
    }
    watch.watcher = None;
    if watch.snapshot.is_dirty() || !watch.saved_once {
        watch.persist().await;
    }
}

struct DirWatch {
    ctx: SensorContext,
    trigger_ref: String,
    spec: FileWatchSpec,
    filter: Arc<Filter>,
    timing: Timing,
    store: SnapshotStore,
    snapshot: Snapshot,
    /// Whether the snapshot was saved since the watch started (a new watch saves at once).
    saved_once: bool,
    /// Whether the watched path was a file when last seen.
    file_mode: bool,
    watcher: Option<RecommendedWatcher>,
    /// The directory the watcher watches (the path, or a watched file's directory).
    watched: Option<PathBuf>,
    events: mpsc::UnboundedSender<NotifyResult>,
    persist_at: Option<Instant>,
    last_persist: Instant,
    retry_at: Option<Instant>,
    missing_logged: bool,
}

impl DirWatch {
    fn root(&self) -> &Path {
        &self.spec.path
    }

    fn watched_dir(&self) -> PathBuf {
        self.watched
            .clone()
            .unwrap_or_else(|| self.spec.path.clone())
    }

    async fn log(&self, level: LogLevel, message: &str) {
        let path = self.spec.path.display();
        self.ctx
            .log(level, format!("file watch of `{path}`: {message}"))
            .await;
    }

    /// Takes up the saved snapshot (if it is of this path), starts watching, and reconciles.
    async fn start(&mut self, loaded: Option<(SnapshotMeta, Snapshot)>) {
        let root = self.spec.path.to_string_lossy().into_owned();
        let baseline = match loaded {
            Some((meta, mut snapshot)) if meta.path == root => {
                let same_filter =
                    meta.glob == self.spec.glob && meta.recursive == self.spec.recursive;
                self.saved_once = true;
                if same_filter {
                    self.snapshot = snapshot;
                    Baseline::None
                } else {
                    let excluded: Vec<String> = snapshot
                        .iter()
                        .filter(|(relative, _)| !self.filter.matches(relative))
                        .map(|(relative, _)| relative.to_owned())
                        .collect();
                    for relative in excluded {
                        snapshot.set(&relative, None);
                    }
                    self.snapshot = snapshot;
                    match Filter::new(meta.glob.as_deref(), meta.recursive) {
                        Ok(old) => Baseline::NewlyMatching(old),
                        Err(_) => Baseline::All,
                    }
                }
            }
            _ => Baseline::All,
        };
        if let Some(name) = self.spec.path.file_name() {
            let name = name.to_string_lossy();
            self.file_mode = self.snapshot.len() == 1 && self.snapshot.get(&name).is_some();
        }
        self.rewatch().await;
        let full = Hints {
            full: true,
            ..Hints::default()
        };
        match self.observe(full).await {
            Some(Observed::Seen(observations)) => self.apply(observations, &baseline).await,
            Some(Observed::RootMissing) => self.root_missing().await,
            None => {}
        }
        if !self.saved_once {
            self.persist().await;
        }
        if !self.missing_logged {
            let message = format!("watching; {} matching file(s) now", self.snapshot.len());
            self.log(LogLevel::Info, &message).await;
        }
    }

    /// Looks where the hints say and reports what changed.
    async fn process(&mut self, hints: Hints) {
        if let Some(error) = &hints.error {
            let message = format!("watcher error ({error}); rescanning");
            self.log(LogLevel::Warning, &message).await;
        }
        if hints.rewatch || self.watcher.is_none() {
            self.rewatch().await;
        }
        match self.observe(hints).await {
            Some(Observed::Seen(observations)) => {
                if self.missing_logged {
                    self.missing_logged = false;
                    self.log(LogLevel::Info, "the path exists now; watching")
                        .await;
                }
                self.apply(observations, &Baseline::None).await;
            }
            Some(Observed::RootMissing) => self.root_missing().await,
            None => {}
        }
    }

    /// Runs the observation on the blocking pool; `None` (logged, retried) if that failed.
    async fn observe(&mut self, hints: Hints) -> Option<Observed> {
        let root = self.spec.path.clone();
        let filter = self.filter.clone();
        let file_mode = self.file_mode;
        let paths: Vec<PathBuf> = hints.paths.into_iter().collect();
        let full = hints.full;
        let observed = tokio::task::spawn_blocking(move || {
            let kind = root_kind(&root);
            (kind, observe(&root, &filter, full, &paths, file_mode))
        })
        .await;
        match observed {
            Ok((kind, observed)) => {
                match kind {
                    RootKind::File => self.file_mode = true,
                    RootKind::Dir => self.file_mode = false,
                    RootKind::Missing => {}
                }
                Some(observed)
            }
            Err(error) => {
                let message = format!("scanning failed ({error}); retrying");
                self.log(LogLevel::Error, &message).await;
                self.retry_soon();
                None
            }
        }
    }

    /// (Re)starts the notify watcher: on the path when it is a directory, on its directory
    /// when it is a file. Without a watcher, the path is rescanned every retry interval.
    async fn rewatch(&mut self) {
        self.watcher = None;
        self.watched = None;
        let root = self.root().to_path_buf();
        let (target, recursive) = match root_kind(&root) {
            RootKind::Dir => (root, self.spec.recursive),
            RootKind::File => match root.parent() {
                Some(parent) => (parent.to_path_buf(), false),
                None => (root, false),
            },
            RootKind::Missing => {
                self.retry_soon();
                return;
            }
        };
        match watcher::start(&target, recursive, &self.events).await {
            Ok(watcher) => {
                self.watcher = Some(watcher);
                self.watched = Some(target);
            }
            Err(error) => {
                let retry = self.timing.retry_every;
                let message = format!(
                    "cannot watch `{}` ({error}); rescanning every {retry:?} instead",
                    target.display()
                );
                self.log(LogLevel::Warning, &message).await;
                self.retry_soon();
            }
        }
    }

    async fn root_missing(&mut self) {
        self.watcher = None;
        self.watched = None;
        if !self.missing_logged {
            self.missing_logged = true;
            let retry = self.timing.retry_every;
            let message = format!("the path does not exist (yet); looking again every {retry:?}");
            self.log(LogLevel::Warning, &message).await;
        }
        self.retry_soon();
    }

    fn retry_soon(&mut self) {
        if self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + self.timing.retry_every);
        }
    }

    /// Takes the observed changes into the snapshot and dispatches their events; changes
    /// whose events the host did not confirm are taken back (and found again by a rescan).
    async fn apply(&mut self, observations: Vec<Observation>, baseline: &Baseline) {
        let mut reported = Vec::new();
        for observation in &observations {
            for change in diff(&self.snapshot, observation) {
                self.snapshot.set(&change.relative, change.after);
                let silent = match baseline {
                    Baseline::None => false,
                    Baseline::All => true,
                    Baseline::NewlyMatching(old) => {
                        change.before.is_none() && !old.matches(&change.relative)
                    }
                };
                if !silent && self.spec.events.contains(change.event()) {
                    reported.push(change);
                }
            }
        }
        if !reported.is_empty() {
            let payloads: Vec<Value> = reported.iter().map(|change| self.payload(change)).collect();
            let results = self
                .ctx
                .dispatch_checked_all(&self.trigger_ref, payloads)
                .await;
            let mut unconfirmed = 0;
            let mut last_error = None;
            for (change, result) in reported.iter().zip(results).rev() {
                match result {
                    Ok(_) | Err(RequestError::Rejected { .. }) => {}
                    Err(error) => {
                        self.snapshot.set(&change.relative, change.before);
                        unconfirmed += 1;
                        last_error = Some(error);
                    }
                }
            }
            if let Some(error) = last_error {
                if !self.ctx.is_stopping() {
                    let message = format!(
                        "{unconfirmed} event(s) not confirmed by the host ({error}); they will be reported again"
                    );
                    self.log(LogLevel::Warning, &message).await;
                }
                self.retry_soon();
            }
        }
        self.schedule_persist();
    }

    fn payload(&self, change: &Change) -> Value {
        let base = if self.file_mode {
            self.root().parent().unwrap_or(self.root())
        } else {
            self.root()
        };
        let path = base.join(&change.relative);
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let directory = path
            .parent()
            .map(|parent| parent.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (size, mtime) = match change.after {
            Some(FileState { size, mtime_ns }) => (json!(size), json!(rfc3339(mtime_ns))),
            None => (Value::Null, Value::Null),
        };
        json!({
            "path": path.to_string_lossy(),
            "name": name,
            "directory": directory,
            "event": change.event().as_str(),
            "size": size,
            "mtime": mtime,
        })
    }

    fn schedule_persist(&mut self) {
        if self.snapshot.is_dirty() && self.persist_at.is_none() {
            let at = (self.last_persist + self.timing.persist_every).max(Instant::now());
            self.persist_at = Some(at);
        }
    }

    async fn persist(&mut self) {
        self.persist_at = None;
        match self.store.save(&mut self.snapshot, &self.spec).await {
            Ok(()) => {
                self.saved_once = true;
                self.last_persist = Instant::now();
            }
            Err(error) => {
                if !matches!(error, RequestError::Disconnected) {
                    let message = format!("cannot save the state ({error}); retrying");
                    self.log(LogLevel::Warning, &message).await;
                    self.persist_at = Some(Instant::now() + self.timing.retry_every);
                }
            }
        }
    }
}

fn rfc3339(mtime_ns: i64) -> Option<String> {
    let seconds = mtime_ns.div_euclid(1_000_000_000);
    let nanos = u32::try_from(mtime_ns.rem_euclid(1_000_000_000)).ok()?;
    DateTime::<Utc>::from_timestamp(seconds, nanos)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mtimes_are_rfc3339() {
        assert_eq!(
            super::rfc3339(1_700_000_000_123_000_000).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(super::rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
    }
}
