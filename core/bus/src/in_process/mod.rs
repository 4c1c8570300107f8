//! `InProcessBus`: the bus `nerve up` uses, all roles in one process, no broker.
//!
//! Semantics are RabbitMQ's (see [`crate::bus`]) except durability: messages live in memory,
//! so a process crash loses what is queued. That is why, in the embedded mode, durability comes
//! from the store: a role records its input in the store before publishing and re-publishes
//! what is unfinished at start-up, and consumers ack only after committing their work.
//!
//! - **Locking.** Each queue has its own mutex; exchanges cache routing results per routing key
//!   behind a read-mostly lock. Publishing takes no lock shared with other exchanges' or queues'
//!   traffic apart from read locks on the name tables.
//! - **Bounded memory.** Each queue holds at most [`InProcessConfig::queue_capacity`] ready
//!   messages; a publish to a full queue waits (backpressure). Unacked messages are bounded by
//!   the consumers' prefetch; messages returned by nack or a closed consumer may take a queue
//!   over capacity by at most that much. Dead letters are bounded by
//!   [`InProcessConfig::dead_letter_capacity`] per queue; past it the oldest is discarded,
//!   logged at ERROR and counted in [`QueueStats::dead_letters_discarded`].
//! - **Requeue position.** `nack(requeue)` and a closed consumer put messages back at the
//!   *head* of the queue, in their original order (as RabbitMQ does), so a single consumer sees
//!   messages in publish order even across redeliveries. Replayed dead letters go to the tail.
//! - **Fairness.** Ready messages go round robin to the consumers that have prefetch credit.

mod queue;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, ready};
use parking_lot::RwLock;

use self::queue::Queue;
use crate::topic::{Pattern, check_name};
use crate::{
    Acknowledger, Bus, BusError, Consumer, DeadLetter, Delivery, Message, PublishOutcome,
    QueueSpec, QueueStats, RawConsumer, Settlement,
};

/// Routing results cached per exchange before the cache is cleared and rebuilt.
const ROUTE_CACHE_LIMIT: usize = 4096;

/// Limits of an [`InProcessBus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InProcessConfig {
    /// Ready messages a queue holds before publishes to it wait. Default 65,536.
    pub queue_capacity: usize,
    /// Dead letters a queue keeps before discarding the oldest. Default 10,000.
    pub dead_letter_capacity: usize,
}

impl Default for InProcessConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            dead_letter_capacity: 10_000,
        }
    }
}

/// The in-process bus. Cheap to clone: clones share exchanges and queues.
#[derive(Clone, Default)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    config: InProcessConfig,
    exchanges: RwLock<HashMap<String, Arc<Exchange>>>,
    queues: RwLock<HashMap<String, Arc<Queue>>>,
}

impl std::fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessBus")
            .field("config", &self.inner.config)
            .field("exchanges", &self.inner.exchanges.read().len())
            .field("queues", &self.inner.queues.read().len())
            .finish()
    }
}

struct Exchange {
    routes: RwLock<Routes>,
}

#[derive(Default)]
struct Routes {
    bindings: Vec<(Pattern, Arc<Queue>)>,
    /// Routing key -> distinct queues it reaches, in binding order.
    cache: HashMap<String, Arc<[Arc<Queue>]>>,
}

impl Exchange {
    fn route(&self, routing_key: &str) -> Arc<[Arc<Queue>]> {
        if let Some(queues) = self.routes.read().cache.get(routing_key) {
            return Arc::clone(queues);
        }
        let mut routes = self.routes.write();
        let mut queues: Vec<Arc<Queue>> = Vec::new();
        for (pattern, queue) in &routes.bindings {
            if pattern.matches(routing_key) && !queues.iter().any(|q| Arc::ptr_eq(q, queue)) {
                queues.push(Arc::clone(queue));
            }
        }
        let queues: Arc<[Arc<Queue>]> = queues.into();
        if routes.cache.len() >= ROUTE_CACHE_LIMIT {
            routes.cache.clear();
        }
        routes
            .cache
            .insert(routing_key.to_owned(), Arc::clone(&queues));
        queues
    }

    fn bind(&self, patterns: Vec<Pattern>, queue: &Arc<Queue>) {
        let mut routes = self.routes.write();
        let mut changed = false;
        for pattern in patterns {
            let bound = routes
                .bindings
                .iter()
                .any(|(p, q)| *p == pattern && Arc::ptr_eq(q, queue));
            if !bound {
                routes.bindings.push((pattern, Arc::clone(queue)));
                changed = true;
            }
        }
        if changed {
            routes.cache.clear();
        }
    }
}

impl InProcessBus {
    /// A bus with the default [`InProcessConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus with the given limits (zero capacities are treated as 1).
    pub fn with_config(config: InProcessConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                ..Inner::default()
            }),
        }
    }

    /// This bus's limits.
    pub fn config(&self) -> InProcessConfig {
        self.inner.config
    }

    fn exchange(&self, name: &str) -> Result<Arc<Exchange>, BusError> {
        self.inner
            .exchanges
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| BusError::ExchangeNotFound {
                exchange: name.to_owned(),
            })
    }

    fn queue(&self, name: &str) -> Result<Arc<Queue>, BusError> {
        self.inner
            .queues
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| BusError::QueueNotFound {
                queue: name.to_owned(),
            })
    }

    fn declare_exchange_now(&self, name: &str) -> Result<(), BusError> {
        check_name("exchange", name)?;
        self.inner
            .exchanges
            .write()
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(Exchange {
                    routes: RwLock::new(Routes::default()),
                })
            });
        Ok(())
    }

    fn declare_queue_now(&self, spec: QueueSpec) -> Result<(), BusError> {
        spec.validate()?;
        let patterns = spec
            .bindings
            .iter()
            .map(|pattern| Pattern::parse(pattern))
            .collect::<Result<Vec<_>, _>>()?;
        let exchange = self.exchange(&spec.exchange)?;
        let queue = {
            let mut queues = self.inner.queues.write();
            match queues.get(&spec.name) {
                Some(queue) if queue.max_deliveries != spec.max_deliveries => {
                    return Err(BusError::QueueMismatch {
                        queue: spec.name,
                        field: "max_deliveries",
                        existing: queue.max_deliveries.to_string(),
                        requested: spec.max_deliveries.to_string(),
                    });
                }
                Some(queue) => Arc::clone(queue),
                None => {
                    let queue = Arc::new(Queue::new(
                        &spec.name,
                        spec.max_deliveries,
                        self.inner.config.queue_capacity,
                        self.inner.config.dead_letter_capacity,
                    ));
                    queues.insert(spec.name.clone(), Arc::clone(&queue));
                    queue
                }
            }
        };
        exchange.bind(patterns, &queue);
        Ok(())
    }

    async fn publish_now(
        &self,
        exchange: &str,
        message: Message,
    ) -> Result<PublishOutcome, BusError> {
        message.validate()?;
        let queues = self.exchange(exchange)?.route(&message.routing_key);
        if queues.is_empty() {
            tracing::debug!(
                exchange,
                routing_key = %message.routing_key,
                message_id = %message.id,
                "Message unroutable; dropped."
            );
            return Ok(PublishOutcome::Unroutable);
        }
        let message = Arc::new(message);
        for queue in queues.iter() {
            queue.push(Arc::clone(&message)).await;
        }
        Ok(PublishOutcome::Queued)
    }

    fn consume_now(&self, queue_name: &str, prefetch: u16) -> Result<Consumer, BusError> {
        let queue = self.queue(queue_name)?;
        if prefetch == 0 {
            return Err(BusError::InvalidPrefetch {
                queue: queue_name.to_owned(),
            });
        }
        let id = queue.add_consumer(prefetch);
        let acker: Arc<dyn Acknowledger> = Arc::new(InProcessAcker {
            queue: Arc::clone(&queue),
            consumer: id,
        });
        Ok(Consumer::new(InProcessConsumer { queue, id, acker }))
    }
}

impl Bus for InProcessBus {
    fn declare_exchange<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BusError>> {
        ready(self.declare_exchange_now(name)).boxed()
    }

    fn declare_queue(&self, spec: QueueSpec) -> BoxFuture<'_, Result<(), BusError>> {
        ready(self.declare_queue_now(spec)).boxed()
    }

    fn publish<'a>(
        &'a self,
        exchange: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<PublishOutcome, BusError>> {
        self.publish_now(exchange, message).boxed()
    }

    fn consume<'a>(
        &'a self,
        queue: &'a str,
        prefetch: u16,
    ) -> BoxFuture<'a, Result<Consumer, BusError>> {
        ready(self.consume_now(queue, prefetch)).boxed()
    }

    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BusError>> {
        ready(self.queue(queue).map(|queue| queue.dead_letters())).boxed()
    }

    fn replay_dead_letters<'a>(
        &'a self,
        queue: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BusError>> {
        ready(self.queue(queue).map(|queue| queue.replay(ids))).boxed()
    }

    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats, BusError>> {
        ready(self.queue(queue).map(|queue| queue.stats())).boxed()
    }
}

struct InProcessConsumer {
    queue: Arc<Queue>,
    id: u64,
    acker: Arc<dyn Acknowledger>,
}

impl RawConsumer for InProcessConsumer {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        self.queue.poll_handoff(self.id, cx).map(|handoff| {
            handoff.map(|(message, attempt, tag)| {
                Delivery::new(
                    message,
                    Arc::clone(&self.queue.name),
                    attempt > 1,
                    attempt,
                    tag,
                    Arc::clone(&self.acker),
                )
            })
        })
    }

    fn queue(&self) -> &str {
        &self.queue.name
    }
}

impl Drop for InProcessConsumer {
    fn drop(&mut self) {
        self.queue.remove_consumer(self.id);
    }
}

struct InProcessAcker {
    queue: Arc<Queue>,
    consumer: u64,
}

impl Acknowledger for InProcessAcker {
    fn settle(
        &self,
        tag: u64,
        message_id: &str,
        settlement: Settlement,
    ) -> BoxFuture<'static, Result<(), BusError>> {
        let result = self
            .queue
            .settle(self.consumer, tag, settlement)
            .map_err(|()| BusError::ConsumerClosed {
                queue: self.queue.name.to_string(),
                id: message_id.to_owned(),
            });
        ready(result).boxed()
    }

    fn abandon(&self, tag: u64) {
        // Err means the consumer is closed and already requeued the message.
        let _ = self.queue.settle(self.consumer, tag, Settlement::Requeue);
    }
}
