//! Runtimes as data (`packs/core/runtimes/*.yaml`): how to find an interpreter on a node and how
//! to run an entry point with it.

use serde::{Deserialize, Serialize};

/// A runtime definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeDef {
    /// Name sensors and runners refer to (`python`, `node`, `shell`, `native`).
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When several runtimes could run a file, the lower priority wins.
    #[serde(default)]
    pub priority: i64,
    /// Present on every node without verification (e.g. `native`).
    #[serde(default)]
    pub always_available: bool,
    /// Lowest acceptable version (dotted numbers), compared with the verified version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// What to tell the operator when the runtime is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
    /// Entry-point extensions this runtime runs by default (`.py`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Argument vector template: `{binary}` is the verified interpreter, `{entry_point}` the file.
    pub run: Vec<String>,
    /// Ways to find the interpreter, tried in priority order; the first that passes wins.
    #[serde(default)]
    pub verification: Vec<VerificationCommand>,
}

/// One way to find and check an interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationCommand {
    /// Program name or path (`python3`).
    pub binary: String,
    /// Arguments (`["--version"]`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Exit code that means success.
    #[serde(default)]
    pub expected_exit_code: i32,
    /// Regex over stdout+stderr that must match; its first capture group is the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_regex: Option<String>,
    /// Lower is tried first.
    #[serde(default)]
    pub priority: i64,
}

impl RuntimeDef {
    /// Verification commands in the order to try them.
    pub fn verification_order(&self) -> Vec<&VerificationCommand> {
        let mut commands: Vec<&VerificationCommand> = self.verification.iter().collect();
        commands.sort_by_key(|c| c.priority);
        commands
    }

    /// Whether `version` (dotted numbers, e.g. `3.11.7`) meets `min_version`.
    pub fn version_ok(&self, version: &str) -> bool {
        let Some(min) = &self.min_version else {
            return true;
        };
        let parse = |text: &str| -> Vec<u64> {
            text.split(['.', '-', '+'])
                .map_while(|part| part.parse::<u64>().ok())
                .collect()
        };
        let (have, need) = (parse(version), parse(min));
        let width = have.len().max(need.len());
        let pad = |mut v: Vec<u64>| {
            v.resize(width, 0);
            v
        };
        pad(have) >= pad(need)
    }

    /// The argument vector to run `entry_point` with the verified `binary`.
    pub fn command_line(&self, binary: &str, entry_point: &str) -> Vec<String> {
        self.run
            .iter()
            .map(|arg| {
                arg.replace("{binary}", binary)
                    .replace("{entry_point}", entry_point)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python() -> RuntimeDef {
        RuntimeDef {
            name: "python".into(),
            description: None,
            priority: 0,
            always_available: false,
            min_version: Some("3.8".into()),
            install_hint: None,
            extensions: vec![".py".into()],
            run: vec!["{binary}".into(), "-u".into(), "{entry_point}".into()],
            verification: vec![
                VerificationCommand {
                    binary: "python".into(),
                    args: vec![],
                    expected_exit_code: 0,
                    output_regex: None,
                    priority: 2,
                },
                VerificationCommand {
                    binary: "python3".into(),
                    args: vec![],
                    expected_exit_code: 0,
                    output_regex: None,
                    priority: 1,
                },
            ],
        }
    }

    #[test]
    fn versions_compare_numerically() {
        let rt = python();
        assert!(rt.version_ok("3.11.7"));
        assert!(rt.version_ok("3.8"));
        assert!(rt.version_ok("3.10"));
        assert!(!rt.version_ok("3.7.17"));
        assert!(!rt.version_ok("2.7"));
    }

    #[test]
    fn verification_by_priority_and_command_line() {
        let rt = python();
        assert_eq!(rt.verification_order()[0].binary, "python3");
        assert_eq!(
            rt.command_line("/usr/bin/python3", "s.py"),
            ["/usr/bin/python3", "-u", "s.py"]
        );
    }
}
