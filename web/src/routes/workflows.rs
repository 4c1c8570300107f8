//! `/api/v1/workflows/inspect`: checks an orquesta or action-chain definition without running
//! it, as `nerve workflow inspect` does offline. Running workflows is the engine's business; this
//! route only reads text.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiJson, AppResult};
use axum::Json;

/// A workflow definition to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InspectBody {
    /// The definition, as YAML text.
    definition: String,
    /// `orquesta` (the default) or `action-chain`.
    #[serde(default)]
    runner: WorkflowRunner,
}

/// The workflow runners.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum WorkflowRunner {
    /// An orquesta workflow (`version: 1.0`, `tasks`).
    #[default]
    Orquesta,
    /// An action chain (`chain`).
    ActionChain,
}

/// One problem of a definition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkflowProblemDto {
    /// Line, 1-based.
    line: u32,
    /// Column in characters, 1-based.
    col: u32,
    /// The field concerned (`tasks.create.next[0].do`); empty for the whole document.
    path: String,
    /// What is wrong.
    message: String,
    /// How to fix it, when there is a likely fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

/// The outcome of a check.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InspectionDto {
    /// Whether the definition has no problem.
    valid: bool,
    /// Every problem, in file order.
    problems: Vec<WorkflowProblemDto>,
}

/// Checks a workflow definition: syntax, fields, unknown and unreachable tasks, undefined
/// variables, expressions (YAQL is refused). Problems are data, so an invalid definition is
/// still a 200.
#[utoipa::path(
    post,
    path = "/api/v1/workflows/inspect",
    tag = "workflows",
    request_body = InspectBody,
    responses(
        (status = 200, description = "The problems found", body = InspectionDto),
        (status = 400, description = "The body is malformed", body = crate::dto::Fault)
    )
)]
pub(crate) async fn inspect(ApiJson(body): ApiJson<InspectBody>) -> AppResult<Json<InspectionDto>> {
    let problems = match body.runner {
        WorkflowRunner::Orquesta => nerve_workflow::Workflow::parse(&body.definition).err(),
        WorkflowRunner::ActionChain => nerve_workflow::Chain::parse(&body.definition).err(),
    }
    .unwrap_or_default();
    Ok(Json(InspectionDto {
        valid: problems.is_empty(),
        problems: problems
            .into_iter()
            .map(|p| WorkflowProblemDto {
                line: p.line,
                col: p.col,
                path: p.path,
                message: p.message,
                hint: p.hint,
            })
            .collect(),
    }))
}
