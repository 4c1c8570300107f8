//! Runner types: the kinds of action execution Nerve supports, with their runner parameters
//! (StackStorm's `runner.yaml` data, embedded as `runners.json`).

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::ParamMap;

/// A runner type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerType {
    /// Runner name (`local-shell-cmd`, ...).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether actions of this runner need an `entry_point`.
    pub entry_point: EntryPointRule,
    /// The runtime needed on the worker (`shell`, `python`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The result field shown as the execution's main output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_key: Option<String>,
    /// Parameters every action of this runner has (actions may override some attributes).
    pub runner_parameters: ParamMap,
}

/// Whether a runner takes an entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryPointRule {
    /// The action must name a file.
    Required,
    /// The action must not name a file (an empty string is allowed).
    Forbidden,
}

static RUNNERS: LazyLock<Vec<RunnerType>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("runners.json"))
        .unwrap_or_else(|error| panic!("embedded runners.json is invalid: {error}"))
});

/// Every runner Nerve supports.
///
/// # Panics
/// Never in a tested build: the embedded definitions are checked by a unit test.
pub fn builtin_runners() -> &'static [RunnerType] {
    &RUNNERS
}

/// The runner with this name or legacy alias.
pub fn find_runner(name: &str) -> Option<&'static RunnerType> {
    let name = runner_alias(name).unwrap_or(name);
    builtin_runners().iter().find(|runner| runner.name == name)
}

/// The current name for a legacy StackStorm runner alias (`run-local` → `local-shell-cmd`).
pub fn runner_alias(name: &str) -> Option<&'static str> {
    match name {
        "run-local" => Some("local-shell-cmd"),
        "run-local-script" => Some("local-shell-script"),
        "run-python" => Some("python-script"),
        "http-runner" => Some("http-request"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Schema, parameters_schema};

    #[test]
    fn embedded_runners_parse_and_their_schemas_compile() {
        let names: Vec<&str> = builtin_runners().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "local-shell-cmd",
                "local-shell-script",
                "python-script",
                "http-request",
                "noop",
                "orquesta",
                "action-chain",
                "inquirer"
            ]
        );
        for runner in builtin_runners() {
            Schema::compile(parameters_schema(&runner.runner_parameters)).unwrap();
        }
    }

    #[test]
    fn aliases_resolve() {
        assert_eq!(
            find_runner("run-local").map(|r| r.name.as_str()),
            Some("local-shell-cmd")
        );
        assert!(find_runner("remote-shell-cmd").is_none());
    }
}
