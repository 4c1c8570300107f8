//! `nerve event list|get|re-emit`: trigger instances (events) as the server recorded them, and
//! sending one through the rules again.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use nerve_web::dto::TriggerInstanceDto;

use super::client::{Api, remote};
use super::table::{Table, note_partial, pretty, print_record, timestamp};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

#[derive(Debug, Subcommand)]
pub(crate) enum EventCommand {
    /// List events, newest first.
    List(ListArgs),
    /// Show one event with its payload.
    Get(IdArgs),
    /// Emit an event again, as a new event with the same trigger and payload; prints its id.
    ReEmit(IdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only events of this trigger (`core.st2.webhook`, ...).
    #[arg(long)]
    trigger: Option<String>,
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
pub(crate) struct IdArgs {
    /// Event (trigger instance) id.
    id: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: EventCommand) -> anyhow::Result<ExitCode> {
    match command {
        EventCommand::List(args) => remote(global, async move |api| list(api, args).await),
        EventCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        EventCommand::ReEmit(args) => remote(global, async move |api| re_emit(api, args).await),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let page = api
        .list_trigger_instances(args.trigger.as_deref(), Some(args.limit), Some(args.offset))
        .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&page.items)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["ID", "TRIGGER", "STATUS", "OCCURRED", "TRACE TAG"]);
    for event in &page.items {
        table.row(vec![
            event.id.clone(),
            event.trigger.clone(),
            event.status.clone(),
            timestamp(&event.occurrence_time),
            event.trace_tag.clone().unwrap_or_default(),
        ]);
    }
    table.print("no events");
    note_partial(page.items.len(), args.offset, page.total);
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: IdArgs) -> anyhow::Result<ExitCode> {
    let event = api.get_trigger_instance(&args.id).await?;
    print_event(&event, args.output)
}

async fn re_emit(api: &Api, args: IdArgs) -> anyhow::Result<ExitCode> {
    let event = api.re_emit(&args.id).await?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::to_value(&event)?),
        OutputFormat::Table => {
            print_line(&event.id);
            eprintln!(
                "re-emitted event {} as {} ({}); see it with `nerve event get {}`",
                args.id, event.id, event.trigger, event.id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_event(event: &TriggerInstanceDto, output: OutputFormat) -> anyhow::Result<ExitCode> {
    if output == OutputFormat::Json {
        print_json(&serde_json::to_value(event)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut fields = vec![
        ("id", event.id.clone()),
        ("trigger", event.trigger.clone()),
        ("status", event.status.clone()),
        ("occurred", timestamp(&event.occurrence_time)),
    ];
    if let Some(trace_id) = &event.trace_id {
        fields.push(("trace", trace_id.clone()));
    }
    if let Some(tag) = &event.trace_tag {
        fields.push(("trace tag", tag.clone()));
    }
    fields.push(("payload", pretty(&event.payload)));
    print_record(&fields);
    Ok(ExitCode::SUCCESS)
}
