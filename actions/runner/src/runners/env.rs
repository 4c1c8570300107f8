//! The environment and working directory of an action process, as StackStorm sets them up.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use serde_json::Value;

use super::Params;
use crate::RunRequest;

/// Builds the complete environment of an action process: the worker's pass-through variables,
/// then the action's `env` parameter (minus `blocked` names, compared case-insensitively), then
/// the `ST2_ACTION_*` variables and `NERVE_EXECUTION_ID`, which the action cannot override.
pub(crate) fn action_env(
    request: &RunRequest,
    params: &Params<'_>,
    blocked: &[&str],
    extra: &[(&str, String)],
) -> Vec<(OsString, OsString)> {
    let mut env: BTreeMap<String, String> = request.base_env.clone();
    if let Some(Value::Object(user_env)) = params.get("env") {
        for (name, value) in user_env {
            if blocked.iter().any(|b| b.eq_ignore_ascii_case(name)) {
                continue;
            }
            let value = match value {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => super::args::python_str(other),
            };
            env.insert(name.clone(), value);
        }
    }
    env.insert("ST2_ACTION_PACK_NAME".into(), request.action.pack.clone());
    env.insert(
        "ST2_ACTION_EXECUTION_ID".into(),
        request.execution_id.clone(),
    );
    if let Some(api_url) = &request.api_url {
        env.insert("ST2_ACTION_API_URL".into(), api_url.clone());
    }
    if let Some(token) = &request.auth_token {
        env.insert("ST2_ACTION_AUTH_TOKEN".into(), token.clone());
    }
    // Python's `str(bool)`, as StackStorm writes it.
    let debug = if params.bool("debug", false) {
        "True"
    } else {
        "False"
    };
    env.insert("ST2_ACTION_DEBUG".into(), debug.into());
    env.insert("NERVE_EXECUTION_ID".into(), request.execution_id.clone());
    for (name, value) in extra {
        env.insert((*name).to_owned(), value.clone());
    }
    env.into_iter()
        .map(|(name, value)| (name.into(), value.into()))
        .collect()
}

/// The `cwd` parameter, or the pack's `actions/` directory.
pub(crate) fn working_dir(request: &RunRequest, params: &Params<'_>) -> PathBuf {
    match params.string("cwd") {
        Some(cwd) if !cwd.is_empty() => PathBuf::from(cwd),
        _ => request.pack_dir.join("actions"),
    }
}
