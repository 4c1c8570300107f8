//! Inquiries: executions of the `inquirer` runner (`core.ask`) that wait for a human answer.
//!
//! An inquiry is consumed from its runner's queue on the server (it needs the store, like a
//! workflow), moved `scheduled → running → pending` in one write with its result holding what
//! it asks (`schema`, `route`, `users`, `roles`, `ttl`), and `core.st2.generic.inquiry` is
//! emitted. [`respond`] checks who answers and validates the response against the schema,
//! then the inquiry `succeeded` with the response in its result, and what follows a final
//! status runs (a workflow waiting on it goes on). An inquiry nobody answers within its `ttl`
//! minutes ends `timeout`, checked every [`SWEEP_EVERY`].

use std::sync::Arc;
use std::time::Duration;

use nerve_model::{Execution, ExecutionStatus, Schema};
use nerve_store::StoreError;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::{Engine, EngineError};

/// The runner of inquiries.
pub(crate) const INQUIRER: &str = "inquirer";

/// `core.st2.generic.inquiry`: emitted when an inquiry starts waiting.
const INQUIRY_TRIGGER: &str = "core.st2.generic.inquiry";

/// How often unanswered inquiries are checked against their ttl.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Inquiries started at once.
const CONCURRENCY: usize = 16;

/// Starts the consumer of the inquirer's queue and the ttl sweeper.
pub(crate) async fn spawn(engine: &Engine) -> Result<(), EngineError> {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    crate::consumer::spawn_server_runner(
        engine,
        INQUIRER,
        slots,
        "inquiry request",
        |engine, id| async move { start(&engine, &id).await },
    )
    .await?;
    let engine = engine.clone();
    let cancel = engine.inner.cancel.clone();
    engine.inner.tasks.clone().spawn(async move {
        let mut ticker = tokio::time::interval(SWEEP_EVERY);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            if let Err(error) = expire(&engine, chrono::Utc::now()).await {
                tracing::error!(%error, "Expiring unanswered inquiries failed.");
            }
        }
    });
    Ok(())
}

/// Moves a scheduled inquiry to `pending` (flushed) and announces it.
async fn start(engine: &Engine, execution_id: &str) -> Result<(), EngineError> {
    let store = engine.store();
    let Some(execution) = store.get_execution(execution_id)? else {
        tracing::warn!(
            execution_id,
            "Inquiry request for an unknown execution; dropped."
        );
        return Ok(());
    };
    if execution.status != ExecutionStatus::Scheduled {
        return Ok(());
    }
    let asked = asked(&execution.parameters);
    let record = match store.transition_path_unflushed(
        execution_id,
        &[ExecutionStatus::Running, ExecutionStatus::Pending],
        Some("waiting for a response (`nerve inquiry respond`)".to_owned()),
        Some(asked.clone()),
    ) {
        Ok(record) => record,
        Err(StoreError::IllegalTransition { .. }) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    store.flush().await?;
    tracing::info!(inquiry = %execution_id, "Inquiry waiting for a response.");
    let execution = record.execution;
    // A workflow waiting only on people shows `paused`.
    crate::workflows::on_child_waiting(engine, &execution).await;
    let content = engine.content();
    if content.trigger_type(INQUIRY_TRIGGER).is_some()
        && !content.rules().candidates(INQUIRY_TRIGGER).is_empty()
    {
        let payload = json!({"id": execution.id, "route": asked["route"]});
        let cause = execution.context.trace_id.clone().map(|trace_id| {
            let caused_by = nerve_store::CausedBy {
                kind: nerve_store::TraceComponentKind::Execution,
                id: execution.id.clone(),
            };
            (trace_id, caused_by)
        });
        let trace_tag = execution.context.trace_tag.clone();
        if let Err(error) =
            crate::ingest::emit_in_trace(engine, INQUIRY_TRIGGER, payload, trace_tag, cause).await
        {
            tracing::error!(%error, inquiry = %execution.id, "Emitting the inquiry trigger failed.");
        }
    }
    Ok(())
}

/// What an inquiry asks, from its parameters (runner defaults already applied).
fn asked(parameters: &Map<String, Value>) -> Value {
    let field = |name: &str, default: Value| parameters.get(name).cloned().unwrap_or(default);
    json!({
        "schema": field("schema", json!({"type": "object"})),
        "route": field("route", json!("")),
        "users": field("users", json!([])),
        "roles": field("roles", json!([])),
        "ttl": field("ttl", json!(1440)),
    })
}

/// The inquiries waiting for a response, newest first.
pub(crate) fn pending(engine: &Engine) -> Result<Vec<Execution>, EngineError> {
    let mut pending: Vec<Execution> = engine
        .store()
        .executions_with_status(&[ExecutionStatus::Pending])?
        .into_iter()
        .map(|record| record.execution)
        .filter(|execution| execution.runner == INQUIRER)
        .collect();
    pending.sort_by(|a, b| b.start_timestamp.cmp(&a.start_timestamp));
    Ok(pending)
}

/// An inquiry (any status).
pub(crate) fn get(engine: &Engine, id: &str) -> Result<Execution, EngineError> {
    engine
        .store()
        .get_execution(id)?
        .filter(|execution| execution.runner == INQUIRER)
        .ok_or_else(|| EngineError::NotFound {
            kind: "inquiry",
            id: id.to_owned(),
        })
}

/// Answers a pending inquiry on behalf of `user`; returns the inquiry, `succeeded`.
///
/// # Errors
/// `NotFound`; `Conflict` when it is not pending or `user` may not answer it; `Invalid` with
/// every schema violation (its field and reason) when the response does not match.
pub(crate) async fn respond(
    engine: &Engine,
    id: &str,
    response: Value,
    user: &str,
) -> Result<Execution, EngineError> {
    let inquiry = get(engine, id)?;
    if inquiry.status != ExecutionStatus::Pending {
        return Err(EngineError::Conflict(format!(
            "inquiry `{id}` is {}; only a pending inquiry takes a response",
            inquiry.status
        )));
    }
    let mut result = inquiry
        .result
        .clone()
        .unwrap_or_else(|| asked(&inquiry.parameters));
    let users: Vec<&str> = result["users"]
        .as_array()
        .map(|users| users.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !users.is_empty() && !users.contains(&user) {
        return Err(EngineError::Conflict(format!(
            "user `{user}` may not respond to inquiry `{id}`; it asks {}",
            users.join(", ")
        )));
    }
    let schema = Schema::compile(draft4_required(result["schema"].clone())).map_err(|error| {
        EngineError::invalid(format!(
            "inquiry `{id}` has an unusable response schema (at `{}`: {})",
            error.location, error.message
        ))
    })?;
    if let Err(violations) = schema.validate(&response) {
        return Err(EngineError::Invalid {
            message: format!("the response does not match the schema of inquiry `{id}`"),
            details: violations
                .into_iter()
                .map(|violation| {
                    let field = if violation.path.is_empty() {
                        "response".to_owned()
                    } else {
                        format!("response{}", violation.path.replace('/', "."))
                    };
                    format!("{field}: {}", violation.message)
                })
                .collect(),
        });
    }
    result["response"] = response;
    let record = match engine
        .store()
        .transition(
            id,
            ExecutionStatus::Succeeded,
            Some(format!("answered by {user}")),
            Some(result),
        )
        .await
    {
        Ok(record) => record,
        Err(StoreError::IllegalTransition { from, .. }) => {
            return Err(EngineError::Conflict(format!(
                "inquiry `{id}` is {from}; only a pending inquiry takes a response"
            )));
        }
        Err(error) => return Err(error.into()),
    };
    tracing::info!(inquiry = %id, user, "Inquiry answered.");
    crate::worker::after_final(engine, &record.execution).await;
    Ok(record.execution)
}

/// Ends the inquiries whose ttl ran out by `now` as `timeout`.
async fn expire(engine: &Engine, now: chrono::DateTime<chrono::Utc>) -> Result<(), EngineError> {
    for inquiry in pending(engine)? {
        let ttl_minutes = inquiry
            .result
            .as_ref()
            .and_then(|result| result["ttl"].as_i64())
            .unwrap_or(1440);
        let Ok(started) = chrono::DateTime::parse_from_rfc3339(&inquiry.start_timestamp) else {
            continue;
        };
        if started + chrono::Duration::minutes(ttl_minutes) > now {
            continue;
        }
        let reason = format!("no response within its ttl of {ttl_minutes} minute(s)");
        match engine
            .store()
            .transition(&inquiry.id, ExecutionStatus::Timeout, Some(reason), None)
            .await
        {
            Ok(record) => crate::worker::after_final(engine, &record.execution).await,
            Err(StoreError::IllegalTransition { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// StackStorm's schemas mark required properties with `required: true` on the property (draft
/// 3 style); turns those into draft 4's `required` list so the validator understands them.
fn draft4_required(mut schema: Value) -> Value {
    fn walk(schema: &mut Value) {
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        let mut required: Vec<Value> = Vec::new();
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                if let Some(map) = property.as_object_mut()
                    && map.get("required") == Some(&Value::Bool(true))
                {
                    map.remove("required");
                    required.push(Value::String(name.clone()));
                }
                if let Some(map) = property.as_object_mut()
                    && matches!(map.get("required"), Some(Value::Bool(false)))
                {
                    map.remove("required");
                }
                walk(property);
            }
        }
        if let Some(items) = object.get_mut("items") {
            walk(items);
        }
        if !required.is_empty() {
            match object.get_mut("required") {
                Some(Value::Array(list)) => list.extend(required),
                _ => {
                    object.insert("required".to_owned(), Value::Array(required));
                }
            }
        }
    }
    walk(&mut schema);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_level_required_becomes_a_required_list() {
        let schema = draft4_required(json!({
            "type": "object",
            "properties": {
                "continue": {"type": "boolean", "required": true},
                "note": {"type": "string", "required": false},
                "nested": {"type": "object", "properties": {"x": {"type": "integer", "required": true}}}
            }
        }));
        assert_eq!(schema["required"], json!(["continue"]));
        assert_eq!(schema["properties"]["nested"]["required"], json!(["x"]));
        assert!(schema["properties"]["note"].get("required").is_none());
        let compiled = Schema::compile(schema).unwrap();
        assert!(compiled.validate(&json!({})).is_err());
        assert!(compiled.validate(&json!({"continue": true})).is_ok());
    }

    #[test]
    fn what_is_asked_comes_from_the_parameters() {
        let parameters = json!({"route": "ops", "ttl": 5})
            .as_object()
            .unwrap()
            .clone();
        let asked = asked(&parameters);
        assert_eq!(asked["route"], "ops");
        assert_eq!(asked["ttl"], 5);
        assert_eq!(asked["users"], json!([]));
    }
}
