//! `nerve execution list|get|tail|cancel|rerun`, and following an execution's live output to its
//! end (shared with `nerve run`).
//!
//! Following never polls: it reads the server's output stream (SSE), which ends once the
//! execution is final, and reconnects from the last line seen when the connection drops.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use futures_util::StreamExt as _;
use nerve_model::ExecutionStatus;
use nerve_web::client::ExecutionQuery;
use nerve_web::dto::{ExecutionDto, OutputLineDto};
use serde_json::Value;

use super::client::{Api, param_map, parse_param, remote};
use super::table::{Table, duration, note_partial, pretty, print_record, timestamp};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

/// Reconnections of an output stream before giving up.
const MAX_RECONNECTS: u32 = 5;

#[derive(Debug, Subcommand)]
pub(crate) enum ExecutionCommand {
    /// List executions, newest first.
    List(ListArgs),
    /// Show one execution: status, parameters (secrets masked), timings, result.
    Get(GetArgs),
    /// Follow an execution's output live until it finishes.
    ///
    /// Its stdout lines go to stdout and its stderr lines to stderr, the status summary to
    /// stderr. Exit 0 when it succeeded, 1 when it failed, timed out, was canceled or abandoned.
    Tail(TailArgs),
    /// Cancel an execution that has not finished.
    Cancel(IdArgs),
    /// Pause a running workflow: no new task starts; it is `pausing` until its running tasks
    /// finish, then `paused`.
    Pause(IdArgs),
    /// Resume a paused workflow.
    Resume(IdArgs),
    /// Run an execution again, with `NAME=VALUE` parameters overriding its own; follows it like
    /// `nerve run`.
    Rerun(RerunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only executions of this action (`pack.name`).
    #[arg(long)]
    action: Option<String>,
    /// Only executions with this status (`running`, `succeeded`, `failed`, ...).
    #[arg(long)]
    status: Option<String>,
    /// Only executions fired by this rule (`pack.name`).
    #[arg(long)]
    rule: Option<String>,
    /// Only executions caused by this event (trigger instance id).
    #[arg(long, value_name = "ID")]
    trigger_instance: Option<String>,
    /// How many to show.
    #[arg(short = 'n', long, default_value_t = 50)]
    limit: i64,
    /// How many of the newest to skip.
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Execution id.
    id: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Execution id, or `last` for the most recent execution.
    id: String,
    /// Output format (`json` prints the final execution instead of the live output).
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// Execution id.
    id: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct RerunArgs {
    /// Execution id.
    id: String,
    /// Parameters overriding the original ones, `NAME=VALUE`.
    #[arg(value_name = "NAME=VALUE", value_parser = parse_param)]
    parameters: Vec<(String, Value)>,
    /// Print the new execution's id and return without waiting.
    #[arg(long = "async", short = 'a')]
    no_wait: bool,
    /// Output format (`json` prints the final execution instead of the live output).
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: ExecutionCommand) -> anyhow::Result<ExitCode> {
    match command {
        ExecutionCommand::List(args) => remote(global, async move |api| list(api, args).await),
        ExecutionCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        ExecutionCommand::Tail(args) => remote(global, async move |api| tail(api, args).await),
        ExecutionCommand::Cancel(args) => remote(global, async move |api| cancel(api, args).await),
        ExecutionCommand::Pause(args) => remote(global, async move |api| pause(api, args).await),
        ExecutionCommand::Resume(args) => remote(global, async move |api| resume(api, args).await),
        ExecutionCommand::Rerun(args) => remote(global, async move |api| rerun(api, args).await),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let query = ExecutionQuery {
        status: args.status,
        action: args.action,
        rule: args.rule,
        trigger_instance: args.trigger_instance,
        limit: Some(args.limit),
        offset: Some(args.offset),
        ..ExecutionQuery::default()
    };
    let page = api.list_executions(&query).await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&page.items)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["ID", "ACTION", "STATUS", "STARTED", "ELAPSED", "CAUSE"]);
    for execution in &page.items {
        table.row(vec![
            execution.id.clone(),
            execution.action.reference.clone(),
            execution.status.to_string(),
            timestamp(&execution.start_timestamp),
            execution.elapsed_seconds.map(duration).unwrap_or_default(),
            cause(execution),
        ]);
    }
    table.print("no executions");
    note_partial(page.items.len(), args.offset, page.total);
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: GetArgs) -> anyhow::Result<ExitCode> {
    let execution = api.get_execution(&args.id).await?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::to_value(&execution)?),
        OutputFormat::Table => print_execution(&execution),
    }
    Ok(ExitCode::SUCCESS)
}

async fn tail(api: &Api, args: TailArgs) -> anyhow::Result<ExitCode> {
    let id = if args.id == "last" {
        let query = ExecutionQuery {
            limit: Some(1),
            ..ExecutionQuery::default()
        };
        let page = api.list_executions(&query).await?;
        match page.items.into_iter().next() {
            Some(execution) => execution.id,
            None => {
                eprintln!("error: there are no executions yet");
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        args.id
    };
    let execution = follow(api, &id, Lines::for_format(args.output)).await?;
    Ok(finish(&execution, args.output))
}

async fn cancel(api: &Api, args: IdArgs) -> anyhow::Result<ExitCode> {
    let execution = api.cancel(&args.id).await?;
    print_changed(&execution, args.output)
}

async fn pause(api: &Api, args: IdArgs) -> anyhow::Result<ExitCode> {
    let execution = api.pause(&args.id).await?;
    print_changed(&execution, args.output)
}

async fn resume(api: &Api, args: IdArgs) -> anyhow::Result<ExitCode> {
    let execution = api.resume(&args.id).await?;
    print_changed(&execution, args.output)
}

/// Prints an execution whose status a command just changed.
fn print_changed(execution: &ExecutionDto, output: OutputFormat) -> anyhow::Result<ExitCode> {
    match output {
        OutputFormat::Json => print_json(&serde_json::to_value(execution)?),
        OutputFormat::Table => print_line(&format!(
            "execution {} ({}): {}",
            execution.id, execution.action.reference, execution.status
        )),
    }
    Ok(ExitCode::SUCCESS)
}

async fn rerun(api: &Api, args: RerunArgs) -> anyhow::Result<ExitCode> {
    let execution = api.rerun(&args.id, param_map(args.parameters)).await?;
    started(api, execution, args.no_wait, args.output).await
}

/// After an execution was requested: print its id (`--async`), or follow it to the end.
///
/// # Errors
///
/// API errors while following.
pub(crate) async fn started(
    api: &Api,
    execution: ExecutionDto,
    no_wait: bool,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    if no_wait {
        match output {
            OutputFormat::Json => print_json(&serde_json::to_value(&execution)?),
            OutputFormat::Table => {
                print_line(&execution.id);
                eprintln!(
                    "requested {}; see it with `nerve execution get {}`",
                    execution.action.reference, execution.id
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let finished = follow(api, &execution.id, Lines::for_format(output)).await?;
    Ok(finish(&finished, output))
}

/// What to do with live output lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lines {
    /// stdout lines to stdout, the rest to stderr.
    Print,
    /// Drop them (JSON output prints the final execution instead).
    Discard,
}

impl Lines {
    fn for_format(output: OutputFormat) -> Self {
        match output {
            OutputFormat::Table => Self::Print,
            OutputFormat::Json => Self::Discard,
        }
    }

    fn emit(self, line: &OutputLineDto) {
        if self == Self::Discard {
            return;
        }
        match line.output_type.as_str() {
            "stdout" => print_line(&line.data),
            "stderr" => eprintln!("{}", line.data),
            other => eprintln!("{other}: {}", line.data),
        }
    }
}

/// Follows an execution's output from its first line until it is final; returns it as it ended.
///
/// # Errors
///
/// API errors (404 for an unknown id); a stream that keeps failing.
pub(crate) async fn follow(api: &Api, id: &str, lines: Lines) -> anyhow::Result<ExecutionDto> {
    let mut next_seq = 0;
    let mut reconnects = 0;
    loop {
        let stream = match api.stream_output(id, next_seq).await {
            Ok(stream) => stream,
            // The server answered: an unknown id, a refused token. Retrying will not help.
            Err(error @ nerve_web::ClientError::Http { .. }) => return Err(error.into()),
            Err(error) if reconnects >= MAX_RECONNECTS => return Err(error.into()),
            Err(_) => {
                reconnects += 1;
                tokio::time::sleep(backoff(reconnects)).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream);
        let mut dropped = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(line) => {
                    next_seq = line.seq + 1;
                    lines.emit(&line);
                }
                Err(error) => {
                    dropped = Some(error);
                    break;
                }
            }
        }
        let execution = api.get_execution(id).await?;
        if execution.status.is_final() && dropped.is_none() {
            return Ok(execution);
        }
        // The stream broke off (or ended early): continue from the last line seen.
        if reconnects >= MAX_RECONNECTS {
            return match dropped {
                Some(error) => {
                    Err(error).with_context(|| format!("lost the output stream of execution {id}"))
                }
                None => Ok(execution),
            };
        }
        reconnects += 1;
        tokio::time::sleep(backoff(reconnects)).await;
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 * u64::from(attempt))
}

/// Prints how an execution ended and returns the exit code: 0 when it succeeded, 1 otherwise.
///
/// Table output: a summary line on stderr (status, action, elapsed time, return code, reason),
/// and on stdout what the action produced besides its output lines (a Python action's return
/// value, an HTTP response); a shell command's captured streams were already shown live.
pub(crate) fn finish(execution: &ExecutionDto, output: OutputFormat) -> ExitCode {
    match output {
        OutputFormat::Json => match serde_json::to_value(execution) {
            Ok(value) => print_json(&value),
            Err(error) => eprintln!("error: cannot encode the execution: {error}"),
        },
        OutputFormat::Table => {
            if let Some(product) = execution.result.as_ref().and_then(result_product) {
                match product {
                    Value::String(text) => print_line(&text),
                    other => print_line(&pretty(&other)),
                }
            }
            eprintln!("{}", summary(execution));
            if let Some(reason) = &execution.reason {
                eprintln!("reason: {reason}");
            }
        }
    }
    if execution.status == ExecutionStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `failed: core.local in 0.012s, return code 3 (execution 01J…)`.
fn summary(execution: &ExecutionDto) -> String {
    let mut text = format!("{}: {}", execution.status, execution.action.reference);
    if let Some(seconds) = execution.elapsed_seconds {
        text.push_str(&format!(" in {}", duration(seconds)));
    }
    let code = execution
        .result
        .as_ref()
        .and_then(|result| {
            result
                .get("return_code")
                .or_else(|| result.get("exit_code"))
        })
        .and_then(Value::as_i64);
    if let Some(code) = code.filter(|_| execution.status != ExecutionStatus::Succeeded) {
        text.push_str(&format!(", return code {code}"));
    }
    text.push_str(&format!(" (execution {})", execution.id));
    text
}

/// The part of a result that is not the captured output: `None` for a shell command, the
/// return value of a Python action, the rest of the result object otherwise.
fn result_product(result: &Value) -> Option<Value> {
    const CAPTURED: [&str; 6] = [
        "stdout",
        "stderr",
        "return_code",
        "exit_code",
        "succeeded",
        "failed",
    ];
    let Value::Object(map) = result else {
        return (!result.is_null()).then(|| result.clone());
    };
    let rest: serde_json::Map<String, Value> = map
        .iter()
        .filter(|(key, _)| !CAPTURED.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if rest.is_empty() {
        return None;
    }
    if rest.len() == 1
        && let Some(value) = rest.get("result")
    {
        return (!value.is_null()).then(|| value.clone());
    }
    Some(Value::Object(rest))
}

/// What caused an execution, for the list: its rule, else the user who ran it.
fn cause(execution: &ExecutionDto) -> String {
    if let Some(rule) = &execution.rule {
        return format!("rule {}", rule.reference);
    }
    if let Some(parent) = &execution.parent {
        return format!("parent {parent}");
    }
    if execution.context.user.is_empty() {
        String::new()
    } else {
        format!("user {}", execution.context.user)
    }
}

fn print_execution(execution: &ExecutionDto) {
    let mut fields: Vec<(&str, String)> = vec![
        ("id", execution.id.clone()),
        ("action", execution.action.reference.clone()),
        ("runner", execution.action.runner_type.clone()),
        ("status", execution.status.to_string()),
        ("started", timestamp(&execution.start_timestamp)),
    ];
    if let Some(end) = &execution.end_timestamp {
        fields.push(("ended", timestamp(end)));
    }
    if let Some(seconds) = execution.elapsed_seconds {
        fields.push(("elapsed", duration(seconds)));
    }
    if !execution.context.user.is_empty() {
        fields.push(("user", execution.context.user.clone()));
    }
    if let Some(rule) = &execution.rule {
        fields.push(("rule", rule.reference.clone()));
    }
    if let Some(event) = &execution.trigger_instance {
        fields.push(("event", event.id.clone()));
    }
    if let Some(tag) = &execution.context.trace_tag {
        fields.push(("trace tag", tag.clone()));
    }
    if let Some(parent) = &execution.parent {
        fields.push(("parent", parent.clone()));
    }
    if let Some(rerun_of) = &execution.context.rerun_of {
        fields.push(("rerun of", rerun_of.clone()));
    }
    if !execution.children.is_empty() {
        fields.push(("children", execution.children.join(", ")));
    }
    if let Some(worker) = &execution.worker {
        fields.push(("worker", worker.clone()));
    }
    if let Some(reason) = &execution.reason {
        fields.push(("reason", reason.clone()));
    }
    if !execution.parameters.is_empty() {
        fields.push((
            "parameters",
            pretty(&Value::Object(execution.parameters.clone())),
        ));
    }
    if let Some(result) = &execution.result {
        fields.push(("result", pretty(result)));
    }
    print_record(&fields);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::result_product;

    #[test]
    fn shell_results_have_no_product() {
        let shell = json!({
            "failed": false, "succeeded": true, "return_code": 0, "stdout": "x", "stderr": ""
        });
        assert_eq!(result_product(&shell), None);
    }

    #[test]
    fn python_results_show_their_return_value() {
        let python = json!({"exit_code": 0, "stdout": "", "stderr": "", "result": {"a": 1}});
        assert_eq!(result_product(&python), Some(json!({"a": 1})));
        let none = json!({"exit_code": 0, "stdout": "", "stderr": "", "result": null});
        assert_eq!(result_product(&none), None);
    }

    #[test]
    fn other_results_show_whole() {
        let http = json!({"status_code": 200, "body": "ok"});
        assert_eq!(result_product(&http), Some(http.clone()));
        assert_eq!(result_product(&json!("text")), Some(json!("text")));
    }
}
