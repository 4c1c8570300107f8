//! `nerve trigger list`: the trigger types events can be of (built-in, from packs, webhooks and
//! timers), with what their payloads carry.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::client::{Api, all_pages, remote};
use super::table::{Table, short_text};
use super::{GlobalArgs, OutputFormat};
use crate::output::print_json;

#[derive(Debug, Subcommand)]
pub(crate) enum TriggerCommand {
    /// List trigger types in ref order.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only trigger types of this pack.
    #[arg(long, short = 'p')]
    pack: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: TriggerCommand) -> anyhow::Result<ExitCode> {
    match command {
        TriggerCommand::List(args) => remote(global, async move |api| list(api, args).await),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let types = all_pages(args.pack.as_deref(), |query| async move {
        api.list_trigger_types(&query).await
    })
    .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&types)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["REF", "PAYLOAD", "DESCRIPTION"]);
    for trigger_type in &types {
        let payload = trigger_type
            .payload_schema
            .as_ref()
            .and_then(|schema| schema.get("properties"))
            .and_then(serde_json::Value::as_object)
            .map(|properties| properties.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        table.row(vec![
            trigger_type.reference.clone(),
            short_text(Some(&payload)),
            short_text(trigger_type.description.as_deref()),
        ]);
    }
    table.print("no trigger types");
    Ok(ExitCode::SUCCESS)
}
