//! [`FileWatchSensor`]: the SDK hooks. Each trigger gets a task of its own (a directory watch
//! or a line watch); the hooks start and stop those tasks and delete a removed trigger's
//! saved state.

use std::collections::HashMap;

use nerve_sensor_sdk::{BoxError, LogLevel, PassiveSensor, Sensor, SensorContext, TriggerDict};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control::{StopMode, Timing};
use crate::params::WatchSpec;
use crate::state::{CursorStore, SnapshotStore};
use crate::{dir_watch, line_watch};

/// The `fs` pack's `FileWatchSensor`: serves `fs.file_watch` and `fs.file_watch.line`
/// triggers. A passive sensor; run it with [`nerve_sensor_sdk::run_passive`] (or through
/// [`crate::run_file_watch_sensor`]).
#[derive(Debug, Default)]
pub struct FileWatchSensor {
    watches: HashMap<String, Watch>,
    timing: Timing,
}

#[derive(Debug)]
struct Watch {
    spec: WatchSpec,
    stop: watch::Sender<StopMode>,
    task: JoinHandle<()>,
}

impl FileWatchSensor {
    /// A sensor watching nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn start(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
        spec: WatchSpec,
    ) -> Result<(), BoxError> {
        let (stop, stopped) = watch::channel(StopMode::Running);
        let task = match &spec {
            WatchSpec::Files(files) => {
                let filter = files.filter()?;
                tokio::spawn(dir_watch::run(
                    ctx.clone(),
                    trigger.clone(),
                    files.clone(),
                    filter,
                    self.timing,
                    stopped,
                ))
            }
            WatchSpec::Lines(lines) => tokio::spawn(line_watch::run(
                ctx.clone(),
                trigger.clone(),
                lines.clone(),
                self.timing,
                stopped,
            )),
        };
        self.watches
            .insert(trigger.id.clone(), Watch { spec, stop, task });
        Ok(())
    }

    /// Stops a trigger's task and waits for it (it saves its state first when `mode` is
    /// [`StopMode::Keep`]).
    async fn stop(
        ctx: &SensorContext,
        trigger_id: &str,
        watch: Watch,
        mode: StopMode,
    ) -> WatchSpec {
        let _ = watch.stop.send(mode);
        if let Err(error) = watch.task.await {
            if error.is_panic() {
                let message = format!("the watch of trigger `{trigger_id}` crashed: {error}");
                ctx.log(LogLevel::Error, message).await;
            }
        }
        watch.spec
    }

    async fn delete_state(
        ctx: &SensorContext,
        trigger_id: &str,
        spec: &WatchSpec,
    ) -> Result<(), BoxError> {
        match spec {
            WatchSpec::Files(_) => SnapshotStore::delete(ctx, trigger_id).await?,
            WatchSpec::Lines(_) => CursorStore::delete(ctx, trigger_id).await?,
        }
        Ok(())
    }
}

impl Sensor for FileWatchSensor {
    async fn add_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        let spec = WatchSpec::parse(trigger)?;
        if let Some(old) = self.watches.remove(&trigger.id) {
            // Added twice (the host re-sent it): the same trigger id, so the same state.
            Self::stop(ctx, &trigger.id, old, StopMode::Keep).await;
        }
        self.start(ctx, trigger, spec)
    }

    async fn update_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        let spec = WatchSpec::parse(trigger);
        let keep = match (&spec, self.watches.get(&trigger.id)) {
            (Ok(new), Some(old)) => old.spec.same_target(new),
            _ => false,
        };
        if let Some(old) = self.watches.remove(&trigger.id) {
            let mode = if keep {
                StopMode::Keep
            } else {
                StopMode::Discard
            };
            let old_spec = Self::stop(ctx, &trigger.id, old, mode).await;
            if !keep {
                Self::delete_state(ctx, &trigger.id, &old_spec).await?;
            }
        }
        self.start(ctx, trigger, spec?)
    }

    async fn remove_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> Result<(), BoxError> {
        let spec = match self.watches.remove(&trigger.id) {
            Some(old) => Self::stop(ctx, &trigger.id, old, StopMode::Discard).await,
            None => WatchSpec::parse(trigger)?,
        };
        Self::delete_state(ctx, &trigger.id, &spec).await
    }

    async fn cleanup(&mut self, ctx: &SensorContext) {
        // Tell every task at once, then wait for each to save its state.
        for watch in self.watches.values() {
            let _ = watch.stop.send(StopMode::Keep);
        }
        for (trigger_id, watch) in self.watches.drain() {
            Self::stop(ctx, &trigger_id, watch, StopMode::Keep).await;
        }
    }
}

impl PassiveSensor for FileWatchSensor {}
