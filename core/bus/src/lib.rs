//! The message bus between Nerve's roles (sensor host, rules engine, server, workers).
//!
//! **Architecture invariant:** the bus moves messages between roles with at-least-once
//! delivery; a message leaves a queue only when its consumer acks it, and consumers ack only
//! after their work is durably committed. Receivers make redelivery harmless with the message
//! id as an idempotency key (a rule fires at most once per trigger instance, a worker runs an
//! execution at most once per execution id). StackStorm acked on receipt, before processing,
//! and so lost work whenever a service died mid-message; Nerve never does.
//!
//! - [`Bus`]: one object-safe trait shaped 1:1 on AMQP topic exchanges, durable queues,
//!   prefetch, publisher confirms, ack/nack/reject and dead-lettering (see [`bus`] for the
//!   mapping an AMQP implementation follows).
//! - [`InProcessBus`]: the implementation `nerve up` uses, in memory, bounded, lock per queue.
//! - [`AmqpBus`]: the implementation over RabbitMQ (quorum queues, publisher confirms,
//!   reconnecting by itself), for roles in several processes.
//! - [`conformance`]: the suite every implementation passes ([`conformance_tests!`]).
//! - [`topology`]: the exchange, routing-key and queue names the roles share.
//! - [`topic`]: RabbitMQ topic matching (`*`, `#`) and name rules.
//!
//! This crate does not know what the messages mean (bodies are bytes; [`Message::json`] is a
//! convenience) and does not store anything durably: durability is the store's job.

mod amqp;
pub mod bus;
pub mod conformance;
mod consumer;
mod error;
mod in_process;
mod message;
pub mod topic;
pub mod topology;

pub use amqp::{AmqpBus, AmqpConfig};
pub use bus::{
    Bus, DEFAULT_MAX_DELIVERIES, DeadLetter, DeadLetterReason, PublishOutcome, QueueSpec,
    QueueStats,
};
pub use consumer::{Acknowledger, Consumer, Delivery, RawConsumer, Settlement};
pub use error::BusError;
pub use in_process::{InProcessBus, InProcessConfig};
pub use message::{CONTENT_TYPE_HEADER, MAX_BODY_BYTES, Message};
