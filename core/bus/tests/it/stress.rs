//! Many publishers and consumers on several threads, with consumers nacking and dropping
//! out: every message is acked exactly once and none is lost.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use nerve_bus::{Bus, InProcessBus, InProcessConfig, Message, QueueSpec};

const PUBLISHERS: usize = 4;
const PER_PUBLISHER: usize = 5_000;
const CONSUMERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishers_and_consumers_lose_nothing() {
    let bus = Arc::new(InProcessBus::with_config(InProcessConfig {
        queue_capacity: 256,
        ..InProcessConfig::default()
    }));
    bus.declare_exchange("x").await.expect("declare exchange");
    bus.declare_queue(QueueSpec::new("q", "x").bind("work.*").max_deliveries(100))
        .await
        .expect("declare queue");

    let (acked_sender, mut acked) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut consumers = Vec::new();
    for index in 0..CONSUMERS {
        let bus = Arc::clone(&bus);
        let acked_sender = acked_sender.clone();
        consumers.push(tokio::spawn(async move {
            // Each consumer restarts (drops its consumer with unacked deliveries) every so often.
            let mut seen = 0_usize;
            loop {
                let mut consumer = bus.consume("q", 16).await.expect("consume");
                let mut held = Vec::new();
                while let Some(delivery) = consumer.next().await {
                    seen += 1;
                    if seen % 97 == index {
                        delivery.nack(true).await.expect("nack");
                    } else if seen % 1_009 == 0 {
                        held.push(delivery);
                        break; // drop the consumer while holding a delivery
                    } else {
                        let id = delivery.message().id.clone();
                        if delivery.ack().await.is_ok() {
                            let _ = acked_sender.send(id);
                        }
                    }
                }
                drop(consumer);
                for stale in held {
                    assert!(stale.ack().await.is_err(), "stale ack must fail");
                }
            }
        }));
    }
    drop(acked_sender);

    let mut publishers = Vec::new();
    for publisher in 0..PUBLISHERS {
        let bus = Arc::clone(&bus);
        publishers.push(tokio::spawn(async move {
            for i in 0..PER_PUBLISHER {
                let message = Message::new(format!("p{publisher}-{i}"), "work.item", "payload");
                bus.publish("x", message).await.expect("publish");
            }
        }));
    }

    let total = PUBLISHERS * PER_PUBLISHER;
    let mut ids = HashSet::with_capacity(total);
    let collect = async {
        while ids.len() < total {
            let id = acked.recv().await.expect("consumers are running");
            assert!(ids.insert(id.clone()), "`{id}` was acked twice");
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .unwrap_or_else(|_| panic!("only {} of {total} messages were acked", ids.len()));
    for publisher in publishers {
        publisher.await.expect("publisher finished");
    }
    let stats = bus.queue_stats("q").await.expect("stats");
    assert_eq!((stats.ready, stats.dead_letters), (0, 0), "{stats:?}");
    for consumer in consumers {
        consumer.abort();
    }
}
