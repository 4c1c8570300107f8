//! Keeping secrets out of logs: parameter values are logged only with every `secret` parameter
//! masked, and its value scrubbed from the other values too (a secret rendered into `cmd`).

use nerve_model::{MASKED_VALUE, ParamMap, mask_secrets, merge_runner_parameters};
use serde_json::Value;

use crate::RunRequest;

/// The request's parameters as JSON text, safe to log.
pub(crate) fn masked_parameters(request: &RunRequest) -> String {
    let specs = merged_specs(request);
    let mut values = request.parameters.clone();
    mask_secrets(&specs, &mut values);
    let mut text = Value::Object(values).to_string();
    for (name, spec) in &specs {
        if !spec.is_secret() {
            continue;
        }
        let Some(secret) = request.parameters.get(name) else {
            continue;
        };
        let secret = match secret {
            Value::String(text) => text.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        // As it appears inside a JSON string.
        let escaped = Value::String(secret).to_string();
        let escaped = &escaped[1..escaped.len() - 1];
        if !escaped.is_empty() && escaped != MASKED_VALUE {
            text = text.replace(escaped, MASKED_VALUE);
        }
    }
    text
}

/// Runner parameters overridden by the action's, or both side by side if they conflict.
fn merged_specs(request: &RunRequest) -> ParamMap {
    merge_runner_parameters(
        &request.runner.runner_parameters,
        &request.action.parameters,
    )
    .unwrap_or_else(|_| {
        let mut specs = request.runner.runner_parameters.clone();
        for (name, spec) in &request.action.parameters {
            let secret = specs.get(name).is_some_and(|s| s.is_secret()) || spec.is_secret();
            let mut spec = spec.clone();
            spec.secret = Some(secret);
            specs.insert(name.clone(), spec);
        }
        specs
    })
}

#[cfg(test)]
mod tests {
    use nerve_model::{Action, find_runner};
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_masked_and_scrubbed_from_other_values() {
        let action: Action = serde_json::from_value(json!({
            "name": "deploy",
            "runner_type": "local-shell-cmd",
            "parameters": {"token": {"type": "string", "secret": true}},
        }))
        .unwrap();
        let runner = find_runner("local-shell-cmd").unwrap().clone();
        let mut request = RunRequest::new("e1", action, runner, "/tmp");
        request.parameters = json!({
            "token": "s3cr\"et",
            "cmd": "curl -H 'X: s3cr\"et' x",
            "sudo_password": "pw-123",
        })
        .as_object()
        .unwrap()
        .clone();
        let logged = masked_parameters(&request);
        assert!(!logged.contains("s3cr"), "{logged}");
        assert!(!logged.contains("pw-123"), "{logged}");
        assert!(logged.contains("curl -H 'X: ********' x"), "{logged}");
    }
}
