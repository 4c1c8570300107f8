//! The scheduler: creates executions, applies policies (`action.concurrency` with delay or
//! cancel, per attribute too), and hands scheduled executions to workers over the bus.

use nerve_bus::Message;
use nerve_bus::topology::{EXECUTIONS, execution_request_key};
use nerve_model::{Execution, ExecutionContext, ExecutionStatus, PolicyType, StatusChange};
use nerve_store::{ExecutionFilter, InsertOutcome, TraceComponent, TraceComponentKind};
use serde_json::{Map, Value};

use crate::{Content, Engine, EngineError};

/// Validates parameters and requests an execution (API / CLI runs).
pub(crate) async fn request_execution(
    engine: &Engine,
    content: &Content,
    action_ref: &str,
    given: Map<String, Value>,
    context: ExecutionContext,
    parent: Option<String>,
) -> Result<Execution, EngineError> {
    let parameters = crate::parameters::prepare(content, action_ref, given)?;
    let mut context = context;
    context.parent = parent;
    let id = nerve_store::new_id();
    create_and_schedule(
        engine,
        content,
        action_ref,
        parameters,
        context,
        id.clone(),
        None,
    )
    .await?;
    engine
        .store()
        .get_execution(&id)?
        .ok_or_else(|| EngineError::NotFound {
            kind: "execution",
            id,
        })
}

/// Creates the execution (idempotent for the same id) and schedules it.
pub(crate) async fn create_and_schedule(
    engine: &Engine,
    content: &Content,
    action_ref: &str,
    parameters: Map<String, Value>,
    context: ExecutionContext,
    id: String,
    caused_by_enforcement: Option<String>,
) -> Result<(), EngineError> {
    let created = create_unflushed(
        engine,
        content,
        NewExecution {
            action_ref,
            parameters,
            context,
            id,
            caused_by_enforcement,
        },
        Vec::new(),
    )?;
    created.proceed(engine, content).await?;
    engine.store().flush().await?;
    Ok(())
}

/// What to create: see [`create_unflushed`].
pub(crate) struct NewExecution<'a> {
    pub(crate) action_ref: &'a str,
    pub(crate) parameters: Map<String, Value>,
    pub(crate) context: ExecutionContext,
    pub(crate) id: String,
    pub(crate) caused_by_enforcement: Option<String>,
}

/// An execution written by [`create_unflushed`]: [`Created::proceed`] with it, and flush the
/// store before acknowledging anything.
#[must_use = "`proceed` with it, or the execution is never run"]
pub(crate) struct Created {
    execution: Execution,
    /// This call wrote it (rather than finding the same request recorded).
    inserted: bool,
}

/// Records a new execution, insert-if-absent by id, and its trace component (with
/// `trace_components` before it: a rule firing adds its enforcement in the same trace write),
/// without flushing.
///
/// Without a concurrency policy on the action, nothing can delay or cancel the execution, so it
/// is created `scheduled` at once: its log says `requested` then `scheduled` at the same time,
/// and it costs one write instead of two. Under a policy it is created `requested` and
/// [`Created::proceed`] applies the policy.
///
/// **Durability.** [`Created::proceed`] may hand the execution to a worker before the creation
/// is durable, and the caller's flush (which it awaits before answering the API caller or
/// acking the bus message) then shares its fsync with the worker's. That is safe because a
/// worker's first write is flushed before the action has any effect: `running` before a process
/// starts, the end of a `noop` before its message is acked. A flush makes every write before it
/// durable, so the creation is durable before anything depends on it. A crash before then loses
/// an execution that never ran; whoever asked it was not answered (the API) or finds its event
/// still pending and processes it again (rules, see `rules_engine`).
pub(crate) fn create_unflushed(
    engine: &Engine,
    content: &Content,
    new: NewExecution<'_>,
    mut trace_components: Vec<(TraceComponentKind, TraceComponent)>,
) -> Result<Created, EngineError> {
    let NewExecution {
        action_ref,
        parameters,
        context,
        id,
        caused_by_enforcement,
    } = new;
    let Some((_, action)) = content.action(action_ref) else {
        return Err(EngineError::invalid(format!(
            "unknown action `{action_ref}`"
        )));
    };
    let now = nerve_store::timestamp(chrono::Utc::now());
    let mut log = vec![StatusChange {
        status: ExecutionStatus::Requested,
        timestamp: now.clone(),
    }];
    let status = if concurrency_policy(content, action_ref).is_some() {
        ExecutionStatus::Requested
    } else {
        log.push(StatusChange {
            status: ExecutionStatus::Scheduled,
            timestamp: now.clone(),
        });
        ExecutionStatus::Scheduled
    };
    let execution = Execution {
        id: id.clone(),
        action: action_ref.to_owned(),
        runner: action.action.runner_type.clone(),
        parameters,
        status,
        result: None,
        reason: None,
        context: context.clone(),
        start_timestamp: now.clone(),
        end_timestamp: None,
        log,
        children: Vec::new(),
        worker: None,
    };
    let store = engine.store();
    let inserted = store.create_execution_unflushed(&execution)? == InsertOutcome::Inserted;
    if let Some(trace_id) = &context.trace_id {
        let caused_by = caused_by_enforcement
            .map(|id| nerve_store::CausedBy {
                kind: TraceComponentKind::RuleEnforcement,
                id,
            })
            .or_else(|| {
                context.parent.clone().map(|id| nerve_store::CausedBy {
                    kind: TraceComponentKind::Execution,
                    id,
                })
            })
            .or_else(|| {
                context
                    .trigger_instance
                    .clone()
                    .map(|id| nerve_store::CausedBy {
                        kind: TraceComponentKind::TriggerInstance,
                        id,
                    })
            });
        trace_components.push((
            TraceComponentKind::Execution,
            TraceComponent {
                id: id.clone(),
                component_ref: action_ref.to_owned(),
                caused_by,
                updated_at: now,
            },
        ));
        store.add_components_to_trace(
            trace_id,
            context.trace_tag.as_deref().unwrap_or(trace_id),
            trace_components,
        )?;
    }
    let execution = if inserted {
        execution
    } else {
        store
            .get_execution(&id)?
            .ok_or_else(|| EngineError::NotFound {
                kind: "execution",
                id,
            })?
    };
    Ok(Created {
        execution,
        inserted,
    })
}

impl Created {
    /// Dispatches an execution created `scheduled`, or applies the concurrency policy to a
    /// `requested` one. An execution that was already recorded (a redelivery) is left where it
    /// is unless it is still `requested`.
    pub(crate) async fn proceed(
        self,
        engine: &Engine,
        content: &Content,
    ) -> Result<(), EngineError> {
        match self.execution.status {
            ExecutionStatus::Scheduled if self.inserted => dispatch(engine, &self.execution).await,
            ExecutionStatus::Requested => schedule(engine, content, self.execution).await,
            _ => Ok(()),
        }
    }
}

/// Applies the action's concurrency policy and moves a requested (or delayed) execution on:
/// `scheduled` and dispatched, `delayed`, or `canceled`.
pub(crate) async fn schedule(
    engine: &Engine,
    content: &Content,
    execution: Execution,
) -> Result<(), EngineError> {
    let store = engine.store();
    let _policy_guard = engine.inner.policy_lock.lock().await;
    let current = store.get_execution(&execution.id)?.unwrap_or(execution);
    if !matches!(
        current.status,
        ExecutionStatus::Requested | ExecutionStatus::Delayed
    ) {
        return Ok(());
    }
    if let Some((threshold, on_limit, attributes)) = concurrency_policy(content, &current.action) {
        let busy = busy_count(engine, &current, &attributes)?;
        if busy >= threshold {
            if on_limit == "cancel" {
                let reason = format!(
                    "canceled by policy: {busy} executions of `{}` already running (threshold {threshold})",
                    current.action
                );
                let record = store
                    .transition(&current.id, ExecutionStatus::Canceled, Some(reason), None)
                    .await?;
                drop(_policy_guard);
                crate::worker::after_final(engine, &record.execution).await;
                return Ok(());
            }
            if current.status != ExecutionStatus::Delayed {
                let reason = format!(
                    "delayed by policy: {busy} executions of `{}` running (threshold {threshold})",
                    current.action
                );
                store
                    .transition(&current.id, ExecutionStatus::Delayed, Some(reason), None)
                    .await?;
            }
            return Ok(());
        }
    }
    let record = store
        .transition(&current.id, ExecutionStatus::Scheduled, None, None)
        .await?;
    drop(_policy_guard);
    dispatch(engine, &record.execution).await
}

/// Publishes a scheduled execution to the workers of its runner.
pub(crate) async fn dispatch(engine: &Engine, execution: &Execution) -> Result<(), EngineError> {
    let routing_key = execution_request_key(&execution.runner)?;
    let message = Message::json(execution.id.clone(), routing_key, &execution.id)?;
    engine.inner.bus.publish(EXECUTIONS, message).await?;
    Ok(())
}

/// `(threshold, action on limit, attributes)` of the action's concurrency policy, if any.
fn concurrency_policy(content: &Content, action_ref: &str) -> Option<(usize, String, Vec<String>)> {
    let (policy, attributes) = match content.policy(action_ref, PolicyType::ConcurrencyAttr) {
        Some(policy) => {
            let attributes = policy
                .parameters
                .get("attributes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                });
            (policy, attributes.unwrap_or_default())
        }
        None => (
            content.policy(action_ref, PolicyType::Concurrency)?,
            Vec::new(),
        ),
    };
    let threshold = usize::try_from(policy.parameters.get("threshold")?.as_u64()?).ok()?;
    let on_limit = policy
        .parameters
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("delay")
        .to_owned();
    Some((threshold, on_limit, attributes))
}

/// Executions of the same action (and same attribute values) that hold a slot.
fn busy_count(
    engine: &Engine,
    execution: &Execution,
    attributes: &[String],
) -> Result<usize, EngineError> {
    let mut count = 0;
    for status in [
        ExecutionStatus::Scheduled,
        ExecutionStatus::Running,
        ExecutionStatus::Canceling,
    ] {
        let page = engine.store().list_executions(&ExecutionFilter {
            action: Some(execution.action.clone()),
            status: Some(status),
            ..ExecutionFilter::default()
        })?;
        count += page
            .items
            .iter()
            .filter(|other| {
                attributes
                    .iter()
                    .all(|a| other.execution.parameters.get(a) == execution.parameters.get(a))
            })
            .count();
    }
    Ok(count)
}

/// After an execution of `action_ref` finished: give delayed ones a slot, oldest first.
pub(crate) async fn release(engine: &Engine, action_ref: &str) -> Result<(), EngineError> {
    let content = engine.content();
    if concurrency_policy(&content, action_ref).is_none() {
        // Only a concurrency policy delays executions; without one there is nothing to release.
        return Ok(());
    }
    let delayed = engine.store().list_executions(&ExecutionFilter {
        action: Some(action_ref.to_owned()),
        status: Some(ExecutionStatus::Delayed),
        ..ExecutionFilter::default()
    })?;
    let mut waiting: Vec<Execution> = delayed.items.into_iter().map(|r| r.execution).collect();
    waiting.sort_by(|a, b| a.id.cmp(&b.id));
    for execution in waiting {
        schedule(engine, &content, execution).await?;
    }
    Ok(())
}

/// Cancels an execution.
pub(crate) async fn cancel(engine: &Engine, execution_id: &str) -> Result<Execution, EngineError> {
    let store = engine.store();
    let execution = store
        .get_execution(execution_id)?
        .ok_or_else(|| EngineError::NotFound {
            kind: "execution",
            id: execution_id.to_owned(),
        })?;
    if execution.status.is_final() {
        return Err(EngineError::Conflict(format!(
            "execution `{execution_id}` already finished ({})",
            execution.status
        )));
    }
    let _policy_guard = engine.inner.policy_lock.lock().await;
    let current = store.get_execution(execution_id)?.unwrap_or(execution);
    let workflow_paused = matches!(
        current.status,
        ExecutionStatus::Pausing | ExecutionStatus::Paused
    ) && crate::workflows::is_workflow_runner(&current.runner);
    match current.status {
        _ if current.status == ExecutionStatus::Running || workflow_paused => {
            store
                .transition(
                    execution_id,
                    ExecutionStatus::Canceling,
                    Some("cancel requested".to_owned()),
                    None,
                )
                .await?;
            if crate::workflows::is_workflow_runner(&current.runner) {
                drop(_policy_guard);
                let canceling = store.get_execution(execution_id)?.unwrap_or(current);
                crate::workflows::cancel(engine, &canceling).await;
                return store
                    .get_execution(execution_id)?
                    .ok_or_else(|| EngineError::NotFound {
                        kind: "execution",
                        id: execution_id.to_owned(),
                    });
            }
            let token = engine
                .inner
                .running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(execution_id)
                .cloned();
            if let Some(token) = token {
                token.cancel();
            } else if let Some(node) = current.worker.as_deref() {
                engine.cancel_remote(node, execution_id);
            }
        }
        status if status.is_cancelable() => {
            let record = store
                .transition(
                    execution_id,
                    ExecutionStatus::Canceled,
                    Some("canceled before it started".to_owned()),
                    None,
                )
                .await?;
            drop(_policy_guard);
            crate::worker::after_final(engine, &record.execution).await;
        }
        _ => {}
    }
    store
        .get_execution(execution_id)?
        .ok_or_else(|| EngineError::NotFound {
            kind: "execution",
            id: execution_id.to_owned(),
        })
}

/// `action.retry`: a failed (or timed-out) execution is run again with the same parameters, up
/// to `max_retry_count` times, after `delay` seconds. Each retry is a new execution linked to
/// the one it retries (`context.rerun_of`, `context.retry_attempt`).
pub(crate) async fn retry(engine: &Engine, execution: &Execution) -> Result<(), EngineError> {
    let retry_on = match execution.status {
        ExecutionStatus::Failed => "failure",
        ExecutionStatus::Timeout => "timeout",
        _ => return Ok(()),
    };
    let content = engine.content();
    let Some(policy) = content.policy(&execution.action, PolicyType::Retry) else {
        return Ok(());
    };
    if policy.parameters.get("retry_on").and_then(Value::as_str) != Some(retry_on) {
        return Ok(());
    }
    let max = policy
        .parameters
        .get("max_retry_count")
        .and_then(Value::as_u64)
        .unwrap_or(2);
    let attempt = execution.context.retry_attempt;
    if u64::from(attempt) >= max {
        return Ok(());
    }
    let delay = policy
        .parameters
        .get("delay")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let mut context = execution.context.clone();
    context.retry_attempt = attempt + 1;
    context.rerun_of = Some(execution.id.clone());
    let parameters = crate::parameters::caller_parameters(&content, execution);
    let action = execution.action.clone();
    let tasks = engine.inner.tasks.clone();
    let engine = engine.clone();
    let id = nerve_store::new_id();
    tracing::info!(execution_id = %execution.id, retry = %id, attempt = attempt + 1, "Retrying under the retry policy.");
    let task = async move {
        if delay > 0.0 {
            tokio::select! {
                () = engine.inner.cancel.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs_f64(delay)) => {}
            }
        }
        let content = engine.content();
        let prepared = match crate::parameters::prepare(&content, &action, parameters) {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::error!(%error, action, "Retry refused: parameters no longer valid.");
                return;
            }
        };
        if let Err(error) =
            create_and_schedule(&engine, &content, &action, prepared, context, id, None).await
        {
            tracing::error!(%error, action, "Retry could not be requested.");
        }
    };
    tasks.spawn(task);
    Ok(())
}
