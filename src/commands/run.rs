//! `nerve run ACTION [NAME=VALUE ...]` (also `nerve action execute`): request an execution and,
//! unless `--async`, follow its output live to the end.

use std::process::ExitCode;

use clap::Args;
use nerve_web::dto::RunBody;
use serde_json::{Map, Value};

use super::client::{Api, param_map, parse_param, remote};
use super::execution::started;
use super::{GlobalArgs, OutputFormat};

/// What to run and how (see `nerve run --help`).
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The action, `pack.name`.
    action: String,
    /// Parameters, `NAME=VALUE`.
    #[arg(value_name = "NAME=VALUE", value_parser = parse_param)]
    parameters: Vec<(String, Value)>,
    /// Print the execution id and return without waiting.
    #[arg(long = "async", short = 'a')]
    no_wait: bool,
    /// Trace tag for this execution and everything it causes (`nerve trace get --trace-tag`).
    #[arg(long, value_name = "TAG")]
    trace_tag: Option<String>,
    /// Output format (`json` prints the final execution instead of the live output).
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, args: RunArgs) -> anyhow::Result<ExitCode> {
    remote(global, async move |api| run(api, args).await)
}

async fn run(api: &Api, args: RunArgs) -> anyhow::Result<ExitCode> {
    let body = RunBody {
        action: args.action,
        parameters: param_map(args.parameters),
        trace_tag: args.trace_tag,
        context: Map::new(),
    };
    let execution = api.run(&body).await?;
    started(api, execution, args.no_wait, args.output).await
}
