//! The conformance suite every [`Bus`] implementation passes: the behaviour roles rely on,
//! written once as async functions over a [`Context`].
//!
//! Always compiled (no cargo feature), so an implementation in this crate or another can run
//! it from its integration tests with one macro call:
//!
//! ```no_run
//! async fn context(test: &'static str) -> nerve_bus::conformance::Context {
//!     let bus = std::sync::Arc::new(nerve_bus::InProcessBus::new());
//!     nerve_bus::conformance::Context::new(bus, test)
//! }
//! nerve_bus::conformance_tests!(#[tokio::test(start_paused = true)] context);
//! ```
//!
//! Each case declares its own exchanges and queues named under [`Context::name`], so cases
//! can share one broker when the prefix is unique per run. Cases wait for deliveries with a
//! deadline ([`Context::with_deadline`]) and assert that *nothing* arrives by waiting
//! [`Context::with_quiet_period`]; with `tokio::time::pause` both cost no wall time in-process,
//! while a networked broker sets a quiet period longer than its delivery latency.
//!
//! The cases panic (they are tests) with a message naming the queue and what was expected.

mod dead_letter;
mod delivery;
mod routing;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub use self::dead_letter::*;
pub use self::delivery::*;
pub use self::routing::*;
use crate::{Bus, Consumer, Delivery, Message, PublishOutcome, QueueSpec, QueueStats};

/// What a conformance case runs against: a bus and a name prefix unique to the case.
#[derive(Clone)]
pub struct Context {
    bus: Arc<dyn Bus>,
    prefix: String,
    quiet: Duration,
    deadline: Duration,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("prefix", &self.prefix)
            .field("quiet", &self.quiet)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context naming everything `<prefix>.<suffix>`; quiet period 200 ms, deadline 10 s.
    pub fn new(bus: Arc<dyn Bus>, prefix: impl Into<String>) -> Self {
        Self {
            bus,
            prefix: prefix.into(),
            quiet: Duration::from_millis(200),
            deadline: Duration::from_secs(10),
        }
    }

    /// How long to wait before concluding that no (further) delivery is coming.
    #[must_use]
    pub fn with_quiet_period(mut self, quiet: Duration) -> Self {
        self.quiet = quiet;
        self
    }

    /// How long to wait for a delivery that must come before failing.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The bus under test.
    pub fn bus(&self) -> &dyn Bus {
        &*self.bus
    }

    /// `<prefix>.<suffix>`: a name private to this case.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.prefix)
    }
}

/// Defines one test per conformance case, each calling `$make(case_name).await` for a
/// [`Context`] and running the case. The attribute picks the test runtime, e.g.
/// `#[tokio::test(start_paused = true)]` in-process or
/// `#[tokio::test(flavor = "multi_thread")]` against a broker.
#[macro_export]
macro_rules! conformance_tests {
    (#[$runtime:meta] $make:path) => {
        $crate::conformance_tests!(@cases #[$runtime] $make;
            declarations_are_idempotent,
            invalid_requests_are_rejected,
            topic_wildcards_route_like_rabbitmq,
            fan_out_delivers_one_copy_per_queue,
            unroutable_messages_are_reported,
            messages_published_before_consume_are_kept,
            ack_removes_the_message,
            nack_requeue_redelivers_with_attempt_count,
            competing_consumers_split_the_messages,
            prefetch_limits_unacked_per_consumer,
            dropped_consumer_redelivers_to_another,
            dropped_delivery_is_requeued,
            single_consumer_with_prefetch_one_keeps_order,
            large_bodies_and_headers_round_trip,
            queue_stats_count_ready_and_unacked,
            delivery_limit_dead_letters_then_replay,
            reject_dead_letters_immediately,
            replay_selected_dead_letters,
        );
    };
    (@cases #[$runtime:meta] $make:path; $($case:ident),* $(,)?) => {
        $(
            #[$runtime]
            async fn $case() {
                let context = $make(stringify!($case)).await;
                $crate::conformance::$case(&context).await;
            }
        )*
    };
}

// ---- helpers shared by the cases ----

/// Declares exchange `<prefix>.x` and queue `<prefix>.<queue>` with `bindings`.
async fn declare(
    ctx: &Context,
    queue: &str,
    bindings: &[&str],
    max_deliveries: u32,
) -> (String, String) {
    let exchange = ctx.name("x");
    let queue = ctx.name(queue);
    ctx.bus()
        .declare_exchange(&exchange)
        .await
        .unwrap_or_else(|e| panic!("declaring exchange `{exchange}` failed: {e}"));
    let spec = bindings
        .iter()
        .fold(QueueSpec::new(&queue, &exchange), |spec, pattern| {
            spec.bind(*pattern)
        })
        .max_deliveries(max_deliveries);
    ctx.bus()
        .declare_queue(spec)
        .await
        .unwrap_or_else(|e| panic!("declaring queue `{queue}` failed: {e}"));
    (exchange, queue)
}

/// A message whose body names its id.
fn message(id: &str, routing_key: &str) -> Message {
    Message::new(id, routing_key, format!("body of {id}"))
}

/// Publishes and asserts the message was queued.
async fn publish(ctx: &Context, exchange: &str, id: &str, routing_key: &str) {
    let outcome = ctx
        .bus()
        .publish(exchange, message(id, routing_key))
        .await
        .unwrap_or_else(|e| panic!("publishing `{id}` to `{exchange}` failed: {e}"));
    assert_eq!(
        outcome,
        PublishOutcome::Queued,
        "`{id}` with routing key `{routing_key}` should have been queued"
    );
}

async fn consume(ctx: &Context, queue: &str, prefetch: u16) -> Consumer {
    ctx.bus()
        .consume(queue, prefetch)
        .await
        .unwrap_or_else(|e| panic!("consuming `{queue}` failed: {e}"))
}

/// The next delivery, or a panic after the deadline.
async fn receive(ctx: &Context, consumer: &mut Consumer) -> Delivery {
    match tokio::time::timeout(ctx.deadline, consumer.next()).await {
        Ok(Some(delivery)) => delivery,
        Ok(None) => panic!("consumer of `{}` ended", consumer.queue()),
        Err(_) => panic!(
            "no delivery from `{}` within {:?}",
            consumer.queue(),
            ctx.deadline
        ),
    }
}

/// Receives `count` deliveries and acks them; returns their ids in order.
async fn receive_and_ack(ctx: &Context, consumer: &mut Consumer, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let delivery = receive(ctx, consumer).await;
        ids.push(delivery.message().id.clone());
        ack(delivery).await;
    }
    ids
}

/// Asserts nothing is delivered within the quiet period.
async fn assert_quiet(ctx: &Context, consumer: &mut Consumer) {
    if let Ok(delivery) = tokio::time::timeout(ctx.quiet, consumer.next()).await {
        panic!(
            "expected nothing more from `{}`, got {delivery:?}",
            consumer.queue()
        );
    }
}

async fn ack(delivery: Delivery) {
    let id = delivery.message().id.clone();
    delivery
        .ack()
        .await
        .unwrap_or_else(|e| panic!("ack of `{id}` failed: {e}"));
}

/// Polls the queue's statistics until `check` accepts them, or panics at the deadline.
async fn wait_for_stats(
    ctx: &Context,
    queue: &str,
    what: &str,
    check: impl Fn(&QueueStats) -> bool,
) -> QueueStats {
    let poll = async {
        loop {
            let stats = ctx
                .bus()
                .queue_stats(queue)
                .await
                .unwrap_or_else(|e| panic!("stats of `{queue}` failed: {e}"));
            if check(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    match tokio::time::timeout(ctx.deadline, poll).await {
        Ok(stats) => stats,
        Err(_) => {
            let last = ctx.bus().queue_stats(queue).await;
            panic!(
                "`{queue}` never had {what} within {:?}; last {last:?}",
                ctx.deadline
            )
        }
    }
}

fn set(ids: impl IntoIterator<Item = impl Into<String>>) -> BTreeSet<String> {
    ids.into_iter().map(Into::into).collect()
}
