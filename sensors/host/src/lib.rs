//! The sensor host: runs each sensor as one OS process and speaks the sensor protocol with it.
//!
//! **Architecture invariant:** sensor code is untrusted. A sensor that crashes, hangs, floods its
//! output, speaks garbage or another protocol version is an outcome recorded in its
//! [`SensorStatus`] and answered by a restart with capped exponential backoff — forever, never a
//! silent drop — and never touches another sensor or the host.
//!
//! The host knows nothing about packs, rules or the store. Its owner describes the sensors that
//! should run as [`SensorSpec`]s (command, config, the triggers to send) and calls
//! [`SensorHost::reconcile`] whenever that changes; the host starts, stops and restarts processes
//! and sends `add_trigger`/`update_trigger`/`remove_trigger` to running ones. Everything a sensor
//! asks of the platform (dispatch an event, key-value access, the spawn/exit events) goes through
//! the owner's [`HostServices`].

mod lines;
mod services;
mod session;
mod spec;
mod status;
mod supervisor;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use nerve_sensor_protocol::{KvEntry, PROTOCOL_VERSION, TriggerDict};
pub use services::{HostServices, KvOp, ProcessEvent};
pub use spec::{Launch, SensorSpec};
pub use status::{ExitRecord, LogLine, LogSource, SensorState, SensorStatus};

use supervisor::{Command, Supervisor};

/// Timing and limits of the host. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// How long a sensor has to answer `hello` with `ready`.
    pub ready_timeout: Duration,
    /// A sensor that promised heartbeats is hung after this many intervals of silence.
    pub heartbeat_misses: u32,
    /// Restart delay after the second crash in a row (the first restart is immediate); it
    /// doubles with every further crash.
    pub backoff_initial: Duration,
    /// Longest restart delay.
    pub backoff_max: Duration,
    /// A sensor that ran this long before it died restarts after `backoff_initial` again.
    pub healthy_after: Duration,
    /// After `shutdown`, how long the sensor has to exit before SIGTERM.
    pub shutdown_grace: Duration,
    /// After SIGTERM, how long before SIGKILL.
    pub kill_grace: Duration,
    /// Log lines kept per sensor.
    pub log_tail: usize,
    /// Longest protocol line accepted from a sensor (a longer one is skipped and counted).
    pub max_line_bytes: usize,
    /// Dispatches of one sensor being recorded at once (a fuller window stops reading its
    /// stdout, which blocks the sensor: backpressure instead of unbounded memory).
    pub dispatch_window: usize,
    /// Log lines per second forwarded from one sensor to Nerve's own log (all are kept in the
    /// tail; the excess is counted).
    pub log_rate: u32,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            ready_timeout: Duration::from_secs(30),
            heartbeat_misses: 3,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(3),
            kill_grace: Duration::from_secs(3),
            log_tail: 500,
            max_line_bytes: 1024 * 1024,
            dispatch_window: 512,
            log_rate: 50,
        }
    }
}

/// Runs and supervises sensor processes. Cheap to clone.
pub struct SensorHost<S: HostServices> {
    inner: Arc<HostInner<S>>,
}

impl<S: HostServices> Clone for SensorHost<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct HostInner<S> {
    services: Arc<S>,
    config: HostConfig,
    sensors: Mutex<HashMap<String, Running>>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

struct Running {
    spec: SensorSpec,
    commands: mpsc::UnboundedSender<Command>,
    status: Arc<Mutex<SensorStatus>>,
}

impl<S: HostServices> SensorHost<S> {
    /// A host with no sensors; supervisor tasks run on `tasks` and stop when `cancel` fires
    /// (each sensor is asked to shut down first).
    pub fn new(
        services: Arc<S>,
        config: HostConfig,
        cancel: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            inner: Arc::new(HostInner {
                services,
                config,
                sensors: Mutex::new(HashMap::new()),
                cancel,
                tasks,
            }),
        }
    }

    fn sensors(&self) -> MutexGuard<'_, HashMap<String, Running>> {
        self.inner
            .sensors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes the running sensors match `specs`: new ones start, missing ones stop, a changed
    /// command or config restarts that sensor alone, changed triggers are sent to the running
    /// process as `add_trigger`/`update_trigger`/`remove_trigger`.
    pub fn reconcile(&self, specs: Vec<SensorSpec>) {
        let mut sensors = self.sensors();
        let wanted: HashMap<String, SensorSpec> = specs
            .into_iter()
            .map(|spec| (spec.sensor_ref.clone(), spec))
            .collect();
        sensors.retain(|sensor_ref, running| {
            let keep = wanted.contains_key(sensor_ref);
            if !keep {
                let _ = running.commands.send(Command::Stop);
            }
            keep
        });
        for (sensor_ref, spec) in wanted {
            match sensors.get_mut(&sensor_ref) {
                Some(running) if running.spec == spec => {}
                Some(running) => {
                    let command = if running.spec.same_process(&spec) {
                        Command::Update(spec.clone())
                    } else {
                        Command::Replace(spec.clone())
                    };
                    let _ = running.commands.send(command);
                    running.spec = spec;
                }
                None => {
                    let running = self.start(spec);
                    sensors.insert(sensor_ref, running);
                }
            }
        }
    }

    fn start(&self, spec: SensorSpec) -> Running {
        let (commands, receiver) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(SensorStatus::new(&spec)));
        let supervisor = Supervisor {
            services: self.inner.services.clone(),
            config: self.inner.config.clone(),
            status: status.clone(),
            commands: receiver,
            cancel: self.inner.cancel.child_token(),
        };
        let task_spec = spec.clone();
        self.inner.tasks.spawn(supervisor.run(task_spec));
        Running {
            spec,
            commands,
            status,
        }
    }

    /// The status of every sensor, sorted by ref.
    pub fn statuses(&self) -> Vec<SensorStatus> {
        let mut all: Vec<SensorStatus> = self
            .sensors()
            .values()
            .map(|running| status::snapshot(&running.status))
            .collect();
        all.sort_by(|a, b| a.sensor.cmp(&b.sensor));
        all
    }

    /// The status of one sensor.
    pub fn status(&self, sensor_ref: &str) -> Option<SensorStatus> {
        self.sensors()
            .get(sensor_ref)
            .map(|running| status::snapshot(&running.status))
    }

    /// The kept log lines of one sensor, oldest first.
    pub fn logs(&self, sensor_ref: &str) -> Option<Vec<LogLine>> {
        self.sensors()
            .get(sensor_ref)
            .map(|running| status::logs(&running.status))
    }

    /// Restarts one sensor now (also ends a backoff wait). `false` when no such sensor runs.
    pub fn restart(&self, sensor_ref: &str) -> bool {
        self.sensors()
            .get(sensor_ref)
            .is_some_and(|running| running.commands.send(Command::Restart).is_ok())
    }

    /// Stops every sensor (each gets `shutdown`, then SIGTERM, then SIGKILL).
    pub fn stop_all(&self) {
        for (_, running) in self.sensors().drain() {
            let _ = running.commands.send(Command::Stop);
        }
    }
}

#[cfg(test)]
mod tests;

/// The Python sensor wrapper (`sensors/python/nerve_sensor.py`): StackStorm's `Sensor` /
/// `PollingSensor` / `sensor_service` over the protocol. Started as
/// `python3 -u -c <this> --file-path=FILE --class-name=CLASS`.
pub const PYTHON_SENSOR_WRAPPER: &str = include_str!("../../python/nerve_sensor.py");
