//! Where `nerve pack install` gets a pack: a local directory, a git repository at an optional
//! ref (`URL=REF`: a branch, tag or commit), or a `.tar.gz` archive. Git and archives are
//! fetched into a temporary directory the install copies from.
//!
//! Path safety: archive members that are absolute, contain `..`, or are links or special files
//! are refused before anything is written, so nothing in an archive lands outside its directory.
//! Git runs through Nerve's one spawning wrapper with an argument vector (never a shell), with
//! `--` before the URL and refs that cannot be read as options.

use std::ffi::OsString;
use std::fs;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::progress::Step;

/// A pack source as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackSource {
    /// A local pack directory (installed as it is; `--watch` can follow it).
    Dir(PathBuf),
    /// A git repository, at `reference` or its default branch.
    Git {
        /// What `git clone` takes: a URL or a local repository path.
        url: String,
        /// A branch, tag or commit.
        reference: Option<String>,
    },
    /// A gzip-compressed tar archive holding one pack.
    Archive(PathBuf),
}

impl PackSource {
    /// Reads a SOURCE argument.
    pub(crate) fn parse(text: &str) -> PackSource {
        let looks_remote = |t: &str| {
            t.contains("://") || t.starts_with("git@") || t.ends_with(".git") || is_repo(t)
        };
        if text.ends_with(".tar.gz") || text.ends_with(".tgz") {
            return PackSource::Archive(PathBuf::from(text));
        }
        if let Some((url, reference)) = text.rsplit_once('=')
            && !reference.is_empty()
            && looks_remote(url)
        {
            return PackSource::Git {
                url: url.to_owned(),
                reference: Some(reference.to_owned()),
            };
        }
        if text.contains("://") || text.starts_with("git@") || text.ends_with(".git") {
            return PackSource::Git {
                url: text.to_owned(),
                reference: None,
            };
        }
        PackSource::Dir(PathBuf::from(text))
    }

    /// What is recorded as the pack's source.
    pub(crate) fn describe(&self) -> String {
        match self {
            PackSource::Dir(dir) => dir.display().to_string(),
            PackSource::Git {
                url,
                reference: Some(reference),
            } => format!("{url}={reference}"),
            PackSource::Git { url, .. } => url.clone(),
            PackSource::Archive(path) => path.display().to_string(),
        }
    }
}

/// A local repository (a directory with `.git`), installable at a ref.
fn is_repo(text: &str) -> bool {
    Path::new(text).join(".git").exists()
}

/// A source made local.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The pack directory (absolute).
    pub(crate) dir: PathBuf,
    /// The source to record (`URL=REF`, the archive, the directory).
    pub(crate) source: String,
    /// Keeps a clone or extraction alive until the install is done.
    _scratch: Option<tempfile::TempDir>,
}

/// Makes `source` a local pack directory, printing each step on stderr.
///
/// # Errors
/// A directory without `pack.yaml`, a git URL or ref that cannot be fetched (git's own message
/// is included), an archive that cannot be read or has an unsafe member (named).
pub(crate) async fn fetch(
    source: &PackSource,
    env: &[(String, String)],
) -> anyhow::Result<Fetched> {
    match source {
        PackSource::Dir(dir) => {
            if !dir.join("pack.yaml").is_file() {
                bail!(
                    "`{}` is not a pack directory (no `pack.yaml`)",
                    dir.display()
                );
            }
            let dir = dir
                .canonicalize()
                .with_context(|| format!("failed to resolve `{}`", dir.display()))?;
            Ok(Fetched {
                source: dir.display().to_string(),
                dir,
                _scratch: None,
            })
        }
        PackSource::Git { url, reference } => {
            let scratch = scratch()?;
            let dir = scratch.path().join(repo_name(url));
            let step = Step::start(format!("cloning `{url}`"));
            let cloned = git(
                env,
                scratch.path(),
                &[
                    "clone".into(),
                    "--quiet".into(),
                    "--".into(),
                    url.into(),
                    dir.clone().into_os_string(),
                ],
            )
            .await
            .with_context(|| format!("failed to clone `{url}`"));
            finish(step, cloned)?;
            if let Some(reference) = reference {
                if reference.starts_with('-') {
                    bail!("git ref `{reference}` may not start with `-`");
                }
                let step = Step::start(format!("checking out `{reference}`"));
                let checked_out = git(
                    env,
                    &dir,
                    &[
                        "checkout".into(),
                        "--quiet".into(),
                        "--detach".into(),
                        reference.into(),
                    ],
                )
                .await
                .with_context(|| {
                    format!("git ref `{reference}` is not a branch, tag or commit of `{url}`")
                });
                finish(step, checked_out)?;
            }
            if !dir.join("pack.yaml").is_file() {
                bail!(
                    "`{}` has no `pack.yaml` at its root: not a pack repository",
                    source.describe()
                );
            }
            Ok(Fetched {
                dir,
                source: source.describe(),
                _scratch: Some(scratch),
            })
        }
        PackSource::Archive(path) => {
            let scratch = scratch()?;
            let step = Step::start(format!("extracting `{}`", path.display()));
            let root = scratch.path().join("archive");
            finish(step, extract(path, &root))?;
            let dir = pack_root(&root, path)?;
            let source = path
                .canonicalize()
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string();
            Ok(Fetched {
                dir,
                source,
                _scratch: Some(scratch),
            })
        }
    }
}

/// Ends `step` as `result` says and passes the result on.
pub(crate) fn finish<T>(step: Step, result: anyhow::Result<T>) -> anyhow::Result<T> {
    if result.is_ok() {
        step.done();
    } else {
        step.failed();
    }
    result
}

fn scratch() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("nerve-pack-")
        .tempdir()
        .context("failed to create a temporary directory")
}

/// `https://host/org/stackstorm-aws.git` → `aws` (StackStorm's repository naming).
fn repo_name(url: &str) -> String {
    let last = url
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("pack");
    let name = last.strip_suffix(".git").unwrap_or(last);
    let name = name.strip_prefix("stackstorm-").unwrap_or(name);
    if name.is_empty() || name.starts_with('.') {
        "pack".to_owned()
    } else {
        name.to_owned()
    }
}

/// Runs `git ARGS` in `cwd`; a failure carries git's stderr.
async fn git(env: &[(String, String)], cwd: &Path, args: &[OsString]) -> anyhow::Result<()> {
    let mut spawn = nerve_runner::Spawn::new("git", cwd);
    spawn.args = args.to_vec();
    spawn.env = env
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
    // Never wait on a password prompt.
    spawn.env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
    spawn.timeout = Some(Duration::from_secs(600));
    let (sink, mut lines) = tokio::sync::mpsc::channel(64);
    let drain = tokio::spawn(async move { while lines.recv().await.is_some() {} });
    let cancel = tokio_util::sync::CancellationToken::new();
    let finished = nerve_runner::run_process(spawn, &sink, &cancel)
        .await
        .context("failed to run `git` (is it installed?)")?;
    drop(sink);
    let _ = drain.await;
    let code = finished.exit.map_or(-1, nerve_runner::Exit::return_code);
    if code != 0 {
        let stderr = finished.stderr.text.trim().to_owned();
        bail!("git exited with {code}: {stderr}");
    }
    Ok(())
}

/// Extracts a `.tar.gz` into `root`, refusing (before writing anything) members that would
/// land outside it: absolute paths, `..`, links, devices.
///
/// # Errors
/// An unreadable archive or an unsafe member, named.
pub(crate) fn extract(archive: &Path, root: &Path) -> anyhow::Result<()> {
    let open = || -> anyhow::Result<tar::Archive<flate2::read::GzDecoder<fs::File>>> {
        let file = fs::File::open(archive)
            .with_context(|| format!("failed to open `{}`", archive.display()))?;
        Ok(tar::Archive::new(flate2::read::GzDecoder::new(file)))
    };
    let unreadable = || format!("`{}` is not a readable .tar.gz archive", archive.display());
    // First pass: check every member.
    for entry in open()?.entries().with_context(unreadable)? {
        let entry = entry.with_context(unreadable)?;
        let name = entry.path_bytes();
        let name = String::from_utf8_lossy(&name).into_owned();
        check_member(&name, entry.header().entry_type()).with_context(|| {
            format!(
                "archive `{}` refused: nothing was installed",
                archive.display()
            )
        })?;
    }
    // Second pass: write regular files and directories.
    fs::create_dir_all(root).with_context(|| format!("failed to create `{}`", root.display()))?;
    for entry in open()?.entries().with_context(unreadable)? {
        let mut entry = entry.with_context(unreadable)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let relative = safe_relative(&name)?;
        let target = root.join(&relative);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&target)
                .with_context(|| format!("failed to create `{}`", target.display()))?;
            continue;
        }
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create `{}`", parent.display()))?;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("failed to read member `{name}`"))?;
        fs::write(&target, bytes)
            .with_context(|| format!("failed to write `{}`", target.display()))?;
        let mode = entry.header().mode().unwrap_or(0o644) & 0o755;
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&target, fs::Permissions::from_mode(mode | 0o600))
            .with_context(|| format!("failed to set the mode of `{}`", target.display()))?;
    }
    Ok(())
}

/// Why a member may not be extracted, if it may not.
fn check_member(name: &str, kind: tar::EntryType) -> anyhow::Result<()> {
    safe_relative(name)?;
    if kind.is_symlink() || kind.is_hard_link() {
        bail!("archive member `{name}` is a link; packs may not contain links");
    }
    let allowed = kind.is_file()
        || kind.is_dir()
        || kind.is_pax_global_extensions()
        || kind.is_pax_local_extensions()
        || kind.is_gnu_longname()
        || kind == tar::EntryType::Continuous;
    if !allowed {
        bail!("archive member `{name}` is not a regular file or directory");
    }
    Ok(())
}

/// `name` as a path relative to the extraction root, or why it would escape.
fn safe_relative(name: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(name);
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                bail!("archive member `{name}` contains `..`: it would be written outside the pack")
            }
            Component::RootDir | Component::Prefix(_) => {
                bail!(
                    "archive member `{name}` is an absolute path: it would be written outside the pack"
                )
            }
        }
    }
    Ok(relative)
}

/// The pack directory inside an extracted archive: its root, or its one top-level directory.
fn pack_root(root: &Path, archive: &Path) -> anyhow::Result<PathBuf> {
    if root.join("pack.yaml").is_file() {
        // Name it after the archive, so the pack directory has a meaningful name.
        let stem = archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = stem
            .trim_end_matches(".tar.gz")
            .trim_end_matches(".tgz")
            .to_owned();
        if !stem.is_empty() && !stem.starts_with('.') {
            let named = root.with_file_name(&stem);
            fs::rename(root, &named).context("failed to name the extracted pack")?;
            return Ok(named);
        }
        return Ok(root.to_path_buf());
    }
    let packs: Vec<PathBuf> = fs::read_dir(root)
        .with_context(|| format!("failed to read `{}`", root.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("pack.yaml").is_file())
        .collect();
    match packs.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "archive `{}` holds no pack (no `pack.yaml` at its root or in its top directory)",
            archive.display()
        ),
        _ => bail!(
            "archive `{}` holds {} packs; install one pack per archive",
            archive.display(),
            packs.len()
        ),
    }
}

#[cfg(test)]
mod tests;
