//! The broker's ceiling for Nerve's traffic: messages through `nerve_bus::AmqpBus` alone, with
//! no store and no engine. Each message is what Nerve sends per step: persistent, published with
//! a confirm into a durable quorum queue, consumed and acked. An event run as a `core.noop`
//! execution over the broker needs at least [`MESSAGES_PER_EVENT`] of them (the trigger
//! instance, the execution request, the worker's report), so this rate over that count bounds
//! what any deployment on this broker can reach, whatever the server does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use nerve_bus::{AmqpBus, AmqpConfig, Bus, Message, QueueSpec};

use super::cluster::Vhost;

/// Bus messages one webhook event costs when it runs a `noop` on a worker node.
pub(super) const MESSAGES_PER_EVENT: f64 = 3.0;

const EXCHANGE: &str = "bench.ceiling";
const QUEUE: &str = "bench.ceiling.q";

/// Messages per second through the bus: `messages` published with `in_flight` publishes
/// outstanding, consumed (prefetch 64) and acked, from the first publish to the last ack.
pub(super) async fn messages_per_second(
    vhost: &Vhost,
    messages: usize,
    in_flight: usize,
) -> anyhow::Result<f64> {
    let bus = AmqpBus::connect(AmqpConfig::new(vhost.url.clone()))
        .await
        .context("connecting to the broker")?;
    bus.declare_exchange(EXCHANGE).await?;
    bus.declare_queue(QueueSpec::new(QUEUE, EXCHANGE).bind("m"))
        .await?;
    // A trigger instance's size: a webhook payload with its headers.
    let body = format!(
        "{{\"payload\":{{\"body\":{{}},\"headers\":{}}}}}",
        "\"x\"".repeat(200)
    );
    let mut consumer = bus.consume(QUEUE, 64).await?;
    let started = Instant::now();
    let consuming = tokio::spawn(async move {
        let mut acked = 0;
        while acked < messages {
            let Some(delivery) = consumer.next().await else {
                anyhow::bail!("the consumer ended after {acked} of {messages} messages");
            };
            delivery.ack().await?;
            acked += 1;
        }
        Ok(Instant::now())
    });
    let next = Arc::new(AtomicUsize::new(0));
    let mut publishers = Vec::new();
    for _ in 0..in_flight.max(1) {
        let (bus, next, body) = (bus.clone(), Arc::clone(&next), body.clone());
        publishers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= messages {
                    return Ok::<(), anyhow::Error>(());
                }
                bus.publish(EXCHANGE, Message::new(format!("m{n}"), "m", body.clone()))
                    .await?;
            }
        }));
    }
    for publisher in publishers {
        publisher.await??;
    }
    let finished = consuming.await??;
    Ok(messages as f64 / (finished - started).as_secs_f64())
}
