//! `Consumer` and `Delivery`: receiving messages and settling them (ack, nack, reject).
//!
//! Both are concrete types over two small traits, [`RawConsumer`] and [`Acknowledger`], that
//! each implementation provides; that keeps [`Bus`](crate::Bus) object safe.
//!
//! The rule that makes delivery at-least-once: **ack only after the work the message asked for
//! is durably committed** (the trigger instance stored, the execution record written). A
//! delivery that is never settled — its task panicked, its consumer was dropped — goes back to
//! the queue and is delivered again.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::future::BoxFuture;

use crate::{BusError, Message};

/// Receives deliveries from one queue. Create with [`Bus::consume`](crate::Bus::consume).
///
/// Dropping the consumer returns all its unacked deliveries to the queue (flagged
/// redelivered), where other consumers get them; settling such a delivery afterwards fails with
/// [`BusError::ConsumerClosed`].
pub struct Consumer {
    raw: Box<dyn RawConsumer>,
}

impl Consumer {
    /// Wraps an implementation's consumer.
    pub fn new(raw: impl RawConsumer + 'static) -> Self {
        Self { raw: Box::new(raw) }
    }

    /// The next delivery; `None` when the consumer can deliver nothing more (its bus is gone,
    /// or an AMQP connection was lost for good). Waits while the queue is empty or while this
    /// consumer holds `prefetch` unacked deliveries.
    ///
    /// Cancel safe: dropping the future loses no delivery.
    pub async fn next(&mut self) -> Option<Delivery> {
        std::future::poll_fn(|cx| self.raw.poll_next(cx)).await
    }

    /// The queue this consumer reads.
    pub fn queue(&self) -> &str {
        self.raw.queue()
    }
}

impl Stream for Consumer {
    type Item = Delivery;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        self.get_mut().raw.poll_next(cx)
    }
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("queue", &self.raw.queue())
            .finish_non_exhaustive()
    }
}

/// An implementation's consumer; see [`Consumer`].
///
/// Dropping it must return its unacked deliveries to the queue.
pub trait RawConsumer: Send {
    /// Polls for the next delivery, registering `cx`'s waker when there is none.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>>;

    /// The queue this consumer reads.
    fn queue(&self) -> &str;
}

/// How a delivery is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Done: remove the message from the queue.
    Ack,
    /// Not done: return it to the queue for another delivery (or dead-letter it when it has
    /// had its queue's `max_deliveries`).
    Requeue,
    /// Never going to work: dead-letter it now.
    Reject,
}

/// Settles deliveries of one consumer by delivery tag (an AMQP channel's role).
pub trait Acknowledger: Send + Sync {
    /// Settles delivery `tag`. The returned future owns what it needs.
    ///
    /// # Errors
    ///
    /// [`BusError::ConsumerClosed`] when the consumer was closed (the message has been
    /// requeued), [`BusError::Broker`] when the broker fails.
    fn settle(
        &self,
        tag: u64,
        message_id: &str,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), BusError>>;

    /// Called when a delivery is dropped without being settled: must requeue it like
    /// [`Settlement::Requeue`] without blocking (an AMQP implementation spawns the
    /// `basic.nack`). Does nothing when the consumer is already closed.
    fn abandon(&self, tag: u64);
}

/// One message handed to a consumer, to be settled exactly once with [`ack`](Self::ack),
/// [`nack`](Self::nack) or [`reject`](Self::reject).
///
/// Dropping an unsettled delivery requeues it (as `nack(true)`), so a panicking handler loses
/// nothing; it still counts as a delivery towards the queue's `max_deliveries`.
pub struct Delivery {
    message: Arc<Message>,
    queue: Arc<str>,
    redelivered: bool,
    attempt: u32,
    tag: u64,
    acker: Arc<dyn Acknowledger>,
    settled: bool,
}

impl Delivery {
    /// Builds a delivery (for implementations). `attempt` counts from 1; `tag` identifies the
    /// delivery to `acker`.
    pub fn new(
        message: Arc<Message>,
        queue: Arc<str>,
        redelivered: bool,
        attempt: u32,
        tag: u64,
        acker: Arc<dyn Acknowledger>,
    ) -> Self {
        Self {
            message,
            queue,
            redelivered,
            attempt,
            tag,
            acker,
            settled: false,
        }
    }

    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The message body parsed as JSON.
    ///
    /// # Errors
    ///
    /// [`BusError::Decode`] when the body is not valid JSON for `T`; usually answered with
    /// [`reject`](Self::reject), since redelivery will not fix it.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, BusError> {
        self.message.decode()
    }

    /// The queue it came from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Whether the message was delivered before (to this or another consumer) and not acked.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Which delivery of this message this is, counting from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Removes the message from the queue. Call only once the work it asked for is durably
    /// committed.
    ///
    /// # Errors
    ///
    /// [`BusError::ConsumerClosed`] when the consumer was dropped first (the message will be
    /// delivered again), [`BusError::Broker`] when the broker fails.
    pub async fn ack(self) -> Result<(), BusError> {
        self.settle(Settlement::Ack).await
    }

    /// Gives the message back: with `requeue` it is delivered again (or dead-lettered once it
    /// has had `max_deliveries`); without, it is dead-lettered now, like [`reject`](Self::reject).
    ///
    /// # Errors
    ///
    /// As [`ack`](Self::ack).
    pub async fn nack(self, requeue: bool) -> Result<(), BusError> {
        let settlement = if requeue {
            Settlement::Requeue
        } else {
            Settlement::Reject
        };
        self.settle(settlement).await
    }

    /// Dead-letters the message now: it can be listed and replayed with
    /// [`Bus::dead_letters`](crate::Bus::dead_letters) and
    /// [`Bus::replay_dead_letters`](crate::Bus::replay_dead_letters).
    ///
    /// # Errors
    ///
    /// As [`ack`](Self::ack).
    pub async fn reject(self) -> Result<(), BusError> {
        self.settle(Settlement::Reject).await
    }

    async fn settle(mut self, settlement: Settlement) -> Result<(), BusError> {
        self.settled = true;
        let settle = self.acker.settle(self.tag, &self.message.id, settlement);
        drop(self);
        settle.await
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if !self.settled {
            tracing::warn!(
                queue = %self.queue,
                message_id = %self.message.id,
                "Delivery dropped without ack; requeued."
            );
            self.acker.abandon(self.tag);
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("queue", &self.queue)
            .field("message_id", &self.message.id)
            .field("routing_key", &self.message.routing_key)
            .field("redelivered", &self.redelivered)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}
