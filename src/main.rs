//! The `nerve` binary: command-line parsing and dispatch. Each subcommand lives in
//! `commands/<name>.rs` with an `exec` that parses, calls the libraries and prints.
//!
//! Exit codes: 0 success, 1 the thing ran and failed (e.g. a rule did not match), 2 usage or input
//! error (bad YAML, unknown file, invalid rule).

mod builtin;
mod commands;
mod dependencies;
mod logging;
mod output;
mod platform;
mod progress;
mod rule_tester;
mod source;
mod venv;
mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::commands::Cli;

/// mimalloc instead of the system allocator. The store's sled copies a tree node on every write
/// (allocate, copy, free the old one), so allocation is a large part of each event's cost:
/// measured on sled alone, inserts took half the time with mimalloc. It is built without
/// transparent huge pages (`no_thp`), which otherwise tripled the idle RSS.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::exec(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("\nCaused by:\n    {cause}");
            }
            ExitCode::from(2)
        }
    }
}
