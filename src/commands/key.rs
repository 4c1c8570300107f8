//! `nerve key set|get|list|delete`: the key-value store (`st2kv.system`, `st2kv.user`).
//!
//! Secret values arrive masked from the server; `--decrypt` asks the server for the clear value
//! (administrators, or the owner of a user-scoped key). Nothing here ever unmasks by itself.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use nerve_web::dto::{KeyDto, KeySetBody};
use serde_json::json;

use super::client::{Api, remote};
use super::table::{Table, print_record, timestamp, yes_no};
use super::{GlobalArgs, OutputFormat};
use crate::output::{print_json, print_line};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Set a value (creating or replacing the key).
    Set(SetArgs),
    /// Show a key; a secret value is masked unless `--decrypt`.
    Get(GetArgs),
    /// List keys in name order; secret values are masked unless `--decrypt`.
    List(ListArgs),
    /// Delete a key.
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// Key name.
    name: String,
    /// The value (a string; store JSON as text).
    value: String,
    /// Encrypt at rest and mask whenever it is read.
    #[arg(long)]
    secret: bool,
    /// Seconds until the key expires.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
    /// `system` (shared) or `user` (yours).
    #[arg(long, value_parser = ["system", "user"], default_value = "system")]
    scope: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Key name.
    name: String,
    /// Show a secret value in clear.
    #[arg(long)]
    decrypt: bool,
    /// `system` or `user`.
    #[arg(long, value_parser = ["system", "user"], default_value = "system")]
    scope: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only keys whose names start with this.
    #[arg(long)]
    prefix: Option<String>,
    /// `system`, `user` or `all`.
    #[arg(long, value_parser = ["system", "user", "all"], default_value = "system")]
    scope: String,
    /// Show secret values in clear.
    #[arg(long)]
    decrypt: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Key name.
    name: String,
    /// `system` or `user`.
    #[arg(long, value_parser = ["system", "user"], default_value = "system")]
    scope: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

pub(crate) fn exec(global: &GlobalArgs, command: KeyCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeyCommand::Set(args) => remote(global, async move |api| set(api, args).await),
        KeyCommand::Get(args) => remote(global, async move |api| get(api, args).await),
        KeyCommand::List(args) => remote(global, async move |api| list(api, args).await),
        KeyCommand::Delete(args) => remote(global, async move |api| delete(api, args).await),
    }
}

async fn set(api: &Api, args: SetArgs) -> anyhow::Result<ExitCode> {
    let body = KeySetBody {
        value: args.value,
        secret: args.secret,
        ttl: args.ttl,
        scope: Some(args.scope),
        user: None,
    };
    let key = api.set_key(&args.name, &body).await?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::to_value(&key)?),
        OutputFormat::Table => print_line(&format!(
            "set {} `{}`{}",
            key.scope,
            key.name,
            if key.secret { " (secret)" } else { "" }
        )),
    }
    Ok(ExitCode::SUCCESS)
}

async fn get(api: &Api, args: GetArgs) -> anyhow::Result<ExitCode> {
    let key = api
        .get_key(&args.name, Some(&args.scope), args.decrypt)
        .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&key)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut fields = vec![
        ("name", key.name.clone()),
        ("value", key.value.clone()),
        ("secret", yes_no(key.secret)),
        ("scope", key.scope.clone()),
    ];
    if let Some(user) = &key.user {
        fields.push(("user", user.clone()));
    }
    if let Some(expires) = &key.expire_timestamp {
        fields.push(("expires", timestamp(expires)));
    }
    if let Some(updated) = &key.updated_at {
        fields.push(("updated", timestamp(updated)));
    }
    print_record(&fields);
    Ok(ExitCode::SUCCESS)
}

async fn list(api: &Api, args: ListArgs) -> anyhow::Result<ExitCode> {
    let page = api
        .list_keys(args.prefix.as_deref(), Some(&args.scope), args.decrypt)
        .await?;
    if args.output == OutputFormat::Json {
        print_json(&serde_json::to_value(&page.items)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&["NAME", "VALUE", "SECRET", "SCOPE", "EXPIRES"]);
    for key in &page.items {
        table.row(row(key));
    }
    table.print("no keys");
    super::table::note_partial(page.items.len(), 0, page.total);
    Ok(ExitCode::SUCCESS)
}

fn row(key: &KeyDto) -> Vec<String> {
    let scope = match &key.user {
        Some(user) => format!("{} ({user})", key.scope),
        None => key.scope.clone(),
    };
    vec![
        key.name.clone(),
        key.value.clone(),
        yes_no(key.secret),
        scope,
        key.expire_timestamp
            .as_deref()
            .map(timestamp)
            .unwrap_or_default(),
    ]
}

async fn delete(api: &Api, args: DeleteArgs) -> anyhow::Result<ExitCode> {
    api.delete_key(&args.name, Some(&args.scope)).await?;
    match args.output {
        OutputFormat::Json => print_json(&json!({"name": args.name, "deleted": true})),
        OutputFormat::Table => print_line(&format!("deleted {} key `{}`", args.scope, args.name)),
    }
    Ok(ExitCode::SUCCESS)
}
