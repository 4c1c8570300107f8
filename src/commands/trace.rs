//! `nerve trace list|get`: recent traces, newest first, and what one event (or one tagged run)
//! caused, as a tree — event → rule → execution — with each step's time from the start of the
//! trace and each execution's status and duration.

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};
use nerve_web::dto::{TraceComponentDto, TraceDto};

use super::client::{Api, remote};
use super::table::{Table, duration, note_partial, offset_ms, timestamp};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

#[derive(Debug, Subcommand)]
pub(crate) enum TraceCommand {
    /// List traces, newest first, with how many events, rule firings and executions each has.
    List(ListArgs),
    /// Show a trace by id, by trace tag (every trace with it, newest first), or the trace of an
    /// execution.
    Get(GetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only traces with this tag (`nerve run --trace-tag`, the `St2-Trace-Tag` webhook header).
    #[arg(long, value_name = "TAG")]
    trace_tag: Option<String>,
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
#[command(group(ArgGroup::new("which").required(true).args(["id", "trace_tag", "execution"])))]
pub(crate) struct GetArgs {
    /// Trace id.
    id: Option<String>,
    /// The traces with this tag (`nerve run --trace-tag`, the `St2-Trace-Tag` webhook header).
    #[arg(long, value_name = "TAG")]
    trace_tag: Option<String>,
    /// The trace of this execution.
    #[arg(long, value_name = "ID")]
    execution: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: TraceCommand) -> anyhow::Result<ExitCode> {
    match command {
        TraceCommand::List(args) => remote(global, async move |api| list(api, args).await),
        TraceCommand::Get(args) => remote(global, async move |api| get(api, args).await),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let page = api
        .list_traces(
            args.trace_tag.as_deref(),
            Some(args.limit),
            Some(args.offset),
        )
        .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&page.items)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "ID",
        "TAG",
        "STARTED",
        "EVENTS",
        "ENFORCEMENTS",
        "EXECUTIONS",
    ]);
    for trace in &page.items {
        table.row(vec![
            trace.id.clone(),
            trace.trace_tag.clone(),
            timestamp(&trace.start_timestamp),
            trace.trigger_instances.len().to_string(),
            trace.rules.len().to_string(),
            trace.action_executions.len().to_string(),
        ]);
    }
    match &args.trace_tag {
        Some(tag) => table.print(&format!("no trace has the tag `{tag}`")),
        None => table.print("no traces"),
    }
    note_partial(page.items.len(), args.offset, page.total);
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: GetArgs) -> anyhow::Result<ExitCode> {
    let traces = if let Some(tag) = &args.trace_tag {
        let traces = api.traces_by_tag(tag).await?.items;
        if traces.is_empty() {
            eprintln!("error: no trace has the tag `{tag}`");
            return Ok(ExitCode::from(1));
        }
        traces
    } else if let Some(execution_id) = &args.execution {
        let execution = api.get_execution(execution_id).await?;
        let Some(trace_id) = execution.context.trace_id else {
            eprintln!("error: execution {execution_id} is not part of a trace");
            return Ok(ExitCode::from(1));
        };
        vec![api.trace(&trace_id).await?]
    } else {
        vec![api.trace(args.id.as_deref().unwrap_or_default()).await?]
    };
    if args.output == OutputFormat::Json {
        let value = if args.trace_tag.is_some() {
            serde_json::to_value(&traces)?
        } else {
            serde_json::to_value(&traces[0])?
        };
        print_json(&value);
        return Ok(ExitCode::SUCCESS);
    }
    for (index, trace) in traces.iter().enumerate() {
        if index > 0 {
            print_line("");
        }
        print_trace(api, trace).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// One step of a trace.
struct Node<'a> {
    kind: &'static str,
    component: &'a TraceComponentDto,
}

async fn print_trace(api: &Api, trace: &TraceDto) {
    print_line(&format!(
        "trace {} (tag `{}`), started {}",
        trace.id,
        trace.trace_tag,
        timestamp(&trace.start_timestamp)
    ));
    // Offsets count from the earliest time recorded: a component's time can precede the
    // moment its trace was created.
    let start = std::iter::once(&trace.start_timestamp)
        .chain(
            [
                &trace.trigger_instances,
                &trace.rules,
                &trace.action_executions,
            ]
            .into_iter()
            .flatten()
            .map(|component| &component.updated_at),
        )
        .min_by_key(|time| offset_ms(&trace.start_timestamp, time).unwrap_or(0))
        .unwrap_or(&trace.start_timestamp);
    let nodes: Vec<Node<'_>> = [
        ("event", &trace.trigger_instances),
        ("rule", &trace.rules),
        ("execution", &trace.action_executions),
    ]
    .into_iter()
    .flat_map(|(kind, components)| {
        components
            .iter()
            .map(move |component| Node { kind, component })
    })
    .collect();
    let ids: HashSet<&str> = nodes
        .iter()
        .map(|node| node.component.object_id.as_str())
        .collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        match cause_id(node.component).filter(|cause| ids.contains(cause)) {
            Some(cause) => children.entry(cause).or_default().push(index),
            None => roots.push(index),
        }
    }
    // Depth-first, each level in the order the server recorded it.
    let mut stack: Vec<(usize, String, bool)> = roots
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &index)| (index, String::new(), position == 0))
        .collect();
    while let Some((index, prefix, last)) = stack.pop() {
        let node = &nodes[index];
        let branch = if prefix.is_empty() && roots.contains(&index) {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        print_line(&format!(
            "{prefix}{branch}{}",
            describe(api, start, node).await
        ));
        let child_prefix = if branch.is_empty() {
            prefix.clone()
        } else {
            format!("{prefix}{}", if last { "   " } else { "│  " })
        };
        let kids = children
            .get(node.component.object_id.as_str())
            .cloned()
            .unwrap_or_default();
        for (position, &child) in kids.iter().enumerate().rev() {
            stack.push((child, child_prefix.clone(), position == kids.len() - 1));
        }
    }
}

fn cause_id(component: &TraceComponentDto) -> Option<&str> {
    component.caused_by.as_ref()?.get("id")?.as_str()
}

/// `execution core.local 01J… +15ms succeeded in 0.040s`.
async fn describe(api: &Api, start: &str, node: &Node<'_>) -> String {
    let component = node.component;
    let at = offset_ms(start, &component.updated_at)
        .map(|ms| format!(" +{ms}ms"))
        .unwrap_or_default();
    let mut text = format!(
        "{} {} {}{at}",
        node.kind, component.reference, component.object_id
    );
    if node.kind == "execution" {
        match api.get_execution(&component.object_id).await {
            Ok(execution) => {
                text.push_str(&format!(" {}", execution.status));
                if let Some(seconds) = execution.elapsed_seconds {
                    text.push_str(&format!(" in {}", duration(seconds)));
                }
            }
            Err(_) => text.push_str(" (no longer recorded)"),
        }
    }
    text
}
