//! Subcommands. Each module has `Args` (clap) and `exec(args) -> anyhow::Result<ExitCode>`.

mod pack;
mod rule;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Nerve: event automation in the StackStorm mould — sensors emit events, rules match them,
/// actions run. Existing StackStorm packs and rules work.
///
/// Exit codes: 0 success; 1 the operation ran and failed (a rule did not match, a pack did not
/// validate in a way the command reports as failure); 2 usage or input error.
#[derive(Debug, Parser)]
#[command(name = "nerve", version, about, long_about = None, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Packs: validate, scaffold.
    #[command(subcommand)]
    Pack(pack::PackCommand),
    /// Rules: test a rule against an event, offline.
    #[command(subcommand)]
    Rule(rule::RuleCommand),
}

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Human-readable text.
    #[default]
    Table,
    /// JSON, for scripts.
    Json,
}

pub(crate) fn exec(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Pack(command) => pack::exec(command),
        Command::Rule(command) => rule::exec(command),
    }
}
