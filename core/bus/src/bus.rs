//! The `Bus` trait and the plain data it speaks: queue specifications, publish outcomes,
//! queue statistics and dead letters.
//!
//! The trait is shaped 1:1 on AMQP 0-9-1 as RabbitMQ implements it, so an AMQP implementation
//! is a thin mapping and the in-process implementation behaves like a broker:
//!
//! | `Bus`                          | AMQP / RabbitMQ                                                        |
//! |--------------------------------|------------------------------------------------------------------------|
//! | [`Bus::declare_exchange`]      | `exchange.declare` type `topic`, durable                               |
//! | [`Bus::declare_queue`]         | `queue.declare` durable (quorum queue, `x-delivery-limit`, dead-letter exchange) + one `queue.bind` per pattern |
//! | [`Bus::publish`]               | `basic.publish` persistent, `mandatory`, on a channel in confirm mode; returns after `basic.ack` |
//! | [`PublishOutcome::Unroutable`] | `basic.return` before the confirm                                      |
//! | [`Bus::consume`] + prefetch    | `basic.qos(prefetch)` + `basic.consume` with manual acks, one channel per consumer |
//! | dropping a [`Consumer`]        | `channel.close`: the broker requeues every unacked delivery            |
//! | [`Delivery::ack`](crate::Delivery::ack) / [`nack`](crate::Delivery::nack) / [`reject`](crate::Delivery::reject) | `basic.ack` / `basic.nack(requeue)` / `basic.reject(requeue = false)` |
//! | [`Delivery::attempt`](crate::Delivery::attempt) | `x-delivery-count` + 1 (quorum queues), at least 2 when `redelivered` |
//! | [`QueueSpec::max_deliveries`]  | `x-delivery-limit`, set so the broker dead-letters a message returned after its `max_deliveries`-th delivery |
//! | [`Bus::dead_letters`] / [`Bus::replay_dead_letters`] | a per-queue dead-letter queue `<queue>.dead` (`x-dead-letter-exchange`), listed with `basic.get` + requeue, the original routing key and reason taken from `x-death`; replay republishes to the queue and acks the dead letter |
//! | [`Bus::queue_stats`]           | `queue.declare(passive)` message counts + this process's unacked count |
//!
//! Three obligations an AMQP implementation takes on beyond the mapping: a dropped unsettled
//! [`Delivery`](crate::Delivery) sends `basic.nack(requeue)` (spawned, since `Drop` cannot
//! wait); settling on a closed channel reports [`BusError::ConsumerClosed`]; and reconnecting
//! after a lost connection re-declares the topology and re-creates consumers with backoff.
//!
//! What an implementation must guarantee is pinned down by [`crate::conformance`].

use std::time::SystemTime;

use futures_util::future::BoxFuture;

use crate::{BusError, Consumer, Message};

/// How many times a message is delivered before it is dead-lettered, unless the queue says
/// otherwise.
pub const DEFAULT_MAX_DELIVERIES: u32 = 5;

/// A message bus with at-least-once delivery: topic exchanges, durable named queues,
/// competing consumers with prefetch, acks, and per-queue dead letters.
///
/// Object safe: roles hold an `Arc<dyn Bus>`. All names and patterns are validated the same
/// way by every implementation (see [`crate::topic`]).
///
/// Declarations are idempotent and are expected at start-up, before anything is published:
/// a message published while no queue is bound to its routing key is dropped and reported as
/// [`PublishOutcome::Unroutable`] (AMQP does the same), so every role declares the queues it
/// consumes (and the server declares all of [`crate::topology`]) before publishing.
pub trait Bus: Send + Sync + 'static {
    /// Declares a topic exchange; declaring an existing exchange is a no-op.
    ///
    /// # Errors
    ///
    /// [`BusError::InvalidName`] for a bad name; [`BusError::Broker`] when the broker fails.
    fn declare_exchange<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BusError>>;

    /// Declares a durable queue bound to `spec.exchange` with each pattern in `spec.bindings`.
    ///
    /// Declaring an existing queue adds the given bindings (which may be on another exchange)
    /// and keeps the existing ones and the queued messages.
    ///
    /// # Errors
    ///
    /// [`BusError::ExchangeNotFound`] when the exchange is not declared,
    /// [`BusError::InvalidName`], [`BusError::InvalidRoutingKey`] or
    /// [`BusError::InvalidQueueSpec`] for a bad spec, [`BusError::QueueMismatch`] when the
    /// queue exists with another `max_deliveries`, [`BusError::Broker`] when the broker fails.
    fn declare_queue(&self, spec: QueueSpec) -> BoxFuture<'_, Result<(), BusError>>;

    /// Publishes `message` to `exchange`; returns once the bus has accepted it into every
    /// queue it routes to (publisher confirm).
    ///
    /// When a queue is full (in-process capacity, or an AMQP broker applying flow control)
    /// this waits: backpressure, never silent loss. Dropping the returned future before it
    /// completes may leave the message in some of the queues it routes to and not others;
    /// publishers that need it everywhere publish again with the same id.
    ///
    /// # Errors
    ///
    /// [`BusError::ExchangeNotFound`], [`BusError::InvalidRoutingKey`],
    /// [`BusError::MessageTooLarge`], and for brokers [`BusError::NotConfirmed`] or
    /// [`BusError::Broker`]: in every error case the message may not be queued.
    fn publish<'a>(
        &'a self,
        exchange: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<PublishOutcome, BusError>>;

    /// Starts a consumer on `queue` that holds at most `prefetch` unacked deliveries.
    ///
    /// Consumers on one queue compete: each message goes to one of them. Dropping the
    /// [`Consumer`] returns all its unacked deliveries to the queue, flagged redelivered.
    ///
    /// # Errors
    ///
    /// [`BusError::QueueNotFound`], [`BusError::InvalidPrefetch`] for a prefetch of 0,
    /// [`BusError::Broker`] when the broker fails.
    fn consume<'a>(
        &'a self,
        queue: &'a str,
        prefetch: u16,
    ) -> BoxFuture<'a, Result<Consumer, BusError>>;

    /// The messages dead-lettered from `queue`, oldest first.
    ///
    /// # Errors
    ///
    /// [`BusError::QueueNotFound`], [`BusError::Broker`].
    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BusError>>;

    /// Moves dead letters of `queue` back to the tail of `queue` as fresh messages
    /// (attempt 1 again): all of them, or those whose message id is in `ids`.
    /// Returns how many were moved.
    ///
    /// # Errors
    ///
    /// [`BusError::QueueNotFound`], [`BusError::Broker`].
    fn replay_dead_letters<'a>(
        &'a self,
        queue: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BusError>>;

    /// Message counts of `queue`, for `/metrics` and the CLI.
    ///
    /// # Errors
    ///
    /// [`BusError::QueueNotFound`], [`BusError::Broker`].
    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats, BusError>>;
}

/// A durable queue and its bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// Queue name, e.g. `nerve.rules_engine`.
    pub name: String,
    /// The topic exchange the bindings are on.
    pub exchange: String,
    /// Routing-key patterns (`*` one word, `#` zero or more words).
    pub bindings: Vec<String>,
    /// Deliveries before a message is dead-lettered (at least 1). A delivery counts when the
    /// message is handed to a consumer; a message nacked with requeue, or returned by a closed
    /// consumer, after its `max_deliveries`-th delivery goes to the dead letters instead.
    pub max_deliveries: u32,
}

impl QueueSpec {
    /// A queue on `exchange` with no bindings yet and [`DEFAULT_MAX_DELIVERIES`].
    pub fn new(name: impl Into<String>, exchange: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            exchange: exchange.into(),
            bindings: Vec::new(),
            max_deliveries: DEFAULT_MAX_DELIVERIES,
        }
    }

    /// Adds a binding pattern.
    #[must_use]
    pub fn bind(mut self, pattern: impl Into<String>) -> Self {
        self.bindings.push(pattern.into());
        self
    }

    /// Sets how many deliveries a message gets before it is dead-lettered.
    #[must_use]
    pub fn max_deliveries(mut self, max_deliveries: u32) -> Self {
        self.max_deliveries = max_deliveries;
        self
    }

    /// Checks the names, patterns and limits; every implementation calls this first.
    ///
    /// # Errors
    ///
    /// [`BusError::InvalidName`], [`BusError::InvalidRoutingKey`] or
    /// [`BusError::InvalidQueueSpec`].
    pub fn validate(&self) -> Result<(), BusError> {
        crate::topic::check_name("queue", &self.name)?;
        crate::topic::check_name("exchange", &self.exchange)?;
        for pattern in &self.bindings {
            crate::topic::check_routing_key(pattern)?;
        }
        if self.max_deliveries == 0 {
            return Err(BusError::InvalidQueueSpec {
                queue: self.name.clone(),
                reason: "max_deliveries must be at least 1",
            });
        }
        Ok(())
    }
}

/// What happened to a published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// At least one queue accepted it.
    Queued,
    /// No queue is bound to its routing key; the message was dropped (AMQP `basic.return`).
    /// Normal for fire-and-forget streams nobody subscribes to; a bug for work requests,
    /// which is why the topology declares worker queues for every runner up front.
    Unroutable,
}

impl PublishOutcome {
    /// Whether a queue accepted the message.
    pub fn is_queued(self) -> bool {
        self == Self::Queued
    }
}

/// Message counts of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages waiting for a consumer.
    pub ready: u64,
    /// Messages handed to consumers (including prefetched ones) and not yet acked.
    /// AMQP implementations report the unacked deliveries of their own process's consumers.
    pub unacked: u64,
    /// Consumers attached to the queue (AMQP: across all processes).
    pub consumers: u64,
    /// Messages in the queue's dead letters.
    pub dead_letters: u64,
    /// Dead letters dropped because the dead letters were full (in-process only; an operator
    /// must act when this is not zero).
    pub dead_letters_discarded: u64,
}

/// A message that a queue gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message as published.
    pub message: Message,
    /// The queue it was dead-lettered from.
    pub queue: String,
    /// Why.
    pub reason: DeadLetterReason,
    /// How many times it had been delivered.
    pub deliveries: u32,
    /// When it was dead-lettered.
    pub dead_lettered_at: SystemTime,
}

/// Why a message was dead-lettered (AMQP `x-death` reasons `rejected` and `delivery_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// A consumer rejected it ([`Delivery::reject`](crate::Delivery::reject) or `nack(false)`).
    Rejected,
    /// It was returned to the queue after its queue's `max_deliveries`-th delivery.
    DeliveryLimit,
}

impl std::fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Rejected => "rejected",
            Self::DeliveryLimit => "delivery_limit",
        })
    }
}
