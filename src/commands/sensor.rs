//! `nerve sensor list|get|restart|logs`: the sensors of a running server (status, restarts,
//! counts, last error, log tail) through the API. `nerve sensor test` and the hidden
//! `nerve sensor builtin` run sensors in this process instead (`sensor_local`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use nerve_web::dto::{SensorStatusDto, SensorTypeDto};
use serde_json::Value;

use super::client::{Api, all_pages, remote};
use super::table::{Table, print_record, timestamp, yes_no};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

/// Widest the LAST ERROR cell of `sensor list` gets before it is cut with `…`.
const ERROR_WIDTH: usize = 40;

#[derive(Debug, Subcommand)]
pub(crate) enum SensorCommand {
    /// List sensors with their state, pid, uptime, restarts, dispatch counts and last error.
    ///
    /// A sensor runs while an enabled rule uses one of its trigger types; the others are `idle`
    /// (or `disabled`), and `nerve sensor get` says why.
    List(ListArgs),
    /// Show one sensor: metadata, state, process, triggers with their parameters, last exit,
    /// last error and problems.
    Get(RefArgs),
    /// Restart a sensor now (also ending a wait in backoff). Its triggers are sent again to the
    /// new process. Exit 2 when the sensor does not run.
    Restart(RefArgs),
    /// Show the kept tail of a sensor's log: its stderr, its protocol `log` messages and what
    /// the host noted about it (starts, exits, rejected dispatches), oldest first.
    Logs(LogsArgs),
    /// Run one sensor in the foreground and print what it dispatches and logs.
    Test(super::sensor_local::TestArgs),
    /// Run a sensor built into the nerve binary (used by the sensor host; speaks the protocol on stdin/stdout).
    #[command(hide = true)]
    Builtin(super::sensor_local::BuiltinArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only sensors of this pack.
    #[arg(long, short = 'p')]
    pack: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct RefArgs {
    /// The sensor, `pack.ClassName`.
    #[arg(value_name = "REF")]
    sensor: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The sensor, `pack.ClassName`.
    #[arg(value_name = "REF")]
    sensor: String,
    /// Show the last N lines (0: every kept line).
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 100)]
    lines: usize,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: SensorCommand) -> anyhow::Result<ExitCode> {
    match command {
        SensorCommand::List(args) => remote(global, async move |api| list(api, args).await),
        SensorCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        SensorCommand::Restart(args) => remote(global, async move |api| restart(api, args).await),
        SensorCommand::Logs(args) => remote(global, async move |api| logs(api, args).await),
        SensorCommand::Test(args) => super::sensor_local::test(global, args),
        SensorCommand::Builtin(args) => super::sensor_local::builtin(args),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let sensors = all_pages(args.pack.as_deref(), |query| async move {
        api.list_sensors(&query).await
    })
    .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&sensors)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "REF",
        "STATE",
        "PID",
        "UPTIME",
        "RESTARTS",
        "DISPATCHED",
        "REJECTED",
        "LAST ERROR",
    ]);
    for sensor in &sensors {
        let status = &sensor.status;
        // A sensor that does not run has no counts worth a column.
        let count = |value: u64| {
            if runs(status) {
                value.to_string()
            } else {
                String::new()
            }
        };
        table.row(vec![
            sensor.reference.clone(),
            status.state.clone(),
            status.pid.map(|pid| pid.to_string()).unwrap_or_default(),
            status.uptime_seconds.map(uptime).unwrap_or_default(),
            count(status.restarts),
            count(status.dispatched),
            count(status.rejected),
            cut(
                status.last_error.as_deref().unwrap_or_default(),
                ERROR_WIDTH,
            ),
        ]);
    }
    table.print("no sensors");
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: RefArgs) -> anyhow::Result<ExitCode> {
    let sensor = api.get_sensor(&args.sensor).await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&sensor)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_record(&record(&sensor));
    Ok(ExitCode::SUCCESS)
}

async fn restart(api: &Api, args: RefArgs) -> anyhow::Result<ExitCode> {
    let sensor = api.restart_sensor(&args.sensor).await?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::to_value(&sensor)?),
        OutputFormat::Table => print_line(&format!(
            "restart of sensor `{}` requested (was {}{}, {} restarts so far); follow it with \
             `nerve sensor get {}`",
            sensor.reference,
            sensor.status.state,
            sensor
                .status
                .pid
                .map(|pid| format!(" with pid {pid}"))
                .unwrap_or_default(),
            sensor.status.restarts,
            sensor.reference
        )),
    }
    Ok(ExitCode::SUCCESS)
}

async fn logs(api: &Api, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let tail = (args.lines > 0).then_some(args.lines);
    let lines = api.sensor_logs(&args.sensor, tail).await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&lines)?);
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        eprintln!(
            "no log lines kept for sensor `{}` (a sensor keeps its log while it runs)",
            args.sensor
        );
    }
    for line in &lines {
        print_line(&format!(
            "{} {:<5} {:<6} {}",
            line.at, line.level, line.source, line.message
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The `label: value` fields of `sensor get`.
fn record(sensor: &SensorTypeDto) -> Vec<(&'static str, String)> {
    let status = &sensor.status;
    let mut fields = vec![("ref", sensor.reference.clone())];
    if let Some(description) = &sensor.description {
        fields.push(("description", description.clone()));
    }
    fields.push(("enabled", yes_no(sensor.enabled)));
    fields.push(("runtime", sensor.runtime.clone()));
    fields.push(("entry point", sensor.entry_point.clone()));
    if let Some(interval) = sensor.poll_interval {
        fields.push(("poll interval", format!("{interval}s")));
    }
    fields.push(("trigger types", sensor.trigger_types.join(", ")));
    fields.push(("state", state(status)));
    if let Some(pid) = status.pid {
        fields.push(("pid", pid.to_string()));
    }
    if let Some(command) = &status.command {
        fields.push(("command", command.clone()));
    }
    if let Some(started) = &status.started_at {
        let mut text = timestamp(started);
        if let Some(seconds) = status.uptime_seconds {
            text.push_str(&format!(" (up {})", uptime(seconds)));
        }
        fields.push(("started", text));
    }
    if let Some(protocol) = status.protocol {
        fields.push(("protocol", protocol.to_string()));
    }
    if runs(status) {
        fields.push(("restarts", status.restarts.to_string()));
    }
    if let Some(next) = &status.next_restart_at {
        fields.push(("next restart", timestamp(next)));
    }
    if let Some(exit) = &status.last_exit {
        let code = exit.exit_code.map_or_else(
            || "no exit code".to_owned(),
            |code| format!("exit code {code}"),
        );
        fields.push((
            "last exit",
            format!("{code} at {} ({})", timestamp(&exit.at), exit.reason),
        ));
    }
    if let Some(error) = &status.last_error {
        fields.push(("last error", error.clone()));
    }
    if !status.problems.is_empty() {
        fields.push(("problems", status.problems.join("\n")));
    }
    if !status.triggers.is_empty() {
        let triggers: Vec<String> = status
            .triggers
            .iter()
            .map(|trigger| {
                let mut line = trigger.reference.clone();
                if trigger.reference != trigger.trigger_type {
                    line.push_str(&format!(" ({})", trigger.trigger_type));
                }
                if !trigger.parameters.is_empty() {
                    line.push(' ');
                    line.push_str(&Value::Object(trigger.parameters.clone()).to_string());
                }
                line
            })
            .collect();
        fields.push(("triggers", triggers.join("\n")));
    }
    if runs(status) {
        fields.push(("dispatched", status.dispatched.to_string()));
        fields.push(("rejected", status.rejected.to_string()));
        fields.push(("invalid lines", status.invalid_lines.to_string()));
        fields.push(("log suppressed", status.log_suppressed.to_string()));
    }
    fields
}

/// Whether the sensor host supervises the sensor (every state but `idle` and `disabled`).
fn runs(status: &SensorStatusDto) -> bool {
    status.state != "idle" && status.state != "disabled"
}

/// `running`, or `idle: <reason>` for a sensor that does not run.
fn state(status: &SensorStatusDto) -> String {
    match &status.reason {
        Some(reason) if !reason.is_empty() => format!("{}: {reason}", status.state),
        _ => status.state.clone(),
    }
}

/// Seconds as `42s`, `4m05s`, `3h07m` or `2d05h`.
fn uptime(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        3600..86_400 => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{:02}h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}

/// The first line of `text`, cut to `width` characters with `…`.
fn cut(text: &str, width: usize) -> String {
    let first_line = text.trim().lines().next().unwrap_or_default();
    if first_line.chars().count() <= width && first_line.len() == text.trim().len() {
        return first_line.to_owned();
    }
    let kept: String = first_line.chars().take(width.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::{cut, uptime};

    #[test]
    fn uptimes_read_naturally() {
        assert_eq!(uptime(42), "42s");
        assert_eq!(uptime(245), "4m05s");
        assert_eq!(uptime(3 * 3600 + 7 * 60 + 5), "3h07m");
        assert_eq!(uptime(2 * 86_400 + 5 * 3600), "2d05h");
    }

    #[test]
    fn errors_are_cut_to_one_short_line() {
        assert_eq!(cut("short", 40), "short");
        assert_eq!(cut("two\nlines", 40), "two…");
        let long = cut(&"x".repeat(100), 40);
        assert_eq!(long.chars().count(), 40);
        assert!(long.ends_with('…'));
    }
}
