//! `AmqpBus` against the RabbitMQ at [`URL`]: the conformance suite, concurrent publishers
//! (confirms, returns matched to their publishes, throughput), and a broker restart in the
//! middle of a stream.
//!
//! These tests fail, not skip, when the broker is down. Names are unique per test process and
//! everything is declared with `expire_unused`, so leftovers of failed runs disappear.
//! The restart test stops the broker's application: like every such test it has
//! `broker_restart` in its name, so `scripts/test` runs it alone after everything else. Within
//! this file it also takes an exclusive file lock that every other test here takes shared, so a
//! plain `cargo nextest run -p nerve-bus` (or `cargo test`) never overlaps them either.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;
use nerve_bus::conformance::Context;
use nerve_bus::{
    AmqpBus, AmqpConfig, Bus, BusError, Consumer, DeadLetter, Delivery, Message, PublishOutcome,
    QueueSpec, QueueStats,
};
use nix::fcntl::{Flock, FlockArg};
use tokio::sync::{oneshot, watch};

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A prefix no other test process uses: `nerve-test.<pid>-<nanos>`.
fn run_id() -> &'static str {
    static RUN_ID: OnceLock<String> = OnceLock::new();
    RUN_ID.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        format!("nerve-test.{}-{nanos}", std::process::id())
    })
}

fn config(prefix: &str) -> AmqpConfig {
    AmqpConfig {
        connection_name: prefix.to_owned(),
        dead_letter_exchange: format!("{prefix}.dlx"),
        expire_unused: Some(Duration::from_secs(600)),
        ..AmqpConfig::new(URL)
    }
}

async fn connect(prefix: &str) -> AmqpBus {
    AmqpBus::connect(config(prefix))
        .await
        .unwrap_or_else(|error| {
            panic!(
                "RabbitMQ is not reachable at {URL} ({error}); start it with \
             `rabbitmq-server -detached` and wait for `rabbitmqctl await_startup`"
            )
        })
}

/// Keeps the restart test apart from every other RabbitMQ test, across processes: tests that
/// use the broker hold `$TMPDIR/nerve-rabbitmq-tests.lock` shared, the one that restarts it
/// holds it exclusively.
struct BrokerLock {
    _lock: Flock<File>,
}

impl BrokerLock {
    async fn shared() -> Self {
        Self::acquire(FlockArg::LockShared).await
    }

    async fn exclusive() -> Self {
        Self::acquire(FlockArg::LockExclusive).await
    }

    async fn acquire(kind: FlockArg) -> Self {
        let locked = tokio::task::spawn_blocking(move || {
            let path = std::env::temp_dir().join("nerve-rabbitmq-tests.lock");
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .unwrap_or_else(|error| panic!("opening `{}` failed: {error}", path.display()));
            Flock::lock(file, kind)
                .unwrap_or_else(|(_, errno)| panic!("locking `{}` failed: {errno}", path.display()))
        })
        .await
        .expect("the locking task finishes");
        Self { _lock: locked }
    }
}

/// An [`AmqpBus`] that holds the shared broker lock for as long as a conformance case runs.
struct LockedBus {
    bus: AmqpBus,
    _lock: BrokerLock,
}

impl Bus for LockedBus {
    fn declare_exchange<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BusError>> {
        self.bus.declare_exchange(name)
    }

    fn declare_queue(&self, spec: QueueSpec) -> BoxFuture<'_, Result<(), BusError>> {
        self.bus.declare_queue(spec)
    }

    fn publish<'a>(
        &'a self,
        exchange: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<PublishOutcome, BusError>> {
        self.bus.publish(exchange, message)
    }

    fn consume<'a>(
        &'a self,
        queue: &'a str,
        prefetch: u16,
    ) -> BoxFuture<'a, Result<Consumer, BusError>> {
        self.bus.consume(queue, prefetch)
    }

    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BusError>> {
        self.bus.dead_letters(queue)
    }

    fn replay_dead_letters<'a>(
        &'a self,
        queue: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BusError>> {
        self.bus.replay_dead_letters(queue, ids)
    }

    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats, BusError>> {
        self.bus.queue_stats(queue)
    }
}

async fn context(test: &'static str) -> Context {
    let lock = BrokerLock::shared().await;
    let prefix = format!("{}.{test}", run_id());
    let bus = connect(&prefix).await;
    Context::new(Arc::new(LockedBus { bus, _lock: lock }), prefix)
        .with_quiet_period(Duration::from_millis(300))
        .with_deadline(Duration::from_secs(15))
}

nerve_bus::conformance_tests!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    context
);

#[tokio::test]
async fn an_unreachable_broker_fails_to_connect() {
    // Nothing listens on port 1.
    let config = AmqpConfig::new("amqp://guest:guest@127.0.0.1:1/%2f");
    let error = AmqpBus::connect(config)
        .await
        .expect_err("connecting to a closed port fails");
    assert!(
        matches!(&error, BusError::Broker { operation, .. } if operation.contains("127.0.0.1:1")),
        "{error:?}"
    );
}

/// The next value of `receiver` accepted by `done`, or a panic after `deadline`.
async fn wait_until<T: Clone>(
    receiver: &mut watch::Receiver<T>,
    deadline: Duration,
    what: &str,
    done: impl Fn(&T) -> bool,
) -> T {
    match tokio::time::timeout(deadline, receiver.wait_for(|value| done(value))).await {
        Ok(Ok(value)) => value.clone(),
        Ok(Err(_)) => panic!("stopped before {what}"),
        Err(_) => panic!("not {what} within {deadline:?}"),
    }
}

/// Many publishers at once: each publish is answered with its own outcome (a routed message
/// `Queued`, an unroutable one `Unroutable`, never swapped), and every routed one is consumed.
/// Prints the confirmed-publish and consume rates (`--no-capture` shows them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_are_confirmed_one_by_one_and_consumed() {
    const PUBLISHERS: usize = 64;
    const PER_PUBLISHER: usize = 250;
    let _lock = BrokerLock::shared().await;
    let prefix = format!("{}.throughput", run_id());
    let bus = Arc::new(connect(&prefix).await);
    let exchange = format!("{prefix}.x");
    let queue = format!("{prefix}.q");
    bus.declare_exchange(&exchange)
        .await
        .expect("declare exchange");
    bus.declare_queue(QueueSpec::new(&queue, &exchange).bind("routed.*"))
        .await
        .expect("declare queue");

    let started = Instant::now();
    let mut publishers = Vec::new();
    for publisher in 0..PUBLISHERS {
        let bus = Arc::clone(&bus);
        let exchange = exchange.clone();
        publishers.push(tokio::spawn(async move {
            let mut routed = Vec::new();
            for i in 0..PER_PUBLISHER {
                let id = format!("p{publisher}-{i}");
                // Every eighth message goes nowhere.
                let lost = i % 8 == 7;
                let key = if lost { "lost.k" } else { "routed.k" };
                let outcome = bus
                    .publish(&exchange, Message::new(&id, key, "payload"))
                    .await
                    .unwrap_or_else(|error| panic!("publishing `{id}` failed: {error}"));
                let expected = if lost {
                    PublishOutcome::Unroutable
                } else {
                    PublishOutcome::Queued
                };
                assert_eq!(outcome, expected, "outcome of `{id}` ({key})");
                if !lost {
                    routed.push(id);
                }
            }
            routed
        }));
    }
    let mut routed = BTreeSet::new();
    for publisher in publishers {
        routed.extend(publisher.await.expect("publisher finished"));
    }
    let publish_time = started.elapsed();
    let total = PUBLISHERS * PER_PUBLISHER;

    let started = Instant::now();
    let mut consumer = bus.consume(&queue, 200).await.expect("consume");
    let mut consumed = BTreeSet::new();
    while consumed.len() < routed.len() {
        let delivery = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {} consumed", consumed.len(), routed.len()))
            .expect("the consumer is open");
        consumed.insert(delivery.message().id.clone());
        delivery.ack().await.expect("ack");
    }
    let consume_time = started.elapsed();
    assert_eq!(consumed, routed);
    eprintln!(
        "AMQP: {total} confirmed publishes from {PUBLISHERS} publishers in {publish_time:?} \
         ({:.0}/s); {} consumed and acked in {consume_time:?} ({:.0}/s)",
        total as f64 / publish_time.as_secs_f64(),
        routed.len(),
        routed.len() as f64 / consume_time.as_secs_f64(),
    );
}

/// Runs `rabbitmqctl`; the test restarts the broker itself, which no runner wrapper is for.
#[allow(clippy::disallowed_methods)]
fn rabbitmqctl(args: &[&str]) {
    let output = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("running `rabbitmqctl {}` failed: {error}", args.join(" ")));
    assert!(
        output.status.success(),
        "`rabbitmqctl {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn rabbitmqctl_async(args: &'static [&'static str]) {
    tokio::task::spawn_blocking(move || rabbitmqctl(args))
        .await
        .expect("rabbitmqctl task finishes");
}

/// Starts the broker's application again if the test fails while it is stopped.
struct StartOnDrop {
    armed: bool,
}

impl Drop for StartOnDrop {
    fn drop(&mut self) {
        if self.armed {
            rabbitmqctl(&["start_app"]);
            rabbitmqctl(&["await_startup"]);
        }
    }
}

/// `rabbitmqctl stop_app` and `start_app` in the middle of a stream of publishes: every
/// message whose publish was confirmed is consumed at least once by the one consumer, which
/// resumes by itself; a delivery held across the restart can no longer be settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_no_confirmed_message_and_consumers_resume() {
    let _lock = BrokerLock::exclusive().await;
    let prefix = format!("{}.restart", run_id());
    let bus = Arc::new(connect(&prefix).await);
    let exchange = format!("{prefix}.x");
    let queue = format!("{prefix}.q");
    bus.declare_exchange(&exchange)
        .await
        .expect("declare exchange");
    bus.declare_queue(
        QueueSpec::new(&queue, &exchange)
            .bind("#")
            .max_deliveries(100),
    )
    .await
    .expect("declare queue");

    // The consumer acks everything except its first delivery, which it hands back unsettled.
    let mut consumer = bus.consume(&queue, 20).await.expect("consume");
    let (acked_sender, mut acked_receiver) = watch::channel(BTreeSet::<String>::new());
    let (held_sender, held_receiver) = oneshot::channel::<Delivery>();
    let consuming = tokio::spawn(async move {
        let mut held_sender = Some(held_sender);
        while let Some(delivery) = consumer.next().await {
            if let Some(sender) = held_sender.take() {
                let _ = sender.send(delivery);
                continue;
            }
            let id = delivery.message().id.clone();
            match delivery.ack().await {
                Ok(()) => {
                    acked_sender.send_modify(|acked| {
                        acked.insert(id);
                    });
                }
                // Its channel died with the connection; the broker delivers it again.
                Err(BusError::ConsumerClosed { .. }) => {}
                Err(error) => panic!("ack of `{id}` failed: {error}"),
            }
        }
    });

    // Publishes one message every millisecond; reports the ids the broker confirmed.
    let (confirmed_sender, mut confirmed_receiver) = watch::channel(Vec::<String>::new());
    let (failures_sender, failures_receiver) = watch::channel(0_usize);
    let (stop_sender, mut stop_receiver) = oneshot::channel::<()>();
    let publishing = {
        let bus = Arc::clone(&bus);
        let exchange = exchange.clone();
        tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(1));
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for i in 0_u64.. {
                tokio::select! {
                    _ = &mut stop_receiver => break,
                    _ = pace.tick() => {}
                }
                let id = format!("m{i:06}");
                match bus
                    .publish(&exchange, Message::new(&id, "k", "payload"))
                    .await
                {
                    Ok(PublishOutcome::Queued) => confirmed_sender.send_modify(|ids| ids.push(id)),
                    Ok(PublishOutcome::Unroutable) => panic!("`{id}` was unroutable"),
                    // In flight when the connection dropped: maybe queued, never confirmed.
                    Err(BusError::Broker { .. } | BusError::NotConfirmed { .. }) => {
                        failures_sender.send_modify(|failures| *failures += 1);
                    }
                    Err(error) => panic!("publishing `{id}` failed: {error}"),
                }
            }
        })
    };

    let deadline = Duration::from_secs(60);
    wait_until(&mut confirmed_receiver, deadline, "200 confirmed", |ids| {
        ids.len() >= 200
    })
    .await;
    let held = tokio::time::timeout(deadline, held_receiver)
        .await
        .expect("a first delivery within the deadline")
        .expect("the consumer task holds one delivery");

    let mut restart = StartOnDrop { armed: true };
    rabbitmqctl_async(&["stop_app"]).await;
    rabbitmqctl_async(&["start_app"]).await;
    rabbitmqctl_async(&["await_startup"]).await;
    restart.armed = false;
    let before = confirmed_receiver.borrow().len();
    wait_until(
        &mut confirmed_receiver,
        deadline,
        "200 more confirmed after the restart",
        |ids| ids.len() >= before + 200,
    )
    .await;
    stop_sender.send(()).expect("the publisher is running");
    publishing.await.expect("the publisher finished");
    let confirmed: BTreeSet<String> = confirmed_receiver.borrow().iter().cloned().collect();

    let held_id = held.message().id.clone();
    match held.ack().await {
        Err(BusError::ConsumerClosed { id, .. }) => assert_eq!(id, held_id),
        other => panic!(
            "acking a delivery from before the restart: expected ConsumerClosed, got {other:?}"
        ),
    }
    let acked = wait_until(
        &mut acked_receiver,
        deadline,
        "every confirmed message acked",
        |acked| confirmed.is_subset(acked),
    )
    .await;
    assert!(
        acked.contains(&held_id),
        "the held message is redelivered and acked"
    );
    assert!(
        !consuming.is_finished(),
        "the consumer's stream ended instead of resuming"
    );
    consuming.abort();
    eprintln!(
        "restart: {} confirmed, {} failed in flight, {} acked",
        confirmed.len(),
        *failures_receiver.borrow(),
        acked.len()
    );
}
