use std::time::Duration;

use super::*;
use crate::DeadLetterReason;

/// The next delivery, failing the test after a (paused-clock) deadline instead of hanging.
async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .expect("a delivery within the deadline")
        .expect("the consumer is open")
}

async fn bus_with_queue(config: InProcessConfig, max_deliveries: u32) -> InProcessBus {
    let bus = InProcessBus::with_config(config);
    bus.declare_exchange("x").await.expect("declare exchange");
    bus.declare_queue(
        QueueSpec::new("q", "x")
            .bind("#")
            .max_deliveries(max_deliveries),
    )
    .await
    .expect("declare queue");
    bus
}

#[tokio::test(start_paused = true)]
async fn publish_waits_while_the_queue_is_full() {
    let config = InProcessConfig {
        queue_capacity: 2,
        ..InProcessConfig::default()
    };
    let bus = bus_with_queue(config, 5).await;
    for id in ["m0", "m1"] {
        bus.publish("x", Message::new(id, "k", ""))
            .await
            .expect("publish");
    }
    let blocked = bus.publish("x", Message::new("m2", "k", ""));
    let mut blocked = std::pin::pin!(blocked);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), blocked.as_mut())
            .await
            .is_err(),
        "publish to a full queue should wait"
    );
    assert_eq!(bus.queue_stats("q").await.expect("stats").ready, 2);

    // A consumer taking one message makes room; the waiting publish completes.
    let mut consumer = bus.consume("q", 1).await.expect("consume");
    let outcome = tokio::time::timeout(Duration::from_secs(1), blocked)
        .await
        .expect("publish completes once there is room")
        .expect("publish succeeds");
    assert_eq!(outcome, PublishOutcome::Queued);
    let stats = bus.queue_stats("q").await.expect("stats");
    assert_eq!((stats.ready, stats.unacked), (2, 1));
    let first = next(&mut consumer).await;
    assert_eq!(first.message().id, "m0");
    first.ack().await.expect("ack");
}

#[tokio::test(start_paused = true)]
async fn cancelled_publish_leaves_no_waiter_behind() {
    let config = InProcessConfig {
        queue_capacity: 1,
        ..InProcessConfig::default()
    };
    let bus = bus_with_queue(config, 5).await;
    bus.publish("x", Message::new("m0", "k", ""))
        .await
        .expect("publish");
    let cancelled = tokio::time::timeout(
        Duration::from_millis(10),
        bus.publish("x", Message::new("m1", "k", "")),
    )
    .await;
    assert!(cancelled.is_err());
    let mut consumer = bus.consume("q", 10).await.expect("consume");
    let only = next(&mut consumer).await;
    assert_eq!(only.message().id, "m0");
    only.ack().await.expect("ack");
    assert!(
        tokio::time::timeout(Duration::from_secs(1), consumer.next())
            .await
            .is_err(),
        "the cancelled publish must not have queued its message"
    );
}

#[tokio::test(start_paused = true)]
async fn full_dead_letters_discard_the_oldest_and_count_it() {
    let config = InProcessConfig {
        dead_letter_capacity: 2,
        ..InProcessConfig::default()
    };
    let bus = bus_with_queue(config, 5).await;
    for id in ["a", "b", "c"] {
        bus.publish("x", Message::new(id, "k", ""))
            .await
            .expect("publish");
    }
    let mut consumer = bus.consume("q", 3).await.expect("consume");
    for _ in 0..3 {
        next(&mut consumer).await.reject().await.expect("reject");
    }
    let ids: Vec<String> = bus
        .dead_letters("q")
        .await
        .expect("dead letters")
        .into_iter()
        .map(|letter| letter.message.id)
        .collect();
    assert_eq!(ids, ["b", "c"]);
    let stats = bus.queue_stats("q").await.expect("stats");
    assert_eq!((stats.dead_letters, stats.dead_letters_discarded), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn new_bindings_take_effect_for_cached_routes() {
    let bus = InProcessBus::new();
    bus.declare_exchange("x").await.expect("declare exchange");
    bus.declare_queue(QueueSpec::new("q", "x").bind("a"))
        .await
        .expect("declare");
    let first = bus
        .publish("x", Message::new("1", "b", ""))
        .await
        .expect("publish");
    assert_eq!(first, PublishOutcome::Unroutable);
    bus.declare_queue(QueueSpec::new("q", "x").bind("b"))
        .await
        .expect("redeclare");
    let second = bus
        .publish("x", Message::new("2", "b", ""))
        .await
        .expect("publish");
    assert_eq!(second, PublishOutcome::Queued);
}

#[tokio::test(start_paused = true)]
async fn closed_consumer_returns_messages_to_the_head_in_order() {
    let bus = bus_with_queue(InProcessConfig::default(), 5).await;
    for i in 0..6 {
        bus.publish("x", Message::new(format!("m{i}"), "k", ""))
            .await
            .expect("publish");
    }
    let mut first = bus.consume("q", 3).await.expect("consume");
    let held: Vec<Delivery> = vec![next(&mut first).await, next(&mut first).await];
    drop(first);
    drop(held);
    let mut second = bus.consume("q", 1).await.expect("consume");
    let mut order = Vec::new();
    for _ in 0..6 {
        let delivery = next(&mut second).await;
        order.push((delivery.message().id.clone(), delivery.attempt()));
        delivery.ack().await.expect("ack");
    }
    let expected: Vec<(String, u32)> = [
        ("m0", 2),
        ("m1", 2),
        ("m2", 1),
        ("m3", 1),
        ("m4", 1),
        ("m5", 1),
    ]
    .into_iter()
    .map(|(id, attempt)| (id.to_owned(), attempt))
    .collect();
    assert_eq!(order, expected);
}

#[tokio::test(start_paused = true)]
async fn closing_a_consumer_after_its_last_delivery_dead_letters() {
    let bus = bus_with_queue(InProcessConfig::default(), 1).await;
    bus.publish("x", Message::new("crashy", "k", ""))
        .await
        .expect("publish");
    let mut consumer = bus.consume("q", 1).await.expect("consume");
    let delivery = next(&mut consumer).await;
    drop(consumer);
    drop(delivery);
    let letters = bus.dead_letters("q").await.expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].reason, DeadLetterReason::DeliveryLimit);
    assert_eq!(bus.queue_stats("q").await.expect("stats").ready, 0);
}

#[test]
fn bus_is_object_safe_and_cheap_to_clone() {
    let bus = InProcessBus::new();
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    drop(shared);
    assert_eq!(bus.config(), InProcessConfig::default());
}
