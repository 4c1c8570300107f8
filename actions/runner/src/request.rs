//! What a runner needs to run one execution; everything is decided by the caller (the worker).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use nerve_model::{Action, RunnerType};
use serde_json::{Map, Value};

use crate::OutputLimits;

/// One execution to run.
///
/// The runner does no validation, templating or lookups of its own: `parameters` are final.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The execution's id (passed to the action as `ST2_ACTION_EXECUTION_ID` and
    /// `NERVE_EXECUTION_ID`).
    pub execution_id: String,
    /// The action being run.
    pub action: Action,
    /// Its runner.
    pub runner: RunnerType,
    /// Runner and action parameters together: validated, defaults applied, templates rendered.
    pub parameters: Map<String, Value>,
    /// Absolute path of the action's entry point, for runners that take one.
    pub entry_point: Option<PathBuf>,
    /// The pack's directory (its `actions/` directory is the default working directory).
    pub pack_dir: PathBuf,
    /// The pack's configuration (given to Python actions as `self.config`).
    pub pack_config: Value,
    /// Base URL of Nerve's API (`ST2_ACTION_API_URL`).
    pub api_url: Option<String>,
    /// A token valid for the execution's lifetime (`ST2_ACTION_AUTH_TOKEN`).
    pub auth_token: Option<String>,
    /// The Python interpreter for `python-script`, as detected on this node.
    pub python: Interpreter,
    /// The shell for `local-shell-cmd` and for scripts that are neither executable nor start
    /// with `#!`; `/bin/sh` (what StackStorm's `subprocess(shell=True)` uses) unless the worker
    /// says otherwise.
    pub shell: PathBuf,
    /// Environment passed through from the worker (typically `PATH`, `HOME`, `LANG`); the action
    /// sees nothing else of Nerve's environment.
    pub base_env: BTreeMap<String, String>,
    /// Time between SIGTERM and SIGKILL when a process is stopped.
    pub grace: Duration,
    /// Caps on the output kept in the result.
    pub limits: OutputLimits,
}

impl RunRequest {
    /// A request with no parameters, an empty pack config, no API access, no Python, `/bin/sh`,
    /// an empty base environment, a 5 s grace period and the default output limits.
    pub fn new(
        execution_id: impl Into<String>,
        action: Action,
        runner: RunnerType,
        pack_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            execution_id: execution_id.into(),
            action,
            runner,
            parameters: Map::new(),
            entry_point: None,
            pack_dir: pack_dir.into(),
            pack_config: Value::Object(Map::new()),
            api_url: None,
            auth_token: None,
            python: Interpreter::default(),
            shell: PathBuf::from("/bin/sh"),
            base_env: BTreeMap::new(),
            grace: Duration::from_secs(5),
            limits: OutputLimits::default(),
        }
    }
}

/// An interpreter a runner needs, as the node's runtime detection found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interpreter {
    /// Verified to work; the path to run.
    Verified(PathBuf),
    /// Not available on this node.
    Missing {
        /// How to make it available (shown to the operator).
        hint: String,
    },
}

impl Default for Interpreter {
    fn default() -> Self {
        Interpreter::Missing {
            hint: "no interpreter was detected on this node".to_owned(),
        }
    }
}
