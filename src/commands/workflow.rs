//! `nerve workflow inspect FILE`: checks an orquesta or action-chain definition offline, as
//! `nerve pack validate` checks packs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use nerve_packs::{Diagnostic, Span};
use serde_json::json;

use super::OutputFormat;
use crate::output::{print_diagnostics, print_json, print_line};

#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowCommand {
    /// Check a workflow definition offline: syntax, fields, unknown tasks in `do`,
    /// unreachable tasks, undefined variables, bad expressions (YAQL is refused).
    ///
    /// Prints every problem with file:line:col. Exit 0 when the definition is valid, 2
    /// otherwise.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The workflow file (YAML).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The runner the file is for (default: `action-chain` when it has a top-level `chain`,
    /// else `orquesta`).
    #[arg(long, value_enum)]
    runner: Option<Runner>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

/// The workflow runners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Runner {
    Orquesta,
    ActionChain,
}

pub(crate) fn exec(command: WorkflowCommand) -> anyhow::Result<ExitCode> {
    match command {
        WorkflowCommand::Inspect(args) => inspect(args),
    }
}

fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("failed to read `{}`", args.file.display()))?;
    let runner = args.runner.unwrap_or_else(|| {
        if text.lines().any(|line| line.starts_with("chain:")) {
            Runner::ActionChain
        } else {
            Runner::Orquesta
        }
    });
    let problems = match runner {
        Runner::Orquesta => nerve_workflow::Workflow::parse(&text).err(),
        Runner::ActionChain => nerve_workflow::Chain::parse(&text).err(),
    }
    .unwrap_or_default();
    let valid = problems.is_empty();
    let runner_name = match runner {
        Runner::Orquesta => "orquesta",
        Runner::ActionChain => "action-chain",
    };
    match args.output {
        OutputFormat::Json => print_json(&json!({
            "file": args.file,
            "runner": runner_name,
            "valid": valid,
            "problems": problems,
        })),
        OutputFormat::Table => {
            let diagnostics: Vec<Diagnostic> = problems
                .iter()
                .map(|p| {
                    Diagnostic::error(
                        &args.file,
                        Span::new(p.line, p.col),
                        p.path.clone(),
                        p.message.clone(),
                    )
                    .with_optional_hint(p.hint.clone())
                })
                .collect();
            print_diagnostics(&diagnostics);
            if valid {
                print_line(&format!("ok: `{}` ({runner_name})", args.file.display()));
            } else {
                print_line(&format!(
                    "invalid: `{}` ({runner_name}): {} problem(s)",
                    args.file.display(),
                    problems.len()
                ));
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
