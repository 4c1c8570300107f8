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
    let mut found = Vec::new();
    for definition in definitions {
        let status = detect(definition).await;
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
