//! `nerve pack validate|init` work offline on directories; `nerve pack install|list|get|remove`
//! manage the packs of a running server through the API.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use nerve_packs::{LoadedPack, PackErrors, Severity, load_packs};
use serde_json::json;

use nerve_web::ClientError;

use super::client::{Api, locate, print_server_diagnostics, remote, report};
use super::table::{Table, note_partial, print_record, short_text, timestamp};
use super::{GlobalArgs, OutputFormat};
use crate::builtin;
use crate::dependencies;
use crate::output::{print_diagnostics, print_json, print_line};
use crate::source::{PackSource, fetch};
use crate::watch::PackWatcher;

#[derive(Debug, Subcommand)]
pub(crate) enum PackCommand {
    /// Install (or reinstall) packs: local directories, git repositories, `.tar.gz` archives.
    ///
    /// SOURCE is a pack directory, a git URL or local repository with an optional `=REF`
    /// (branch, tag or commit: `https://host/org/pack.git=v1.2.0`), or a `.tar.gz` holding
    /// one pack. Packs named under `dependencies` in `pack.yaml` are installed first: given in
    /// the same command (any order) or as sources themselves; one named but not installed is an
    /// error. A pack's `requirements.txt` is installed into a virtualenv of its own (reused while
    /// unchanged). Each pack is staged and validated first: a pack with errors is not installed
    /// and the problems are printed with file, line and field (exit 2); the installed version,
    /// if any, stays in force untouched. Then it is copied into `<data-dir>/packs/` and
    /// its actions, sensors, rules and policies are registered.
    ///
    /// With `--watch` (local directories only) it keeps watching: every save reinstalls the
    /// pack the same way (actions take effect on their next run, a changed sensor restarts
    /// alone with its triggers and datastore, rules re-register keeping their enabled state);
    /// a broken edit is printed and the last good version keeps running.
    Install(InstallArgs),
    /// List installed packs.
    List(ListArgs),
    /// Show an installed pack.
    Get(RefArgs),
    /// Remove a pack: its actions, sensors, rules and files under `<data-dir>/packs/`.
    Remove(RefArgs),
    /// Show or set a pack's config (the values of its `config.schema.yaml`).
    ///
    /// Without values, prints the config: the schema's defaults overlaid with the values set,
    /// secrets masked. With `FIELD=VALUE` pairs, sets those fields (values are cast to the
    /// schema's types; JSON objects and arrays are taken as JSON), validates the whole config
    /// against the schema (each problem named; nothing is stored on error, exit 2), stores
    /// `secret` fields encrypted, and restarts the pack's sensors with the new config.
    Config(ConfigArgs),
    /// Check pack directories offline: every file, every field, every reference.
    ///
    /// Prints all problems of every pack at once (file:line:col, field, hint). Exit 0 when
    /// every pack is valid (warnings allowed), 2 otherwise.
    Validate(ValidateArgs),
    /// Create a new pack with an example action, sensor and rule.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Pack directories (each containing `pack.yaml`).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Pack directories, git URLs (`URL[=REF]`) or `.tar.gz` archives.
    #[arg(value_name = "SOURCE", required = true)]
    sources: Vec<String>,
    /// Keep watching the (local) pack directories and reinstall on every change.
    #[arg(long)]
    watch: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    /// The pack ref.
    #[arg(value_name = "PACK")]
    pack: String,
    /// Fields to set.
    #[arg(value_name = "FIELD=VALUE", value_parser = super::client::parse_param)]
    values: Vec<(String, serde_json::Value)>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct RefArgs {
    /// The pack ref.
    #[arg(value_name = "REF")]
    pack: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Pack name (lowercase letters, digits and `_`).
    name: String,
    /// Directory to create (default: `./NAME`).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub(crate) fn exec(global: &GlobalArgs, command: PackCommand) -> anyhow::Result<ExitCode> {
    match command {
        PackCommand::Validate(args) => validate(args),
        PackCommand::Init(args) => init(args),
        PackCommand::Install(args) => {
            let sources: Vec<PackSource> =
                args.sources.iter().map(|s| PackSource::parse(s)).collect();
            if args.watch
                && let Some(other) = sources.iter().find(|s| !matches!(s, PackSource::Dir(_)))
            {
                bail!(
                    "--watch follows local pack directories; `{}` is not one",
                    other.describe()
                );
            }
            let env = global.base_env();
            remote(global, async move |api| {
                install_all(api, &sources, &env, args.watch, args.output).await
            })
        }
        PackCommand::List(args) => remote(global, async move |api| list(api, args).await),
        PackCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        PackCommand::Remove(args) => remote(global, async move |api| remove(api, args).await),
        PackCommand::Config(args) => remote(global, async move |api| config(api, args).await),
    }
}

/// Whether a `dependencies` entry names a source to fetch (a git URL, an archive, a pack
/// directory) rather than a pack by name.
fn names_a_source(entry: &str) -> bool {
    match PackSource::parse(entry) {
        PackSource::Dir(dir) => dir.join("pack.yaml").is_file(),
        PackSource::Git { .. } | PackSource::Archive(_) => true,
    }
}

/// Installs every source (fetched first, with the dependencies that name sources), each after
/// its dependencies, through the server; then watches the directories when asked.
async fn install_all(
    api: &Api,
    sources: &[PackSource],
    env: &[(String, String)],
    watch: bool,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    // Fetch every source, and every dependency that names a source rather than a pack; the
    // server reads the directories itself, so clones and extractions live until the end.
    let mut fetched = Vec::new();
    let mut packs: Vec<dependencies::PackDeps> = Vec::new();
    let mut requested = Vec::new();
    let mut queue: std::collections::VecDeque<(PackSource, bool)> =
        sources.iter().map(|s| (s.clone(), true)).collect();
    // Source (as written) → the ref of the pack fetched from it.
    let mut refs_by_source: std::collections::HashMap<String, String> =
        std::collections::HashMap::new();
    while let Some((source, asked)) = queue.pop_front() {
        if refs_by_source.contains_key(&source.describe()) {
            continue;
        }
        let pack = fetch(&source, env).await?;
        let deps = dependencies::read(&pack.dir)?;
        refs_by_source.insert(source.describe(), deps.pack_ref.clone());
        for entry in &deps.dependencies {
            if names_a_source(entry) {
                queue.push_back((PackSource::parse(entry), false));
            }
        }
        fetched.push(pack);
        packs.push(deps);
        requested.push(asked);
    }
    // Dependencies named by pack: in this batch, already installed, or an error.
    let installed: Vec<String> = api
        .list_packs()
        .await?
        .items
        .into_iter()
        .map(|p| p.reference)
        .collect();
    for pack in &packs {
        for entry in &pack.dependencies {
            let name = dependencies::dependency_name(entry);
            let known = names_a_source(entry)
                || packs.iter().any(|p| p.pack_ref == name)
                || installed.iter().any(|r| r == name);
            if !known {
                bail!(
                    "pack `{}` depends on `{name}`, which is not installed: install it first, or \
                     pass it in the same command",
                    pack.pack_ref
                );
            }
        }
    }
    // Dependencies given as sources are ordered by the ref of what they fetched.
    let by_name: Vec<dependencies::PackDeps> = packs
        .iter()
        .map(|pack| dependencies::PackDeps {
            pack_ref: pack.pack_ref.clone(),
            dependencies: pack
                .dependencies
                .iter()
                .map(|entry| {
                    refs_by_source
                        .get(&PackSource::parse(entry).describe())
                        .cloned()
                        .unwrap_or_else(|| entry.clone())
                })
                .collect(),
        })
        .collect();
    let order = dependencies::install_order(&by_name)?;
    let mut dirs = Vec::new();
    for index in order {
        let pack = &fetched[index];
        if !requested[index] && output == OutputFormat::Table {
            eprintln!("==> installing dependency `{}`", packs[index].pack_ref);
        }
        install(api, &pack.dir, Some(&pack.source), output).await?;
        dirs.push(pack.dir.clone());
    }
    if !watch {
        return Ok(ExitCode::SUCCESS);
    }
    let mut watcher = PackWatcher::new(&dirs)?;
    for dir in watcher.dirs() {
        print_line(&format!("watching `{}` (Ctrl-C to stop)", dir.display()));
    }
    while let Some(changed) = watcher.changed().await {
        for dir in changed {
            let started = std::time::Instant::now();
            match install(api, &dir, None, output).await {
                Ok(()) => print_line(&format!(
                    "reloaded `{}` in {} ms",
                    dir.display(),
                    started.elapsed().as_millis()
                )),
                Err(error) => match error.downcast_ref::<ClientError>() {
                    Some(client_error) => {
                        report(api, client_error);
                        print_line(&format!(
                            "reload of `{}` refused; the previous version stays in force",
                            dir.display()
                        ));
                    }
                    None => return Err(error),
                },
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn install(
    api: &Api,
    dir: &Path,
    source: Option<&str>,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let resolve = |file: &str| dir.join(file);
    let step = crate::progress::Step::start(format!(
        "installing `{}`",
        source.map_or_else(|| dir.display().to_string(), str::to_owned)
    ));
    let registration = crate::source::finish(
        step,
        api.register_pack(&dir.display().to_string(), source)
            .await
            .map_err(|error| locate(error, resolve).into()),
    )?;
    if output == OutputFormat::Json {
        print_json(&serde_json::to_value(&registration)?);
        return Ok(());
    }
    print_server_diagnostics(&registration.warnings, resolve);
    let pack = &registration.pack;
    print_line(&format!(
        "installed pack `{}` {} from `{}`: {} action(s), {} sensor(s), {} trigger type(s), {} \
         rule(s), {} polic{}{}",
        pack.reference,
        pack.version,
        source.map_or_else(|| dir.display().to_string(), str::to_owned),
        registration.actions,
        registration.sensors,
        registration.trigger_types,
        registration.rules,
        registration.policies,
        if registration.policies == 1 {
            "y"
        } else {
            "ies"
        },
        if registration.warnings.is_empty() {
            String::new()
        } else {
            format!(", {} warning(s)", registration.warnings.len())
        }
    ));
    Ok(())
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let page = api.list_packs().await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&page.items)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["REF", "VERSION", "SOURCE", "DESCRIPTION"]);
    for pack in &page.items {
        table.row(vec![
            pack.reference.clone(),
            pack.version.clone(),
            pack.source.clone(),
            short_text(Some(&pack.description)),
        ]);
    }
    table.print("no packs");
    note_partial(page.items.len(), 0, page.total);
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: RefArgs) -> anyhow::Result<ExitCode> {
    let pack = api.get_pack(&args.pack).await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&pack)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut fields = vec![
        ("ref", pack.reference.clone()),
        ("name", pack.name.clone()),
        ("version", pack.version.clone()),
        ("description", pack.description.clone()),
        ("author", pack.author.clone()),
    ];
    if let Some(email) = &pack.email {
        fields.push(("email", email.clone()));
    }
    if !pack.keywords.is_empty() {
        fields.push(("keywords", pack.keywords.join(", ")));
    }
    if !pack.dependencies.is_empty() {
        fields.push(("dependencies", pack.dependencies.join(", ")));
    }
    fields.extend([
        ("path", pack.path.clone()),
        ("source", pack.source.clone()),
        ("installed", timestamp(&pack.installed_at)),
        ("content hash", pack.content_hash.clone()),
        ("files", pack.files.join("\n")),
    ]);
    if let Some(error) = &pack.reload_error {
        let mut text = format!(
            "{} ({}); the version above is still in force",
            error.message,
            timestamp(&error.at)
        );
        for d in &error.details {
            text.push_str(&format!(
                "\n{}:{}:{}: {}: {}",
                d.file, d.line, d.col, d.field, d.message
            ));
        }
        fields.push(("last reload error", text));
    }
    print_record(&fields);
    Ok(ExitCode::SUCCESS)
}

async fn remove(api: &Api, args: RefArgs) -> anyhow::Result<ExitCode> {
    api.remove_pack(&args.pack).await?;
    match args.output {
        OutputFormat::Json => print_json(&json!({"ref": args.pack, "removed": true})),
        OutputFormat::Table => print_line(&format!("removed pack `{}`", args.pack)),
    }
    Ok(ExitCode::SUCCESS)
}

async fn config(api: &Api, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let config = if args.values.is_empty() {
        api.pack_config(&args.pack).await?
    } else {
        let values = super::client::param_map(args.values);
        api.set_pack_config(&args.pack, &values).await?
    };
    match args.output {
        OutputFormat::Json => print_json(&serde_json::Value::Object(config)),
        OutputFormat::Table => {
            let fields: Vec<(&str, String)> = config
                .iter()
                .map(|(name, value)| {
                    let text = match value {
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (name.as_str(), text)
                })
                .collect();
            if fields.is_empty() {
                print_line(&format!("pack `{}` has no config values", args.pack));
            } else {
                print_record(&fields);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Loads the built-in packs from a scratch directory, for reference checks.
pub(crate) fn builtin_packs(scratch: &Path) -> anyhow::Result<Vec<LoadedPack>> {
    let dirs = builtin::extract(scratch)?;
    let (packs, failed) = load_packs(&dirs, &[]);
    if let Some(failure) = failed.first() {
        print_diagnostics(&failure.diagnostics);
        bail!(
            "built-in pack `{}` does not load; this is a bug in Nerve",
            failure.dir.display()
        );
    }
    Ok(packs)
}

fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir().context("failed to create a temporary directory")?;
    let known = builtin_packs(scratch.path())?;
    for dir in &args.dirs {
        if !dir.exists() {
            bail!("`{}` does not exist", dir.display());
        }
    }
    let (loaded, failed) = load_packs(&args.dirs, &known);
    let valid = failed.is_empty();
    match args.output {
        OutputFormat::Json => print_json(&json!({
            "valid": valid,
            "packs": args.dirs.iter().map(|dir| pack_json(dir, &loaded, &failed)).collect::<Vec<_>>(),
        })),
        OutputFormat::Table => {
            for dir in &args.dirs {
                if let Some(pack) = loaded.iter().find(|p| &p.dir == dir) {
                    print_diagnostics(&pack.warnings);
                    print_line(&format!("ok: {}", summary(pack)));
                } else if let Some(failure) = failed.iter().find(|f| &f.dir == dir) {
                    print_diagnostics(&failure.diagnostics);
                    print_line(&format!(
                        "invalid: `{}`: {}",
                        dir.display(),
                        counts(&failure.diagnostics)
                    ));
                }
            }
            if args.dirs.len() > 1 {
                print_line(&format!("{} valid, {} invalid", loaded.len(), failed.len()));
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn pack_json(dir: &Path, loaded: &[LoadedPack], failed: &[PackErrors]) -> serde_json::Value {
    if let Some(pack) = loaded.iter().find(|p| p.dir == dir) {
        json!({
            "dir": dir,
            "pack": pack.pack_ref,
            "valid": true,
            "actions": pack.actions.iter().map(|a| a.action.action_ref()).collect::<Vec<_>>(),
            "sensors": pack.sensors.iter().map(|s| s.sensor.sensor_ref()).collect::<Vec<_>>(),
            "trigger_types": pack.trigger_types.iter().map(|t| t.trigger_type.type_ref()).collect::<Vec<_>>(),
            "rules": pack.rules.iter().map(|r| r.rule.rule_ref()).collect::<Vec<_>>(),
            "policies": pack.policies.iter().map(|p| p.policy.policy_ref()).collect::<Vec<_>>(),
            "diagnostics": pack.warnings,
        })
    } else {
        let diagnostics = failed
            .iter()
            .find(|f| f.dir == dir)
            .map(|f| f.diagnostics.clone())
            .unwrap_or_default();
        json!({"dir": dir, "valid": false, "diagnostics": diagnostics})
    }
}

fn summary(pack: &LoadedPack) -> String {
    format!(
        "pack `{}` ({}): {} action(s), {} sensor(s), {} trigger type(s), {} rule(s), {} polic{}{}",
        pack.pack_ref,
        pack.dir.display(),
        pack.actions.len(),
        pack.sensors.len(),
        pack.trigger_types.len(),
        pack.rules.len(),
        pack.policies.len(),
        if pack.policies.len() == 1 { "y" } else { "ies" },
        if pack.warnings.is_empty() {
            String::new()
        } else {
            format!(", {} warning(s)", pack.warnings.len())
        }
    )
}

fn counts(diagnostics: &[nerve_packs::Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    format!("{errors} error(s), {warnings} warning(s)")
}

fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    if !nerve_model::is_valid_pack_ref(&args.name) {
        bail!(
            "pack name `{}` may contain only lowercase letters, digits and `_`",
            args.name
        );
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        bail!(
            "`{}` already exists; choose another name or --dir",
            dir.display()
        );
    }
    for (path, contents, executable) in scaffold(&args.name) {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create `{}`", parent.display()))?;
        }
        fs::write(&path, contents)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
        if executable {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("failed to make `{}` executable", path.display()))?;
        }
    }
    print_line(&format!(
        "created pack `{}` in `{}`\nnext: nerve pack validate {}",
        args.name,
        dir.display(),
        dir.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The files of a new pack: (relative path, contents, executable).
fn scaffold(name: &str) -> Vec<(&'static str, String, bool)> {
    let files: [(&str, &str, bool); 9] = [
        ("pack.yaml", include_str!("scaffold/pack.yaml"), false),
        ("README.md", include_str!("scaffold/README.md"), false),
        (
            "config.schema.yaml",
            include_str!("scaffold/config.schema.yaml"),
            false,
        ),
        (
            "actions/greet.yaml",
            include_str!("scaffold/greet.yaml"),
            false,
        ),
        ("actions/greet.sh", include_str!("scaffold/greet.sh"), true),
        (
            "sensors/hello_sensor.yaml",
            include_str!("scaffold/hello_sensor.yaml"),
            false,
        ),
        (
            "sensors/hello_sensor.py",
            include_str!("scaffold/hello_sensor.py"),
            false,
        ),
        (
            "rules/greet_on_webhook.yaml",
            include_str!("scaffold/greet_on_webhook.yaml"),
            false,
        ),
        (
            "rules/greet_on_hello.yaml",
            include_str!("scaffold/greet_on_hello.yaml"),
            false,
        ),
    ];
    files
        .into_iter()
        .map(|(path, template, executable)| (path, template.replace("PACKNAME", name), executable))
        .collect()
}
