//! `python-script`: an unmodified StackStorm Python action (`class X(Action): def run(...)`) in a
//! new interpreter process per execution.
//!
//! The wrapper (`wrapper.py`, standard library only) is embedded in the binary and given to the
//! interpreter with `-c`, so nothing is written to disk. It provides `st2common.runners.
//! base_action.Action` with `config`, `logger` and `action_service` (datastore over Nerve's REST
//! API), reads parameters and pack config as JSON from stdin (never argv, where `ps` would show
//! secrets), and prints the result between StackStorm's result delimiters on stdout.
//! The result section is taken out of the forwarded output stream and out of `stdout` in the
//! result, as StackStorm does.

use std::ffi::OsString;
use std::path::Path;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::env::action_env;
use super::{Params, exit_reason, seconds};
use crate::process::{Ending, Exit, Finished, Spawn, Stream, run_process};
use crate::{Interpreter, OutputLine, RunOutcome, RunRequest, RunStatus};

/// The wrapper's source.
const WRAPPER: &str = include_str!("wrapper.py");

/// StackStorm's `ACTION_OUTPUT_RESULT_DELIMITER`.
pub(crate) const RESULT_DELIMITER: &str = "%%%%%~=~=~=************=~=~=~%%%%";

/// StackStorm's `PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE`.
const INVALID_STATUS_EXIT_CODE: i32 = 220;

/// StackStorm's default timeout for the Python runner, in seconds.
const DEFAULT_TIMEOUT_SECONDS: f64 = 600.0;

/// The most of a serialized result kept; a larger result fails the run.
const MAX_RESULT_BYTES: usize = 16 * 1024 * 1024;

/// Runs the Python action at `entry_point`.
pub(crate) async fn run(
    request: &RunRequest,
    entry_point: &Path,
    sink: &mpsc::Sender<OutputLine>,
    cancel: &CancellationToken,
) -> RunOutcome {
    let python = match &request.python {
        Interpreter::Verified(path) => path.clone(),
        Interpreter::Missing { hint } => {
            return RunOutcome::failed(format!("python runtime not available: {hint}"));
        }
    };
    let params = Params::new(&request.parameters);
    let action_params: serde_json::Map<String, Value> = request
        .parameters
        .iter()
        .filter(|(name, _)| !request.runner.runner_parameters.contains_key(*name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let log_level = params.string("log_level").unwrap_or("DEBUG");
    let input = json!({
        "parameters": action_params,
        "config": request.pack_config,
        "log_level": log_level,
    });
    let timeout = params.timeout("timeout", request, DEFAULT_TIMEOUT_SECONDS);
    let mut extra_env = Vec::new();
    // What st2client-based code in actions reads (StackStorm's `_get_datastore_access_env_vars`).
    if let Some(api_url) = &request.api_url {
        extra_env.push(("ST2_API_URL", api_url.clone()));
    }
    if let Some(token) = &request.auth_token {
        extra_env.push(("ST2_AUTH_TOKEN", token.clone()));
    }
    let spawn = Spawn {
        program: python,
        args: vec![
            "-u".into(),
            "-c".into(),
            WRAPPER.into(),
            format!("--pack={}", request.action.pack).into(),
            {
                let mut arg = OsString::from("--file-path=");
                arg.push(entry_point.as_os_str());
                arg
            },
        ],
        // The Python runner has no `cwd` parameter; an action's own `cwd` is an argument of run().
        cwd: request.pack_dir.join("actions"),
        env: action_env(request, &params, &["PYTHONPATH"], &extra_env),
        stdin: Some(input.to_string().into_bytes()),
        timeout,
        grace: request.grace,
        limits: request.limits,
    };

    // Lines go through a filter that lifts the result section out of the stream.
    let (filter_tx, filter_rx) = mpsc::channel(64);
    let filter = tokio::spawn(filter_result(filter_rx, sink.clone()));
    let finished = run_process(spawn, &filter_tx, cancel).await;
    drop(filter_tx);
    let section = filter.await.unwrap_or_default();
    match finished {
        Ok(finished) => python_outcome(&finished, section, timeout),
        Err(error) => RunOutcome::failed(error.to_string()),
    }
}

/// The result section as seen in the stream.
#[derive(Debug, Default)]
pub(crate) struct ResultSection {
    /// The text between the delimiters, if an opening delimiter was seen.
    text: Option<String>,
    /// The section was larger than [`MAX_RESULT_BYTES`].
    overflow: bool,
}

/// Forwards lines to `sink`, except the result section, which it returns.
async fn filter_result(
    mut lines: mpsc::Receiver<OutputLine>,
    sink: mpsc::Sender<OutputLine>,
) -> ResultSection {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Before,
        Inside,
        After,
    }
    let mut state = State::Before;
    let mut section = ResultSection::default();
    while let Some(line) = lines.recv().await {
        if line.stream == Stream::Stderr || state == State::After {
            let _ = sink.send(line).await;
            continue;
        }
        let touches_section = state == State::Inside || line.line.contains(RESULT_DELIMITER);
        let mut visible = String::new();
        let mut rest = line.line.as_str();
        loop {
            match state {
                State::Before => match rest.find(RESULT_DELIMITER) {
                    Some(at) => {
                        visible.push_str(&rest[..at]);
                        rest = &rest[at + RESULT_DELIMITER.len()..];
                        section.text = Some(String::new());
                        state = State::Inside;
                    }
                    None => {
                        visible.push_str(rest);
                        break;
                    }
                },
                State::Inside => {
                    let (body, end) = match rest.find(RESULT_DELIMITER) {
                        Some(end) => (&rest[..end], Some(end + RESULT_DELIMITER.len())),
                        None => (rest, None),
                    };
                    section.push(body);
                    match end {
                        Some(end) => {
                            rest = &rest[end..];
                            state = State::After;
                        }
                        None => break,
                    }
                }
                State::After => {
                    visible.push_str(rest);
                    break;
                }
            }
        }
        if !visible.is_empty() || !touches_section {
            let _ = sink
                .send(OutputLine {
                    stream: line.stream,
                    line: visible,
                })
                .await;
        }
    }
    section
}

impl ResultSection {
    fn push(&mut self, body: &str) {
        let Some(text) = self.text.as_mut() else {
            return;
        };
        if self.overflow || text.len() + body.len() > MAX_RESULT_BYTES {
            self.overflow = true;
        } else {
            text.push_str(body);
        }
    }
}

/// StackStorm's result and status for a finished Python action (`python_runner.py`).
pub(crate) fn python_outcome(
    finished: &Finished,
    section: ResultSection,
    timeout: Option<std::time::Duration>,
) -> RunOutcome {
    let exit_code = finished.exit.map_or(-1, Exit::return_code);
    let (stdout, captured_section) = split_stdout(&finished.stdout.text);
    let section_text = section.text.or(captured_section);
    let parsed: Option<Value> = section_text
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())));
    let (result, action_status) = match parsed {
        Some(Value::Object(mut output)) => (
            output.remove("result").unwrap_or(Value::Null),
            output.get("status").and_then(Value::as_bool),
        ),
        Some(other) => (other, None),
        None => (Value::Null, None),
    };

    let mut error = None;
    let (status, reason) = match finished.ending {
        Ending::TimedOut => {
            let message = format!("Action failed to complete in {} seconds", seconds(timeout));
            error = Some(message.clone());
            (RunStatus::TimedOut, Some(message))
        }
        Ending::Canceled => (RunStatus::Canceled, Some("Action was canceled".to_owned())),
        Ending::Exited if section.overflow => (
            RunStatus::Failed,
            Some(format!(
                "the action's result is larger than {} MiB and was dropped",
                MAX_RESULT_BYTES / (1024 * 1024)
            )),
        ),
        Ending::Exited => match finished.exit {
            Some(Exit::Code(0)) if action_status == Some(false) => (
                RunStatus::Failed,
                Some("the action returned (False, result)".to_owned()),
            ),
            Some(Exit::Code(0)) => (RunStatus::Succeeded, None),
            Some(Exit::Code(INVALID_STATUS_EXIT_CODE)) => (
                RunStatus::Failed,
                Some(finished.stderr.text.trim().to_owned()),
            ),
            exit => (RunStatus::Failed, Some(exit_reason(exit, &finished.stderr))),
        },
    };
    let mut result = json!({
        "exit_code": exit_code,
        "stdout": stdout,
        "stderr": finished.stderr.text,
        "result": result,
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

/// `stdout` without the result section, and the section if the captured text holds it.
fn split_stdout(text: &str) -> (String, Option<String>) {
    let Some(start) = text.find(RESULT_DELIMITER) else {
        return (text.to_owned(), None);
    };
    let before = &text[..start];
    let rest = &text[start + RESULT_DELIMITER.len()..];
    match rest.find(RESULT_DELIMITER) {
        Some(end) => (
            format!("{before}{}", &rest[end + RESULT_DELIMITER.len()..]),
            Some(rest[..end].to_owned()),
        ),
        None => (before.to_owned(), None),
    }
}

#[cfg(test)]
mod tests;
