//! The runtime: runs one sensor over one connection to the host, from the handshake to the
//! exit.
//!
//! The conversation is handled by three tasks besides the one that owns the sensor: the
//! writer (the only thing that writes to the host, one flushed line per message), the reader
//! (answers requests, queues notices, notices `shutdown` and the end of input), and the
//! heartbeat (every [`RunOptions::heartbeat_interval`], whatever the sensor is doing). The
//! sensor itself runs on the caller's task, so hooks never run concurrently.

mod connection;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use nerve_sensor_protocol::{LogLevel, SensorMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::context::{Link, StopReason};
use crate::{Notices, PassiveSensor, PollingSensor, SensorContext};

/// Knobs of the runtime. The defaults suit production; tests may shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Interval promised in `ready` and kept by the heartbeat task.
    pub heartbeat_interval: Duration,
    /// How long a request (`kv_*`, checked dispatch) waits for its reply.
    pub request_timeout: Duration,
    /// How long a passive sensor's `run` may take to return after the host asked it to stop
    /// before it is cancelled; also bounds the final flush.
    pub shutdown_grace: Duration,
    /// Messages queued for the writer before senders wait.
    pub queue_capacity: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(3),
            queue_capacity: 256,
        }
    }
}

/// How a sensor run ended. [`Exit::code`] is the process exit code to use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// The host sent `shutdown` and `cleanup` ran. Code 0.
    Shutdown,
    /// The host closed the connection (end of stdin, or stdout broke). Code 0.
    HostClosed,
    /// A passive sensor's `run` returned `Ok` on its own. Code 0.
    Finished,
    /// The first line was not a valid `hello`. Code 2.
    BadHandshake {
        /// What was wrong.
        reason: String,
    },
    /// The host speaks another protocol version. Code 2.
    VersionMismatch {
        /// The host's version.
        host: u32,
    },
    /// `setup` failed. Code 1.
    SetupFailed {
        /// The error.
        reason: String,
    },
    /// A passive sensor's `run` failed. Code 1.
    RunFailed {
        /// The error.
        reason: String,
    },
}

impl Exit {
    /// The process exit code: 0 for a normal end, 1 when the sensor failed, 2 for a protocol
    /// problem.
    pub fn code(&self) -> i32 {
        match self {
            Exit::Shutdown | Exit::HostClosed | Exit::Finished => 0,
            Exit::SetupFailed { .. } | Exit::RunFailed { .. } => 1,
            Exit::BadHandshake { .. } | Exit::VersionMismatch { .. } => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(u8::try_from(exit.code()).unwrap_or(1))
    }
}

/// Runs a polling sensor on stdin/stdout.
///
/// Exit the process with [`Exit::code`] right after (`std::process::exit`): tokio reads
/// stdin on a thread that cannot be interrupted, so dropping the runtime normally could wait
/// for one more input line.
pub async fn run_polling<S: PollingSensor>(sensor: S) -> Exit {
    run_polling_with_io(
        sensor,
        tokio::io::stdin(),
        tokio::io::stdout(),
        RunOptions::default(),
    )
    .await
}

/// Runs a passive sensor on stdin/stdout. See [`run_polling`] about exiting.
pub async fn run_passive<S: PassiveSensor>(sensor: S) -> Exit {
    run_passive_with_io(
        sensor,
        tokio::io::stdin(),
        tokio::io::stdout(),
        RunOptions::default(),
    )
    .await
}

/// Runs a polling sensor over any transport: `reader` carries the host's lines, `writer`
/// takes the sensor's.
pub async fn run_polling_with_io<S, R, W>(
    mut sensor: S,
    reader: R,
    writer: W,
    options: RunOptions,
) -> Exit
where
    S: PollingSensor,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut session = match Session::start(reader, writer, &options).await {
        Ok(session) => session,
        Err(exit) => return exit,
    };
    let ending = drive_polling(&mut sensor, &session.ctx, &mut session.notices).await;
    session.finish(ending, &options).await
}

/// Runs a passive sensor over any transport: `reader` carries the host's lines, `writer`
/// takes the sensor's.
pub async fn run_passive_with_io<S, R, W>(
    mut sensor: S,
    reader: R,
    writer: W,
    options: RunOptions,
) -> Exit
where
    S: PassiveSensor,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut session = match Session::start(reader, writer, &options).await {
        Ok(session) => session,
        Err(exit) => return exit,
    };
    let ending = drive_passive(
        &mut sensor,
        &session.ctx,
        &mut session.notices,
        options.shutdown_grace,
    )
    .await;
    session.finish(ending, &options).await
}

/// How the sensor's part ended.
enum Ending {
    Stopped,
    SetupFailed(String),
    RunFailed(String),
}

async fn drive_polling<S: PollingSensor>(
    sensor: &mut S,
    ctx: &SensorContext,
    notices: &mut Notices,
) -> Ending {
    if let Err(error) = sensor.setup(ctx).await {
        return Ending::SetupFailed(error.to_string());
    }
    let every = sensor
        .poll_interval(ctx.poll_interval())
        .max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            notice = notices.recv() => match notice {
                Some(notice) => sensor.handle(ctx, notice).await,
                None => break,
            },
            _ = ticker.tick() => {
                if let Err(error) = sensor.poll(ctx).await {
                    ctx.log(LogLevel::Error, format!("poll failed: {error}")).await;
                }
            }
        }
    }
    sensor.cleanup(ctx).await;
    Ending::Stopped
}

async fn drive_passive<S: PassiveSensor>(
    sensor: &mut S,
    ctx: &SensorContext,
    notices: &mut Notices,
    grace: Duration,
) -> Ending {
    if let Err(error) = sensor.setup(ctx).await {
        return Ending::SetupFailed(error.to_string());
    }
    let stopping = ctx.stopping();
    let result = {
        let run = sensor.run(ctx, notices);
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => result.map_err(|error| error.to_string()),
            () = async {
                stopping.cancelled().await;
                tokio::time::sleep(grace).await;
            } => {
                let message = format!(
                    "run did not return within {grace:?} after the host asked the sensor to stop; cancelled it"
                );
                ctx.log(LogLevel::Warning, message).await;
                Ok(())
            }
        }
    };
    sensor.cleanup(ctx).await;
    match result {
        Ok(()) => Ending::Stopped,
        Err(reason) => Ending::RunFailed(reason),
    }
}

/// One connection after a successful handshake.
struct Session {
    ctx: SensorContext,
    notices: Notices,
    link: Arc<Link>,
    tasks: Vec<JoinHandle<()>>,
}

impl Session {
    async fn start<R, W>(reader: R, writer: W, options: &RunOptions) -> Result<Self, Exit>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        connection::start(reader, writer, options).await
    }

    async fn finish(self, ending: Ending, options: &RunOptions) -> Exit {
        let exit = match ending {
            Ending::SetupFailed(reason) => {
                let message = format!("setup failed: {reason}");
                let _ = self.link.send(SensorMessage::Error { message }).await;
                Exit::SetupFailed { reason }
            }
            Ending::RunFailed(reason) => {
                let message = format!("run failed: {reason}");
                let _ = self.link.send(SensorMessage::Error { message }).await;
                Exit::RunFailed { reason }
            }
            Ending::Stopped => match self.link.stop_reason() {
                Some(StopReason::Shutdown) => Exit::Shutdown,
                Some(StopReason::HostClosed | StopReason::WriteFailed) => Exit::HostClosed,
                None => Exit::Finished,
            },
        };
        let _ = tokio::time::timeout(options.shutdown_grace, self.link.flush()).await;
        drop(self.ctx);
        drop(self.notices);
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
        exit
    }
}
