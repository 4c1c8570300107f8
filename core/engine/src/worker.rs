//! The worker: consumes execution requests for the runners this node can run, moves each
//! execution `scheduled → running` exactly once, runs it through `nerve-runner`, records its
//! output line by line and its final status, then acks.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use nerve_bus::Delivery;
use nerve_bus::topology::worker_queue;
use nerve_model::{Execution, ExecutionStatus, find_runner};
use nerve_runner::{Interpreter, RunStatus, Stream};
use nerve_store::StoreError;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::runtimes::RuntimeStatus;
use crate::{Engine, EngineError, scheduler};

/// Runners a worker in this process runs (the workflow runners come with the workflow engine).
pub(crate) const LOCAL_RUNNERS: &[&str] = &[
    "local-shell-cmd",
    "local-shell-script",
    "python-script",
    "http-request",
    "noop",
];

/// Runners that start no process: their executions take slots of
/// [`EngineConfig::in_process_concurrency`](crate::EngineConfig::in_process_concurrency), not of
/// `worker_concurrency`, which bounds the processes running at once.
pub(crate) const IN_PROCESS_RUNNERS: &[&str] = &["http-request", "noop"];

/// Starts one consumer per runner queue: process runners share one concurrency limit,
/// in-process runners another.
pub(crate) async fn spawn(engine: &Engine) -> Result<(), EngineError> {
    let config = &engine.inner.config;
    let processes = Arc::new(Semaphore::new(usize::from(config.worker_concurrency)));
    let in_process = Arc::new(Semaphore::new(usize::from(config.in_process_concurrency)));
    for runner in LOCAL_RUNNERS {
        let (semaphore, concurrency) = if IN_PROCESS_RUNNERS.contains(runner) {
            (in_process.clone(), config.in_process_concurrency)
        } else {
            (processes.clone(), config.worker_concurrency)
        };
        // A slot is freed when the action ends and the message acked once its end is durable,
        // so more messages than slots are held at a time.
        let prefetch = concurrency.saturating_mul(2);
        let queue = worker_queue(runner)?;
        let consumer = engine.inner.bus.consume(&queue.name, prefetch).await?;
        crate::consumer::spawn(
            engine,
            consumer,
            semaphore,
            |engine, delivery, slot| async move {
                handle(&engine, delivery, slot).await;
            },
        );
    }
    Ok(())
}

async fn handle(engine: &Engine, delivery: Delivery, slot: OwnedSemaphorePermit) {
    let Some((delivery, execution_id)) =
        crate::consumer::execution_id(delivery, "execution request").await
    else {
        return;
    };
    match execute(engine, &execution_id, slot).await {
        Ok(()) => {
            let _ = delivery.ack().await;
        }
        Err(error) => {
            tracing::error!(%error, execution_id, "Running an execution failed in the platform; it will be retried.");
            let _ = delivery.nack(true).await;
        }
    }
}

/// Runs one execution at most once. `slot` is held while the action runs.
///
/// **Durability.** `running` is flushed before the action starts, so a crash while it runs
/// leaves it `running`, which recovery marks `abandoned` instead of running it again. The end
/// (status, result) is flushed before the message is acked. A `noop` run has no effects, so it
/// skips the flushed `running`: it goes `scheduled → running → succeeded` in one write and
/// one flush; a crash before that flush leaves it `scheduled`, and running it again after the
/// restart is indistinguishable from running it once.
async fn execute(
    engine: &Engine,
    execution_id: &str,
    slot: OwnedSemaphorePermit,
) -> Result<(), EngineError> {
    let store = engine.store();
    // A scheduled `noop` is finished in the same read-and-write that finds it scheduled.
    let noop = store.transition_path_if_unflushed(
        execution_id,
        &[ExecutionStatus::Running, ExecutionStatus::Succeeded],
        Some(json!({})),
        |execution| execution.status == ExecutionStatus::Scheduled && is_noop(engine, execution),
    );
    let execution = match noop {
        Ok(Ok(record)) => {
            store.flush().await?;
            drop(slot);
            after_final(engine, &record.execution).await;
            return Ok(());
        }
        Ok(Err(current)) => current,
        Err(StoreError::NotFound { .. }) => {
            tracing::warn!(
                execution_id,
                "Execution request for an unknown execution; dropped."
            );
            return Ok(());
        }
        Err(StoreError::IllegalTransition { .. }) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    match execution.status {
        ExecutionStatus::Scheduled => {}
        ExecutionStatus::Running => {
            // Redelivered while running: the worker that had it is gone. It may have had
            // effects, so it is not run again.
            let record = store
                .transition(
                    execution_id,
                    ExecutionStatus::Abandoned,
                    Some("the worker running it went away".to_owned()),
                    None,
                )
                .await?;
            after_final(engine, &record.execution).await;
            return Ok(());
        }
        _ => return Ok(()),
    }
    let record = match store
        .transition(execution_id, ExecutionStatus::Running, None, None)
        .await
    {
        Ok(record) => record,
        Err(StoreError::IllegalTransition { .. }) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let execution = record.execution;
    let token = CancellationToken::new();
    engine
        .inner
        .running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(execution_id.to_owned(), token.clone());
    let outcome = run(engine, &execution, token).await;
    engine
        .inner
        .running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(execution_id);
    // The process is gone: its slot can start the next one while the end is recorded.
    drop(slot);
    let (status, result, reason) = outcome;
    let record = store
        .transition(execution_id, status, reason, Some(result))
        .await?;
    after_final(engine, &record.execution).await;
    Ok(())
}

/// Whether the execution's action is (still) a `noop`: nothing to run, nothing to undo.
fn is_noop(engine: &Engine, execution: &Execution) -> bool {
    let content = engine.content();
    content
        .action(&execution.action)
        .is_some_and(|(_, action)| {
            let runner = action.action.runner_type.as_str();
            nerve_model::runner_alias(runner).unwrap_or(runner) == "noop"
        })
}

/// Runs the action; every failure of the action itself is an outcome, not an error.
async fn run(
    engine: &Engine,
    execution: &Execution,
    cancel: CancellationToken,
) -> (ExecutionStatus, Value, Option<String>) {
    let content = engine.content();
    let config = &engine.inner.config;
    let settings = RunSettings {
        api_url: config.api_url.clone(),
        auth_token: config.auth_token.clone(),
        kill_grace: config.kill_grace,
        base_env: config.base_env.clone(),
        python: content
            .action(&execution.action)
            .and_then(|(pack, _)| venv_python(&pack.dir))
            .map_or_else(|| python(&engine.inner.runtimes), Interpreter::Verified),
        pack_config: content
            .action(&execution.action)
            .map(|(pack, _)| engine.pack_config(&pack.pack_ref, true))
            .unwrap_or_default(),
    };
    let store = engine.store().clone();
    let id = execution.id.clone();
    run_action(
        &content,
        &settings,
        execution,
        cancel,
        move |stream, line| {
            if let Err(error) = store.append_output(&id, stream, line) {
                tracing::warn!(%error, execution_id = %id, "Output line not recorded.");
            }
        },
    )
    .await
}

/// What running an action needs besides the action: the node's settings.
#[derive(Debug, Clone)]
pub(crate) struct RunSettings {
    pub(crate) api_url: Option<String>,
    pub(crate) auth_token: Option<String>,
    pub(crate) kill_grace: std::time::Duration,
    pub(crate) base_env: Vec<(String, String)>,
    pub(crate) python: Interpreter,
    /// The action's pack config (Python actions' `self.config`); empty on worker nodes, which
    /// have no datastore.
    pub(crate) pack_config: serde_json::Map<String, Value>,
}

/// Runs `execution`'s action as `content` defines it, handing each output line to `on_line`
/// (`"stdout"` or `"stderr"`, the line) as it comes: the one way a local worker and a remote
/// worker node run actions.
pub(crate) async fn run_action(
    content: &crate::Content,
    settings: &RunSettings,
    execution: &Execution,
    cancel: CancellationToken,
    mut on_line: impl FnMut(&'static str, &str) + Send + 'static,
) -> (ExecutionStatus, Value, Option<String>) {
    let Some((pack, action)) = content.action(&execution.action) else {
        let reason = format!("action `{}` is no longer registered", execution.action);
        return (
            ExecutionStatus::Failed,
            json!({"error": reason}),
            Some(reason),
        );
    };
    let Some(runner) = find_runner(&action.action.runner_type) else {
        let reason = format!("runner `{}` is not available", action.action.runner_type);
        return (
            ExecutionStatus::Failed,
            json!({"error": reason}),
            Some(reason),
        );
    };
    let mut request = nerve_runner::RunRequest::new(
        execution.id.clone(),
        action.action.clone(),
        runner.clone(),
        pack.dir.clone(),
    );
    request.parameters = execution.parameters.clone();
    request.entry_point = action.entry_point.clone();
    request.api_url = settings.api_url.clone();
    request.auth_token = settings.auth_token.clone();
    request.grace = settings.kill_grace;
    request.base_env = settings
        .base_env
        .iter()
        .cloned()
        .collect::<BTreeMap<_, _>>();
    request.python = settings.python.clone();
    request.pack_config = Value::Object(settings.pack_config.clone());
    let (sink, mut lines) = mpsc::channel::<nerve_runner::OutputLine>(1024);
    let recorder = tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            let stream = match line.stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            on_line(stream, &line.line);
        }
    });
    let outcome = nerve_runner::run(request, sink, cancel).await;
    let _ = recorder.await;
    match outcome {
        Ok(outcome) => {
            let status = match outcome.status {
                RunStatus::Succeeded => ExecutionStatus::Succeeded,
                RunStatus::Failed => ExecutionStatus::Failed,
                RunStatus::TimedOut => ExecutionStatus::Timeout,
                RunStatus::Canceled => ExecutionStatus::Canceled,
                RunStatus::Abandoned => ExecutionStatus::Abandoned,
            };
            (status, outcome.result, outcome.reason)
        }
        Err(error) => {
            let reason = error.to_string();
            (
                ExecutionStatus::Failed,
                json!({"error": reason}),
                Some(reason),
            )
        }
    }
}

/// The python interpreter the runtimes detected here allow.
/// The Python of the pack's virtualenv (`<pack>/virtualenv`, made at install from its
/// `requirements.txt`), resolved to the environment's own directory so a new environment is a
/// new path.
pub(crate) fn venv_python(pack_dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let venv = pack_dir.join("virtualenv").canonicalize().ok()?;
    let python = venv.join("bin/python");
    python.exists().then_some(python)
}

pub(crate) fn python(runtimes: &[crate::DetectedRuntime]) -> Interpreter {
    match runtimes
        .iter()
        .find(|r| r.name == "python")
        .map(|r| &r.status)
    {
        Some(RuntimeStatus::Available { binary, .. }) => Interpreter::Verified(binary.into()),
        Some(RuntimeStatus::Missing { hint }) => Interpreter::Missing { hint: hint.clone() },
        None => Interpreter::Missing {
            hint: "no `python` runtime is defined (packs/core/runtimes/python.yaml)".to_owned(),
        },
    }
}

/// What follows a final status: `core.st2.generic.actiontrigger`, delayed executions of the
/// same action get their chance. Failures here are logged: the execution itself is recorded.
///
/// Returns a boxed `Send` future: finishing an execution can schedule others (delayed ones,
/// retries), which can finish at once, so the recursion needs a named future type.
pub(crate) fn after_final<'a>(
    engine: &'a Engine,
    execution: &'a Execution,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        crate::workflows::on_child_final(engine, execution).await;
        if let Err(error) = scheduler::release(engine, &execution.action).await {
            tracing::error!(%error, action = %execution.action, "Releasing delayed executions failed.");
        }
        if let Err(error) = scheduler::retry(engine, execution).await {
            tracing::error!(%error, execution_id = %execution.id, "Retrying under the retry policy failed.");
        }
        // Recorded only when a rule listens: every execution would otherwise add an event (a
        // flushed write, a trace update, a trip through the rules engine) that nothing uses.
        let content = engine.content();
        if content.trigger_type(ACTION_TRIGGER).is_none()
            || content.rules().candidates(ACTION_TRIGGER).is_empty()
        {
            return;
        }
        let payload = json!({
            "execution_id": execution.id,
            "status": execution.status.as_str(),
            "start_timestamp": execution.start_timestamp,
            "action_name": execution.action.split_once('.').map_or(execution.action.as_str(), |(_, n)| n),
            "action_ref": execution.action,
            "runner_ref": execution.runner,
            "parameters": masked_parameters(engine, execution),
            "result": execution.result,
        });
        let cause = execution.context.trace_id.clone().map(|trace_id| {
            let caused_by = nerve_store::CausedBy {
                kind: nerve_store::TraceComponentKind::Execution,
                id: execution.id.clone(),
            };
            (trace_id, caused_by)
        });
        let emitted = crate::ingest::emit_in_trace(
            engine,
            ACTION_TRIGGER,
            payload,
            execution.context.trace_tag.clone(),
            cause,
        )
        .await;
        if let Err(error) = emitted {
            tracing::error!(%error, execution_id = %execution.id, "Emitting the action trigger failed.");
        }
    })
}

/// StackStorm's completion trigger.
const ACTION_TRIGGER: &str = "core.st2.generic.actiontrigger";

fn masked_parameters(engine: &Engine, execution: &Execution) -> Value {
    let mut parameters = execution.parameters.clone();
    if let Some((_, action)) = engine.content().action(&execution.action) {
        nerve_model::mask_secrets(&action.parameters, &mut parameters);
    }
    Value::Object(parameters)
}
