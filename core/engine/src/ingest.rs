//! Event ingestion: validate against the trigger type, record, start a trace, publish, flush.
//!
//! An event is *accepted* once `emit` returns: it is durable in the store, and a crash before the
//! rules engine finishes with it is repaired at start-up (pending events are re-published).
//!
//! The event is published before the flush that makes it durable, so the rules engine works on
//! it while the fsync runs and its own flush (which it awaits before acking) shares that fsync
//! or covers the event with its own. Nothing downstream acts on an event that is not durable:
//! every effect of a firing waits for a flush, and a flush makes every earlier write durable,
//! this event's record included. If the process dies before that, the event was never
//! acknowledged to its sender, and nothing it caused had an effect.

use nerve_bus::Message;
use nerve_bus::topology::TRIGGER_INSTANCES;
use nerve_model::TriggerInstanceStatus;
use nerve_store::{TraceComponent, TraceComponentKind, TriggerInstanceRecord};
use serde_json::Value;

use crate::{Engine, EngineError};

/// The trigger type ref of a trigger key (`core.st2.webhook?{"url":"x"}` → `core.st2.webhook`).
pub(crate) fn type_of(trigger_key: &str) -> &str {
    trigger_key
        .split_once('?')
        .map_or(trigger_key, |(type_ref, _)| type_ref)
}

pub(crate) async fn emit(
    engine: &Engine,
    trigger: &str,
    payload: Value,
    trace_tag: Option<String>,
) -> Result<TriggerInstanceRecord, EngineError> {
    emit_in_trace(engine, trigger, payload, trace_tag, None).await
}

/// Emits an event caused by something already traced (an execution's completion): the event
/// joins that trace instead of starting one.
pub(crate) async fn emit_in_trace(
    engine: &Engine,
    trigger: &str,
    payload: Value,
    trace_tag: Option<String>,
    cause: Option<(String, nerve_store::CausedBy)>,
) -> Result<TriggerInstanceRecord, EngineError> {
    check_event(&engine.content(), trigger, &payload)?;
    let store = engine.store();
    let id = nerve_store::new_id();
    let now = nerve_store::timestamp(chrono::Utc::now());
    let (trace_id, caused_by) = match cause {
        Some((trace_id, caused_by)) => (trace_id, Some(caused_by)),
        None => (id.clone(), None),
    };
    let record = TriggerInstanceRecord {
        id: id.clone(),
        trigger: trigger.to_owned(),
        payload,
        occurrence_time: now.clone(),
        status: TriggerInstanceStatus::Pending,
        trace_id: Some(trace_id.clone()),
        trace_tag: Some(trace_tag.unwrap_or_else(|| format!("trigger_instance-{id}"))),
    };
    store.record_new_trigger_instance_unflushed(&record)?;
    // An event that starts its own trace gets its trace entry from the rules engine, in the
    // same write as its enforcements and executions (see `rules_engine::process`). One that
    // joins an existing trace records how it was caused here.
    if let Some(caused_by) = caused_by {
        store.add_to_trace(
            &trace_id,
            record.trace_tag.as_deref().unwrap_or_default(),
            TraceComponentKind::TriggerInstance,
            TraceComponent {
                id: id.clone(),
                component_ref: trigger.to_owned(),
                caused_by: Some(caused_by),
                updated_at: now,
            },
        )?;
    }
    publish(engine, &record).await?;
    store.flush().await?;
    Ok(record)
}

/// Checks an event against its trigger type: known type, object payload matching the
/// `payload_schema`. The same check on the server and on sensor nodes.
pub(crate) fn check_event(
    content: &crate::Content,
    trigger: &str,
    payload: &Value,
) -> Result<(), EngineError> {
    let type_ref = type_of(trigger);
    let Some(trigger_type) = content.trigger_type(type_ref) else {
        let known = content.trigger_type_refs();
        let hint = nerve_packs::did_you_mean(type_ref, known.iter().map(String::as_str))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(EngineError::invalid(format!(
            "unknown trigger type `{type_ref}`{hint}"
        )));
    };
    if !payload.is_object() {
        return Err(EngineError::invalid(format!(
            "the payload of a `{type_ref}` event must be an object"
        )));
    }
    if let Some(schema) = &trigger_type.payload_schema
        && let Err(violations) = schema.validate(payload)
    {
        return Err(EngineError::Invalid {
            message: format!("payload does not match the payload_schema of `{type_ref}`"),
            details: violations.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(())
}

/// Hands a recorded event to the rules engine.
/// Header of a trigger instance published by a sensor node: the rules engine records it
/// before matching (an event from this process is recorded before it is published).
pub(crate) const RECORD_HEADER: &str = "x-nerve-record";

/// Header of a trigger instance re-published by recovery at start: an earlier run may have
/// enforced some of its rules, so the rules engine looks their enforcements up.
pub(crate) const RECOVERED_HEADER: &str = "x-nerve-recovered";

/// The trigger instance record of a new event (trace id = its id unless `cause` says otherwise).
pub(crate) fn new_record(
    trigger: &str,
    payload: Value,
    trace_tag: Option<String>,
) -> TriggerInstanceRecord {
    let id = nerve_store::new_id();
    let now = nerve_store::timestamp(chrono::Utc::now());
    TriggerInstanceRecord {
        id: id.clone(),
        trigger: trigger.to_owned(),
        payload,
        occurrence_time: now,
        status: TriggerInstanceStatus::Pending,
        trace_id: Some(id.clone()),
        trace_tag: Some(trace_tag.unwrap_or_else(|| format!("trigger_instance-{id}"))),
    }
}

/// Records an event a sensor node published, if it is not recorded yet (redelivery); not
/// flushed (the rules engine flushes before it acks) and without its trace entry (the rules
/// engine writes that with the event's enforcements).
pub(crate) fn record_remote(
    engine: &Engine,
    record: &TriggerInstanceRecord,
) -> Result<(), EngineError> {
    let store = engine.store();
    if store.trigger_instance(&record.id)?.is_some() {
        return Ok(());
    }
    store.record_trigger_instance_unflushed(record)?;
    Ok(())
}

pub(crate) async fn publish(
    engine: &Engine,
    record: &TriggerInstanceRecord,
) -> Result<(), EngineError> {
    let routing_key = type_of(&record.trigger);
    let message = Message::json(record.id.clone(), routing_key, record)?;
    engine.inner.bus.publish(TRIGGER_INSTANCES, message).await?;
    Ok(())
}

/// Re-publishes an unfinished event at start (see [`RECOVERED_HEADER`]).
pub(crate) async fn republish(
    engine: &Engine,
    record: &TriggerInstanceRecord,
) -> Result<(), EngineError> {
    let routing_key = type_of(&record.trigger);
    let message =
        Message::json(record.id.clone(), routing_key, record)?.with_header(RECOVERED_HEADER, "1");
    engine.inner.bus.publish(TRIGGER_INSTANCES, message).await?;
    Ok(())
}
