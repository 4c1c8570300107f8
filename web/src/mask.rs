//! Masking executions for the API: looks up each action's merged parameters through the
//! platform and replaces secret values with `********` before anything is serialized.
//!
//! When an action cannot be found (its pack was removed) or the lookup fails, every parameter
//! of its executions is masked: an unknown parameter may be a secret.

use std::collections::HashMap;

use nerve_model::{Execution, ParamMap};

use crate::dto::{ExecutionDto, Secrets};
use crate::state::AppState;

/// The merged parameters of `action_ref`, or `None` when they cannot be known.
async fn action_params(state: &AppState, action_ref: &str) -> Option<ParamMap> {
    match state.platform.action(action_ref).await {
        Ok(view) => view.map(|view| view.parameters),
        Err(error) => {
            tracing::warn!(%error, action = %action_ref, "Cannot look up action parameters; masking all parameters.");
            None
        }
    }
}

fn convert(
    execution: Execution,
    params: Option<&ParamMap>,
    result_size: Option<u64>,
    show_secrets: bool,
) -> ExecutionDto {
    let secrets = match (show_secrets, params) {
        (true, _) => Secrets::Show,
        (false, Some(params)) => Secrets::Mask(params),
        (false, None) => Secrets::MaskAll,
    };
    ExecutionDto::from_execution(execution, secrets, result_size)
}

/// Converts executions (with their result sizes) to masked DTOs, looking each action up once;
/// `show_secrets` shows them in clear (only for administrators who asked).
pub(crate) async fn execution_dtos(
    state: &AppState,
    executions: Vec<(Execution, Option<u64>)>,
    show_secrets: bool,
) -> Vec<ExecutionDto> {
    let mut params: HashMap<String, Option<ParamMap>> = HashMap::new();
    if !show_secrets {
        for (execution, _) in &executions {
            if !params.contains_key(&execution.action) {
                let found = action_params(state, &execution.action).await;
                params.insert(execution.action.clone(), found);
            }
        }
    }
    executions
        .into_iter()
        .map(|(execution, result_size)| {
            let found = params.get(&execution.action).and_then(Option::as_ref);
            convert(execution, found, result_size, show_secrets)
        })
        .collect()
}

/// One masked execution.
pub(crate) async fn execution_dto(
    state: &AppState,
    execution: Execution,
    result_size: Option<u64>,
    show_secrets: bool,
) -> ExecutionDto {
    let params = if show_secrets {
        None
    } else {
        action_params(state, &execution.action).await
    };
    convert(execution, params.as_ref(), result_size, show_secrets)
}
