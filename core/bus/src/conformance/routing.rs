//! Conformance cases for declarations and routing.

use std::collections::BTreeMap;

use super::{Context, assert_quiet, consume, declare, message, publish, receive_and_ack, set};
use crate::{BusError, MAX_BODY_BYTES, Message, PublishOutcome, QueueSpec};

/// Declaring an exchange or queue twice is harmless: messages already queued stay, bindings
/// accumulate, and a binding declared twice still delivers one copy.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn declarations_are_idempotent(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["a"], 3).await;
    publish(ctx, &exchange, "before-redeclare", "a").await;

    ctx.bus()
        .declare_exchange(&exchange)
        .await
        .expect("redeclaring an exchange succeeds");
    let again = QueueSpec::new(&queue, &exchange)
        .bind("a")
        .bind("b")
        .max_deliveries(3);
    ctx.bus()
        .declare_queue(again)
        .await
        .expect("redeclaring a queue with the same settings succeeds");

    publish(ctx, &exchange, "a-after", "a").await;
    publish(ctx, &exchange, "b-after", "b").await;

    let mut consumer = consume(ctx, &queue, 10).await;
    let ids = receive_and_ack(ctx, &mut consumer, 3).await;
    assert_eq!(ids, ["before-redeclare", "a-after", "b-after"]);
    assert_quiet(ctx, &mut consumer).await;
}

/// Unknown names, bad names and bad limits fail with the typed error that says so.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn invalid_requests_are_rejected(ctx: &Context) {
    let bus = ctx.bus();
    let (exchange, queue) = declare(ctx, "q", &["#"], 3).await;

    let missing_exchange = ctx.name("no-such-exchange");
    assert!(matches!(
        bus.publish(&missing_exchange, message("m", "k")).await,
        Err(BusError::ExchangeNotFound { exchange }) if exchange == missing_exchange
    ));
    assert!(matches!(
        bus.declare_queue(QueueSpec::new(ctx.name("q2"), &missing_exchange).bind("#"))
            .await,
        Err(BusError::ExchangeNotFound { .. })
    ));
    let missing_queue = ctx.name("no-such-queue");
    assert!(matches!(
        bus.consume(&missing_queue, 1).await,
        Err(BusError::QueueNotFound { queue }) if queue == missing_queue
    ));
    assert!(matches!(
        bus.dead_letters(&missing_queue).await,
        Err(BusError::QueueNotFound { .. })
    ));
    assert!(matches!(
        bus.replay_dead_letters(&missing_queue, None).await,
        Err(BusError::QueueNotFound { .. })
    ));
    assert!(matches!(
        bus.queue_stats(&missing_queue).await,
        Err(BusError::QueueNotFound { .. })
    ));

    assert!(matches!(
        bus.consume(&queue, 0).await,
        Err(BusError::InvalidPrefetch { .. })
    ));
    assert!(matches!(
        bus.declare_queue(QueueSpec::new(ctx.name("q3"), &exchange).max_deliveries(0))
            .await,
        Err(BusError::InvalidQueueSpec { .. })
    ));
    assert!(matches!(
        bus.declare_queue(
            QueueSpec::new(&queue, &exchange)
                .bind("#")
                .max_deliveries(4)
        )
        .await,
        Err(BusError::QueueMismatch {
            field: "max_deliveries",
            ..
        })
    ));
    assert!(matches!(
        bus.declare_exchange("").await,
        Err(BusError::InvalidName { .. })
    ));
    assert!(matches!(
        bus.declare_queue(QueueSpec::new("", &exchange)).await,
        Err(BusError::InvalidName { .. })
    ));
    let long_key = "k".repeat(256);
    assert!(matches!(
        bus.publish(&exchange, message("m", &long_key)).await,
        Err(BusError::InvalidRoutingKey { .. })
    ));
    assert!(matches!(
        bus.declare_queue(
            QueueSpec::new(&queue, &exchange)
                .bind(long_key)
                .max_deliveries(3)
        )
        .await,
        Err(BusError::InvalidRoutingKey { .. })
    ));
    let huge = Message::new("huge", "k", vec![0_u8; MAX_BODY_BYTES + 1]);
    assert!(matches!(
        bus.publish(&exchange, huge).await,
        Err(BusError::MessageTooLarge { .. })
    ));

    // None of the failures queued anything.
    let mut consumer = consume(ctx, &queue, 10).await;
    assert_quiet(ctx, &mut consumer).await;
}

/// Topic routing follows RabbitMQ: `*` is one word, `#` is zero or more, words may be empty,
/// and the empty routing key has zero words.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn topic_wildcards_route_like_rabbitmq(ctx: &Context) {
    let keys = ["a", "a.b", "a.b.c", "a.z", "a.b.z", "b", "a..b", ""];
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("a.b", vec!["a.b"]),
        ("a.*", vec!["a.b", "a.z"]),
        ("a.#", vec!["a", "a.b", "a.b.c", "a.z", "a.b.z", "a..b"]),
        ("a.#.z", vec!["a.z", "a.b.z"]),
        ("*", vec!["a", "b"]),
        ("a.*.b", vec!["a..b"]),
        ("#", keys.to_vec()),
    ]);
    let mut queues = Vec::new();
    for (index, pattern) in expected.keys().enumerate() {
        let (exchange, queue) = declare(ctx, &format!("q{index}"), &[pattern], 3).await;
        queues.push((exchange, queue, *pattern));
    }
    let exchange = ctx.name("x");
    for key in keys {
        publish(ctx, &exchange, &format!("key:{key}"), key).await;
    }
    for (_, queue, pattern) in queues {
        let want = &expected[pattern];
        let mut consumer = consume(ctx, &queue, 100).await;
        let got = receive_and_ack(ctx, &mut consumer, want.len()).await;
        assert_eq!(
            set(got),
            set(want.iter().map(|key| format!("key:{key}"))),
            "pattern `{pattern}`"
        );
        assert_quiet(ctx, &mut consumer).await;
    }
}

/// A message goes to every queue it matches, once per queue even when several of a queue's
/// patterns match it.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn fan_out_delivers_one_copy_per_queue(ctx: &Context) {
    let (exchange, first) = declare(ctx, "first", &["status.*", "status.#", "#"], 3).await;
    let (_, second) = declare(ctx, "second", &["status.succeeded"], 3).await;
    publish(ctx, &exchange, "m1", "status.succeeded").await;

    for queue in [first, second] {
        let mut consumer = consume(ctx, &queue, 10).await;
        assert_eq!(receive_and_ack(ctx, &mut consumer, 1).await, ["m1"]);
        assert_quiet(ctx, &mut consumer).await;
    }
}

/// Publishing a message no queue is bound to succeeds with [`PublishOutcome::Unroutable`];
/// it is not delivered later to a queue declared afterwards.
///
/// # Panics
///
/// When the bus does not conform.
pub async fn unroutable_messages_are_reported(ctx: &Context) {
    let (exchange, queue) = declare(ctx, "q", &["x.*"], 3).await;
    let outcome = ctx
        .bus()
        .publish(&exchange, message("lost", "y"))
        .await
        .expect("publishing an unroutable message succeeds");
    assert_eq!(outcome, PublishOutcome::Unroutable);
    assert!(!outcome.is_queued());

    let (_, late) = declare(ctx, "late", &["y"], 3).await;
    publish(ctx, &exchange, "kept", "x.1").await;
    let mut consumer = consume(ctx, &queue, 10).await;
    assert_eq!(receive_and_ack(ctx, &mut consumer, 1).await, ["kept"]);
    let mut late_consumer = consume(ctx, &late, 10).await;
    assert_quiet(ctx, &mut late_consumer).await;
}
