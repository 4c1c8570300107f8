//! `nerve inquiry list|get|respond`: inquiries (`core.ask` executions) waiting for a human
//! answer, as `st2 inquiry` does.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use nerve_web::dto::InquiryDto;
use serde_json::Value;

use super::client::{Api, remote};
use super::table::{Table, pretty, print_record, timestamp};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

#[derive(Debug, Subcommand)]
pub(crate) enum InquiryCommand {
    /// List the inquiries waiting for a response, newest first.
    List(ListArgs),
    /// Show an inquiry: what it asks (the response schema), who may answer, its ttl.
    Get(IdArgs),
    /// Answer a pending inquiry with a JSON response matching its schema; a workflow waiting
    /// on it goes on. Exit 2 when the response does not match (each field is named).
    Respond(RespondArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// The inquiry's (execution) id.
    id: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct RespondArgs {
    /// The inquiry's (execution) id.
    id: String,
    /// The response, a JSON object (e.g. `'{"continue": true}'`).
    #[arg(long, short = 'r', value_name = "JSON")]
    response: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: InquiryCommand) -> anyhow::Result<ExitCode> {
    match command {
        InquiryCommand::List(args) => remote(global, async move |api| list(api, args).await),
        InquiryCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        InquiryCommand::Respond(args) => remote(global, async move |api| respond(api, args).await),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let inquiries = api.list_inquiries().await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&inquiries)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["ID", "ASKED", "TTL (MIN)", "ROUTE", "USERS", "WORKFLOW"]);
    for inquiry in &inquiries {
        table.row(vec![
            inquiry.id.clone(),
            timestamp(&inquiry.start_timestamp),
            inquiry.ttl.to_string(),
            inquiry.route.clone(),
            inquiry.users.join(", "),
            inquiry.parent.clone().unwrap_or_default(),
        ]);
    }
    table.print("no inquiries waiting for a response");
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: IdArgs) -> anyhow::Result<ExitCode> {
    let inquiry = api.get_inquiry(&args.id).await?;
    print_inquiry(&inquiry, args.output)
}

async fn respond(api: &Api, args: RespondArgs) -> anyhow::Result<ExitCode> {
    let response: Value = match serde_json::from_str(&args.response)
        .with_context(|| format!("--response is not JSON: `{}`", args.response))
    {
        Ok(response) => response,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let inquiry = api.respond_inquiry(&args.id, response).await?;
    if args.output == OutputFormat::Table {
        print_line(&format!("inquiry {} answered", inquiry.id));
    }
    print_inquiry(&inquiry, args.output)
}

fn print_inquiry(inquiry: &InquiryDto, output: OutputFormat) -> anyhow::Result<ExitCode> {
    if output == OutputFormat::Json {
        print_json(&serde_json::to_value(inquiry)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut fields = vec![
        ("id", inquiry.id.clone()),
        ("status", inquiry.status.clone()),
        ("asked", timestamp(&inquiry.start_timestamp)),
        ("ttl (minutes)", inquiry.ttl.to_string()),
        ("route", inquiry.route.clone()),
        ("users", inquiry.users.join(", ")),
        ("roles", inquiry.roles.join(", ")),
        ("workflow", inquiry.parent.clone().unwrap_or_default()),
        ("schema", pretty(&inquiry.schema)),
    ];
    if let Some(response) = &inquiry.response {
        fields.push(("response", pretty(response)));
    }
    print_record(&fields);
    Ok(ExitCode::SUCCESS)
}
