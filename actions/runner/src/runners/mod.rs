//! The runners behind one entry point, [`run`]: `local-shell-cmd`, `local-shell-script`,
//! `python-script`, `http-request` and `noop`.
//!
//! Each runner turns a [`RunRequest`] into a [`RunOutcome`] with StackStorm's result shape.
//! Workflow runners (`orquesta`, `action-chain`) are not here: they run other actions and belong
//! to the workflow engine.

mod args;
mod env;
mod http;
mod python;
mod shell;

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::process::{Captured, Exit};
use crate::{OutputLine, RunOutcome, RunRequest, RunStatus, redact};

/// Why a request could not be run at all (a bug or misconfiguration of the caller, not an
/// outcome of the action).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// This crate does not run actions of this runner type.
    #[error("runner `{runner}` (action `{action}`) is not run by nerve-runner")]
    UnsupportedRunner {
        /// The runner name.
        runner: String,
        /// The action ref.
        action: String,
    },
    /// The runner needs an entry point and the request has none.
    #[error("action `{action}` of runner `{runner}` needs an entry point and none was given")]
    MissingEntryPoint {
        /// The runner name.
        runner: String,
        /// The action ref.
        action: String,
    },
}

/// Runs one execution to its end.
///
/// Output lines go to `sink` as they are produced. Cancelling `cancel` stops the action (SIGTERM,
/// grace, SIGKILL for processes) and ends the run as [`RunStatus::Canceled`](crate::RunStatus).
/// Everything the action does — failing, hanging, flooding, not starting — is an outcome.
///
/// # Errors
/// Only for requests this crate cannot handle; see [`RunError`].
pub async fn run(
    request: RunRequest,
    sink: mpsc::Sender<OutputLine>,
    cancel: CancellationToken,
) -> Result<RunOutcome, RunError> {
    let span = tracing::info_span!(
        "execution",
        execution_id = %request.execution_id,
        action = %request.action.action_ref(),
        runner = %request.runner.name,
    );
    async move {
        tracing::debug!(
            parameters = %redact::masked_parameters(&request),
            "Running action."
        );
        let outcome = dispatch(&request, &sink, &cancel).await?;
        tracing::debug!(status = %outcome.status, reason = ?outcome.reason, "Action finished.");
        Ok(outcome)
    }
    .instrument(span)
    .await
}

async fn dispatch(
    request: &RunRequest,
    sink: &mpsc::Sender<OutputLine>,
    cancel: &CancellationToken,
) -> Result<RunOutcome, RunError> {
    let name = nerve_model::runner_alias(&request.runner.name).unwrap_or(&request.runner.name);
    let needs_entry_point = || match &request.entry_point {
        Some(path) => Ok(path.as_path()),
        None => Err(RunError::MissingEntryPoint {
            runner: name.to_owned(),
            action: request.action.action_ref(),
        }),
    };
    if cancel.is_cancelled() {
        return Ok(RunOutcome {
            status: RunStatus::Canceled,
            result: json!({"error": "Action was canceled before it started"}),
            reason: Some("Action was canceled before it started".to_owned()),
        });
    }
    let outcome = match name {
        "local-shell-cmd" => shell::run_command(request, sink, cancel).await,
        "local-shell-script" => {
            shell::run_script(request, needs_entry_point()?, sink, cancel).await
        }
        "python-script" => python::run(request, needs_entry_point()?, sink, cancel).await,
        "http-request" => http::run(request, cancel).await,
        "noop" => RunOutcome::succeeded(json!({})),
        other => {
            return Err(RunError::UnsupportedRunner {
                runner: other.to_owned(),
                action: request.action.action_ref(),
            });
        }
    };
    Ok(outcome)
}

/// Typed access to the final parameter values.
pub(crate) struct Params<'a> {
    values: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    pub(crate) fn new(values: &'a Map<String, Value>) -> Self {
        Self { values }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.values.get(name).filter(|value| !value.is_null())
    }

    pub(crate) fn string(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(Value::as_str)
    }

    pub(crate) fn bool(&self, name: &str, default: bool) -> bool {
        self.get(name).and_then(Value::as_bool).unwrap_or(default)
    }

    /// A timeout in seconds: the parameter, else the runner's default for `name`, else
    /// `fallback`. Zero or negative means none, as in StackStorm.
    pub(crate) fn timeout(
        &self,
        name: &str,
        request: &RunRequest,
        fallback: f64,
    ) -> Option<Duration> {
        let runner_default = request
            .runner
            .runner_parameters
            .get(name)
            .and_then(|spec| spec.default.as_ref())
            .and_then(Value::as_f64);
        let seconds = self
            .get(name)
            .and_then(Value::as_f64)
            .or(runner_default)
            .unwrap_or(fallback);
        (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds))
    }
}

/// A short human description of how a process ended, with the last line of its stderr.
pub(crate) fn exit_reason(exit: Option<Exit>, stderr: &Captured) -> String {
    let how = match exit {
        Some(Exit::Code(code)) => format!("exited with code {code}"),
        Some(Exit::Signal(signal)) => format!("killed by signal {}", signal_name(signal)),
        None => "ended without an exit status".to_owned(),
    };
    match last_line(&stderr.text) {
        Some(line) => format!("{how}: {line}"),
        None => how,
    }
}

fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|known| format!("{signal} ({})", known.as_str()))
        .unwrap_or_else(|_| signal.to_string())
}

/// The last non-empty line, shortened to 300 characters.
fn last_line(text: &str) -> Option<String> {
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())?;
    let mut short: String = line.chars().take(300).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    Some(short)
}

/// Seconds as StackStorm prints them in timeout messages (`60`, `0.5`).
pub(crate) fn seconds(duration: Option<Duration>) -> String {
    let Some(duration) = duration else {
        return "unlimited".to_owned();
    };
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{}", duration.as_secs())
    } else {
        format!("{secs}")
    }
}
