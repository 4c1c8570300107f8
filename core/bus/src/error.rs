//! `BusError`: every way a bus operation can fail, with the names a user needs to act on it.
//!
//! An action failing is not a bus error; neither is a message that no queue wanted
//! (that is [`PublishOutcome::Unroutable`](crate::PublishOutcome::Unroutable)).

/// Why a bus operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The exchange was never declared on this bus.
    #[error("exchange `{exchange}` is not declared")]
    ExchangeNotFound {
        /// The exchange that was named.
        exchange: String,
    },

    /// The queue was never declared on this bus.
    #[error("queue `{queue}` is not declared")]
    QueueNotFound {
        /// The queue that was named.
        queue: String,
    },

    /// An exchange or queue name is empty, too long, or reserved.
    #[error("invalid {kind} name `{name}`: {reason}")]
    InvalidName {
        /// What was being named: `exchange`, `queue` or `runner`.
        kind: &'static str,
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A routing key or binding pattern is too long.
    #[error("invalid routing key `{key}`: {reason}")]
    InvalidRoutingKey {
        /// The rejected routing key or binding pattern.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// A queue is declared again with settings that differ from its first declaration.
    #[error("queue `{queue}` is already declared with {field} {existing}, not {requested}")]
    QueueMismatch {
        /// The queue.
        queue: String,
        /// The setting that differs, e.g. `max_deliveries`.
        field: &'static str,
        /// The value the queue has.
        existing: String,
        /// The value this declaration asked for.
        requested: String,
    },

    /// A queue specification is invalid, e.g. `max_deliveries` is zero.
    #[error("invalid specification for queue `{queue}`: {reason}")]
    InvalidQueueSpec {
        /// The queue.
        queue: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A consumer asked for a prefetch of zero (unbounded unacked deliveries are not allowed).
    #[error("prefetch for a consumer of queue `{queue}` must be at least 1")]
    InvalidPrefetch {
        /// The queue the consumer was for.
        queue: String,
    },

    /// A message body is over the size every implementation accepts
    /// ([`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES)).
    #[error("message `{id}` has a {size}-byte body, over the {limit}-byte limit")]
    MessageTooLarge {
        /// The message id.
        id: String,
        /// Its body size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// A value could not be encoded as a JSON message body.
    #[error("failed to encode message `{id}` as JSON")]
    Encode {
        /// The message id.
        id: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A message body is not the JSON the receiver expected.
    #[error("failed to decode message `{id}` (routing key `{routing_key}`) from JSON")]
    Decode {
        /// The message id.
        id: String,
        /// The message's routing key.
        routing_key: String,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },

    /// A delivery was settled after its consumer was closed.
    ///
    /// Closing a consumer returns all its unacked deliveries to the queue, so the message is
    /// (or will be) delivered again; the receiver's idempotency key makes that harmless.
    #[error(
        "cannot settle message `{id}` from queue `{queue}`: its consumer is closed and the message was requeued"
    )]
    ConsumerClosed {
        /// The queue.
        queue: String,
        /// The message id.
        id: String,
    },

    /// The broker refused to confirm a publish (AMQP `basic.nack`); the message may not be queued.
    #[error("exchange `{exchange}` did not confirm message `{id}`")]
    NotConfirmed {
        /// The exchange.
        exchange: String,
        /// The message id.
        id: String,
    },

    /// The broker's protocol cannot carry the message, e.g. an AMQP message id or header name
    /// over 255 bytes (AMQP implementations only); nothing was published.
    #[error("message `{id}` cannot be published to the broker: {reason}")]
    Unrepresentable {
        /// The message id.
        id: String,
        /// What AMQP cannot carry.
        reason: &'static str,
    },

    /// The broker could not be reached or failed the operation (AMQP implementations only).
    #[error("message broker failed during {operation}")]
    Broker {
        /// What was being done, e.g. `publish to nerve.executions`.
        operation: String,
        /// The client library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}
