//! The well-known exchanges, routing keys and queues the roles share.
//!
//! | exchange                 | routing key                     | queue (consumer)                                    |
//! |--------------------------|---------------------------------|-----------------------------------------------------|
//! | `nerve.trigger_instances`| trigger type ref (`core.st2.webhook`) | `nerve.rules_engine` (`#`) → rules engine     |
//! | `nerve.executions`       | `request.<runner>`              | `nerve.worker.<runner>` (`request.<runner>`) → workers that can run `<runner>` |
//! | `nerve.executions`       | `status.<status>`               | `nerve.execution_status` (`status.*`) → server      |
//! | `nerve.output`           | `output.<execution id>`         | `nerve.output_recorder` (`output.*`) → server (records and streams output) |
//! | `nerve.sensor_control`   | `node.<node>`                   | `nerve.sensors.<node>` (`node.<node>`) → that sensor node (reserved: nodes pull their control with the heartbeat today) |
//!
//! **One queue per runner**, not one worker queue with several bindings: a queue's consumers
//! must all be able to handle every message in it, and workers differ in the runners they can
//! run (a node without Python must never receive `python-script` requests). A worker consumes
//! from the queues of the runners it can run, each with its own prefetch. The server declares
//! the queues of every known runner at start-up, so a request for a runner that no worker
//! offers waits in its queue (visible in `/metrics` as ready messages) instead of being
//! unroutable.
//!
//! Routing keys are dot-separated words, so runner names, statuses, node names and execution
//! ids must be single words (no `.`, and not `*` or `#`); the constructors here check that.
//! This module does not decide message bodies; those belong to the roles.

use crate::topic::check_name;
use crate::{Bus, BusError, QueueSpec};

/// Exchange for trigger instances (events); routing key = the trigger type ref.
pub const TRIGGER_INSTANCES: &str = "nerve.trigger_instances";
/// Exchange for execution requests (`request.<runner>`) and status changes (`status.<status>`).
pub const EXECUTIONS: &str = "nerve.executions";
/// Exchange for live execution output lines (`output.<execution id>`).
pub const OUTPUT: &str = "nerve.output";
/// Exchange for commands to sensor nodes (`node.<node>`).
pub const SENSOR_CONTROL: &str = "nerve.sensor_control";

/// Every exchange above, for declaring them at start-up.
pub const EXCHANGES: [&str; 4] = [TRIGGER_INSTANCES, EXECUTIONS, OUTPUT, SENSOR_CONTROL];

/// Queue the rules engine consumes: every trigger instance.
pub const RULES_ENGINE_QUEUE: &str = "nerve.rules_engine";
/// Queue the server consumes to record execution status changes.
pub const EXECUTION_STATUS_QUEUE: &str = "nerve.execution_status";
/// Queue the server consumes to record and stream execution output.
pub const OUTPUT_QUEUE: &str = "nerve.output_recorder";

/// Prefix of the per-runner worker queues: `nerve.worker.<runner>`.
pub const WORKER_QUEUE_PREFIX: &str = "nerve.worker.";
/// Prefix of the per-node sensor control queues: `nerve.sensors.<node>`.
pub const SENSOR_QUEUE_PREFIX: &str = "nerve.sensors.";

/// Declares every exchange in [`EXCHANGES`].
///
/// # Errors
///
/// Whatever [`Bus::declare_exchange`] returns.
pub async fn declare_exchanges(bus: &dyn Bus) -> Result<(), BusError> {
    for exchange in EXCHANGES {
        bus.declare_exchange(exchange).await?;
    }
    Ok(())
}

/// Declares the exchanges, the server's and rules engine's queues, and one worker queue per
/// runner in `runners`: what the server does at start-up before anything is published.
///
/// # Errors
///
/// [`BusError::InvalidName`] for a runner name that is not one word; otherwise whatever the
/// declarations return.
pub async fn declare_server_topology(bus: &dyn Bus, runners: &[&str]) -> Result<(), BusError> {
    declare_exchanges(bus).await?;
    bus.declare_queue(rules_engine_queue()).await?;
    bus.declare_queue(execution_status_queue()).await?;
    bus.declare_queue(output_queue()).await?;
    for runner in runners {
        bus.declare_queue(worker_queue(runner)?).await?;
    }
    Ok(())
}

/// The rules engine's queue: all trigger instances.
pub fn rules_engine_queue() -> QueueSpec {
    QueueSpec::new(RULES_ENGINE_QUEUE, TRIGGER_INSTANCES).bind("#")
}

/// The server's execution status queue.
pub fn execution_status_queue() -> QueueSpec {
    QueueSpec::new(EXECUTION_STATUS_QUEUE, EXECUTIONS).bind("status.*")
}

/// The server's output queue.
pub fn output_queue() -> QueueSpec {
    QueueSpec::new(OUTPUT_QUEUE, OUTPUT).bind("output.*")
}

/// The worker queue for `runner`: `nerve.worker.<runner>` bound to `request.<runner>`.
///
/// # Errors
///
/// [`BusError::InvalidName`] when `runner` is not a single word.
pub fn worker_queue(runner: &str) -> Result<QueueSpec, BusError> {
    let key = execution_request_key(runner)?;
    Ok(QueueSpec::new(format!("{WORKER_QUEUE_PREFIX}{runner}"), EXECUTIONS).bind(key))
}

/// The sensor control queue for `node`: `nerve.sensors.<node>` bound to `node.<node>`.
///
/// # Errors
///
/// [`BusError::InvalidName`] when `node` is not a single word.
pub fn sensor_node_queue(node: &str) -> Result<QueueSpec, BusError> {
    let key = sensor_control_key(node)?;
    Ok(QueueSpec::new(format!("{SENSOR_QUEUE_PREFIX}{node}"), SENSOR_CONTROL).bind(key))
}

/// Routing key of an execution request for `runner`: `request.<runner>`.
///
/// # Errors
///
/// [`BusError::InvalidName`] when `runner` is not a single word.
pub fn execution_request_key(runner: &str) -> Result<String, BusError> {
    check_word("runner", runner)?;
    Ok(format!("request.{runner}"))
}

/// Routing key of an execution status change: `status.<status>` (e.g. `status.succeeded`).
///
/// # Errors
///
/// [`BusError::InvalidName`] when `status` is not a single word.
pub fn execution_status_key(status: &str) -> Result<String, BusError> {
    check_word("status", status)?;
    Ok(format!("status.{status}"))
}

/// Routing key of an output line of `execution_id`: `output.<execution id>`.
///
/// # Errors
///
/// [`BusError::InvalidName`] when `execution_id` is not a single word.
pub fn output_key(execution_id: &str) -> Result<String, BusError> {
    check_word("execution id", execution_id)?;
    Ok(format!("output.{execution_id}"))
}

/// Checks a node name: one routing-key word (so it can name a node's queue and key).
///
/// # Errors
///
/// [`BusError::InvalidName`] when `name` is not a single word.
pub fn check_node_name(name: &str) -> Result<(), BusError> {
    check_word("node", name)
}

/// Routing key of a command to sensor node `node`: `node.<node>`.
///
/// # Errors
///
/// [`BusError::InvalidName`] when `node` is not a single word.
pub fn sensor_control_key(node: &str) -> Result<String, BusError> {
    check_word("sensor node", node)?;
    Ok(format!("node.{node}"))
}

/// Routing key of a trigger instance: its trigger type ref, unchanged (`core.st2.webhook`).
pub fn trigger_instance_key(trigger_type_ref: &str) -> &str {
    trigger_type_ref
}

fn check_word(kind: &'static str, word: &str) -> Result<(), BusError> {
    check_name(kind, word)?;
    let reason = if word.contains('.') {
        Some("it must be one routing-key word, without `.`")
    } else if word == "*" || word == "#" {
        Some("`*` and `#` are routing-key wildcards")
    } else if word.len() > 200 {
        Some("it is longer than 200 bytes")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(BusError::InvalidName {
            kind,
            name: word.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_queues_are_per_runner() {
        let spec = worker_queue("local-shell-cmd").expect("valid runner");
        assert_eq!(spec.name, "nerve.worker.local-shell-cmd");
        assert_eq!(spec.exchange, EXECUTIONS);
        assert_eq!(spec.bindings, ["request.local-shell-cmd"]);
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn names_that_are_not_one_word_are_rejected() {
        for bad in ["", "a.b", "*", "#", "has space"] {
            assert!(
                matches!(worker_queue(bad), Err(BusError::InvalidName { .. })),
                "`{bad}` should be rejected"
            );
        }
        assert!(execution_status_key("succeeded").is_ok());
        assert!(output_key("01J0000000000000000000000").is_ok());
    }

    #[test]
    fn well_known_queues_are_valid() {
        for spec in [
            rules_engine_queue(),
            execution_status_queue(),
            output_queue(),
            sensor_node_queue("node1").expect("valid node"),
        ] {
            assert!(spec.validate().is_ok(), "{spec:?}");
        }
    }
}
