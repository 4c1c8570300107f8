//! Publishing with confirms: a few channels in confirm mode, each with many publishes in
//! flight, and a task per channel that settles their confirms.
//!
//! Every message is published `mandatory`, persistent, on a channel in confirm mode. A
//! publish returns when the broker confirms it: `basic.ack` is
//! [`PublishOutcome::Queued`], `basic.ack` after a `basic.return` is
//! [`PublishOutcome::Unroutable`], `basic.nack` is [`BusError::NotConfirmed`], and a channel or
//! connection that closes first fails the publish with [`BusError::Broker`] (it may or may not
//! have been queued; it never reports success).
//!
//! **Matching returns to publishes.** `basic.return` carries no delivery tag, and lapin hands
//! each returned message to some confirm of the same ack batch, not necessarily its own
//! (`multiple` acks resolve a batch in hash order). So every publish carries its sequence
//! number in a header, and one task per channel owns the confirms. When some have resolved it
//! waits until lapin has finished resolving the ack batch they belong to (see
//! [`settle_confirms`]), then collects the returned messages of every confirm resolved so far
//! by sequence number, and answers those publishes: RabbitMQ sends a message's `basic.return`
//! before its `basic.ack`, so by then its return, if any, has been collected.

use std::collections::HashSet;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::publisher_confirm::{Confirmation, PublisherConfirm};
use lapin::{Channel, Connection};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::broker_error::{broker, broker_reason, is_not_found};
use super::properties;
use crate::{BusError, Message, PublishOutcome};

/// Publishing channels per connection. Each serializes only the queueing of a message's
/// frames; confirms are awaited concurrently.
const PUBLISH_CHANNELS: usize = 2;

/// The publishing channels of one connection, opened on first use and after a channel error.
/// Callers pass the connection they belong to.
pub(super) struct Publisher {
    slots: Vec<Mutex<Option<PublishChannel>>>,
    cursor: AtomicUsize,
}

struct PublishChannel {
    channel: Arc<Channel>,
    next_seq: u64,
    confirms: mpsc::UnboundedSender<InFlight>,
}

/// A publish waiting for its confirm.
struct InFlight {
    seq: u64,
    confirm: PublisherConfirm,
    reply: oneshot::Sender<Result<Confirmed, lapin::Error>>,
}

/// How the broker settled a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmed {
    Queued,
    Unroutable,
    Nacked,
}

impl Publisher {
    pub(super) fn new() -> Self {
        Self {
            slots: (0..PUBLISH_CHANNELS).map(|_| Mutex::new(None)).collect(),
            cursor: AtomicUsize::new(0),
        }
    }

    /// Publishes `message` to `exchange` with `routing_key` and waits for the confirm.
    /// `original_routing_key` is set when replaying a dead letter straight to its queue.
    ///
    /// # Errors
    ///
    /// [`Failure::NotSent`] when the channel or connection was closed before the message was
    /// handed to the broker; otherwise [`Failure::Failed`] with [`BusError::NotConfirmed`] on
    /// `basic.nack`, [`BusError::ExchangeNotFound`] when the broker closed the channel because
    /// `exchange` does not exist, or [`BusError::Broker`] when the channel or connection failed
    /// with the message in flight.
    pub(super) async fn publish(
        &self,
        connection: &Connection,
        exchange: &str,
        routing_key: &str,
        message: &Message,
        original_routing_key: Option<&str>,
    ) -> Result<PublishOutcome, Failure> {
        let operation = || format!("publish `{}` to `{exchange}`", message.id);
        let not_sent = |error| Failure::NotSent(broker(operation(), error));
        let index = self.cursor.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[index].lock().await;
        if !slot
            .as_ref()
            .is_some_and(|open| open.channel.status().connected())
        {
            *slot = None;
            *slot = Some(PublishChannel::open(connection).await.map_err(not_sent)?);
        }
        let Some(publishing) = slot.as_mut() else {
            return Err(Failure::Failed(broker_reason(
                operation(),
                "no publishing channel",
            )));
        };
        publishing.next_seq += 1;
        let seq = publishing.next_seq;
        let channel = Arc::clone(&publishing.channel);
        let confirms = publishing.confirms.clone();
        let options = BasicPublishOptions {
            mandatory: true,
            immediate: false,
        };
        let properties = properties::to_properties(message, Some(seq), original_routing_key);
        let mut sending =
            pin!(channel.basic_publish(exchange, routing_key, options, &message.body, properties));
        // lapin numbers a publish (for its confirm) and queues its frames in the first poll
        // of `basic_publish`; the broker numbers it when the frames arrive. Publishes on one
        // channel must not interleave between the two, so only that first poll happens under
        // the slot's lock; writing the frames does not.
        let first = futures_util::poll!(sending.as_mut());
        drop(slot);
        let written = match first {
            Poll::Ready(written) => written,
            Poll::Pending => sending.await,
        };
        let confirm = written.map_err(not_sent)?;
        let (reply, confirmed) = oneshot::channel();
        let queued = confirms.send(InFlight {
            seq,
            confirm,
            reply,
        });
        if queued.is_err() {
            return Err(Failure::Failed(broker_reason(
                operation(),
                "the confirm task stopped",
            )));
        }
        let failed = match confirmed.await {
            Ok(Ok(Confirmed::Queued)) => return Ok(PublishOutcome::Queued),
            Ok(Ok(Confirmed::Unroutable)) => {
                tracing::debug!(
                    exchange,
                    routing_key,
                    message_id = %message.id,
                    "Message unroutable; dropped."
                );
                return Ok(PublishOutcome::Unroutable);
            }
            Ok(Ok(Confirmed::Nacked)) => BusError::NotConfirmed {
                exchange: exchange.to_owned(),
                id: message.id.clone(),
            },
            Ok(Err(error)) if is_not_found(&error) && names_exchange(&error, exchange) => {
                BusError::ExchangeNotFound {
                    exchange: exchange.to_owned(),
                }
            }
            Ok(Err(error)) => broker(operation(), error),
            Err(_) => broker_reason(
                operation(),
                "the channel closed before the broker confirmed",
            ),
        };
        Err(Failure::Failed(failed))
    }
}

/// Why a publish failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// The message was not handed to the broker: the channel or connection was closed first.
    /// Publishing it again is safe.
    NotSent(BusError),
    /// The broker refused it, or the connection failed with the message in flight.
    Failed(BusError),
}

impl From<Failure> for BusError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NotSent(error) | Failure::Failed(error) => error,
        }
    }
}

/// Whether a `404` names `exchange` (`no exchange 'x' in vhost '/'`).
fn names_exchange(error: &lapin::Error, exchange: &str) -> bool {
    error
        .to_string()
        .contains(&format!("exchange '{exchange}'"))
}

impl PublishChannel {
    async fn open(connection: &Connection) -> Result<Self, lapin::Error> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let (confirms, incoming) = mpsc::unbounded_channel();
        tokio::spawn(settle_confirms(channel.clone(), incoming));
        Ok(Self {
            channel: Arc::new(channel),
            next_seq: 0,
            confirms,
        })
    }
}

/// A confirm that resolved, with what it needs to answer its publish.
struct Resolved {
    seq: u64,
    result: Result<Confirmation, lapin::Error>,
    reply: oneshot::Sender<Result<Confirmed, lapin::Error>>,
}

/// Owns the confirms of `channel` and answers each publish (see the module doc). Ends when the
/// channel's publisher is gone and every confirm has resolved.
async fn settle_confirms(channel: Channel, mut incoming: mpsc::UnboundedReceiver<InFlight>) {
    let mut waiting: FuturesUnordered<BoxFuture<'static, Resolved>> = FuturesUnordered::new();
    let mut returned: HashSet<u64> = HashSet::new();
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut open = true;
    loop {
        if resolved.is_empty() {
            if !open && waiting.is_empty() {
                return;
            }
            tokio::select! {
                item = incoming.recv(), if open => match item {
                    Some(item) => waiting.push(wait(item)),
                    None => open = false,
                },
                Some(done) = waiting.next(), if !waiting.is_empty() => resolved.push(done),
            }
            if resolved.is_empty() {
                continue;
            }
        }
        drain(&mut waiting, &mut resolved);
        // lapin resolves a whole ack batch (and attaches the batch's returned messages) under
        // the lock of the channel's confirm table; the first poll of `wait_for_confirms` takes
        // that lock, so once it returns, the batches of the confirms in `resolved` are
        // complete. It also hands over returned messages of confirms nobody awaited (a publish
        // cancelled while its frames were being written), which may carry another's return.
        let orphans = {
            let mut barrier = pin!(channel.wait_for_confirms());
            match futures_util::poll!(barrier.as_mut()) {
                Poll::Ready(Ok(orphans)) => orphans,
                Poll::Ready(Err(_)) | Poll::Pending => Vec::new(),
            }
        };
        returned.extend(
            orphans
                .iter()
                .filter_map(|message| properties::publish_seq(&message.delivery.properties)),
        );
        while let Ok(item) = incoming.try_recv() {
            waiting.push(wait(item));
        }
        let mut later = Vec::new();
        drain(&mut waiting, &mut later);
        for done in resolved.iter().chain(&later) {
            if let Ok(Confirmation::Ack(Some(message)) | Confirmation::Nack(Some(message))) =
                &done.result
            {
                match properties::publish_seq(&message.delivery.properties) {
                    Some(seq) => {
                        returned.insert(seq);
                    }
                    None => tracing::warn!(
                        exchange = %message.delivery.exchange,
                        routing_key = %message.delivery.routing_key,
                        "Returned message without a publish sequence number; ignored."
                    ),
                }
            }
        }
        for done in resolved.drain(..) {
            let was_returned = returned.remove(&done.seq);
            let answer = match done.result {
                Ok(Confirmation::Ack(_) | Confirmation::NotRequested) if was_returned => {
                    Ok(Confirmed::Unroutable)
                }
                Ok(Confirmation::Ack(_) | Confirmation::NotRequested) => Ok(Confirmed::Queued),
                Ok(Confirmation::Nack(_)) => Ok(Confirmed::Nacked),
                Err(error) => Err(error),
            };
            // The publisher may have given up waiting; nothing to do then.
            let _ = done.reply.send(answer);
        }
        resolved = later;
    }
}

fn wait(item: InFlight) -> BoxFuture<'static, Resolved> {
    async move {
        Resolved {
            seq: item.seq,
            result: item.confirm.await,
            reply: item.reply,
        }
    }
    .boxed()
}

/// Moves every confirm that has already resolved from `waiting` to `into`, without waiting.
fn drain(waiting: &mut FuturesUnordered<BoxFuture<'static, Resolved>>, into: &mut Vec<Resolved>) {
    while let Some(Some(done)) = waiting.next().now_or_never() {
        into.push(done);
    }
}
