//! Long-running children that Nerve talks to over their pipes (sensor processes): the same
//! start-up rules as [`run_process`](super::run_process) — cleared environment, own process
//! group, `kill_on_drop`, group SIGKILL when dropped — but the caller owns stdin, stdout and
//! stderr and decides when the process should stop.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};

use super::{Exit, GroupGuard, REAP_AFTER_KILL, Spawn, SpawnError, check_input, spawn_error};

/// A running child with piped stdin, stdout and stderr. Dropping it SIGKILLs its group.
pub struct Interactive {
    /// The process id (also the process group id).
    pub pid: u32,
    child: Child,
    group: GroupGuard,
}

/// The pipes of an [`Interactive`] child, taken once.
pub struct Pipes {
    /// The child's stdin.
    pub stdin: ChildStdin,
    /// The child's stdout.
    pub stdout: ChildStdout,
    /// The child's stderr.
    pub stderr: ChildStderr,
}

/// Starts `spawn` with all three standard streams piped. `spawn.stdin`, `spawn.timeout` and
/// `spawn.limits` are not used: the caller reads and writes the pipes itself.
///
/// # Errors
/// The process cannot be started; see [`SpawnError`].
pub async fn spawn_interactive(spawn: &Spawn) -> Result<(Interactive, Pipes), SpawnError> {
    check_input(spawn)?;
    if !tokio::fs::metadata(&spawn.cwd)
        .await
        .is_ok_and(|meta| meta.is_dir())
    {
        return Err(SpawnError::Cwd {
            cwd: spawn.cwd.clone(),
        });
    }
    // The second and last place where Nerve creates a child process; see the crate docs.
    #[allow(clippy::disallowed_methods)]
    let mut command = tokio::process::Command::new(&spawn.program);
    command
        .args(&spawn.args)
        .current_dir(&spawn.cwd)
        .env_clear()
        .envs(spawn.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|source| spawn_error(&spawn.program, source))?;
    let (Some(pid), Some(stdin), Some(stdout), Some(stderr)) = (
        child.id(),
        child.stdin.take(),
        child.stdout.take(),
        child.stderr.take(),
    ) else {
        return Err(SpawnError::Io {
            program: spawn.program.clone(),
            source: std::io::Error::other("the child has no pid or pipes right after spawn"),
        });
    };
    let group = GroupGuard::new(pid);
    Ok((
        Interactive { pid, child, group },
        Pipes {
            stdin,
            stdout,
            stderr,
        },
    ))
}

impl Interactive {
    /// Waits for the leader to exit on its own. Cancel-safe.
    pub async fn wait(&mut self) -> Option<Exit> {
        let status = self.child.wait().await.ok()?;
        Exit::from_status(status)
    }

    /// Stops the process: SIGTERM to the group, up to `grace` for the leader to exit, then
    /// SIGKILL to the group (whoever is left) and reap the leader.
    pub async fn stop(&mut self, grace: Duration) -> Option<Exit> {
        self.group.signal(Signal::SIGTERM);
        let mut status = tokio::time::timeout(grace, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok);
        self.group.signal(Signal::SIGKILL);
        if status.is_none() {
            status = tokio::time::timeout(REAP_AFTER_KILL, self.child.wait())
                .await
                .ok()
                .and_then(Result::ok);
        }
        status.and_then(Exit::from_status)
    }

    /// SIGKILLs whatever is left of the group (descendants of a leader that already exited).
    pub fn kill_group(&self) {
        self.group.signal(Signal::SIGKILL);
    }
}
