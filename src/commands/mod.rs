//! Subcommands. Each module has `Args` (clap) and `exec(args) -> anyhow::Result<ExitCode>`.

mod pack;
mod rule;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Nerve: event automation in the StackStorm mould — sensors emit events, rules match them,
/// actions run. Existing StackStorm packs and rules work.
///
/// Exit codes: 0 success; 1 the operation ran and failed (a rule did not match, a pack did not
/// validate in a way the command reports as failure); 2 usage or input error.
#[derive(Debug, Parser)]
#[command(name = "nerve", version, about, long_about = None, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command shares.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Where Nerve keeps its state (default: `$XDG_DATA_HOME/nerve`, else `~/.local/share/nerve`).
    #[arg(long, global = true, env = "NERVE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[arg(
        long = "xdg-data-home",
        global = true,
        env = "XDG_DATA_HOME",
        hide = true
    )]
    xdg_data_home: Option<PathBuf>,
    #[arg(long = "home-dir", global = true, env = "HOME", hide = true)]
    home: Option<PathBuf>,
    /// The `PATH` actions see.
    #[arg(long = "action-path", global = true, env = "PATH", hide = true)]
    path: Option<String>,
    #[arg(long = "action-lang", global = true, env = "LANG", hide = true)]
    lang: Option<String>,
}

impl GlobalArgs {
    /// The data dir: `--data-dir`, `NERVE_DATA_DIR`, `$XDG_DATA_HOME/nerve`, `~/.local/share/nerve`.
    pub(crate) fn data_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        if let Some(xdg) = self.xdg_data_home.as_ref().filter(|p| p.is_absolute()) {
            return Ok(xdg.join("nerve"));
        }
        match &self.home {
            Some(home) => Ok(home.join(".local/share/nerve")),
            None => bail!("no data dir: set --data-dir or NERVE_DATA_DIR (HOME is not set)"),
        }
    }

    /// `PATH`, `HOME` and `LANG` for actions (everything else is cleared).
    pub(crate) fn base_env(&self) -> Vec<(String, String)> {
        let mut env = vec![(
            "PATH".to_owned(),
            self.path
                .clone()
                .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned()),
        )];
        if let Some(home) = &self.home {
            env.push(("HOME".to_owned(), home.display().to_string()));
        }
        if let Some(lang) = &self.lang {
            env.push(("LANG".to_owned(), lang.clone()));
        }
        env
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything in one process: API, rules engine, scheduler, worker. Prints
    /// `ready <url>` when it accepts requests.
    Up(up::UpArgs),
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
        Command::Up(args) => up::exec(&cli.global, args),
        Command::Pack(command) => pack::exec(command),
        Command::Rule(command) => rule::exec(command),
    }
}
