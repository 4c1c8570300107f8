//! The exchanges, queues and bindings this bus declared, and the AMQP declarations that make
//! them: what is re-declared after a reconnect.
//!
//! - An exchange is `exchange.declare` type `topic`, durable.
//! - A queue `<q>` is a durable quorum queue with `x-delivery-limit` = `max_deliveries - 1`
//!   (RabbitMQ dead-letters a message whose returns exceed the limit, i.e. when it comes back
//!   after its `max_deliveries`-th delivery), dead-lettered at least once
//!   (`x-dead-letter-strategy`) to the bus's dead-letter exchange with routing key `<q>`.
//! - Its dead letters wait in `<q>.dead`, a durable classic queue bound to that exchange with
//!   key `<q>`: classic, so listing them (`basic.get`, then requeue) neither counts deliveries
//!   nor reorders them.
//!
//! With [`AmqpConfig::expire_unused`](super::AmqpConfig::expire_unused) queues also get
//! `x-expires` and exchanges are auto-delete, so what tests leave behind disappears.

use std::collections::{HashMap, HashSet};

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use super::AmqpConfig;
use super::broker_error::{broker, inequivalent_arg, precondition_failed};
use crate::BusError;

/// Suffix of a queue's dead-letter queue.
pub(super) const DEAD_LETTER_SUFFIX: &str = ".dead";

/// The dead-letter queue of `queue`.
pub(super) fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}{DEAD_LETTER_SUFFIX}")
}

/// What this bus declared, in declaration order, for re-declaring after a reconnect; and the
/// exchanges and delivery limits it knows exist.
#[derive(Debug, Default)]
pub(super) struct Topology {
    exchanges: Vec<String>,
    queues: Vec<QueueRecord>,
    /// Exchanges known to exist: declared here or checked with a passive declare.
    known_exchanges: HashSet<String>,
    /// `max_deliveries` of queues declared here or read from the broker.
    max_deliveries: HashMap<String, u32>,
}

/// A declared queue with every binding declared for it so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueueRecord {
    pub(super) name: String,
    pub(super) max_deliveries: u32,
    /// (exchange, pattern)
    pub(super) bindings: Vec<(String, String)>,
}

impl Topology {
    pub(super) fn record_exchange(&mut self, name: &str) {
        if !self.exchanges.iter().any(|known| known == name) {
            self.exchanges.push(name.to_owned());
        }
        self.known_exchanges.insert(name.to_owned());
    }

    pub(super) fn record_queue(
        &mut self,
        name: &str,
        max_deliveries: u32,
        bindings: &[(String, String)],
    ) {
        self.max_deliveries.insert(name.to_owned(), max_deliveries);
        let index = match self.queues.iter().position(|queue| queue.name == name) {
            Some(index) => index,
            None => {
                self.queues.push(QueueRecord {
                    name: name.to_owned(),
                    max_deliveries,
                    bindings: Vec::new(),
                });
                self.queues.len() - 1
            }
        };
        let record = &mut self.queues[index];
        record.max_deliveries = max_deliveries;
        for binding in bindings {
            if !record.bindings.contains(binding) {
                record.bindings.push(binding.clone());
            }
        }
    }

    pub(super) fn is_known_exchange(&self, name: &str) -> bool {
        self.known_exchanges.contains(name)
    }

    pub(super) fn learn_exchange(&mut self, name: &str) {
        self.known_exchanges.insert(name.to_owned());
    }

    /// Forgets that `name` exists (the broker said it does not), so the next publish checks.
    pub(super) fn forget_exchange(&mut self, name: &str) {
        self.known_exchanges.remove(name);
    }

    pub(super) fn max_deliveries(&self, queue: &str) -> Option<u32> {
        self.max_deliveries.get(queue).copied()
    }

    pub(super) fn learn_max_deliveries(&mut self, queue: &str, max_deliveries: u32) {
        self.max_deliveries.insert(queue.to_owned(), max_deliveries);
    }

    /// The exchanges and queues to re-declare, in declaration order.
    pub(super) fn snapshot(&self) -> (Vec<String>, Vec<QueueRecord>) {
        (self.exchanges.clone(), self.queues.clone())
    }
}

/// Declares topic exchange `name`.
pub(super) async fn declare_exchange(
    channel: &Channel,
    config: &AmqpConfig,
    name: &str,
) -> Result<(), lapin::Error> {
    let options = ExchangeDeclareOptions {
        durable: true,
        auto_delete: config.expire_unused.is_some(),
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(name, ExchangeKind::Topic, options, FieldTable::default())
        .await
}

/// Checks that exchange `name` exists. `Ok(false)` closes the channel (the broker's `404`).
pub(super) async fn exchange_exists(channel: &Channel, name: &str) -> Result<bool, lapin::Error> {
    let options = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    match channel
        .exchange_declare(name, ExchangeKind::Topic, options, FieldTable::default())
        .await
    {
        Ok(()) => Ok(true),
        Err(error) if super::broker_error::is_not_found(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Declares the bus's dead-letter exchange (direct: routing key = the queue a message died in).
pub(super) async fn declare_dead_letter_exchange(
    channel: &Channel,
    config: &AmqpConfig,
) -> Result<(), lapin::Error> {
    let options = ExchangeDeclareOptions {
        durable: true,
        auto_delete: config.expire_unused.is_some(),
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            &config.dead_letter_exchange,
            ExchangeKind::Direct,
            options,
            FieldTable::default(),
        )
        .await
}

/// The arguments of quorum queue `queue`; `delivery_limit` is `max_deliveries - 1`.
pub(super) fn queue_arguments(config: &AmqpConfig, queue: &str, delivery_limit: i64) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(delivery_limit),
    );
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(config.dead_letter_exchange.as_str().into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(queue.into()),
    );
    // Dead-lettering waits for the dead-letter queue to confirm, so a dead letter is never
    // lost between the queue and `<queue>.dead`; RabbitMQ requires `reject-publish` for it.
    arguments.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    insert_expiry(config, &mut arguments);
    arguments
}

fn insert_expiry(config: &AmqpConfig, arguments: &mut FieldTable) {
    if let Some(expire) = config.expire_unused {
        let millis = i64::try_from(expire.as_millis()).unwrap_or(i64::MAX).max(1);
        arguments.insert("x-expires".into(), AMQPValue::LongLongInt(millis));
    }
}

/// Declares quorum queue `queue`, its dead-letter queue, and `bindings` ((exchange, pattern)).
/// The dead-letter exchange must exist.
///
/// # Errors
///
/// [`BusError::QueueMismatch`] when the queue exists with other settings (the channel is then
/// closed), [`BusError::Broker`] otherwise.
pub(super) async fn declare_queue(
    channel: &Channel,
    config: &AmqpConfig,
    queue: &str,
    max_deliveries: u32,
    bindings: &[(String, String)],
) -> Result<(), BusError> {
    let operation = || format!("declare queue `{queue}`");
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let delivery_limit = i64::from(max_deliveries) - 1;
    if let Err(error) = channel
        .queue_declare(
            queue,
            durable,
            queue_arguments(config, queue, delivery_limit),
        )
        .await
    {
        return Err(match precondition_failed(&error) {
            Some(text) => mismatch(queue, max_deliveries, config, text)
                .unwrap_or_else(|| broker(operation(), error.clone())),
            None => broker(operation(), error),
        });
    }

    let dead = dead_letter_queue(queue);
    let mut dead_arguments = FieldTable::default();
    dead_arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("classic".into()),
    );
    insert_expiry(config, &mut dead_arguments);
    channel
        .queue_declare(&dead, durable, dead_arguments)
        .await
        .map_err(|error| broker(format!("declare queue `{dead}`"), error))?;
    channel
        .queue_bind(
            &dead,
            &config.dead_letter_exchange,
            queue,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|error| broker(format!("bind queue `{dead}`"), error))?;

    for (exchange, pattern) in bindings {
        channel
            .queue_bind(
                queue,
                exchange,
                pattern,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|error| {
                broker(
                    format!("bind queue `{queue}` to `{exchange}` with `{pattern}`"),
                    error,
                )
            })?;
    }
    Ok(())
}

/// The typed error for a `406 PRECONDITION_FAILED` reply to declaring `queue`.
fn mismatch(queue: &str, max_deliveries: u32, config: &AmqpConfig, text: &str) -> Option<BusError> {
    let (argument, current) = inequivalent_arg(text)?;
    let current = current.unwrap_or("none");
    let (field, existing, requested) = match argument {
        "x-delivery-limit" => (
            "max_deliveries",
            current
                .parse::<u64>()
                .map_or_else(|_| current.to_owned(), |limit| (limit + 1).to_string()),
            max_deliveries.to_string(),
        ),
        "x-queue-type" => ("queue type", current.to_owned(), "quorum".to_owned()),
        "x-dead-letter-exchange" => (
            "dead-letter exchange",
            current.to_owned(),
            config.dead_letter_exchange.clone(),
        ),
        "x-expires" => (
            "expiry",
            current.to_owned(),
            config.expire_unused.map_or_else(
                || "none".to_owned(),
                |expire| expire.as_millis().to_string(),
            ),
        ),
        other => (
            "arguments",
            format!("{other} = {current}"),
            format!("{other} as Nerve declares it"),
        ),
    };
    Some(BusError::QueueMismatch {
        queue: queue.to_owned(),
        field,
        existing,
        requested,
    })
}

/// Reads the `max_deliveries` of an existing queue `queue` that this process did not declare:
/// AMQP 0-9-1 cannot read a queue's arguments, but the broker names the current delivery limit
/// when a declaration asks for another one. `None` when the queue differs in more than that.
pub(super) async fn probe_max_deliveries(
    channel: &Channel,
    config: &AmqpConfig,
    queue: &str,
) -> Option<u32> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    // No queue has this limit (`max_deliveries` is a u32), so the declaration always fails.
    let probe = queue_arguments(config, queue, i64::MAX);
    let error = channel.queue_declare(queue, durable, probe).await.err()?;
    match inequivalent_arg(precondition_failed(&error)?)? {
        ("x-delivery-limit", Some(current)) => current
            .parse::<u32>()
            .ok()
            .map(|limit| limit.saturating_add(1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redeclaring_merges_bindings_in_order() {
        let mut topology = Topology::default();
        let binding = |exchange: &str, pattern: &str| (exchange.to_owned(), pattern.to_owned());
        topology.record_exchange("x");
        topology.record_exchange("x");
        topology.record_queue("q", 3, &[binding("x", "a")]);
        topology.record_queue("q", 3, &[binding("x", "a"), binding("y", "b")]);
        let (exchanges, queues) = topology.snapshot();
        assert_eq!(exchanges, ["x"]);
        assert_eq!(queues.len(), 1);
        assert_eq!(queues[0].bindings, [binding("x", "a"), binding("y", "b")]);
        assert_eq!(topology.max_deliveries("q"), Some(3));
        assert!(topology.is_known_exchange("x"));
        topology.forget_exchange("x");
        assert!(!topology.is_known_exchange("x"));
    }

    #[test]
    fn a_different_delivery_limit_is_a_max_deliveries_mismatch() {
        let text = "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'q' in \
                    vhost '/': received '3' but current is '2'";
        let error = mismatch("q", 4, &AmqpConfig::default(), text).expect("a mismatch");
        assert!(
            matches!(
                &error,
                BusError::QueueMismatch { field: "max_deliveries", existing, requested, .. }
                    if existing == "3" && requested == "4"
            ),
            "{error:?}"
        );
    }
}
