//! What a sensor implements: the hooks ([`Sensor`]) and one of the two modes
//! ([`PollingSensor`], [`PassiveSensor`]), plus the [`Notices`] a passive sensor reads.
//!
//! This module does not talk to the host; the runtime calls these hooks.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nerve_sensor_protocol::{LogLevel, TriggerDict};
use tokio::sync::mpsc;

use crate::SensorContext;
use crate::context::Link;

/// The error type hooks return: anything that can be displayed. A hook's error is logged
/// through the host; only [`Sensor::setup`] and [`PassiveSensor::run`] errors end the sensor.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The poll interval when neither the host's `hello` nor [`PollingSensor::poll_interval`] names
/// one (StackStorm's default).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The hooks every sensor has (StackStorm's `Sensor` API). All have defaults that do nothing.
///
/// Hooks run one at a time on the task that owns the sensor and get `&mut self`; they should
/// not block the thread (use `tokio::task::spawn_blocking` for blocking work).
pub trait Sensor: Send + 'static {
    /// Called once after the handshake, before any trigger is delivered.
    ///
    /// # Errors
    /// An error ends the sensor: it sends `error {message}` and exits with code 1.
    fn setup(&mut self, ctx: &SensorContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// A trigger to watch for (`add_trigger`); dispatch its events to `trigger.trigger_ref`.
    ///
    /// # Errors
    /// The error is logged through the host; the sensor keeps running.
    fn add_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = (ctx, trigger);
        async { Ok(()) }
    }

    /// A watched trigger's parameters changed (same id). The default removes and re-adds it.
    ///
    /// # Errors
    /// The error is logged through the host; the sensor keeps running.
    fn update_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        async move {
            self.remove_trigger(ctx, trigger).await?;
            self.add_trigger(ctx, trigger).await
        }
    }

    /// Stop watching a trigger added before.
    ///
    /// # Errors
    /// The error is logged through the host; the sensor keeps running.
    fn remove_trigger(
        &mut self,
        ctx: &SensorContext,
        trigger: &TriggerDict,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = (ctx, trigger);
        async { Ok(()) }
    }

    /// The host refused a dispatch that carried no id (one with an id fails its
    /// [`SensorContext::dispatch_checked`] call instead). The runtime has already counted it
    /// ([`SensorContext::rejected_count`]); the default does nothing more.
    fn rejected(
        &mut self,
        ctx: &SensorContext,
        rejection: &Rejection,
    ) -> impl Future<Output = ()> + Send {
        let _ = (ctx, rejection);
        async {}
    }

    /// Called once before the sensor exits (after `shutdown`, or when the host went away),
    /// after polling or `run` has ended. Save state here; the host still answers requests
    /// after `shutdown` until the sensor exits (not after it went away).
    fn cleanup(&mut self, ctx: &SensorContext) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Hands a notice to the matching hook and logs a hook's error through the host. The
    /// runtime calls this between polls; a passive sensor's `run` calls it for each notice.
    /// You normally do not override it.
    fn handle(&mut self, ctx: &SensorContext, notice: Notice) -> impl Future<Output = ()> + Send {
        async move {
            let (hook, trigger, result) = match &notice {
                Notice::AddTrigger(trigger) => {
                    ("add_trigger", trigger, self.add_trigger(ctx, trigger).await)
                }
                Notice::UpdateTrigger(trigger) => (
                    "update_trigger",
                    trigger,
                    self.update_trigger(ctx, trigger).await,
                ),
                Notice::RemoveTrigger(trigger) => (
                    "remove_trigger",
                    trigger,
                    self.remove_trigger(ctx, trigger).await,
                ),
                Notice::Rejected(rejection) => {
                    self.rejected(ctx, rejection).await;
                    return;
                }
            };
            if let Err(error) = result {
                let message = format!(
                    "{hook} failed for trigger `{}` ({}): {error}",
                    trigger.trigger_ref, trigger.id
                );
                ctx.log(LogLevel::Error, message).await;
            }
        }
    }
}

/// A sensor that is polled (StackStorm's `PollingSensor`).
pub trait PollingSensor: Sensor {
    /// One poll. Runs to completion even when `shutdown` arrives meanwhile.
    ///
    /// # Errors
    /// The error is logged through the host and polling goes on.
    fn poll(&mut self, ctx: &SensorContext) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Time between the starts of two polls (the first poll is right after `setup`).
    /// `from_host` is the `hello`'s `poll_interval`; the default uses it, or
    /// [`DEFAULT_POLL_INTERVAL`]. Intervals under a millisecond count as one millisecond.
    fn poll_interval(&self, from_host: Option<Duration>) -> Duration {
        from_host.unwrap_or(DEFAULT_POLL_INTERVAL)
    }
}

/// A sensor that runs on its own (StackStorm's `Sensor` with a `run` loop).
pub trait PassiveSensor: Sensor {
    /// Runs until the host asks the sensor to stop, which ends `notices` (`recv` gives
    /// `None`); then return promptly. Hand every notice to [`Sensor::handle`] (or handle it
    /// yourself). The default only does that, for sensors whose work lives in tasks.
    ///
    /// Returning `Ok` before `shutdown` ends the sensor (exit code 0, and the host restarts
    /// it).
    ///
    /// # Errors
    /// An error ends the sensor: it is sent as `error {message}` and the process exits with
    /// code 1 (after `cleanup`).
    fn run(
        &mut self,
        ctx: &SensorContext,
        notices: &mut Notices,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        async move {
            while let Some(notice) = notices.recv().await {
                self.handle(ctx, notice).await;
            }
            Ok(())
        }
    }
}

/// Something the host told a running sensor.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notice {
    /// `add_trigger`.
    AddTrigger(TriggerDict),
    /// `update_trigger`.
    UpdateTrigger(TriggerDict),
    /// `remove_trigger`.
    RemoveTrigger(TriggerDict),
    /// `rejected` for a dispatch without an id.
    Rejected(Rejection),
}

/// A dispatch the host refused; the event was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The trigger ref the sensor dispatched to.
    pub trigger: String,
    /// Why the host refused it.
    pub reason: String,
}

/// The host's notices to a running sensor, in the order the host sent them. Ends (`None`)
/// when the host sends `shutdown` or closes the connection.
#[derive(Debug)]
pub struct Notices {
    rx: mpsc::UnboundedReceiver<Notice>,
    link: Arc<Link>,
}

impl Notices {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Notice>, link: Arc<Link>) -> Self {
        Self { rx, link }
    }

    /// The next notice, or `None` once the sensor should stop (also when the connection
    /// broke while the host's input is still open). Cancel-safe.
    pub async fn recv(&mut self) -> Option<Notice> {
        let notice = tokio::select! {
            biased;
            notice = self.rx.recv() => notice?,
            () = self.link.closed.cancelled() => return None,
        };
        if matches!(notice, Notice::Rejected(_)) {
            self.link.queued_rejections.fetch_sub(1, Ordering::Relaxed);
        }
        Some(notice)
    }
}
