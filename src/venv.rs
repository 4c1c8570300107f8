//! Per-pack Python virtual environments: a pack with a `requirements.txt` gets a virtualenv,
//! created with the machine's `python3 -m venv` and filled with `pip install -r`, under
//! `<data-dir>/virtualenvs/<ref>-<digest>` where the digest covers `requirements.txt`: an
//! unchanged file reuses the environment, a changed one builds a new one beside it, so the
//! running version keeps its environment until the new one is complete.
//!
//! The installed pack points at its environment with a `virtualenv` symlink (never copied,
//! hashed or followed by the loader); its Python actions and sensors run with
//! `virtualenv/bin/python`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

/// Marks an environment whose `pip install` finished.
const COMPLETE: &str = ".nerve-complete";

/// Why an environment could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VenvError {
    /// `python3 -m venv` or `pip install` failed; the tail of its output.
    #[error("`{command}` failed: {output}")]
    Command {
        /// What ran.
        command: String,
        /// The end of what it printed.
        output: String,
    },
    /// A file could not be read or written.
    #[error("failed to prepare the virtualenv in `{path}`")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The environment for the pack staged at `pack_dir` (ref `pack_ref`): `None` without a
/// `requirements.txt`; an existing complete one when the requirements are unchanged; else a
/// new one. Prints the step on stderr.
///
/// # Errors
/// `python3 -m venv` or `pip install` failing (the half-made environment is removed).
pub(crate) async fn prepare(
    pack_ref: &str,
    pack_dir: &Path,
    venvs_dir: &Path,
    env: &[(String, String)],
) -> Result<Option<PathBuf>, VenvError> {
    let requirements = pack_dir.join("requirements.txt");
    let Ok(bytes) = std::fs::read(&requirements) else {
        return Ok(None);
    };
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let venv = venvs_dir.join(format!("{pack_ref}-{digest}"));
    if venv.join(COMPLETE).is_file() {
        return Ok(Some(venv));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VenvError::Io { path, source }
    };
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(io(&venv))?;
    }
    std::fs::create_dir_all(venvs_dir).map_err(io(venvs_dir))?;
    tracing::info!(pack = pack_ref, venv = %venv.display(), "Creating the pack's virtualenv.");
    let result = async {
        run(
            env,
            venvs_dir,
            "python3",
            &["-m".into(), "venv".into(), venv.clone().into_os_string()],
        )
        .await?;
        let has_requirements = String::from_utf8_lossy(&bytes)
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim().starts_with('#'));
        if has_requirements {
            run(
                env,
                pack_dir,
                &venv.join("bin/pip").display().to_string(),
                &[
                    "install".into(),
                    "--quiet".into(),
                    "--disable-pip-version-check".into(),
                    "-r".into(),
                    requirements.clone().into_os_string(),
                ],
            )
            .await?;
        }
        std::fs::write(venv.join(COMPLETE), &bytes).map_err(io(&venv))
    }
    .await;
    if let Err(error) = result {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(error);
    }
    Ok(Some(venv))
}

/// Points `<pack>/virtualenv` at `venv` (or removes the link when `None`), replacing any old
/// link in one rename.
///
/// # Errors
/// A file system failure.
pub(crate) fn link(pack_dir: &Path, venv: Option<&Path>) -> std::io::Result<()> {
    let link = pack_dir.join("virtualenv");
    match venv {
        Some(venv) => {
            let temp = pack_dir.join(".virtualenv.linking");
            let _ = std::fs::remove_file(&temp);
            std::os::unix::fs::symlink(venv, &temp)?;
            std::fs::rename(&temp, &link)
        }
        None => match std::fs::symlink_metadata(&link) {
            Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(&link),
            _ => Ok(()),
        },
    }
}

/// Removes the pack's environments other than `keep`.
pub(crate) fn prune(pack_ref: &str, venvs_dir: &Path, keep: Option<&Path>) {
    let Ok(entries) = std::fs::read_dir(venvs_dir) else {
        return;
    };
    let prefix = format!("{pack_ref}-");
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_prefix(&prefix)
            .is_some_and(|digest| digest.len() == 16 && !digest.contains('-'));
        if ours && Some(path.as_path()) != keep {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Runs `program ARGS` in `cwd` through Nerve's spawning wrapper; a failure carries the end of
/// its output.
async fn run(
    env: &[(String, String)],
    cwd: &Path,
    program: &str,
    args: &[OsString],
) -> Result<(), VenvError> {
    let mut spawn = nerve_runner::Spawn::new(program, cwd);
    spawn.args = args.to_vec();
    spawn.env = env
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
    spawn.timeout = Some(Duration::from_secs(900));
    let command = format!(
        "{program} {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (sink, mut lines) = tokio::sync::mpsc::channel(64);
    let drain = tokio::spawn(async move { while lines.recv().await.is_some() {} });
    let cancel = tokio_util::sync::CancellationToken::new();
    let finished = nerve_runner::run_process(spawn, &sink, &cancel).await;
    drop(sink);
    let _ = drain.await;
    let finished = finished.map_err(|error| VenvError::Command {
        command: command.clone(),
        output: error.to_string(),
    })?;
    let code = finished.exit.map_or(-1, nerve_runner::Exit::return_code);
    if code != 0 {
        let text = format!("{}\n{}", finished.stdout.text, finished.stderr.text);
        let tail: Vec<&str> = text.trim().lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(VenvError::Command {
            command,
            output: format!("exit {code}: {}", tail.join("\n")),
        });
    }
    Ok(())
}
