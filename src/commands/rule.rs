//! `nerve rule test`: evaluate a rule against an event offline, StackStorm `st2-rule-tester` style.
//! `nerve rule create|list|get|delete|enable|disable`: manage the rules of a running server
//! through the API.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use nerve_model::TriggerInstance;
use nerve_packs::{load_packs, load_rule_file};
use nerve_rules::{KvLookup, KvValue};
use serde_json::{Map, Value, json};

use nerve_web::dto::RuleDto;

use super::client::{Api, all_pages, locate, remote};
use super::pack::builtin_packs;
use super::table::{Table, pretty, print_record, short_text, yes_no};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_diagnostics, print_json, print_line};
use crate::rule_tester::{Scene, Verdict, test_rule};

#[derive(Debug, Subcommand)]
pub(crate) enum RuleCommand {
    /// Create (or replace) a rule on the server from a StackStorm rule YAML file.
    ///
    /// Problems are printed with file, line, column and field as the server reports them;
    /// exit 2 for an invalid rule.
    Create(CreateArgs),
    /// List rules with their state (a disabled rule shows why).
    List(ListArgs),
    /// Show a rule: trigger, criteria, action, state and disable reason.
    Get(RefArgs),
    /// Delete a rule.
    Delete(RefArgs),
    /// Enable a rule.
    Enable(RefArgs),
    /// Disable a rule, optionally saying why (shown by `rule list` and `rule get`).
    Disable(DisableArgs),
    /// Test a rule against an event, offline.
    ///
    /// EVENT is a StackStorm trigger-instance file: `{"trigger": "pack.type", "payload": {...}}`.
    /// Prints each criterion (key, operator, pattern, the value found, pass/fail and why) and,
    /// when the rule matches, the action with its rendered parameters. Parameters render as
    /// StackStorm's rule tester renders them: a templated value stays the string it renders to.
    /// When the action is known (built-in packs, the rule's own pack, `--pack`), parameters that
    /// would fail its schema are reported as warnings.
    ///
    /// Exit 0 matched, 1 not matched (or the matched rule's parameters fail to render),
    /// 2 invalid rule or event.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// The rule file.
    #[arg(value_name = "RULE.yaml")]
    rule: PathBuf,
    /// The event (trigger instance) file, JSON or YAML.
    #[arg(long, value_name = "EVENT.json")]
    event: PathBuf,
    /// Extra pack directories whose actions and trigger types the rule may use.
    #[arg(long = "pack", value_name = "DIR")]
    packs: Vec<PathBuf>,
    /// A `st2kv.system` value for templates, `KEY=VALUE` (repeatable).
    #[arg(long = "kv", value_name = "KEY=VALUE", value_parser = parse_kv)]
    kv: Vec<(String, String)>,
    /// The pack config (`config_context` in templates), a JSON or YAML file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The rule file (StackStorm rule YAML).
    #[arg(value_name = "RULE.yaml")]
    file: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only rules of this pack.
    #[arg(long, short = 'p')]
    pack: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct RefArgs {
    /// The rule, `pack.name`.
    #[arg(value_name = "REF")]
    rule: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct DisableArgs {
    /// The rule, `pack.name`.
    #[arg(value_name = "REF")]
    rule: String,
    /// Why it is disabled; kept and shown with the rule.
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

fn parse_kv(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

pub(crate) fn exec(global: &GlobalArgs, command: RuleCommand) -> anyhow::Result<ExitCode> {
    match command {
        RuleCommand::Test(args) => test(args),
        RuleCommand::Create(args) => {
            // Read before connecting: a missing file is a usage error whether or not a server runs.
            let yaml = fs::read_to_string(&args.file)
                .with_context(|| format!("failed to read `{}`", args.file.display()))?;
            remote(global, async move |api| create(api, args, yaml).await)
        }
        RuleCommand::List(args) => remote(global, async move |api| list(api, args).await),
        RuleCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        RuleCommand::Delete(args) => remote(global, async move |api| delete(api, args).await),
        RuleCommand::Enable(args) => remote(global, async move |api| enable(api, args).await),
        RuleCommand::Disable(args) => remote(global, async move |api| disable(api, args).await),
    }
}

async fn create(api: &Api, args: CreateArgs, yaml: String) -> anyhow::Result<ExitCode> {
    let file = args.file.clone();
    let rule = api
        .create_rule_yaml(&yaml)
        .await
        .map_err(|error| locate(error, |_| file.clone()))?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::to_value(&rule)?),
        OutputFormat::Table => print_line(&format!(
            "saved rule `{}` ({}): {} → {}",
            rule.reference,
            state(&rule),
            rule.trigger.trigger_type,
            rule.action.action_ref
        )),
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let rules = all_pages(args.pack.as_deref(), |query| async move {
        api.list_rules(&query).await
    })
    .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&rules)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["REF", "STATE", "TRIGGER", "ACTION", "DESCRIPTION"]);
    for rule in &rules {
        table.row(vec![
            rule.reference.clone(),
            state(rule),
            rule.trigger.trigger_type.clone(),
            rule.action.action_ref.clone(),
            short_text(rule.description.as_deref()),
        ]);
    }
    table.print("no rules");
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: RefArgs) -> anyhow::Result<ExitCode> {
    let rule = api.get_rule(&args.rule).await?;
    print_rule(&rule, args.output)
}

async fn delete(api: &Api, args: RefArgs) -> anyhow::Result<ExitCode> {
    api.delete_rule(&args.rule).await?;
    match args.output {
        OutputFormat::Json => print_json(&json!({"ref": args.rule, "deleted": true})),
        OutputFormat::Table => print_line(&format!("deleted rule `{}`", args.rule)),
    }
    Ok(ExitCode::SUCCESS)
}

async fn enable(api: &Api, args: RefArgs) -> anyhow::Result<ExitCode> {
    let rule = api.enable_rule(&args.rule).await?;
    print_state(&rule, args.output)
}

async fn disable(api: &Api, args: DisableArgs) -> anyhow::Result<ExitCode> {
    let rule = api.disable_rule(&args.rule, args.reason).await?;
    print_state(&rule, args.output)
}

/// `enabled`, `disabled` or `disabled: <reason>`.
fn state(rule: &RuleDto) -> String {
    match (&rule.enabled, &rule.disabled_reason) {
        (true, _) => "enabled".to_owned(),
        (false, Some(reason)) if !reason.is_empty() => format!("disabled: {reason}"),
        (false, _) => "disabled".to_owned(),
    }
}

fn print_state(rule: &RuleDto, output: OutputFormat) -> anyhow::Result<ExitCode> {
    match output {
        OutputFormat::Json => print_json(&serde_json::to_value(rule)?),
        OutputFormat::Table => print_line(&format!("rule `{}`: {}", rule.reference, state(rule))),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_rule(rule: &RuleDto, output: OutputFormat) -> anyhow::Result<ExitCode> {
    if output == OutputFormat::Json {
        print_json(&serde_json::to_value(rule)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut fields = vec![
        ("ref", rule.reference.clone()),
        ("enabled", yes_no(rule.enabled)),
    ];
    if let Some(reason) = &rule.disabled_reason {
        fields.push(("disabled reason", reason.clone()));
    }
    if let Some(description) = &rule.description {
        fields.push(("description", description.clone()));
    }
    fields.push(("trigger", rule.trigger.trigger_type.clone()));
    if !rule.trigger.parameters.is_empty() {
        fields.push((
            "trigger parameters",
            pretty(&Value::Object(rule.trigger.parameters.clone())),
        ));
    }
    if !rule.criteria.is_empty() {
        fields.push(("criteria", pretty(&serde_json::to_value(&rule.criteria)?)));
    }
    fields.push(("action", rule.action.action_ref.clone()));
    if !rule.action.parameters.is_empty() {
        fields.push((
            "action parameters",
            pretty(&Value::Object(rule.action.parameters.clone())),
        ));
    }
    print_record(&fields);
    Ok(ExitCode::SUCCESS)
}

/// `st2kv.system.*` values given on the command line.
struct CliKv(HashMap<String, String>);

impl KvLookup for CliKv {
    fn get(&self, scope: &str, key: &str) -> Option<KvValue> {
        (scope == "system")
            .then(|| self.0.get(key))
            .flatten()
            .map(|value| KvValue {
                value: value.clone(),
                secret: false,
            })
    }
}

/// The pack a rule file lives in: `<pack>/rules/<file>` with `<pack>/pack.yaml`.
fn enclosing_pack(rule: &Path) -> Option<PathBuf> {
    let rules_dir = rule.parent()?;
    let pack_dir = rules_dir.parent()?;
    (rules_dir.file_name()? == "rules" && pack_dir.join("pack.yaml").is_file())
        .then(|| pack_dir.to_path_buf())
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir().context("failed to create a temporary directory")?;
    let mut known = builtin_packs(scratch.path())?;
    let own_pack = enclosing_pack(&args.rule);
    let mut extra_dirs = args.packs.clone();
    extra_dirs.extend(own_pack.clone());
    let (extra, failed) = load_packs(&extra_dirs, &known);
    for failure in &failed {
        eprintln!(
            "warning: pack `{}` does not load ({} problems; run `nerve pack validate` on it); its actions are not checked",
            failure.dir.display(),
            failure.diagnostics.len()
        );
    }
    let own_pack_ref = own_pack
        .as_ref()
        .and_then(|dir| extra.iter().find(|p| &p.dir == dir))
        .map_or_else(|| "default".to_owned(), |p| p.pack_ref.clone());
    known.extend(extra);

    if !args.rule.is_file() {
        bail!("rule file `{}` does not exist", args.rule.display());
    }
    let loaded_rule = match load_rule_file(&args.rule, &own_pack_ref) {
        Ok(rule) => rule,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            return Ok(ExitCode::from(2));
        }
    };
    let event = match read_event(&args.event) {
        Ok(event) => event,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let config = match &args.config {
        Some(path) => read_structured(path)?,
        None => Value::Object(Map::new()),
    };

    let rule = loaded_rule.rule.clone();
    let kv = CliKv(args.kv.iter().cloned().collect());
    let scene = Scene {
        kv: &kv,
        config: &config,
        user: "stanley",
        known: &known,
    };
    let verdict = test_rule(&rule, &event, &scene).map_err(|problem| anyhow::anyhow!(problem))?;
    let Verdict {
        explanation,
        matched,
        rendered,
        warnings,
        ..
    } = verdict;
    let rendered = match rendered {
        Some(Ok(parameters)) => Some(parameters),
        Some(Err(error)) => {
            eprintln!("error: the rule matched but its action parameters do not render: {error}");
            None
        }
        None => None,
    };

    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let action = rendered
        .as_ref()
        .map(|parameters| json!({"ref": rule.action.action_ref, "parameters": parameters}));
    match args.output {
        OutputFormat::Json => {
            let criteria: Vec<Value> = explanation
                .criteria
                .iter()
                .map(|c| {
                    json!({
                        "key": c.key,
                        "type": c.operator,
                        "pattern": c.pattern,
                        "value": c.value,
                        "result": c.result,
                    })
                })
                .collect();
            let mut out = json!({"matched": matched, "criteria": criteria});
            if let Some(action) = &action {
                out["action"] = action.clone();
            }
            print_json(&out);
        }
        OutputFormat::Table => print_table(
            &rule.rule_ref(),
            &event,
            &explanation,
            matched,
            action.as_ref(),
        ),
    }
    Ok(match (matched, &rendered) {
        (true, Some(_)) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

fn print_table(
    rule_ref: &str,
    event: &TriggerInstance,
    explanation: &nerve_rules::Explanation,
    matched: bool,
    action: Option<&Value>,
) {
    print_line(&format!(
        "rule `{rule_ref}` against an event of `{}`",
        event.trigger
    ));
    if let Some(reason) = &explanation.reason {
        print_line(&format!("  {reason}"));
    }
    if explanation.criteria.is_empty() {
        print_line("  (no criteria: every event of the trigger matches)");
    }
    for criterion in &explanation.criteria {
        let mark = if criterion.result { "pass" } else { "FAIL" };
        let pattern = criterion
            .pattern
            .as_ref()
            .map_or_else(|| "None".to_owned(), Value::to_string);
        let value = criterion
            .value
            .as_ref()
            .map_or_else(|| "None".to_owned(), Value::to_string);
        print_line(&format!(
            "  [{mark}] {} {} {pattern}: found {value}; {}",
            criterion.key,
            criterion.operator.as_deref().unwrap_or("<no type>"),
            criterion.reason
        ));
    }
    if matched {
        print_line("MATCHED");
        if let Some(action) = action {
            print_line(&format!(
                "action: {}",
                action["ref"].as_str().unwrap_or_default()
            ));
            if let Some(parameters) = action["parameters"].as_object() {
                for (name, value) in parameters {
                    print_line(&format!("  {name}: {value}"));
                }
            }
        }
    } else {
        print_line("NOT MATCHED");
    }
}

fn read_event(path: &Path) -> anyhow::Result<TriggerInstance> {
    let value = read_structured(path)?;
    let Value::Object(map) = &value else {
        bail!(
            "event file `{}` must contain an object with `trigger` and `payload`",
            path.display()
        );
    };
    match map.get("trigger") {
        Some(Value::String(_)) => {}
        Some(_) => bail!(
            "event file `{}`: `trigger` must be a string (a trigger type ref)",
            path.display()
        ),
        None => bail!(
            "event file `{}`: missing `trigger` (a trigger type ref such as `core.st2.webhook`)",
            path.display()
        ),
    }
    serde_json::from_value(value)
        .with_context(|| format!("event file `{}` is not a trigger instance", path.display()))
}

/// Reads JSON (`.json`) or YAML (anything else) into a value.
fn read_structured(path: &Path) -> anyhow::Result<Value> {
    let text =
        fs::read_to_string(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not valid JSON", path.display()));
    }
    nerve_packs::parse_yaml(&text)
        .map(|(doc, _)| doc.value)
        .map_err(|error| {
            anyhow::anyhow!(
                "`{}`:{}:{}: {}",
                path.display(),
                error.line,
                error.col,
                error.message
            )
        })
}
