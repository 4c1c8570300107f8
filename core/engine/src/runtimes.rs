//! Runtime detection: each runtime definition's verification commands are tried in priority
//! order at start; the first that passes gives the interpreter and its version.

use std::time::Duration;

use nerve_model::{RuntimeDef, VerificationCommand};
use nerve_runner::{Exit, Spawn, run_process};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What detection found for one runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedRuntime {
    /// Runtime name.
    pub name: String,
    /// Found or not.
    pub status: RuntimeStatus,
}

/// Whether a runtime can be used on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeStatus {
    /// Usable: the interpreter (empty for `always_available` runtimes) and its version.
    Available {
        /// The verified binary.
        binary: String,
        /// The version the verification printed, if it prints one.
        version: Option<String>,
    },
    /// Not usable, with what was tried and the install hint.
    Missing {
        /// Why, and what to install.
        hint: String,
    },
}

/// Detects every runtime; verification commands run with a 10 s limit each.
pub async fn detect_runtimes(definitions: &[RuntimeDef]) -> Vec<DetectedRuntime> {
    detect_runtimes_with(definitions, None).await
}

/// Detects runtimes as [`detect_runtimes`] does, restricted by an operator override
/// (`NERVE_RUNTIMES`): a comma-separated list of runtime names, each optionally `=BINARY` to
/// force the interpreter (`python=/opt/py311/bin/python3,shell,native`). Runtimes not listed
/// are reported missing ("not enabled on this node"); a forced binary is still verified.
pub async fn detect_runtimes_with(
    definitions: &[RuntimeDef],
    only: Option<&str>,
) -> Vec<DetectedRuntime> {
    let only: Option<Vec<(String, Option<String>)>> = only.map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| match item.split_once('=') {
                Some((name, binary)) => (name.trim().to_owned(), Some(binary.trim().to_owned())),
                None => (item.to_owned(), None),
            })
            .collect()
    });
    let mut found = Vec::new();
    for definition in definitions {
        let status = match &only {
            None => detect(definition).await,
            Some(list) => match list.iter().find(|(name, _)| *name == definition.name) {
                None => RuntimeStatus::Missing {
                    hint: format!(
                        "not enabled on this node (NERVE_RUNTIMES={})",
                        list.iter()
                            .map(|(name, _)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                },
                Some((_, None)) => detect(definition).await,
                Some((_, Some(binary))) => {
                    let mut forced = definition.clone();
                    for command in &mut forced.verification {
                        command.binary = binary.clone();
                    }
                    forced.always_available = false;
                    if forced.verification.is_empty() {
                        RuntimeStatus::Available {
                            binary: binary.clone(),
                            version: None,
                        }
                    } else {
                        detect(&forced).await
                    }
                }
            },
        };
        match &status {
            RuntimeStatus::Available { binary, version } => {
                tracing::info!(runtime = %definition.name, binary, version = version.as_deref().unwrap_or("-"), "Runtime available.");
            }
            RuntimeStatus::Missing { hint } => {
                tracing::warn!(runtime = %definition.name, hint, "Runtime missing.")
            }
        }
        found.push(DetectedRuntime {
            name: definition.name.clone(),
            status,
        });
    }
    found
}

async fn detect(definition: &RuntimeDef) -> RuntimeStatus {
    if definition.always_available {
        return RuntimeStatus::Available {
            binary: String::new(),
            version: None,
        };
    }
    let mut tried = Vec::new();
    for command in definition.verification_order() {
        match verify(command).await {
            Ok(version) if version.as_deref().is_none_or(|v| definition.version_ok(v)) => {
                return RuntimeStatus::Available {
                    binary: command.binary.clone(),
                    version,
                };
            }
            Ok(version) => tried.push(format!(
                "`{}` is version {} (need {})",
                command.binary,
                version.unwrap_or_default(),
                definition.min_version.as_deref().unwrap_or("-")
            )),
            Err(why) => tried.push(format!("`{}`: {why}", command.binary)),
        }
    }
    let hint = definition
        .install_hint
        .clone()
        .unwrap_or_else(|| format!("install a `{}` runtime", definition.name));
    RuntimeStatus::Missing {
        hint: format!("{hint} (tried: {})", tried.join("; ")),
    }
}

/// Runs one verification command; the version is the first capture group of `output_regex`.
async fn verify(command: &VerificationCommand) -> Result<Option<String>, String> {
    let mut spawn = Spawn::new(&command.binary, std::env::temp_dir());
    spawn.args = command.args.iter().map(Into::into).collect();
    spawn.env = vec![(
        "PATH".into(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    )];
    spawn.timeout = Some(Duration::from_secs(10));
    spawn.grace = Duration::from_secs(1);
    let (sink, mut lines) = mpsc::channel(64);
    let drain = tokio::spawn(async move { while lines.recv().await.is_some() {} });
    let finished = run_process(spawn, &sink, &CancellationToken::new())
        .await
        .map_err(|e| e.to_string())?;
    drop(sink);
    let _ = drain.await;
    let code = match finished.exit {
        Some(Exit::Code(code)) => code,
        other => return Err(format!("ended with {other:?}")),
    };
    if code != command.expected_exit_code {
        return Err(format!(
            "exit code {code}, expected {}",
            command.expected_exit_code
        ));
    }
    let Some(pattern) = &command.output_regex else {
        return Ok(None);
    };
    let output = format!("{}\n{}", finished.stdout.text, finished.stderr.text);
    let regex = fancy_regex::Regex::new(pattern).map_err(|e| format!("bad output_regex: {e}"))?;
    match regex.captures(&output) {
        Ok(Some(captures)) => Ok(captures.get(1).map(|m| m.as_str().to_owned())),
        _ => Err(format!("output does not match `{pattern}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell() -> RuntimeDef {
        RuntimeDef {
            name: "shell".into(),
            description: None,
            priority: 0,
            always_available: false,
            min_version: None,
            install_hint: Some("install sh".into()),
            extensions: Vec::new(),
            run: vec!["{binary}".into(), "{entry_point}".into()],
            verification: vec![VerificationCommand {
                binary: "/bin/sh".into(),
                args: vec!["-c".into(), "echo ok".into()],
                expected_exit_code: 0,
                output_regex: Some("(ok)".into()),
                priority: 1,
            }],
        }
    }

    fn node() -> RuntimeDef {
        RuntimeDef {
            name: "node".into(),
            ..shell()
        }
    }

    #[tokio::test]
    async fn the_operator_override_restricts_and_pins_runtimes() {
        let found = detect_runtimes_with(&[shell(), node()], Some("shell")).await;
        assert!(
            matches!(&found[0].status, RuntimeStatus::Available { binary, .. } if binary == "/bin/sh")
        );
        assert!(
            matches!(&found[1].status, RuntimeStatus::Missing { hint } if hint == "not enabled on this node (NERVE_RUNTIMES=shell)"),
            "{found:?}"
        );

        let found = detect_runtimes_with(&[shell()], Some(" shell = /bin/dash ")).await;
        assert!(
            matches!(&found[0].status, RuntimeStatus::Available { binary, .. } if binary == "/bin/dash"),
            "{found:?}"
        );
        let found = detect_runtimes_with(&[shell()], Some("shell=/no/such/sh")).await;
        assert!(
            matches!(&found[0].status, RuntimeStatus::Missing { hint } if hint.contains("/no/such/sh")),
            "{found:?}"
        );
        let found = detect_runtimes_with(&[shell(), node()], None).await;
        assert!(
            found
                .iter()
                .all(|r| matches!(r.status, RuntimeStatus::Available { .. }))
        );
    }
}
