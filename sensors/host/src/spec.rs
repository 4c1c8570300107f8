//! What should run: one [`SensorSpec`] per sensor, computed by the host's owner.

use std::ffi::OsString;
use std::path::PathBuf;

use nerve_sensor_protocol::TriggerDict;
use serde_json::{Map, Value};

/// One sensor that should be running.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSpec {
    /// `pack.ClassName`.
    pub sensor_ref: String,
    /// The pack.
    pub pack: String,
    /// The class name.
    pub class_name: String,
    /// How to start it, or why it cannot be.
    pub launch: Launch,
    /// The pack config sent in `hello`.
    pub config: Map<String, Value>,
    /// Seconds between polls, sent in `hello`.
    pub poll_interval: Option<f64>,
    /// Trigger type refs it emits.
    pub trigger_types: Vec<String>,
    /// The triggers to send with `add_trigger` (parameters already validated).
    pub triggers: Vec<TriggerDict>,
    /// The sensor's code revision (a digest of its metadata and entry point): a change
    /// restarts the process even when the command line is the same.
    pub revision: String,
    /// Problems found while computing the spec (e.g. a rule's trigger parameters that do not
    /// match the `parameters_schema`); shown in the status, the rest still runs.
    pub problems: Vec<String>,
}

/// How a sensor process is started.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// Run this program.
    Command {
        /// The program.
        program: PathBuf,
        /// Its arguments.
        args: Vec<OsString>,
        /// Working directory.
        cwd: PathBuf,
        /// The whole environment (the host clears everything else).
        env: Vec<(OsString, OsString)>,
        /// The runtime it needs (`python`, `native`, ...), for display.
        runtime: String,
    },
    /// It cannot run on this node (e.g. its runtime is missing), with the install hint.
    Unavailable {
        /// The runtime it needs.
        runtime: String,
        /// Why, and what to install.
        reason: String,
    },
}

impl SensorSpec {
    /// Whether `other` runs the same process (same command and hello); only the triggers
    /// differ, so the running process can be told instead of restarted.
    pub(crate) fn same_process(&self, other: &SensorSpec) -> bool {
        self.launch == other.launch
            && self.revision == other.revision
            && self.config == other.config
            && self.poll_interval == other.poll_interval
            && self.trigger_types == other.trigger_types
            && self.class_name == other.class_name
            && self.pack == other.pack
    }

    /// The command line as one string, for display and `process_spawn`.
    pub fn command_line(&self) -> String {
        match &self.launch {
            Launch::Command { program, args, .. } => {
                let mut line = program.display().to_string();
                for arg in args {
                    let arg = arg.to_string_lossy();
                    // The embedded Python wrapper is long; show that it is there, not its text.
                    if arg.len() > 120 || arg.contains('\n') {
                        line.push_str(" <embedded source>");
                    } else {
                        line.push(' ');
                        line.push_str(&arg);
                    }
                }
                line
            }
            Launch::Unavailable { .. } => String::new(),
        }
    }

    /// The runtime name.
    pub fn runtime(&self) -> &str {
        match &self.launch {
            Launch::Command { runtime, .. } | Launch::Unavailable { runtime, .. } => runtime,
        }
    }
}
