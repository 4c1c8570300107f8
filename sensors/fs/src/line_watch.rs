//! The task behind one `fs.file_watch.line` trigger: follow a file from the saved cursor,
//! dispatch each complete line, move the cursor past the lines the host confirmed, save it.
//!
//! The file's directory is watched with notify (so that rotation is seen too), and the file
//! is also checked every retry interval without being woken, for writes notify cannot see.

use std::path::PathBuf;
use std::sync::Arc;

use nerve_sensor_sdk::{LogLevel, RequestError, SensorContext, TriggerDict};
use notify::RecommendedWatcher;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::control::{StopMode, Timing, sleep_until};
use crate::params::LineWatchSpec;
use crate::state::CursorStore;
use crate::tail::{Cursor, Step, SwitchReason, Tail};
use crate::watcher::{self, NotifyResult, is_noise};

/// Most steps of one check, so that a stop request is not kept waiting by a huge backlog.
const MAX_STEPS_PER_CHECK: usize = 100;

/// Runs the watch until `stop` says otherwise.
pub(crate) async fn run(
    ctx: SensorContext,
    trigger: TriggerDict,
    spec: LineWatchSpec,
    timing: Timing,
    mut stop: watch::Receiver<StopMode>,
) {
    let (events, mut notify_events) = mpsc::unbounded_channel();
    let store = CursorStore::new(ctx.clone(), &trigger.id);
    let file_name = spec
        .file_path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut watch = LineWatch {
        tail: Some(Tail::new(spec.file_path.clone())),
        ctx,
        trigger_ref: trigger.trigger_ref,
        file_path: Arc::new(spec.file_path),
        file_name,
        timing,
        store,
        cursor: Cursor::start(None),
        dirty: false,
        watcher: None,
        events,
        persist_at: None,
        last_persist: Instant::now(),
        last_error: None,
    };

    let loaded = loop {
        let loaded = tokio::select! {
            loaded = watch.store.load() => loaded,
            _ = stop.changed() => return,
        };
        match loaded {
            Ok(loaded) => break loaded,
            Err(error) => {
                let message = format!("cannot read the saved cursor ({error}); retrying");
                watch.log(LogLevel::Warning, &message).await;
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(timing.retry_every) => {}
                }
            }
        }
    };
    match loaded {
        Some(cursor) => watch.cursor = cursor,
        None => {
            let path = watch.file_path.clone();
            let start = tokio::task::spawn_blocking(move || Cursor::at_end(&path)).await;
            watch.cursor = match start {
                Ok(Ok(cursor)) => cursor,
                _ => Cursor::start(None),
            };
            watch.dirty = true;
            watch.persist().await;
        }
    }
    watch.rewatch().await;
    watch.check().await;
    let message = format!("following from byte {}", watch.cursor.offset);
    watch.log(LogLevel::Info, &message).await;

    let mut ticker = tokio::time::interval(timing.retry_every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
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
                let mut relevant = watch.relevant(result);
                while let Ok(result) = notify_events.try_recv() {
                    relevant |= watch.relevant(result);
                }
                if relevant && flush_at.is_none() {
                    flush_at = Some(Instant::now() + timing.debounce);
                }
            }
            () = sleep_until(flush_at) => {
                flush_at = None;
                watch.check().await;
            }
            _ = ticker.tick() => {
                if watch.watcher.is_none() {
                    watch.rewatch().await;
                }
                watch.check().await;
            }
            () = sleep_until(watch.persist_at) => watch.persist().await,
        }
    }

    if *stop.borrow() == StopMode::Discard {
        return;
    }
    watch.watcher = None;
    watch.check().await;
    if watch.dirty {
        watch.persist().await;
    }
}

struct LineWatch {
    ctx: SensorContext,
    trigger_ref: String,
    file_path: Arc<PathBuf>,
    file_name: String,
    timing: Timing,
    store: CursorStore,
    /// Taken while a step runs on the blocking pool.
    tail: Option<Tail>,
    cursor: Cursor,
    dirty: bool,
    watcher: Option<RecommendedWatcher>,
    events: mpsc::UnboundedSender<NotifyResult>,
    persist_at: Option<Instant>,
    last_persist: Instant,
    /// The last read error logged, so that a lasting one is logged once.
    last_error: Option<String>,
}

impl LineWatch {
    async fn log(&self, level: LogLevel, message: &str) {
        let path = self.file_path.display();
        self.ctx
            .log(level, format!("line watch of `{path}`: {message}"))
            .await;
    }

    /// Whether a notify report concerns the file (or needs a look anyway). A report on the
    /// directory itself, or an error, restarts the watcher.
    fn relevant(&mut self, result: NotifyResult) -> bool {
        let event = match result {
            Ok(event) => event,
            Err(_) => {
                self.watcher = None;
                return true;
            }
        };
        if event.need_rescan() {
            return true;
        }
        if is_noise(&event.kind) {
            return false;
        }
        let directory = self.file_path.parent();
        let mut relevant = false;
        for path in &event.paths {
            if Some(path.as_path()) == directory {
                self.watcher = None;
                relevant = true;
            }
            relevant |= path == self.file_path.as_ref();
        }
        relevant
    }

    async fn rewatch(&mut self) {
        self.watcher = None;
        let Some(directory) = self.file_path.parent() else {
            return;
        };
        if !directory.is_dir() {
            return;
        }
        match watcher::start(directory, false, &self.events).await {
            Ok(watcher) => self.watcher = Some(watcher),
            Err(error) => {
                let retry = self.timing.retry_every;
                let message = format!(
                    "cannot watch the directory ({error}); checking every {retry:?} instead"
                );
                self.note_error(message).await;
            }
        }
    }

    /// Reads what is new and dispatches it, until there is nothing more (or enough for now).
    async fn check(&mut self) {
        for _ in 0..MAX_STEPS_PER_CHECK {
            let mut tail = self
                .tail
                .take()
                .unwrap_or_else(|| Tail::new(self.file_path.as_ref().clone()));
            let cursor = self.cursor.clone();
            let stepped = tokio::task::spawn_blocking(move || {
                let step = tail.step(&cursor);
                (tail, step)
            })
            .await;
            let step = match stepped {
                Ok((tail, step)) => {
                    self.tail = Some(tail);
                    step
                }
                Err(error) => {
                    self.note_error(format!("reading failed ({error})")).await;
                    break;
                }
            };
            match step {
                Ok(Step::Idle) => {
                    self.last_error = None;
                    break;
                }
                Ok(Step::Switch(cursor, reason)) => {
                    let message = match reason {
                        SwitchReason::Appeared => "the file appeared; reading it from the start",
                        SwitchReason::Rotated => {
                            "the file was rotated; reading the new one from the start"
                        }
                        SwitchReason::Truncated => {
                            "the file was truncated; reading it from the start"
                        }
                        SwitchReason::Lost => {
                            "the followed file is gone; reading the new one from the start (lines written to the old one since the last read may be missed)"
                        }
                    };
                    self.log(LogLevel::Info, message).await;
                    self.cursor = cursor;
                    self.dirty = true;
                }
                Ok(Step::Lines(lines)) => {
                    let payloads: Vec<Value> = lines
                        .iter()
                        .map(|line| {
                            json!({
                                "file_path": self.file_path.to_string_lossy(),
                                "file_name": self.file_name,
                                "line": line.text,
                            })
                        })
                        .collect();
                    let results = self
                        .ctx
                        .dispatch_checked_all(&self.trigger_ref, payloads)
                        .await;
                    let mut failure = None;
                    for (line, result) in lines.iter().zip(results) {
                        match result {
                            Ok(_) | Err(RequestError::Rejected { .. }) => {
                                self.cursor = self.cursor.after(line);
                                self.dirty = true;
                            }
                            Err(error) => {
                                failure = Some(error);
                                break;
                            }
                        }
                    }
                    if let Some(error) = failure {
                        if !self.ctx.is_stopping() {
                            let message = format!(
                                "lines not confirmed by the host ({error}); they will be sent again"
                            );
                            self.log(LogLevel::Warning, &message).await;
                        }
                        break;
                    }
                }
                Err(error) => {
                    self.note_error(format!("reading failed ({error}); retrying"))
                        .await;
                    break;
                }
            }
        }
        self.schedule_persist();
    }

    async fn note_error(&mut self, message: String) {
        if self.last_error.as_deref() != Some(message.as_str()) {
            self.log(LogLevel::Warning, &message).await;
            self.last_error = Some(message);
        }
    }

    fn schedule_persist(&mut self) {
        if self.dirty && self.persist_at.is_none() {
            let at = (self.last_persist + self.timing.persist_every).max(Instant::now());
            self.persist_at = Some(at);
        }
    }

    async fn persist(&mut self) {
        self.persist_at = None;
        match self.store.save(&self.cursor).await {
            Ok(()) => {
                self.dirty = false;
                self.last_persist = Instant::now();
            }
            Err(error) => {
                if !matches!(error, RequestError::Disconnected) {
                    let message = format!("cannot save the cursor ({error}); retrying");
                    self.log(LogLevel::Warning, &message).await;
                    self.persist_at = Some(Instant::now() + self.timing.retry_every);
                }
            }
        }
    }
}
