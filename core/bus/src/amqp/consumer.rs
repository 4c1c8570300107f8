//! Consumers: one channel each with `basic.qos(prefetch)` and manual acks, kept alive across
//! reconnects by a task that re-subscribes on a new channel.
//!
//! The task forwards deliveries into the [`Consumer`]'s buffer, tagged with the *attachment*
//! (the channel) they came on. Delivery tags are per channel, so a [`Delivery`]'s tag packs the
//! attachment number with the AMQP delivery tag; settling a delivery of an earlier attachment
//! (its channel is gone, the broker has requeued it) fails with [`BusError::ConsumerClosed`],
//! and buffered deliveries of an earlier attachment are dropped unseen, since the broker
//! redelivers them. Dropping the consumer closes its channel, which requeues everything it
//! held.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_util::future::{BoxFuture, ready};
use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, message::Delivery as AmqpDelivery};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::broker_error::{broker, is_not_found};
use super::properties;
use super::session::{Session, Shared};
use crate::topic::check_name;
use crate::{Acknowledger, BusError, Consumer, Delivery, RawConsumer, Settlement};

/// Bits of a [`Delivery`] tag holding the AMQP delivery tag; the bits above hold the
/// attachment number.
const TAG_BITS: u32 = 40;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// Numbers consumer tags within this process.
static NEXT_CONSUMER: AtomicU64 = AtomicU64::new(1);

/// Starts a consumer on `queue`.
///
/// # Errors
///
/// [`BusError::QueueNotFound`], [`BusError::InvalidPrefetch`], [`BusError::Broker`].
pub(super) async fn consume(
    shared: &Arc<Shared>,
    queue: &str,
    prefetch: u16,
) -> Result<Consumer, BusError> {
    if check_name("queue", queue).is_err() {
        return Err(BusError::QueueNotFound {
            queue: queue.to_owned(),
        });
    }
    if prefetch == 0 {
        return Err(BusError::InvalidPrefetch {
            queue: queue.to_owned(),
        });
    }
    let session = shared.session().await?;
    let tag = format!(
        "{}.{}.{}",
        shared.config.connection_name,
        std::process::id(),
        NEXT_CONSUMER.fetch_add(1, Ordering::Relaxed)
    );
    let (channel, stream) = subscribe(&session, queue, prefetch, &tag)
        .await
        .map_err(|error| {
            if is_not_found(&error) {
                BusError::QueueNotFound {
                    queue: queue.to_owned(),
                }
            } else {
                broker(format!("consume from `{queue}`"), error)
            }
        })?;
    let state = Arc::new(ConsumerState::new(queue));
    let attachment = state.attach(channel.clone());
    shared.register_consumer(&state);

    let (sender, deliveries) = mpsc::unbounded_channel();
    let stop = shared.cancel.child_token();
    let task = ConsumerTask {
        shared: Arc::clone(shared),
        state: Arc::clone(&state),
        prefetch,
        tag,
        sender,
        stop: stop.clone(),
    };
    shared.runtime.spawn(task.run(channel, stream, attachment));
    let acker: Arc<dyn Acknowledger> = Arc::new(AmqpAcker {
        state: Arc::clone(&state),
        runtime: shared.runtime.clone(),
    });
    Ok(Consumer::new(AmqpConsumer {
        state,
        acker,
        deliveries,
        _stop: stop.drop_guard(),
    }))
}

/// Opens a channel, sets its prefetch and starts consuming `queue` with manual acks.
async fn subscribe(
    session: &Session,
    queue: &str,
    prefetch: u16,
    tag: &str,
) -> Result<(Channel, lapin::Consumer), lapin::Error> {
    let channel = session.connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let stream = channel
        .basic_consume(
            queue,
            tag,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, stream))
}

/// What a consumer's handle, task and acknowledger share: the channel deliveries are settled
/// on now, and how many of them this process holds.
pub(super) struct ConsumerState {
    queue: Arc<str>,
    attachment: Mutex<Attachment>,
    /// Set when the [`Consumer`] is dropped or the bus is gone.
    closed: AtomicBool,
}

#[derive(Default)]
struct Attachment {
    /// Counts channels this consumer has subscribed on; 0 before the first.
    number: u64,
    channel: Option<Channel>,
    /// Deliveries received on `channel` and not settled.
    held: u64,
}

impl ConsumerState {
    fn new(queue: &str) -> Self {
        Self {
            queue: Arc::from(queue),
            attachment: Mutex::new(Attachment::default()),
            closed: AtomicBool::new(false),
        }
    }

    pub(super) fn queue(&self) -> &str {
        &self.queue
    }

    /// Deliveries received and not settled, including those not yet taken from the buffer.
    pub(super) fn unacked(&self) -> u64 {
        self.attachment.lock().held
    }

    /// Settles on `channel` from now on; returns the new attachment number.
    fn attach(&self, channel: Channel) -> u64 {
        let mut attachment = self.attachment.lock();
        attachment.number += 1;
        attachment.channel = Some(channel);
        attachment.held = 0;
        attachment.number
    }

    /// The channel of attachment `number` is gone: its deliveries are the broker's again.
    fn detach(&self, number: u64) {
        let mut attachment = self.attachment.lock();
        if attachment.number == number {
            attachment.channel = None;
            attachment.held = 0;
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut attachment = self.attachment.lock();
        attachment.channel = None;
        attachment.held = 0;
    }

    fn is_current(&self, number: u64) -> bool {
        !self.closed.load(Ordering::Acquire) && self.attachment.lock().number == number
    }

    /// Counts a delivery received on attachment `number`; false when it is stale.
    fn received(&self, number: u64) -> bool {
        let mut attachment = self.attachment.lock();
        let current = attachment.number == number && attachment.channel.is_some();
        if current {
            attachment.held += 1;
        }
        current && !self.closed.load(Ordering::Acquire)
    }

    /// The channel to settle a delivery of attachment `number` on, counting it settled;
    /// `None` when that channel is gone.
    fn settling(&self, number: u64) -> Option<Channel> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut attachment = self.attachment.lock();
        if attachment.number != number {
            return None;
        }
        let channel = attachment.channel.clone()?;
        attachment.held = attachment.held.saturating_sub(1);
        Some(channel)
    }
}

/// A delivery on its way from the consumer task to the [`Consumer`].
struct Incoming {
    attachment: u64,
    delivery: AmqpDelivery,
}

/// Keeps one consumer subscribed: forwards deliveries and re-subscribes after the channel or
/// the connection is lost, until the [`Consumer`] or the bus is dropped.
struct ConsumerTask {
    shared: Arc<Shared>,
    state: Arc<ConsumerState>,
    prefetch: u16,
    tag: String,
    sender: mpsc::UnboundedSender<Incoming>,
    stop: CancellationToken,
}

impl ConsumerTask {
    async fn run(self, mut channel: Channel, mut stream: lapin::Consumer, mut attachment: u64) {
        loop {
            let lost = tokio::select! {
                () = self.stop.cancelled() => None,
                reason = self.forward(&mut stream, attachment) => Some(reason),
            };
            let Some(reason) = lost else {
                self.state.close();
                drop(stream);
                if channel.status().connected() {
                    let _ = channel.close(200, "consumer dropped").await;
                }
                return;
            };
            self.state.detach(attachment);
            drop(stream);
            if channel.status().connected() {
                // The broker cancelled the consumer: return what it held.
                let _ = channel.close(200, "resubscribing").await;
            }
            tracing::debug!(queue = %self.state.queue, %reason, "Consumer lost its channel; resubscribing.");
            match self.resubscribe().await {
                Some((next_channel, next_stream)) => {
                    attachment = self.state.attach(next_channel.clone());
                    channel = next_channel;
                    stream = next_stream;
                    tracing::debug!(queue = %self.state.queue, "Consumer resubscribed.");
                }
                None => {
                    self.state.close();
                    return;
                }
            }
        }
    }

    /// Forwards deliveries until the channel fails; returns why.
    async fn forward(&self, stream: &mut lapin::Consumer, attachment: u64) -> String {
        loop {
            match stream.next().await {
                Some(Ok(delivery)) => {
                    if self.state.received(attachment) {
                        // A send fails only when the Consumer is gone; `stop` ends the task.
                        let _ = self.sender.send(Incoming {
                            attachment,
                            delivery,
                        });
                    }
                }
                Some(Err(error)) => return error.to_string(),
                None => return "the broker cancelled the consumer".to_owned(),
            }
        }
    }

    /// Subscribes again with backoff; `None` when the consumer should end (dropped, bus gone,
    /// or the queue no longer exists).
    async fn resubscribe(&self) -> Option<(Channel, lapin::Consumer)> {
        let config = &self.shared.config;
        let mut delay = config.reconnect_initial_delay;
        loop {
            let session = tokio::select! {
                () = self.stop.cancelled() => return None,
                session = self.shared.session() => session.ok()?,
            };
            match subscribe(&session, &self.state.queue, self.prefetch, &self.tag).await {
                Ok(subscribed) => return Some(subscribed),
                Err(error) if is_not_found(&error) && session.connection.status().connected() => {
                    tracing::warn!(
                        queue = %self.state.queue,
                        "Queue no longer exists; consumer ends."
                    );
                    return None;
                }
                Err(error) => {
                    tracing::debug!(queue = %self.state.queue, %error, retry_in = ?delay, "Resubscribing failed.");
                }
            }
            let paused = tokio::select! {
                () = self.stop.cancelled() => false,
                paused = self.shared.pause(delay) => paused,
            };
            if !paused {
                return None;
            }
            delay = (delay * 2).min(config.reconnect_max_delay);
        }
    }
}

/// The [`RawConsumer`] handed to callers.
struct AmqpConsumer {
    state: Arc<ConsumerState>,
    acker: Arc<dyn Acknowledger>,
    deliveries: mpsc::UnboundedReceiver<Incoming>,
    /// Stops the task (which closes the channel) when the consumer is dropped.
    _stop: DropGuard,
}

impl RawConsumer for AmqpConsumer {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        loop {
            let Some(incoming) = std::task::ready!(self.deliveries.poll_recv(cx)) else {
                return Poll::Ready(None);
            };
            if !self.state.is_current(incoming.attachment) {
                // Its channel is gone; the broker redelivers it.
                continue;
            }
            let delivery = incoming.delivery;
            let attempt = properties::attempt(&delivery.properties, delivery.redelivered);
            let message = properties::to_message(
                delivery.routing_key.as_str(),
                &delivery.properties,
                delivery.data,
            );
            return Poll::Ready(Some(Delivery::new(
                Arc::new(message),
                Arc::clone(&self.state.queue),
                delivery.redelivered || attempt > 1,
                attempt,
                (incoming.attachment << TAG_BITS) | (delivery.delivery_tag & TAG_MASK),
                Arc::clone(&self.acker),
            )));
        }
    }

    fn queue(&self) -> &str {
        &self.state.queue
    }
}

impl Drop for AmqpConsumer {
    fn drop(&mut self) {
        // Settling from now on reports ConsumerClosed; the task closes the channel.
        self.state.close();
    }
}

/// Settles deliveries on the channel they came on (see the module doc).
struct AmqpAcker {
    state: Arc<ConsumerState>,
    runtime: tokio::runtime::Handle,
}

impl AmqpAcker {
    fn closed(&self, message_id: &str) -> BusError {
        BusError::ConsumerClosed {
            queue: self.state.queue.to_string(),
            id: message_id.to_owned(),
        }
    }
}

impl Acknowledger for AmqpAcker {
    fn settle(
        &self,
        tag: u64,
        message_id: &str,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), BusError>> {
        let Some(channel) = self.state.settling(tag >> TAG_BITS) else {
            return ready(Err(self.closed(message_id))).boxed();
        };
        let delivery_tag = tag & TAG_MASK;
        let queue = Arc::clone(&self.state.queue);
        let id = message_id.to_owned();
        async move {
            let settled = match settlement {
                Settlement::Ack => {
                    channel
                        .basic_ack(delivery_tag, BasicAckOptions::default())
                        .await
                }
                Settlement::Requeue => {
                    let options = BasicNackOptions {
                        multiple: false,
                        requeue: true,
                    };
                    channel.basic_nack(delivery_tag, options).await
                }
                Settlement::Reject => {
                    let options = BasicRejectOptions { requeue: false };
                    channel.basic_reject(delivery_tag, options).await
                }
            };
            settled.map_err(|error| {
                if channel.status().connected() {
                    broker(format!("settle `{id}` from `{queue}`"), error)
                } else {
                    BusError::ConsumerClosed {
                        queue: queue.to_string(),
                        id,
                    }
                }
            })
        }
        .boxed()
    }

    fn abandon(&self, tag: u64) {
        let Some(channel) = self.state.settling(tag >> TAG_BITS) else {
            return;
        };
        let delivery_tag = tag & TAG_MASK;
        let queue = Arc::clone(&self.state.queue);
        self.runtime.spawn(async move {
            let options = BasicNackOptions {
                multiple: false,
                requeue: true,
            };
            if let Err(error) = channel.basic_nack(delivery_tag, options).await {
                // The channel is gone, and with it the delivery: the broker requeued it.
                tracing::debug!(%queue, %error, "Requeueing an abandoned delivery failed.");
            }
        });
    }
}
