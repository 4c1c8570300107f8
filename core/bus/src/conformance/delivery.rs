//! Conformance cases for consuming: acks, redelivery, prefetch, competing consumers, order.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::{
    Context, ack, assert_quiet, consume, declare, publish, receive, receive_and_ack, set,
    wait_for_stats,
};
use crate::{BusError, Message};

/// Messages published after the queue is declared and before anyone consumes are delivered,
/// in order, to the first consumer.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn messages_published_before_consume_are_kept(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;
    let ids: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for id in &ids {
        publish(ctx, &exchange, id, "k").await;
    }
    let mut consumer = consume(ctx, &queue, 20).await;
    assert_eq!(receive_and_ack(ctx, &mut consumer, ids.len()).await, ids);
    assert_quiet(ctx, &mut consumer).await;
}

/// An acked message is gone: not redelivered to this consumer nor to a later one.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn ack_removes_the_message(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;
    publish(ctx, &exchange, "m1", "k").await;
    let mut consumer = consume(ctx, &queue, 5).await;
    let delivery = receive(ctx, &mut consumer).await;
    assert_eq!(delivery.message().id, "m1");
    assert!(!delivery.redelivered());
    assert_eq!(delivery.attempt(), 1);
    ack(delivery).await;
    assert_quiet(ctx, &mut consumer).await;
    drop(consumer);

    let mut later = consume(ctx, &queue, 5).await;
    assert_quiet(ctx, &mut later).await;
    wait_for_stats(ctx, &queue, "nothing ready or unacked", |s| {
        s.ready == 0 && s.unacked == 0
    })
    .await;
}

/// `nack(requeue = true)` delivers the message again, flagged redelivered, with the attempt
/// count going up.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn nack_requeue_redelivers_with_attempt_count(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 5).await;
    publish(ctx, &exchange, "m1", "k").await;
    let mut consumer = consume(ctx, &queue, 1).await;
    for attempt in 1..=3 {
        let delivery = receive(ctx, &mut consumer).await;
        assert_eq!(delivery.message().id, "m1");
        assert_eq!(delivery.attempt(), attempt, "attempt count");
        assert_eq!(delivery.redelivered(), attempt > 1, "redelivered flag");
        delivery.nack(true).await.expect("nack succeeds");
    }
    let delivery = receive(ctx, &mut consumer).await;
    assert_eq!(delivery.attempt(), 4);
    ack(delivery).await;
    assert_quiet(ctx, &mut consumer).await;
}

/// Consumers on one queue compete: each message goes to exactly one of them, all messages
/// are delivered, and every consumer gets some.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn competing_consumers_split_the_messages(ctx: &Context) {
    const CONSUMERS: usize = 3;
    const MESSAGES: usize = 60;
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for index in 0..CONSUMERS {
        let mut consumer = consume(ctx, &queue, 1).await;
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(delivery) = consumer.next().await {
                if sender.send((index, delivery.message().id.clone())).is_err() {
                    break;
                }
                delivery.ack().await.expect("ack succeeds");
                tokio::task::yield_now().await;
            }
        }));
    }
    for i in 0..MESSAGES {
        publish(ctx, &exchange, &format!("m{i}"), "k").await;
    }

    let mut per_consumer = [0_usize; CONSUMERS];
    let mut ids = Vec::new();
    for _ in 0..MESSAGES {
        let (index, id) = tokio::time::timeout(ctx.deadline, received.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {MESSAGES} messages arrived", ids.len()))
            .expect("consumer tasks are running");
        per_consumer[index] += 1;
        ids.push(id);
    }
    let distinct: BTreeSet<String> = set(ids.iter().cloned());
    assert_eq!(
        distinct.len(),
        MESSAGES,
        "a message was delivered twice: {ids:?}"
    );
    assert_eq!(distinct, set((0..MESSAGES).map(|i| format!("m{i}"))));
    assert!(
        per_consumer.iter().all(|&count| count > 0),
        "every consumer should get messages: {per_consumer:?}"
    );
    if let Ok(Some(extra)) = tokio::time::timeout(ctx.quiet, received.recv()).await {
        panic!("unexpected extra delivery {extra:?}");
    }
    for task in tasks {
        task.abort();
    }
}

/// A consumer never holds more than its prefetch of unacked deliveries; the rest wait for an
/// ack or go to other consumers with room.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn prefetch_limits_unacked_per_consumer(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;
    let mut first = consume(ctx, &queue, 2).await;
    for i in 0..5 {
        publish(ctx, &exchange, &format!("m{i}"), "k").await;
    }
    let held = [
        receive(ctx, &mut first).await,
        receive(ctx, &mut first).await,
    ];
    assert_quiet(ctx, &mut first).await;

    let mut second = consume(ctx, &queue, 3).await;
    let others = [
        receive(ctx, &mut second).await,
        receive(ctx, &mut second).await,
        receive(ctx, &mut second).await,
    ];
    assert_quiet(ctx, &mut second).await;
    let all = set(held.iter().chain(&others).map(|d| d.message().id.clone()));
    assert_eq!(all, set((0..5).map(|i| format!("m{i}"))));
    wait_for_stats(ctx, &queue, "5 unacked", |s| s.ready == 0 && s.unacked == 5).await;

    // Both consumers are full: a new message waits until one of them acks.
    publish(ctx, &exchange, "m5", "k").await;
    assert_quiet(ctx, &mut first).await;
    let [one, two] = held;
    ack(one).await;
    assert_eq!(receive(ctx, &mut first).await.message().id, "m5");
    ack(two).await;
    for delivery in others {
        ack(delivery).await;
    }
}

/// Dropping a consumer returns everything it held — deliveries it took and ones still
/// prefetched — to the queue, where another consumer gets them; nothing is lost and nothing is
/// duplicated. Settling a delivery of the dropped consumer fails with
/// [`BusError::ConsumerClosed`].
///
/// # Panics
///
/// When the bus does not conform.
pub async fn dropped_consumer_redelivers_to_another(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 5).await;
    let mut first = consume(ctx, &queue, 4).await;
    for i in 0..4 {
        publish(ctx, &exchange, &format!("m{i}"), "k").await;
    }
    let taken = [
        receive(ctx, &mut first).await,
        receive(ctx, &mut first).await,
    ];
    let taken_ids = set(taken.iter().map(|d| d.message().id.clone()));

    let mut second = consume(ctx, &queue, 10).await;
    assert_quiet(ctx, &mut second).await;
    drop(first);

    let mut redelivered = Vec::new();
    for _ in 0..4 {
        let delivery = receive(ctx, &mut second).await;
        if taken_ids.contains(&delivery.message().id) {
            assert!(
                delivery.redelivered(),
                "{delivery:?} should be flagged redelivered"
            );
            assert!(
                delivery.attempt() >= 2,
                "{delivery:?} should count its earlier delivery"
            );
        }
        redelivered.push(delivery);
    }
    assert_eq!(
        set(redelivered.iter().map(|d| d.message().id.clone())),
        set((0..4).map(|i| format!("m{i}")))
    );

    for stale in taken {
        let id = stale.message().id.clone();
        match stale.ack().await {
            Err(BusError::ConsumerClosed { id: got, .. }) => assert_eq!(got, id),
            other => panic!(
                "acking `{id}` after its consumer closed: expected ConsumerClosed, got {other:?}"
            ),
        }
    }
    assert_quiet(ctx, &mut second).await;
    for delivery in redelivered {
        ack(delivery).await;
    }
    wait_for_stats(ctx, &queue, "nothing ready or unacked", |s| {
        s.ready == 0 && s.unacked == 0
    })
    .await;
}

/// A delivery dropped without being settled (its handler panicked) is requeued.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn dropped_delivery_is_requeued(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 5).await;
    publish(ctx, &exchange, "m1", "k").await;
    let mut consumer = consume(ctx, &queue, 1).await;
    drop(receive(ctx, &mut consumer).await);
    let again = receive(ctx, &mut consumer).await;
    assert_eq!(again.message().id, "m1");
    assert!(again.redelivered());
    assert_eq!(again.attempt(), 2);
    ack(again).await;
    assert_quiet(ctx, &mut consumer).await;
}

/// One consumer with prefetch 1 sees a queue's messages in publish order.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn single_consumer_with_prefetch_one_keeps_order(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;
    let mut consumer = consume(ctx, &queue, 1).await;
    let ids: Vec<String> = (0..50).map(|i| format!("m{i:02}")).collect();
    for id in &ids {
        publish(ctx, &exchange, id, "k").await;
    }
    assert_eq!(receive_and_ack(ctx, &mut consumer, ids.len()).await, ids);
}

/// A 1 MiB body, the headers, the id and the routing key arrive unchanged.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn large_bodies_and_headers_round_trip(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;
    let body: Bytes = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let sent = Message::new("big", "large.body", body)
        .with_header("trace-tag", "t-1")
        .with_header("execution-id", "01J");
    let outcome = ctx
        .bus()
        .publish(&exchange, sent.clone())
        .await
        .expect("publishing a 1 MiB message succeeds");
    assert!(outcome.is_queued());
    let json =
        Message::json("small", "json.body", &serde_json::json!({"n": 1})).expect("JSON encodes");
    ctx.bus()
        .publish(&exchange, json)
        .await
        .expect("publishing JSON succeeds");

    let mut consumer = consume(ctx, &queue, 2).await;
    let delivery = receive(ctx, &mut consumer).await;
    let got = delivery.message();
    assert_eq!(got.id, sent.id);
    assert_eq!(got.routing_key, sent.routing_key);
    assert!(got.body == sent.body, "body differs");
    for (name, value) in &sent.headers {
        assert_eq!(got.headers.get(name), Some(value), "header `{name}`");
    }
    ack(delivery).await;

    let delivery = receive(ctx, &mut consumer).await;
    let value: serde_json::Value = delivery.decode().expect("JSON decodes");
    assert_eq!(value, serde_json::json!({"n": 1}));
    ack(delivery).await;
}

/// [`Bus::queue_stats`](crate::Bus::queue_stats) counts ready and unacked messages and
/// consumers.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn queue_stats_count_ready_and_unacked(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;
    for i in 0..3 {
        publish(ctx, &exchange, &format!("m{i}"), "k").await;
    }
    wait_for_stats(ctx, &queue, "3 ready", |s| s.ready == 3 && s.unacked == 0).await;
    let mut consumer = consume(ctx, &queue, 1).await;
    let delivery = receive(ctx, &mut consumer).await;
    let stats = wait_for_stats(ctx, &queue, "2 ready, 1 unacked", |s| {
        s.ready == 2 && s.unacked == 1
    })
    .await;
    assert_eq!(stats.consumers, 1);
    assert_eq!(stats.dead_letters, 0);
    ack(delivery).await;
    receive_and_ack(ctx, &mut consumer, 2).await;
    wait_for_stats(ctx, &queue, "nothing ready or unacked", |s| {
        s.ready == 0 && s.unacked == 0
    })
    .await;
    drop(consumer);
    wait_for_stats(ctx, &queue, "no consumers", |s| s.consumers == 0).await;
}
