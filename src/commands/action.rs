//! `nerve action list|get|execute`: the actions the server knows, and their parameters as a run
//! needs them (runner parameters merged in). `execute` is `nerve run`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use nerve_model::{MASKED_VALUE, ParamSpec};
use serde_json::Value;

use super::client::{Api, all_pages, remote};
use super::table::{Table, print_record, short_text, value_text, yes_no};
use super::{GlobalArgs, OutputFormat, run};
use crate::output::{print_json, print_line};

#[derive(Debug, Subcommand)]
pub(crate) enum ActionCommand {
    /// List actions in ref order.
    List(ListArgs),
    /// Show an action and its parameters (type, required, default, secret, description).
    Get(GetArgs),
    /// Run an action; the same as `nerve run`.
    Execute(run::RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only actions of this pack.
    #[arg(long, short = 'p')]
    pack: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// The action, `pack.name`.
    action: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: ActionCommand) -> anyhow::Result<ExitCode> {
    match command {
        ActionCommand::List(args) => remote(global, async move |api| list(api, args).await),
        ActionCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        ActionCommand::Execute(args) => run::exec(global, args),
    }
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let actions = all_pages(args.pack.as_deref(), |query| async move {
        api.list_actions(&query).await
    })
    .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&actions)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["REF", "RUNNER", "ENABLED", "DESCRIPTION"]);
    for action in &actions {
        table.row(vec![
            action.reference.clone(),
            action.runner_type.clone(),
            yes_no(action.enabled),
            short_text(action.description.as_deref()),
        ]);
    }
    table.print("no actions");
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: GetArgs) -> anyhow::Result<ExitCode> {
    let action = api.get_action(&args.action).await?;
    let parameters = api.action_parameters(&args.action).await?;
    if args.output == OutputFormat::Json {
        let mut value = serde_json::to_value(&action)?;
        value["merged_parameters"] = serde_json::to_value(&parameters.parameters)?;
        print_json(&value);
        return Ok(ExitCode::SUCCESS);
    }
    let mut fields = vec![
        ("ref", action.reference.clone()),
        ("runner", action.runner_type.clone()),
        ("enabled", yes_no(action.enabled)),
    ];
    if let Some(description) = &action.description {
        fields.push(("description", description.clone()));
    }
    if !action.entry_point.is_empty() {
        fields.push(("entry point", action.entry_point.clone()));
    }
    print_record(&fields);
    print_line("");
    let mut table = Table::new(&[
        "PARAMETER",
        "TYPE",
        "REQUIRED",
        "DEFAULT",
        "SECRET",
        "DESCRIPTION",
    ]);
    let mut names: Vec<&String> = parameters.parameters.keys().collect();
    // Required first, then by position, then by name, as a run form would list them.
    names.sort_by_key(|name| {
        let spec = &parameters.parameters[*name];
        (
            !spec.is_required(),
            spec.position.unwrap_or(u32::MAX),
            *name,
        )
    });
    for name in names {
        let spec = &parameters.parameters[name];
        let mut description = short_text(spec.description.as_deref());
        if spec.is_immutable() {
            description = format!("(immutable) {description}").trim_end().to_owned();
        }
        table.row(vec![
            name.clone(),
            type_name(spec),
            yes_no(spec.is_required()),
            default_text(spec),
            yes_no(spec.is_secret()),
            description,
        ]);
    }
    table.print("(no parameters)");
    Ok(ExitCode::SUCCESS)
}

fn type_name(spec: &ParamSpec) -> String {
    match &spec.param_type {
        None => "any".to_owned(),
        Some(Value::Array(names)) => names.iter().map(value_text).collect::<Vec<_>>().join("|"),
        Some(other) => value_text(other),
    }
}

/// The default as shown: masked for secrets, nothing when there is none.
fn default_text(spec: &ParamSpec) -> String {
    match &spec.default {
        None => String::new(),
        Some(_) if spec.is_secret() => MASKED_VALUE.to_owned(),
        Some(value) => value_text(value),
    }
}

#[cfg(test)]
mod tests {
    use nerve_model::ParamSpec;
    use serde_json::json;

    use super::{default_text, type_name};

    fn spec(value: serde_json::Value) -> ParamSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn secret_defaults_are_masked() {
        assert_eq!(
            default_text(&spec(json!({"default": "pw", "secret": true}))),
            "********"
        );
        assert_eq!(default_text(&spec(json!({"default": 3}))), "3");
        assert_eq!(default_text(&spec(json!({}))), "");
    }

    #[test]
    fn types_read_as_written() {
        assert_eq!(type_name(&spec(json!({"type": "string"}))), "string");
        assert_eq!(
            type_name(&spec(json!({"type": ["string", "null"]}))),
            "string|null"
        );
        assert_eq!(type_name(&spec(json!({}))), "any");
    }
}
