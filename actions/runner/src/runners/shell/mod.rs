//! `local-shell-cmd` and `local-shell-script`: a command line through the shell, or a script with
//! its parameters as arguments; both with StackStorm's shell result
//! `{succeeded, failed, return_code, stdout, stderr[, error]}`.
//!
//! The command of `local-shell-cmd` runs as `<shell> -c <cmd>` (`/bin/sh` by default, which is
//! what StackStorm's `subprocess(..., shell=True)` runs). Scripts are executed directly with their
//! arguments as argv elements; a script without the executable bit is started the way the kernel
//! would (its `#!` line) or, without one, by the shell. Nerve never changes the file's mode.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::args::script_args;
use super::env::{action_env, working_dir};
use super::{Params, exit_reason, seconds};
use crate::process::{Ending, Exit, Finished, Spawn, run_process};
use crate::{OutputLine, RunOutcome, RunRequest, RunStatus};

/// StackStorm's default timeout for the local runners, in seconds.
const DEFAULT_TIMEOUT_SECONDS: f64 = 60.0;

/// `local-shell-cmd`.
pub(crate) async fn run_command(
    request: &RunRequest,
    sink: &mpsc::Sender<OutputLine>,
    cancel: &CancellationToken,
) -> RunOutcome {
    let params = Params::new(&request.parameters);
    let Some(cmd) = params.string("cmd") else {
        return error_outcome("parameter `cmd` is required for runner `local-shell-cmd`".into());
    };
    let command = vec![
        request.shell.clone().into_os_string(),
        "-c".into(),
        cmd.into(),
    ];
    run_shell(request, &params, command, sink, cancel).await
}

/// `local-shell-script`.
pub(crate) async fn run_script(
    request: &RunRequest,
    entry_point: &Path,
    sink: &mpsc::Sender<OutputLine>,
    cancel: &CancellationToken,
) -> RunOutcome {
    let params = Params::new(&request.parameters);
    let mut command = match script_command(entry_point, &request.shell).await {
        Ok(command) => command,
        Err(reason) => return error_outcome(reason),
    };
    let kwarg_op = params.string("kwarg_op").unwrap_or("--");
    command.extend(
        script_args(
            &request.action.parameters,
            &request.runner.runner_parameters,
            &request.parameters,
            kwarg_op,
        )
        .into_iter()
        .map(OsString::from),
    );
    run_shell(request, &params, command, sink, cancel).await
}

/// How to start the script: directly if executable, else through its `#!` interpreter, else
/// through the shell.
async fn script_command(entry_point: &Path, shell: &Path) -> Result<Vec<OsString>, String> {
    use std::os::unix::fs::PermissionsExt;

    let script = entry_point.as_os_str().to_owned();
    let metadata = tokio::fs::metadata(entry_point).await.map_err(|error| {
        format!(
            "entry point `{}` is not readable: {error}",
            entry_point.display()
        )
    })?;
    if !metadata.is_file() {
        return Err(format!(
            "entry point `{}` is not a file",
            entry_point.display()
        ));
    }
    if metadata.permissions().mode() & 0o111 != 0 {
        return Ok(vec![script]);
    }
    let mut head = Vec::with_capacity(256);
    if let Ok(file) = tokio::fs::File::open(entry_point).await {
        let _ = file.take(256).read_to_end(&mut head).await;
    }
    Ok(match shebang(&head) {
        Some((interpreter, argument)) => {
            let mut command = vec![interpreter];
            command.extend(argument);
            command.push(script);
            command
        }
        None => vec![shell.as_os_str().to_owned(), script],
    })
}

/// The interpreter and optional single argument of a `#!` line, split as Linux does.
pub(crate) fn shebang(head: &[u8]) -> Option<(OsString, Option<OsString>)> {
    use std::os::unix::ffi::OsStrExt;

    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let line = line.trim_ascii();
    let split = line.iter().position(|b| b.is_ascii_whitespace());
    let (interpreter, argument) = match split {
        Some(at) => (&line[..at], Some(line[at..].trim_ascii())),
        None => (line, None),
    };
    if interpreter.is_empty() {
        return None;
    }
    let argument = argument
        .filter(|argument| !argument.is_empty())
        .map(|argument| std::ffi::OsStr::from_bytes(argument).to_owned());
    Some((
        std::ffi::OsStr::from_bytes(interpreter).to_owned(),
        argument,
    ))
}

/// Runs `command` (program first), under sudo if asked, and shapes the result.
async fn run_shell(
    request: &RunRequest,
    params: &Params<'_>,
    mut command: Vec<OsString>,
    sink: &mpsc::Sender<OutputLine>,
    cancel: &CancellationToken,
) -> RunOutcome {
    let sudo_password = params.string("sudo_password").filter(|p| !p.is_empty());
    let mut stdin = None;
    if params.bool("sudo", false) {
        // StackStorm: `sudo -E [-S] -- bash -c '<cmd>'`; here the argv is kept as it is.
        let mut sudo: Vec<OsString> = vec!["sudo".into(), "-E".into()];
        if let Some(password) = sudo_password {
            sudo.push("-S".into());
            stdin = Some(format!("{password}\n").into_bytes());
        }
        sudo.push("--".into());
        sudo.append(&mut command);
        command = sudo;
    }
    let timeout = params.timeout("timeout", request, DEFAULT_TIMEOUT_SECONDS);
    let program = PathBuf::from(command.remove(0));
    let spawn = Spawn {
        program,
        args: command,
        cwd: working_dir(request, params),
        env: action_env(request, params, &[], &[]),
        stdin,
        timeout,
        grace: request.grace,
        limits: request.limits,
    };
    match run_process(spawn, sink, cancel).await {
        Ok(finished) => shell_outcome(&finished, timeout, sudo_password.is_some()),
        Err(error) => error_outcome(error.to_string()),
    }
}

/// StackStorm's result and status for a finished shell process (`local_runner/base.py`).
pub(crate) fn shell_outcome(
    finished: &Finished,
    timeout: Option<std::time::Duration>,
    sudo_password_given: bool,
) -> RunOutcome {
    let mut return_code = finished.exit.map_or(-1, Exit::return_code);
    let mut error = None;
    let (mut status, mut reason) = match (finished.ending, finished.exit) {
        (Ending::TimedOut, _) => {
            let message = format!("Action failed to complete in {} seconds", seconds(timeout));
            return_code = -9;
            error = Some(message.clone());
            (RunStatus::TimedOut, Some(message))
        }
        (Ending::Canceled, _) => (RunStatus::Canceled, Some("Action was canceled".to_owned())),
        (Ending::Exited, Some(Exit::Code(0))) => (RunStatus::Succeeded, None),
        (Ending::Exited, Some(Exit::Signal(15))) => (
            RunStatus::Abandoned,
            Some(exit_reason(finished.exit, &finished.stderr)),
        ),
        (Ending::Exited, exit) => (RunStatus::Failed, Some(exit_reason(exit, &finished.stderr))),
    };
    let stderr_text = &finished.stderr.text;
    if sudo_password_given && stderr_text.contains("incorrect password attempt") {
        let user = stderr_text
            .split("[sudo] password for ")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .unwrap_or("unknown");
        let message = format!(
            "Invalid sudo password provided or sudo is not configured for this user ({user})"
        );
        return_code = -1;
        error = Some(message.clone());
        status = RunStatus::Failed;
        reason = Some(message);
    }
    let succeeded = status == RunStatus::Succeeded;
    let mut result = json!({
        "failed": !succeeded,
        "succeeded": succeeded,
        "return_code": return_code,
        "stdout": decode_output(&finished.stdout.text),
        "stderr": decode_output(&finished.stderr.text),
    });
    if let Some(error) = error {
        result["error"] = Value::String(error);
    }
    RunOutcome {
        status,
        result,
        reason,
    }
}

/// StackStorm's `strip_shell_chars` (one trailing `\n`, then one `\r`) followed by its
/// `json_loads`: output that is valid JSON becomes that value.
pub(crate) fn decode_output(text: &str) -> Value {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The result of a shell action that could not be started (StackStorm's `_get_error_result`).
fn error_outcome(reason: String) -> RunOutcome {
    RunOutcome {
        status: RunStatus::Failed,
        result: json!({"failed": true, "succeeded": false, "error": reason}),
        reason: Some(reason),
    }
}

#[cfg(test)]
mod tests;
