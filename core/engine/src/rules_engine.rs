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
    crate::consumer::spawn(engine, consumer, semaphore, |engine, delivery| async move {
        handle(&engine, delivery).await;
    });
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
    match process(engine, &record).instrument(span).await {
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
pub(crate) async fn process(
    engine: &Engine,
    record: &TriggerInstanceRecord,
) -> Result<(), EngineError> {
    let store = engine.store();
    if let Some(current) = store.trigger_instance(&record.id)?
        && matches!(
            current.status,
            TriggerInstanceStatus::Processed | TriggerInstanceStatus::ProcessingFailed
        )
    {
        return Ok(());
    }
    // The event goes from `pending` straight to `processed`: one flushed write less per event.
    // A crash in between leaves it pending, and recovery processes it again; the enforcements
    // make that harmless.
    let content = engine.content();
    let kv = StoreKv(store.kv().view());
    let action_context = json!({"user": engine.inner.config.system_user});
    let matched = {
        let ctx = RenderContext::new(&record.payload, &kv, chrono::Utc::now())
            .with_action_context(&action_context);
        content.rules().matching(&record.trigger, &ctx)
    };
    let mut failed = false;
    for rule in matched {
        if !enforce(engine, &content, record, &rule, &kv, &action_context).await? {
            failed = true;
        }
    }
    let status = if failed {
        TriggerInstanceStatus::ProcessingFailed
    } else {
        TriggerInstanceStatus::Processed
    };
    store
        .set_trigger_instance_status(&record.id, status)
        .await?;
    Ok(())
}

/// Records the enforcement once and requests the execution. Returns false when the rule could
/// not request one (the enforcement says why).
///
/// The enforcement (with the execution id it will use) is recorded before the execution, so a
/// crash in between is repaired on redelivery: the execution is created under the recorded id.
async fn enforce(
    engine: &Engine,
    content: &Content,
    record: &TriggerInstanceRecord,
    rule: &CompiledRule,
    kv: &StoreKv,
    action_context: &Value,
) -> Result<bool, EngineError> {
    let store = engine.store();
    let rule_ref = rule.rule_ref().to_owned();
    let mut recorded = store.enforcement(&record.id, &rule_ref)?;
    if let Some(existing) = &recorded
        && let Some(done) = existing_outcome(engine, content, existing).await?
    {
        return Ok(done);
    }
    let action_ref = rule.rule.action.action_ref.clone();
    let rendered = {
        let ctx = RenderContext::new(&record.payload, kv, chrono::Utc::now())
            .with_action_context(action_context);
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
        match store.record_enforcement_once(&enforcement).await? {
            EnforcementOutcome::Inserted => {}
            EnforcementOutcome::AlreadyExists(existing) => {
                // A concurrent delivery won the race; it requests the execution.
                return Ok(existing.status == EnforcementStatus::Succeeded);
            }
        }
        store.add_to_trace(
            &trace_id,
            &trace_tag,
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
        )?;
        recorded = Some(enforcement);
    }
    let (Some(parameters), Some(enforcement)) = (parameters, recorded) else {
        tracing::warn!(rule = %rule_ref, event_id = %record.id, reason = failure.as_deref().unwrap_or_default(), "Rule matched but its action could not be requested.");
        return Ok(false);
    };
    let Some(execution_id) = enforcement.execution_id.clone() else {
        return Ok(false);
    };
    let context = ExecutionContext {
        user: engine.inner.config.system_user.clone(),
        trigger_instance: Some(record.id.clone()),
        rule: Some(rule_ref),
        trace_id: Some(trace_id),
        trace_tag: Some(trace_tag),
        ..ExecutionContext::default()
    };
    scheduler::create_and_schedule(
        engine,
        content,
        &action_ref,
        parameters,
        context,
        execution_id,
        Some(enforcement.id),
    )
    .await?;
    Ok(true)
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
