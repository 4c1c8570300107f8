//! Subcommands. Each module has `Args` (clap) and `exec(args) -> anyhow::Result<ExitCode>`.
//! Commands that talk to a running server connect through [`client`].

mod action;
mod client;
mod event;
mod execution;
mod inquiry;
mod key;
mod node;
mod pack;
mod rule;
mod run;
mod sensor;
mod sensor_local;
mod table;
mod trace;
mod trigger;
mod up;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Nerve: event automation in the StackStorm mould — sensors emit events, rules match them,
/// actions run. Existing StackStorm packs and rules work.
///
/// Exit codes: 0 success; 1 the operation ran and failed (an execution failed, a rule did not
/// match, the server answered "not found" or had an internal error); 2 usage, input,
/// authentication or connection error.
#[derive(Debug, Parser)]
#[command(
    name = "nerve",
    version,
    about,
    long_about = None,
    max_term_width = 100,
    after_help = "Exit codes: 0 success; 1 the operation ran and failed (an execution failed, \
                  the server answered \"not found\"); 2 usage, input, authentication or \
                  connection error."
)]
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
    /// Base URL of the Nerve API for client commands (default: the server `nerve up` recorded
    /// in the data dir).
    #[arg(long, global = true, env = "NERVE_API_URL", value_name = "URL")]
    api: Option<String>,
    /// Auth token for client commands (default: the admin token in the data dir).
    #[arg(
        long,
        global = true,
        env = "NERVE_AUTH_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
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
    /// Run the server role over RabbitMQ: API, rules engine, scheduler, store. Actions run on
    /// `nerve worker` nodes and sensors on `nerve sensors` nodes.
    Server(node::ServerArgs),
    /// Run a worker node: runs the actions the server schedules (needs --amqp).
    Worker(node::NodeArgs),
    /// Run a sensor node: runs the sensors the server assigns to it (needs --amqp).
    Sensors(node::NodeArgs),
    /// Nodes of a multi-node deployment: list.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// The bus: queues, dead letters, replay.
    #[command(subcommand)]
    Bus(node::BusCommand),
    /// Run an action and follow its output live (= `nerve action execute`).
    ///
    /// Parameters are `NAME=VALUE`; values are strings (the server casts them to the declared
    /// types) unless they are JSON objects or arrays (`tags=["a","b"]`).
    ///
    /// Without `--async` the action's stdout lines go to stdout and its stderr lines to stderr as
    /// they are written, so `nerve run core.local cmd='echo hi'` prints `hi`. What the action
    /// returns besides its output (a Python action's value, an HTTP response) follows on stdout,
    /// and a summary (status, time, return code) on stderr. Exit 0 when it succeeded; 1 when it
    /// failed, timed out, was canceled or abandoned; 2 for invalid parameters.
    Run(run::RunArgs),
    /// Actions: list, get, execute.
    #[command(subcommand)]
    Action(action::ActionCommand),
    /// Executions: list, get, tail, cancel, rerun.
    #[command(subcommand)]
    Execution(execution::ExecutionCommand),
    /// Rules: create, list, get, delete, enable, disable; test a rule offline.
    #[command(subcommand)]
    Rule(rule::RuleCommand),
    /// Trigger types: list.
    #[command(subcommand)]
    Trigger(trigger::TriggerCommand),
    /// Events (trigger instances): list, get, re-emit.
    #[command(subcommand)]
    Event(event::EventCommand),
    /// Key-value pairs: set, get, list, delete.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Packs: install, list, get, remove; validate and scaffold offline.
    #[command(subcommand)]
    Pack(pack::PackCommand),
    /// Traces: what an event or a tagged run caused (event → rule → execution).
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Inquiries (`core.ask`): list those waiting, show one, respond.
    #[command(subcommand)]
    Inquiry(inquiry::InquiryCommand),
    /// Sensors: list, get, restart, logs; test one in the foreground.
    #[command(subcommand)]
    Sensor(sensor::SensorCommand),
    /// Workflows (orquesta, action-chain): inspect a definition offline.
    #[command(subcommand)]
    Workflow(workflow::WorkflowCommand),
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
        Command::Server(args) => node::server(&cli.global, args),
        Command::Worker(args) => node::node(&cli.global, args, nerve_model::NodeRole::Worker),
        Command::Sensors(args) => node::node(&cli.global, args, nerve_model::NodeRole::Sensors),
        Command::Node(command) => node::exec(&cli.global, command),
        Command::Bus(command) => node::bus(&cli.global, command),
        Command::Run(args) => run::exec(&cli.global, args),
        Command::Action(command) => action::exec(&cli.global, command),
        Command::Execution(command) => execution::exec(&cli.global, command),
        Command::Rule(command) => rule::exec(&cli.global, command),
        Command::Trigger(command) => trigger::exec(&cli.global, command),
        Command::Event(command) => event::exec(&cli.global, command),
        Command::Key(command) => key::exec(&cli.global, command),
        Command::Pack(command) => pack::exec(&cli.global, command),
        Command::Trace(command) => trace::exec(&cli.global, command),
        Command::Inquiry(command) => inquiry::exec(&cli.global, command),
        Command::Sensor(command) => sensor::exec(&cli.global, command),
        Command::Workflow(command) => workflow::exec(command),
    }
}
