//! Connecting client commands to a running server, and reporting what the server said.
//!
//! The server is `--api`/`NERVE_API_URL` with `--token`/`NERVE_AUTH_TOKEN`, else the one
//! `nerve up` recorded in the data dir (`server.json`, `admin.token`). Every client command
//! runs its async body through [`remote`], which turns API errors into `error: …` on stderr
//! and the exit code the CLI promises:
//!
//! | what happened                                   | exit |
//! |-------------------------------------------------|------|
//! | HTTP 404, HTTP 5xx (the operation ran, failed)  | 1    |
//! | HTTP 400/401/403/409 and other 4xx              | 2    |
//! | the server cannot be reached, odd answers       | 2    |
//!
//! It does not print results: each command does that itself.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use nerve_packs::{Diagnostic, Severity, Span};
use nerve_web::client::{ListQuery, Page};
use nerve_web::{Client, ClientError};
use serde_json::Value;

use super::GlobalArgs;
use crate::output::print_diagnostics;

/// A client and where its server came from (for hints when it cannot be reached).
#[derive(Debug)]
pub(crate) struct Api {
    /// The typed client.
    pub(crate) client: Client,
    /// The data dir whose `server.json` named the server, when it was not given explicitly.
    discovered_in: Option<PathBuf>,
}

impl std::ops::Deref for Api {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// The client of the server the global options name.
///
/// # Errors
///
/// No `--api` and no server recorded in the data dir.
fn connect(global: &GlobalArgs) -> anyhow::Result<Api> {
    let data_dir = global.data_dir()?;
    if let Some(url) = &global.api {
        // An explicit URL without a token still tries the local admin token: the common case is
        // `--api` pointing at the local server under another name.
        let token = global.token.clone().or_else(|| local_token(&data_dir));
        return Ok(Api {
            client: Client::new(url, token),
            discovered_in: None,
        });
    }
    let Some((url, token)) = nerve_web::discover(&data_dir) else {
        anyhow::bail!(
            "no Nerve server found for data dir `{}`: start one with `nerve up`, or pass --api \
             and --token",
            data_dir.display()
        );
    };
    Ok(Api {
        client: Client::new(&url, Some(global.token.clone().unwrap_or(token))),
        discovered_in: Some(data_dir),
    })
}

fn local_token(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(nerve_web::auth::ADMIN_TOKEN_FILE)).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// Connects (see [`connect`]) and runs a client command's body on a small runtime. API errors
/// are reported here with the exit code they deserve; other errors go up to `main` (exit 2).
///
/// # Errors
///
/// No server to talk to, and errors that are not API errors (unreadable files, no runtime).
pub(crate) fn remote<F>(global: &GlobalArgs, body: F) -> anyhow::Result<ExitCode>
where
    F: AsyncFnOnce(&Api) -> anyhow::Result<ExitCode>,
{
    let api = connect(global)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    match runtime.block_on(body(&api)) {
        Ok(code) => Ok(code),
        Err(error) => match error.downcast_ref::<ClientError>() {
            Some(client_error) => Ok(report(&api, client_error)),
            None => Err(error),
        },
    }
}

/// Prints an API error (with the server's details and a hint) and returns its exit code.
pub(crate) fn report(api: &Api, error: &ClientError) -> ExitCode {
    match error {
        ClientError::Http {
            status,
            faultstring,
            details,
        } => {
            eprintln!("error: {faultstring} (HTTP {})", status.as_u16());
            print_diagnostics(&details.iter().map(to_diagnostic).collect::<Vec<_>>());
            match status.as_u16() {
                401 => eprintln!("hint: pass --token or set NERVE_AUTH_TOKEN"),
                403 => eprintln!("hint: this needs an administrator's token"),
                _ => {}
            }
            let code = status.as_u16();
            if code == 404 || status.is_server_error() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
        ClientError::Transport { url, source } => {
            eprintln!(
                "error: cannot reach the Nerve API at `{url}`: {}",
                root_cause(source)
            );
            match &api.discovered_in {
                Some(dir) => eprintln!(
                    "hint: `{}` names this server; is `nerve up` still running for that data \
                     dir? Start it, or pass --api and --token",
                    dir.join(nerve_web::client::SERVER_INFO_FILE).display()
                ),
                None => eprintln!("hint: check --api / NERVE_API_URL"),
            }
            ExitCode::from(2)
        }
        other => {
            let mut message = other.to_string();
            if let Some(source) = std::error::Error::source(other) {
                message.push_str(": ");
                message.push_str(&chain(source));
            }
            eprintln!("error: {message}");
            eprintln!("hint: is the server the same Nerve version as this CLI?");
            ExitCode::from(2)
        }
    }
}

/// The innermost cause of an error (`Connection refused (os error 111)`), which says more
/// than reqwest's outer layers.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

pub(crate) fn to_diagnostic(detail: &nerve_web::Diagnostic) -> Diagnostic {
    let severity = if detail.severity == "warning" {
        Severity::Warning
    } else {
        Severity::Error
    };
    Diagnostic::new(
        severity,
        &detail.file,
        Span::new(detail.line, detail.col),
        detail.field.clone(),
        detail.message.clone(),
    )
    .with_optional_hint(detail.hint.clone())
}

/// Prints server-side diagnostics (warnings of a registration, say) like local ones; `resolve`
/// maps the file the server names to a local path so the source line can be shown.
pub(crate) fn print_server_diagnostics(
    details: &[nerve_web::Diagnostic],
    resolve: impl Fn(&str) -> PathBuf,
) {
    let diagnostics: Vec<Diagnostic> = details
        .iter()
        .map(|detail| {
            let mut diagnostic = to_diagnostic(detail);
            diagnostic.file = resolve(&detail.file);
            diagnostic
        })
        .collect();
    print_diagnostics(&diagnostics);
}

/// The same error with the files in its details mapped to local paths by `resolve` (the server
/// names `<request>` for a rule sent in the body, and pack files relative to the pack).
pub(crate) fn locate(mut error: ClientError, resolve: impl Fn(&str) -> PathBuf) -> ClientError {
    if let ClientError::Http { details, .. } = &mut error {
        for detail in details {
            detail.file = resolve(&detail.file).display().to_string();
        }
    }
    error
}

/// Every record of a paged list (actions, rules, trigger types), a page of the largest size the
/// server allows at a time; `pack` filters where the endpoint can.
///
/// # Errors
///
/// The first failing page's error.
pub(crate) async fn all_pages<T, F, Fut>(
    pack: Option<&str>,
    mut fetch: F,
) -> Result<Vec<T>, ClientError>
where
    F: FnMut(ListQuery) -> Fut,
    Fut: Future<Output = Result<Page<T>, ClientError>>,
{
    let mut items = Vec::new();
    loop {
        let query = ListQuery {
            pack: pack.map(str::to_owned),
            limit: Some(i64::try_from(nerve_web::MAX_LIMIT).unwrap_or(1000)),
            offset: Some(items.len()),
        };
        let page = fetch(query).await?;
        let done = page.items.is_empty() || items.len() + page.items.len() >= page.total;
        items.extend(page.items);
        if done {
            return Ok(items);
        }
    }
}

/// Parses a `NAME=VALUE` parameter. Values stay strings (the server casts them to the declared
/// types) unless they are JSON objects or arrays.
///
/// # Errors
///
/// No `=`, or an empty name.
pub(crate) fn parse_param(text: &str) -> Result<(String, Value), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!("`{text}` is not NAME=VALUE"));
    };
    if name.is_empty() {
        return Err(format!("`{text}` has no parameter name before `=`"));
    }
    let trimmed = value.trim_start();
    let structured = (trimmed.starts_with('{') || trimmed.starts_with('['))
        .then(|| serde_json::from_str::<Value>(value).ok())
        .flatten()
        .filter(|parsed| parsed.is_object() || parsed.is_array());
    Ok((
        name.to_owned(),
        structured.unwrap_or_else(|| Value::String(value.to_owned())),
    ))
}

/// `NAME=VALUE` pairs as a parameter map (a repeated name keeps its last value).
pub(crate) fn param_map(params: Vec<(String, Value)>) -> serde_json::Map<String, Value> {
    params.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse_param;

    #[test]
    fn params_stay_strings_unless_json_structures() {
        assert_eq!(
            parse_param("cmd=echo hi"),
            Ok(("cmd".into(), json!("echo hi")))
        );
        assert_eq!(parse_param("n=3"), Ok(("n".into(), json!("3"))));
        assert_eq!(parse_param("a=b=c"), Ok(("a".into(), json!("b=c"))));
        assert_eq!(parse_param("e="), Ok(("e".into(), json!(""))));
        assert_eq!(
            parse_param(r#"o={"x": 1}"#),
            Ok(("o".into(), json!({"x": 1})))
        );
        assert_eq!(parse_param("l=[1, 2]"), Ok(("l".into(), json!([1, 2]))));
        assert_eq!(
            parse_param("l=[not json"),
            Ok(("l".into(), json!("[not json")))
        );
        assert!(parse_param("novalue").is_err());
        assert!(parse_param("=x").is_err());
    }
}
