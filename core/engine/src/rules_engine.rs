//! The rules engine: consumes events, records one enforcement per matching (rule, event) and
//! requests the executions, then acks. A redelivered event finds its enforcements recorded and
//! fires nothing twice.

use std::sync::Arc;

use nerve_bus::Delivery;
use nerve_bus::topology::RULES_ENGINE_QUEUE;
use nerve_model::{EnforcementStatus, ExecutionContext, RuleEnforcement, TriggerInstanceStatus};
use nerve_rules::{CompiledRule, RenderContext};
use nerve_store::{EnforcementOutcome, TraceComponent, TraceComponentKind, TriggerInstanceRecord};
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::kv::StoreKv;
use crate::{Content, Engine, EngineError, scheduler};

/// Starts the consumer task.
pub(crate) async fn spawn(engine: &Engine) -> Result<(), EngineError> {
    let concurrency = engine.inner.config.rules_concurrency;
    let consumer = engine
        .inner
        .bus
        .consume(RULES_ENGINE_QUEUE, concurrency)
        .await?;
    let semaphore = Arc::new(tokio::sync::Semaphore::new(usize::from(concurrency)));
    crate::consumer::spawn(
        engine,
        consumer,
        semaphore,
        |engine, delivery, permit| async move {
            handle(&engine, delivery).await;
            drop(permit);
        },
    );
    Ok(())
}

async fn handle(engine: &Engine, delivery: Delivery) {
    let record: TriggerInstanceRecord = match delivery.decode() {
        Ok(record) => record,
        Err(error) => {
            tracing::error!(%error, "Undecodable trigger instance message; dead-lettering it.");
            let _ = delivery.reject().await;
            return;
        }
    };
    let span = tracing::info_span!("event", event_id = %record.id, trigger = %record.trigger);
    let headers = &delivery.message().headers;
    let remote = headers.contains_key(crate::ingest::RECORD_HEADER);
    let recovered = headers.contains_key(crate::ingest::RECOVERED_HEADER);
    let processed = async {
        if remote {
            crate::ingest::record_remote(engine, &record)?;
        }
        process(
            engine,
            &record,
            delivery.redelivered() || remote || recovered,
        )
        .await?;
        if remote {
            // The ack tells the sensor node's broker the event is safe: it must be durable.
            engine.store().flush().await?;
        }
        Ok::<(), EngineError>(())
    };
    match processed.instrument(span).await {
        Ok(()) => {
            if let Err(error) = delivery.ack().await {
                tracing::warn!(%error, event_id = %record.id, "Ack failed; the event will be redelivered and found processed.");
            }
        }
        Err(error) => {
            tracing::error!(%error, event_id = %record.id, "Processing an event failed; it will be retried.");
            let _ = delivery.nack(true).await;
        }
    }
}

/// Matches one event against the rules and enforces each match once.
///
/// **Durability, per event.** Every record a firing needs (the enforcement with its execution
/// id, the execution, their trace entries) is written without waiting, the executions are
/// handed to the workers, then one flush makes all of it durable, then the event is marked
/// `processed` without a flush of its own, then the message is acked. What a crash leaves
/// behind, and why recovery (which re-publishes `pending` events) repairs it:
///
/// * before the flush: the event is still `pending` (its status is written after the flush).
///   sled recovers a prefix of its log, and each enforcement is written before its execution,
///   so an execution never survives without its enforcement: an enforcement found again with
///   its execution missing gets that execution created under the recorded id. An execution
///   that a worker already started is durable with its enforcement, because the worker's own
///   flush (`running`, or a `noop`'s end) covers every earlier write; one that is lost never
///   had an effect, and its event fires it anew.
/// * after the flush: enforcements and executions are durable; a lost `processed` only means
///   the event is processed again, which finds every enforcement and fires nothing twice.
///
/// So a rule fires at most once per (rule, event), and the ack (after the flush) covers
/// everything the firing did. Handing executions over before the flush lets the worker's first
/// flush share this one's fsync. The event goes from `pending` straight to `processed`.
///
/// `redelivered`: the bus delivered this message before, or it comes from a sensor node or
/// from recovery. Only then can the event be finished or partly enforced already, so only then
/// are its stored status and its enforcements read first (on a first delivery the
/// insert-if-absent of each enforcement still makes a race harmless).
pub(crate) async fn process(
    engine: &Engine,
    record: &TriggerInstanceRecord,
    redelivered: bool,
) -> Result<(), EngineError> {
    let store = engine.store();
    if redelivered
        && let Some(current) = store.trigger_instance(&record.id)?
        && matches!(
            current.status,
            TriggerInstanceStatus::Processed | TriggerInstanceStatus::ProcessingFailed
        )
    {
        return Ok(());
    }
    let content = engine.content();
    let kv = StoreKv(store.kv().view());
    let action_context = json!({"user": engine.inner.config.system_user});
    let matched = {
        let ctx = RenderContext::new(&record.payload, &kv, chrono::Utc::now())
            .with_action_context(&action_context);
        content.rules().matching(&record.trigger, &ctx)
    };
    let mut failed = false;
    let mut created = Vec::new();
    let any_matched = !matched.is_empty();
    // The event's own trace entry, for an event that started its trace: written with the first
    // enforcement's trace entries, or alone below (see `ingest::emit_in_trace`).
    let mut event_trace = own_trace_entry(record);
    for rule in matched {
        let fresh = !redelivered;
        match enforce(
            engine,
            &content,
            record,
            &rule,
            Firing {
                kv: &kv,
                action_context: &action_context,
                event_trace: &mut event_trace,
                fresh,
            },
        )
        .await?
        {
            Enforced::Created(execution) => created.push(execution),
            Enforced::Done => {}
            Enforced::Failed => failed = true,
        }
    }
    if let Some(entry) = event_trace {
        store.add_components_to_trace(
            &entry.trace_id,
            &entry.trace_tag,
            vec![(TraceComponentKind::TriggerInstance, entry.component)],
        )?;
    }
    for execution in created {
        execution.proceed(engine, &content).await?;
    }
    if any_matched {
        store.flush().await?;
    }
    // Not flushed on purpose (see above): it becomes durable with the next flush by anyone.
    if failed {
        store.set_trigger_instance_status_unflushed(
            &record.id,
            TriggerInstanceStatus::ProcessingFailed,
        )?;
    } else {
        store.mark_trigger_instance_processed_unflushed(&record.id)?;
    }
    Ok(())
}

/// The trace entry of an event that started its own trace (its trace id is its id).
struct EventTrace {
    trace_id: String,
    trace_tag: String,
    component: TraceComponent,
}

fn own_trace_entry(record: &TriggerInstanceRecord) -> Option<EventTrace> {
    let trace_id = record.trace_id.as_deref().unwrap_or(&record.id);
    (trace_id == record.id).then(|| EventTrace {
        trace_id: trace_id.to_owned(),
        trace_tag: record.trace_tag.clone().unwrap_or_default(),
        component: TraceComponent {
            id: record.id.clone(),
            component_ref: record.trigger.clone(),
            caused_by: None,
            updated_at: record.occurrence_time.clone(),
        },
    })
}

/// What one rule's enforcement works with besides the rule and the event.
struct Firing<'a> {
    kv: &'a StoreKv,
    action_context: &'a Value,
    /// The event's own trace entry until a trace write has taken it.
    event_trace: &'a mut Option<EventTrace>,
    /// First delivery of an event this process recorded: no enforcement can exist yet, so
    /// none is looked up (the insert-if-absent still guards against a race).
    fresh: bool,
}

/// What enforcing one rule for one event did.
enum Enforced {
    /// An execution was written: proceed with it, then flush.
    Created(Box<scheduler::Created>),
    /// Nothing left to do (an earlier delivery finished this rule).
    Done,
    /// The rule could not request its action (the enforcement says why).
    Failed,
}

/// Records the enforcement once and writes the execution, neither flushed (see [`process`]).
///
/// The enforcement (with the execution id it will use) is written before the execution, so a
/// crash in between is repaired on redelivery: the execution is created under the recorded id.
async fn enforce(
    engine: &Engine,
    content: &Content,
    record: &TriggerInstanceRecord,
    rule: &CompiledRule,
    firing: Firing<'_>,
) -> Result<Enforced, EngineError> {
    let Firing {
        kv,
        action_context,
        event_trace,
        fresh,
    } = firing;
    let store = engine.store();
    let rule_ref = rule.rule_ref().to_owned();
    let mut recorded = if fresh {
        None
    } else {
        store.enforcement(&record.id, &rule_ref)?
    };
    if let Some(existing) = &recorded
        && let Some(done) = existing_outcome(engine, content, existing).await?
    {
        return Ok(if done {
            Enforced::Done
        } else {
            Enforced::Failed
        });
    }
    let action_ref = rule.rule.action.action_ref.clone();
    // `config_context` is the config of the action's pack, as in StackStorm; read only for
    // rules that use it (it is a datastore scan with decryption, on the event path).
    let config = match action_ref.split_once('.') {
        Some((pack, _)) if rule.uses_config_context() => {
            Value::Object(engine.pack_config(pack, true))
        }
        _ => Value::Null,
    };
    let rendered = {
        let ctx = RenderContext::new(&record.payload, kv, chrono::Utc::now())
            .with_action_context(action_context)
            .with_config(&config);
        rule.render_action_parameters(&ctx)
    };
    let (parameters, failure) = match rendered {
        Ok(parameters) => match crate::parameters::prepare(content, &action_ref, parameters) {
            Ok(prepared) => (Some(prepared), None),
            Err(error) => (None, Some(error.to_string())),
        },
        Err(error) => (None, Some(error.to_string())),
    };
    let trace_id = record.trace_id.clone().unwrap_or_else(|| record.id.clone());
    let trace_tag = record.trace_tag.clone().unwrap_or_default();
    let mut enforcement_trace = Vec::new();
    if recorded.is_none() {
        let now = nerve_store::timestamp(chrono::Utc::now());
        let enforcement = RuleEnforcement {
            id: RuleEnforcement::key(&record.id, &rule_ref),
            trigger_instance_id: record.id.clone(),
            rule: rule_ref.clone(),
            execution_id: parameters.as_ref().map(|_| nerve_store::new_id()),
            status: if failure.is_some() {
                EnforcementStatus::Failed
            } else {
                EnforcementStatus::Succeeded
            },
            failure_reason: failure.clone(),
            enforced_at: now.clone(),
        };
        match store.record_enforcement_once_unflushed(&enforcement)? {
            EnforcementOutcome::Inserted => {}
            EnforcementOutcome::AlreadyExists(existing) => {
                // A concurrent delivery won the race; it requests the execution.
                return Ok(if existing.status == EnforcementStatus::Succeeded {
                    Enforced::Done
                } else {
                    Enforced::Failed
                });
            }
        }
        enforcement_trace.push((
            TraceComponentKind::RuleEnforcement,
            TraceComponent {
                id: enforcement.id.clone(),
                component_ref: rule_ref.clone(),
                caused_by: Some(nerve_store::CausedBy {
                    kind: TraceComponentKind::TriggerInstance,
                    id: record.id.clone(),
                }),
                updated_at: now,
            },
        ));
        recorded = Some(enforcement);
    }
    if let Some(entry) = event_trace.take() {
        enforcement_trace.push((TraceComponentKind::TriggerInstance, entry.component));
    }
    let (Some(parameters), Some(enforcement)) = (parameters, recorded) else {
        if !enforcement_trace.is_empty() {
            store.add_components_to_trace(&trace_id, &trace_tag, enforcement_trace)?;
        }
        tracing::warn!(rule = %rule_ref, event_id = %record.id, reason = failure.as_deref().unwrap_or_default(), "Rule matched but its action could not be requested.");
        return Ok(Enforced::Failed);
    };
    let Some(execution_id) = enforcement.execution_id.clone() else {
        return Ok(Enforced::Failed);
    };
    let context = ExecutionContext {
        user: engine.inner.config.system_user.clone(),
        trigger_instance: Some(record.id.clone()),
        rule: Some(rule_ref),
        trace_id: Some(trace_id),
        trace_tag: Some(trace_tag),
        ..ExecutionContext::default()
    };
    let created = scheduler::create_unflushed(
        engine,
        content,
        scheduler::NewExecution {
            action_ref: &action_ref,
            parameters,
            context,
            id: execution_id,
            caused_by_enforcement: Some(enforcement.id),
        },
        enforcement_trace,
    )?;
    Ok(Enforced::Created(Box::new(created)))
}

/// For an enforcement recorded by an earlier delivery: `Some(result)` when there is nothing
/// left to do, `None` when its execution still has to be created.
async fn existing_outcome(
    engine: &Engine,
    content: &Content,
    enforcement: &RuleEnforcement,
) -> Result<Option<bool>, EngineError> {
    if enforcement.status == EnforcementStatus::Failed {
        return Ok(Some(false));
    }
    let Some(execution_id) = &enforcement.execution_id else {
        return Ok(Some(false));
    };
    match engine.store().get_execution(execution_id)? {
        Some(execution) => {
            if execution.status == nerve_model::ExecutionStatus::Requested {
                scheduler::schedule(engine, content, execution).await?;
            }
            Ok(Some(true))
        }
        None => Ok(None),
    }
}
