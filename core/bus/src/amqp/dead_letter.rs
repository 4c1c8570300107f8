//! Listing and replaying the dead letters of a queue, kept in `<queue>.dead`.
//!
//! Listing takes every dead letter with `basic.get` (unacked) and then returns them all with
//! one `basic.nack(multiple, requeue)`: a classic queue puts requeued messages back where they
//! were, so the list is oldest first and the queue unchanged. Replaying republishes each chosen
//! dead letter straight to its queue (default exchange, routing key = queue name; the original
//! routing key rides in a header) with a confirm, then acks the dead letter: a crash in between
//! leaves it both replayed and dead, never neither. Listing and replay of one queue are
//! serialized within the process; two processes listing one queue at once each see part of it.

use lapin::Channel;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

use super::broker_error::{broker, is_not_found};
use super::properties;
use super::session::{PooledChannel, Session, Shared};
use super::topology::{dead_letter_queue, probe_max_deliveries};
use crate::topic::check_name;
use crate::{BusError, DeadLetter, DeadLetterReason, PublishOutcome, QueueStats};

/// Dead letters taken per listing or replay; the rest wait for the next call.
const MAX_TAKEN: usize = 10_000;

/// The dead letters of `queue`, oldest first.
pub(super) async fn list(shared: &Shared, queue: &str) -> Result<Vec<DeadLetter>, BusError> {
    check_queue_name(queue)?;
    let session = shared.session().await?;
    let lock = shared.dead_letter_lock(queue);
    let _listing = lock.lock().await;
    let operation = || format!("list dead letters of `{queue}`");
    let channel = dedicated_channel(&session, operation).await?;
    ensure_queue(&channel, queue).await?;
    let taken = match take(&channel, &dead_letter_queue(queue)).await {
        Ok(taken) => taken,
        Err(error) => return dead_letter_queue_missing(error, operation).map(|()| Vec::new()),
    };
    let mut letters = Vec::with_capacity(taken.len());
    for delivery in &taken {
        letters.push(to_dead_letter(shared, &session, queue, delivery).await);
    }
    let tags: Vec<u64> = taken.iter().map(|delivery| delivery.delivery_tag).collect();
    give_back(&channel, &tags)
        .await
        .map_err(|error| broker(operation(), error))?;
    Ok(letters)
}

/// Moves the dead letters of `queue` (all, or those whose id is in `ids`) back to the queue.
pub(super) async fn replay(
    shared: &Shared,
    queue: &str,
    ids: Option<&[String]>,
) -> Result<usize, BusError> {
    check_queue_name(queue)?;
    let session = shared.session().await?;
    let lock = shared.dead_letter_lock(queue);
    let _replaying = lock.lock().await;
    let operation = || format!("replay dead letters of `{queue}`");
    let channel = dedicated_channel(&session, operation).await?;
    ensure_queue(&channel, queue).await?;
    let taken = match take(&channel, &dead_letter_queue(queue)).await {
        Ok(taken) => taken,
        Err(error) => return dead_letter_queue_missing(error, operation).map(|()| 0),
    };

    let mut kept = Vec::new();
    let mut replayed = 0;
    let mut outcome = Ok(());
    let mut remaining = taken.iter();
    for delivery in remaining.by_ref() {
        let letter = to_dead_letter(shared, &session, queue, delivery).await;
        if !ids.is_none_or(|ids| ids.contains(&letter.message.id)) {
            kept.push(delivery.delivery_tag);
            continue;
        }
        let published = session
            .publish(
                "",
                queue,
                &letter.message,
                Some(&letter.message.routing_key),
            )
            .await
            .map_err(BusError::from);
        match published {
            Ok(PublishOutcome::Queued) => {}
            Ok(PublishOutcome::Unroutable) => {
                kept.push(delivery.delivery_tag);
                outcome = Err(BusError::QueueNotFound {
                    queue: queue.to_owned(),
                });
                break;
            }
            Err(error) => {
                kept.push(delivery.delivery_tag);
                outcome = Err(error);
                break;
            }
        }
        if let Err(error) = channel
            .basic_ack(delivery.delivery_tag, BasicAckOptions::default())
            .await
        {
            outcome = Err(broker(operation(), error));
            break;
        }
        replayed += 1;
    }
    kept.extend(remaining.map(|delivery| delivery.delivery_tag));
    // Everything not replayed goes back where it was.
    if let Err(error) = give_back(&channel, &kept).await {
        if outcome.is_ok() {
            outcome = Err(broker(operation(), error));
        }
    }
    outcome.map(|()| replayed)
}

/// Message counts of `queue` and its dead letters, with this process's unacked deliveries.
pub(super) async fn stats(shared: &Shared, queue: &str) -> Result<QueueStats, BusError> {
    check_queue_name(queue)?;
    let session = shared.session().await?;
    let operation = || format!("read the counts of `{queue}`");
    let mut channel = session
        .channel()
        .await
        .map_err(|error| broker(operation(), error))?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let main = match channel
        .queue_declare(queue, passive, FieldTable::default())
        .await
    {
        Ok(main) => main,
        Err(error) => {
            channel.discard();
            return Err(not_found_or_broker(error, queue, operation));
        }
    };
    let dead_letters = match channel
        .queue_declare(&dead_letter_queue(queue), passive, FieldTable::default())
        .await
    {
        Ok(dead) => u64::from(dead.message_count()),
        Err(error) => {
            channel.discard();
            dead_letter_queue_missing(error, operation)?;
            0
        }
    };
    Ok(QueueStats {
        ready: u64::from(main.message_count()),
        unacked: shared.unacked(queue),
        consumers: u64::from(main.consumer_count()),
        dead_letters,
        dead_letters_discarded: 0,
    })
}

fn check_queue_name(queue: &str) -> Result<(), BusError> {
    check_name("queue", queue).map_err(|_| BusError::QueueNotFound {
        queue: queue.to_owned(),
    })
}

/// Checks that `queue` exists (a `404` closes the channel).
async fn ensure_queue(channel: &Channel, queue: &str) -> Result<(), BusError> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue, passive, FieldTable::default())
        .await
        .map(drop)
        .map_err(|error| not_found_or_broker(error, queue, || format!("look up queue `{queue}`")))
}

fn not_found_or_broker(
    error: lapin::Error,
    queue: &str,
    operation: impl Fn() -> String,
) -> BusError {
    if is_not_found(&error) {
        BusError::QueueNotFound {
            queue: queue.to_owned(),
        }
    } else {
        broker(operation(), error)
    }
}

/// A queue declared by something other than this bus may have no dead-letter queue: then it
/// has no dead letters.
fn dead_letter_queue_missing(
    error: lapin::Error,
    operation: impl Fn() -> String,
) -> Result<(), BusError> {
    if is_not_found(&error) {
        Ok(())
    } else {
        Err(broker(operation(), error))
    }
}

/// Takes up to [`MAX_TAKEN`] messages from `dead`, unacked.
async fn take(channel: &Channel, dead: &str) -> Result<Vec<AmqpDelivery>, lapin::Error> {
    let mut taken = Vec::new();
    while taken.len() < MAX_TAKEN {
        match channel
            .basic_get(dead, BasicGetOptions { no_ack: false })
            .await?
        {
            Some(message) => taken.push(message.delivery),
            None => break,
        }
    }
    Ok(taken)
}

/// A channel of its own for `basic.get` and acks: the broker answers a bad ack by closing the
/// channel later, so such a channel is never pooled.
async fn dedicated_channel<'a>(
    session: &'a Session,
    operation: impl Fn() -> String,
) -> Result<PooledChannel<'a>, BusError> {
    let mut channel = session
        .channel()
        .await
        .map_err(|error| broker(operation(), error))?;
    channel.discard();
    Ok(channel)
}

/// Requeues the taken messages `tags` (every unacked one up to the highest: `multiple` must
/// name a tag that is still unacked).
async fn give_back(channel: &Channel, tags: &[u64]) -> Result<(), lapin::Error> {
    let Some(last) = tags.iter().copied().max() else {
        return Ok(());
    };
    let options = BasicNackOptions {
        multiple: true,
        requeue: true,
    };
    channel.basic_nack(last, options).await
}

async fn to_dead_letter(
    shared: &Shared,
    session: &Session,
    queue: &str,
    delivery: &AmqpDelivery,
) -> DeadLetter {
    let mut message = properties::to_message(
        delivery.routing_key.as_str(),
        &delivery.properties,
        delivery.data.clone(),
    );
    let death = properties::death(&delivery.properties, queue);
    // A replayed message was republished with the queue's name as routing key, its original
    // key in a header that `to_message` already used; otherwise `x-death` has it.
    if !properties::carries_routing_key(&delivery.properties) {
        if let Some(routing_key) = death.as_ref().and_then(|death| death.routing_key.clone()) {
            message.routing_key = routing_key;
        }
    }
    let reason = death
        .as_ref()
        .map_or(DeadLetterReason::Rejected, |death| death.reason);
    let deliveries = match (reason, death.as_ref().and_then(|death| death.returns)) {
        // The broker counted the returns (newer RabbitMQ versions keep the count).
        (DeadLetterReason::DeliveryLimit, Some(returns)) => returns,
        (DeadLetterReason::Rejected, Some(returns)) => returns.saturating_add(1),
        // Dead-lettered when returned after its `max_deliveries`-th delivery.
        (DeadLetterReason::DeliveryLimit, None) => {
            max_deliveries(shared, session, queue).await.unwrap_or(0)
        }
        // RabbitMQ 3.x keeps no count for rejected messages; rejecting usually happens on
        // the first delivery (a message that can never work).
        (DeadLetterReason::Rejected, None) => 1,
    };
    DeadLetter {
        message,
        queue: queue.to_owned(),
        reason,
        deliveries,
        dead_lettered_at: death.map_or(std::time::SystemTime::UNIX_EPOCH, |death| death.at),
    }
}

/// `max_deliveries` of `queue`: declared here, or read from the broker once.
async fn max_deliveries(shared: &Shared, session: &Session, queue: &str) -> Option<u32> {
    if let Some(known) = shared.topology.lock().max_deliveries(queue) {
        return Some(known);
    }
    let mut channel = session.channel().await.ok()?;
    channel.discard();
    let probed = probe_max_deliveries(&channel, &shared.config, queue).await?;
    shared.topology.lock().learn_max_deliveries(queue, probed);
    Some(probed)
}
