//! The one spawning wrapper: every child process Nerve starts for an action goes through
//! [`run_process`].
//!
//! It owns the child's whole lifecycle: a cleared environment plus exactly what the caller passes,
//! its own process group (so signals reach grandchildren), stdout and stderr read line by line as
//! they are written and forwarded to a sink while a capped copy is kept, stdin fed from memory,
//! and the stop sequence on timeout or cancellation: SIGTERM to the group, a grace period, then
//! SIGKILL to the group.
//! If the future is dropped half-way, the group is SIGKILLed as well.
//!
//! It deliberately knows nothing about actions, parameters or result shapes; the runners do.

mod capture;
mod interactive;

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use capture::{Captured, OutputLimits};
use capture::{ReaderStop, read_stream};
pub use interactive::{Interactive, Pipes, spawn_interactive};

/// How long to keep waiting for new output after the process is gone (or SIGKILLed) before
/// giving up on descendants that still hold the pipes open. What is already in the pipes is
/// always read.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);

/// How long a sink that does not keep up is waited for once the process is gone; after that,
/// the remaining lines are dropped from the stream (they stay in the captured output).
const SINK_PATIENCE: Duration = Duration::from_secs(10);

/// How long to wait for the kernel to report a SIGKILLed process as exited before leaving the
/// reaping to tokio (a process stuck in uninterruptible sleep cannot die sooner).
const REAP_AFTER_KILL: Duration = Duration::from_secs(5);

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Spawn {
    /// The program: a path, or a bare name looked up in the `PATH` given in [`Spawn::env`].
    pub program: PathBuf,
    /// Arguments, each passed as one argv element (never through a shell).
    pub args: Vec<OsString>,
    /// Working directory; must exist.
    pub cwd: PathBuf,
    /// The complete environment: nothing is inherited from Nerve, so pass `PATH`, `HOME`, `LANG`
    /// explicitly if the child should see them.
    pub env: Vec<(OsString, OsString)>,
    /// Bytes written to the child's stdin, which is then closed; `None` gives `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Wall-clock limit from spawn; `None` for none.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when stopping the process group.
    pub grace: Duration,
    /// Caps on what is kept of the output.
    pub limits: OutputLimits,
}

impl Spawn {
    /// A spawn of `program` in `cwd` with no arguments, an empty environment, no stdin, no
    /// timeout, a 5 s grace period and the default output limits.
    pub fn new(program: impl Into<PathBuf>, cwd: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            stdin: None,
            timeout: None,
            grace: Duration::from_secs(5),
            limits: OutputLimits::default(),
        }
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of output, sent to the sink as soon as it is read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputLine {
    /// Where it came from.
    pub stream: Stream,
    /// The text without its line terminator, decoded as UTF-8 with invalid bytes replaced.
    /// A line longer than [`OutputLimits::max_line_bytes`] arrives as several `OutputLine`s.
    pub line: String,
}

/// Why the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited (or was killed by someone else) on its own.
    Exited,
    /// Nerve stopped it because [`Spawn::timeout`] elapsed.
    TimedOut,
    /// Nerve stopped it because the cancellation token fired.
    Canceled,
}

/// How the process terminated, as reported by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `exit(code)`.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

impl Exit {
    /// The exit code, or minus the signal number (Python's `returncode` convention, which
    /// StackStorm results use).
    pub fn return_code(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(signal) => -signal,
        }
    }

    fn from_status(status: ExitStatus) -> Option<Self> {
        status
            .code()
            .map(Exit::Code)
            .or_else(|| status.signal().map(Exit::Signal))
    }
}

/// What happened to a process that was started.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The process id (also the process group id).
    pub pid: u32,
    /// Why it ended.
    pub ending: Ending,
    /// How it terminated; `None` only if it could not be reaped after SIGKILL (stuck in the
    /// kernel), in which case tokio reaps it later.
    pub exit: Option<Exit>,
    /// What was kept of stdout.
    pub stdout: Captured,
    /// What was kept of stderr.
    pub stderr: Captured,
    /// Time from spawn to the end of output collection.
    pub elapsed: Duration,
}

/// Why a process could not be started. Anything that happens after the start is a [`Finished`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The working directory is missing or not a directory.
    #[error("working directory `{cwd}` does not exist or is not a directory")]
    Cwd {
        /// The directory.
        cwd: PathBuf,
    },
    /// The program does not exist (or a bare name is not on the child's `PATH`).
    #[error("program `{program}` not found")]
    NotFound {
        /// The program.
        program: PathBuf,
    },
    /// The program exists but may not be executed.
    #[error("program `{program}` is not executable (permission denied)")]
    PermissionDenied {
        /// The program.
        program: PathBuf,
    },
    /// An argument or environment entry contains a NUL byte (or an environment name has `=`).
    #[error("invalid argument or environment entry for `{program}`: {detail}")]
    InvalidInput {
        /// The program.
        program: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// Any other failure of `fork`/`exec`.
    #[error("failed to start `{program}`")]
    Io {
        /// The program.
        program: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Runs one process to completion and returns what happened to it.
///
/// Output lines are sent to `sink` as they are read; a full sink slows the reading (and so the
/// child) down, a closed sink is ignored. Every line reaches the sink; only the copy kept in
/// [`Finished`] is capped, so consumers that persist lines should cap what they keep.
///
/// # Errors
/// Only when the process cannot be started; see [`SpawnError`].
pub async fn run_process(
    spawn: Spawn,
    sink: &mpsc::Sender<OutputLine>,
    cancel: &CancellationToken,
) -> Result<Finished, SpawnError> {
    check_input(&spawn)?;
    // A plain `stat`, not `tokio::fs`: that hands the call to the blocking pool, and the hop cost
    // more than the call itself on every execution.
    if !std::fs::metadata(&spawn.cwd).is_ok_and(|meta| meta.is_dir()) {
        return Err(SpawnError::Cwd { cwd: spawn.cwd });
    }

    // The single place in Nerve where a child process is created; see the crate docs.
    #[allow(clippy::disallowed_methods)]
    let mut command = tokio::process::Command::new(&spawn.program);
    command
        .args(&spawn.args)
        .current_dir(&spawn.cwd)
        .env_clear()
        .envs(spawn.env.iter().map(|(name, value)| (name, value)))
        .stdin(if spawn.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);

    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|source| spawn_error(&spawn.program, source))?;
    let Some(pid) = child.id() else {
        // `id()` is only `None` after the child was reaped, which cannot have happened yet.
        return Err(SpawnError::Io {
            program: spawn.program,
            source: io::Error::other("the child has no process id right after spawn"),
        });
    };
    let mut group = GroupGuard::new(pid);

    let stop_reading = ReaderStop::default();
    let mut readers = Readers::default();
    if let Some(stdout) = child.stdout.take() {
        readers.add(tokio::spawn(read_stream(
            stdout,
            Stream::Stdout,
            sink.clone(),
            spawn.limits,
            stop_reading.clone(),
        )));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.add(tokio::spawn(read_stream(
            stderr,
            Stream::Stderr,
            sink.clone(),
            spawn.limits,
            stop_reading.clone(),
        )));
    }
    let writer = match (child.stdin.take(), spawn.stdin) {
        (Some(mut stdin), Some(bytes)) => Some(tokio::spawn(async move {
            // A child that exits without reading its input makes this fail with EPIPE; that is
            // its business, not an error of ours.
            let _ = stdin.write_all(&bytes).await;
            let _ = stdin.shutdown().await;
        })),
        _ => None,
    };

    let deadline = spawn.timeout.map(|timeout| started + timeout);
    let first = tokio::select! {
        status = child.wait() => Some(status),
        () = sleep_until(deadline) => None,
        () = cancel.cancelled() => None,
    };
    let (ending, status) = match first {
        Some(status) => (Ending::Exited, status.ok()),
        None => {
            let ending = if cancel.is_cancelled() {
                Ending::Canceled
            } else {
                Ending::TimedOut
            };
            let status = stop_group(&mut child, &group, &mut readers, spawn.grace).await;
            (ending, status)
        }
    };

    // The leader is gone. Descendants that kept a pipe open get a short drain period; after
    // that we take what is in the pipes and stop reading (they get EPIPE on their next write).
    if tokio::time::timeout(DRAIN_AFTER_EXIT, readers.wait_all())
        .await
        .is_err()
    {
        stop_reading.soft.cancel();
        if tokio::time::timeout(SINK_PATIENCE, readers.wait_all())
            .await
            .is_err()
        {
            stop_reading.hard.cancel();
            readers.wait_all().await;
        }
    }
    if let Some(writer) = writer {
        writer.abort();
    }
    let mut captured = readers.into_captured();
    let stderr = captured.pop().unwrap_or_default();
    let stdout = captured.pop().unwrap_or_default();
    // After a normal exit, processes the action deliberately left running in the background
    // (with their output redirected) are left alone, as StackStorm does.
    group.disarm();

    Ok(Finished {
        pid,
        ending,
        exit: status.and_then(Exit::from_status),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    })
}

/// SIGTERM to the group; wait up to `grace` for the leader to exit and the pipes to close; then
/// SIGKILL to the group (whoever is left) and reap the leader.
async fn stop_group(
    child: &mut tokio::process::Child,
    group: &GroupGuard,
    readers: &mut Readers,
    grace: Duration,
) -> Option<ExitStatus> {
    group.signal(Signal::SIGTERM);
    let mut status = None;
    let _ = tokio::time::timeout(grace, async {
        status = child.wait().await.ok();
        readers.wait_all().await;
    })
    .await;
    // Unconditionally: a descendant that ignores SIGTERM and closed its output is still alive.
    group.signal(Signal::SIGKILL);
    if status.is_none() {
        status = tokio::time::timeout(REAP_AFTER_KILL, child.wait())
            .await
            .ok()
            .and_then(Result::ok);
    }
    status
}

/// The stdout and stderr reader tasks, in that order.
#[derive(Default)]
struct Readers {
    handles: Vec<JoinHandle<Captured>>,
    results: Vec<Option<Captured>>,
}

impl Readers {
    fn add(&mut self, handle: JoinHandle<Captured>) {
        self.handles.push(handle);
        self.results.push(None);
    }

    /// Waits until every reader has finished. Cancel-safe: a reader's result is stored as soon
    /// as it is available and its handle is never polled again.
    async fn wait_all(&mut self) {
        for (handle, result) in self.handles.iter_mut().zip(&mut self.results) {
            if result.is_none() {
                // A reader panicking would be a bug of ours; keep going with nothing captured.
                *result = Some(handle.await.unwrap_or_default());
            }
        }
    }

    fn into_captured(self) -> Vec<Captured> {
        self.results
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect()
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

fn check_input(spawn: &Spawn) -> Result<(), SpawnError> {
    let invalid = |detail: String| SpawnError::InvalidInput {
        program: spawn.program.clone(),
        detail,
    };
    let has_nul = |text: &std::ffi::OsStr| text.as_encoded_bytes().contains(&0);
    if has_nul(spawn.program.as_os_str()) {
        return Err(invalid("the program path contains a NUL byte".into()));
    }
    if let Some(index) = spawn.args.iter().position(|arg| has_nul(arg)) {
        return Err(invalid(format!("argument {index} contains a NUL byte")));
    }
    for (name, value) in &spawn.env {
        let bytes = name.as_encoded_bytes();
        if bytes.is_empty() || bytes.contains(&b'=') || bytes.contains(&0) {
            return Err(invalid(format!(
                "environment variable name `{}` is empty or contains `=` or NUL",
                name.to_string_lossy()
            )));
        }
        if has_nul(value) {
            return Err(invalid(format!(
                "environment variable `{}` contains a NUL byte",
                name.to_string_lossy()
            )));
        }
    }
    Ok(())
}

fn spawn_error(program: &std::path::Path, source: io::Error) -> SpawnError {
    let program = program.to_path_buf();
    match source.kind() {
        io::ErrorKind::NotFound => SpawnError::NotFound { program },
        io::ErrorKind::PermissionDenied => SpawnError::PermissionDenied { program },
        _ => SpawnError::Io { program, source },
    }
}

/// Signals the child's process group; SIGKILLs it on drop unless disarmed, so a dropped
/// [`run_process`] future never leaves the group running.
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    fn new(pid: u32) -> Self {
        Self {
            pgid: i32::try_from(pid).ok().map(Pid::from_raw),
        }
    }

    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            // ESRCH (the group is already gone) is the expected, good case.
            let _ = killpg(pgid, signal);
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests;
