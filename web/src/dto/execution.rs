//! Executions and their output lines as the API shows them. Secret parameters are masked here.

use chrono::DateTime;
use nerve_model::{
    Execution, ExecutionContext, ExecutionStatus, MASKED_VALUE, OutputLine, ParamMap,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{IdDto, RefDto};

/// The action of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionActionDto {
    /// `pack.name`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Pack.
    pub pack: String,
    /// Name in the pack.
    pub name: String,
    /// Runner name.
    pub runner_type: String,
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusChangeDto {
    /// The new status.
    #[schema(value_type = String)]
    pub status: ExecutionStatus,
    /// When (RFC 3339, UTC).
    pub timestamp: String,
}

/// An execution (StackStorm's `ActionExecutionAPI` shape, reduced).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionDto {
    /// Id.
    pub id: String,
    /// The action.
    pub action: ExecutionActionDto,
    /// `{"name": runner}`.
    pub runner: Value,
    /// Status (`requested`, `running`, `succeeded`, ...).
    #[schema(value_type = String)]
    pub status: ExecutionStatus,
    /// Parameters, secret ones replaced by `********`.
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    /// The result (a preview string when it was too large to keep inline and this is a list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Size of the full result as JSON, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_size: Option<u64>,
    /// `result` is only the start of the result's JSON, as a string (`max_result_bytes` asked
    /// for it); the whole result is at `/executions/{id}/result`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub result_truncated: bool,
    /// Why it ended this way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What caused it (`user`, `rule`, `trigger_instance`, `trace_tag`, `parent`, ...).
    #[schema(value_type = Object)]
    pub context: ExecutionContext,
    /// The rule that fired it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RefDto>,
    /// The event that fired it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_instance: Option<IdDto>,
    /// Parent execution id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Child execution ids.
    #[serde(default)]
    pub children: Vec<String>,
    /// When it was requested.
    pub start_timestamp: String,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<String>,
    /// Seconds from start to end, when finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<f64>,
    /// Status history.
    #[serde(default)]
    pub log: Vec<StatusChangeDto>,
    /// The worker that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
}

/// How to treat secret parameters when converting an execution.
#[derive(Debug, Clone, Copy)]
pub enum Secrets<'a> {
    /// Mask the parameters the action's (merged) parameter map marks secret.
    Mask(&'a ParamMap),
    /// The action is unknown (removed): mask every parameter value, since any may be secret.
    MaskAll,
    /// Show everything (an administrator asked with `show_secrets=true`).
    Show,
}

impl ExecutionDto {
    /// The API view of `execution`; `secrets` says what to mask.
    pub fn from_execution(
        execution: Execution,
        secrets: Secrets<'_>,
        result_size: Option<u64>,
    ) -> Self {
        let mut parameters = execution.parameters;
        match secrets {
            Secrets::Mask(params) => nerve_model::mask_secrets(params, &mut parameters),
            Secrets::MaskAll => {
                for value in parameters.values_mut() {
                    *value = Value::String(MASKED_VALUE.to_owned());
                }
            }
            Secrets::Show => {}
        }
        let (pack, name) = execution
            .action
            .split_once('.')
            .map_or((String::new(), execution.action.clone()), |(pack, name)| {
                (pack.to_owned(), name.to_owned())
            });
        let elapsed_seconds = execution.end_timestamp.as_deref().and_then(|end| {
            let start = DateTime::parse_from_rfc3339(&execution.start_timestamp).ok()?;
            let end = DateTime::parse_from_rfc3339(end).ok()?;
            // Microsecond precision is plenty; the cast cannot lose meaningful precision.
            #[allow(clippy::cast_precision_loss)]
            let seconds = (end - start).num_microseconds()? as f64 / 1e6;
            Some(seconds)
        });
        Self {
            action: ExecutionActionDto {
                reference: execution.action,
                pack,
                name,
                runner_type: execution.runner.clone(),
            },
            runner: serde_json::json!({ "name": execution.runner }),
            status: execution.status,
            parameters,
            result: execution.result,
            result_size,
            result_truncated: false,
            reason: execution.reason,
            rule: execution
                .context
                .rule
                .clone()
                .map(|reference| RefDto { reference }),
            trigger_instance: execution
                .context
                .trigger_instance
                .clone()
                .map(|id| IdDto { id }),
            parent: execution.context.parent.clone(),
            context: execution.context,
            children: execution.children,
            start_timestamp: execution.start_timestamp,
            end_timestamp: execution.end_timestamp,
            elapsed_seconds,
            log: execution
                .log
                .into_iter()
                .map(|change| StatusChangeDto {
                    status: change.status,
                    timestamp: change.timestamp,
                })
                .collect(),
            worker: execution.worker,
            id: execution.id,
        }
    }
}

/// One output line of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutputLineDto {
    /// The execution.
    pub execution_id: String,
    /// Sequence number from 0; ask for `from=seq+1` to continue.
    pub seq: u64,
    /// `stdout`, `stderr` (or `nerve` for the line that says the output cap was reached).
    pub output_type: String,
    /// The line, without its newline.
    pub data: String,
    /// When it was read (RFC 3339, UTC).
    pub timestamp: String,
}

impl From<OutputLine> for OutputLineDto {
    fn from(line: OutputLine) -> Self {
        Self {
            execution_id: line.execution_id,
            seq: line.seq,
            output_type: line.stream,
            data: line.data,
            timestamp: line.timestamp,
        }
    }
}
