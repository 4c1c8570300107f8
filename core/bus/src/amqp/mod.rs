//! `AmqpBus`: the [`Bus`] over RabbitMQ (AMQP 0-9-1, through `lapin` on tokio), for running
//! Nerve's roles in several processes.
//!
//! It follows the mapping in [`crate::bus`]; the decisions that mapping leaves open:
//!
//! - **Quorum queues.** Every queue is a durable quorum queue (RabbitMQ 3.10 or later): it
//!   counts returns of a message, which gives [`Delivery::attempt`](crate::Delivery::attempt)
//!   (`x-delivery-count` + 1) and the delivery limit. `x-delivery-limit` is
//!   `max_deliveries - 1`: RabbitMQ dead-letters a message whose returns exceed the limit,
//!   that is one returned after its `max_deliveries`-th delivery. A delivery counts when the
//!   broker sends it, so deliveries a dropped consumer had prefetched but not yet handed out
//!   count too (the in-process bus counts only those handed out).
//! - **Dead letters.** Each bus has one direct dead-letter exchange
//!   ([`AmqpConfig::dead_letter_exchange`], default `nerve.dead_letters`); queue `<q>`
//!   dead-letters to it with routing key `<q>`, at least once (`x-dead-letter-strategy`), into
//!   `<q>.dead`, a durable classic queue. Listing takes them with `basic.get` and requeues them;
//!   the reason, time and original routing key come from `x-death`. RabbitMQ 3.x records no
//!   delivery count for dead letters: a `delivery_limit` dead letter reports the queue's
//!   `max_deliveries`, a rejected one reports 1.
//! - **Messages.** Persistent (`delivery-mode` 2), `message-id` = the id, headers in the
//!   `headers` table, `content-type` also as the property. Ids and header names are AMQP short
//!   strings (at most 255 bytes; longer ones are [`BusError::Unrepresentable`]).
//! - **Publishing.** Two channels in confirm mode per connection, each with any number of
//!   publishes in flight; `mandatory`, so an unroutable message is
//!   [`PublishOutcome::Unroutable`](crate::PublishOutcome::Unroutable). Returns are matched to
//!   publishes by a sequence-number header (see `publisher`).
//! - **Reconnecting.** A supervisor task watches the connection (heartbeats every
//!   [`AmqpConfig::heartbeat`]). When it is lost it logs one warning, and reconnects with
//!   exponential backoff ([`AmqpConfig::reconnect_initial_delay`] doubling up to
//!   [`AmqpConfig::reconnect_max_delay`]), re-declares every exchange, queue and binding this
//!   bus declared, and logs the recovery. Meanwhile publishes in flight fail with
//!   [`BusError::Broker`] (the message may or may not be queued; they never report success),
//!   and new operations wait for the new connection. Every live [`Consumer`] subscribes again on
//!   its own and its stream does not end; the deliveries it held are redelivered by the broker,
//!   and settling one of those old deliveries fails with [`BusError::ConsumerClosed`].
//!
//! What this module does not do: TLS (`amqps://`), clustering concerns (one URL), or reading a
//! queue's settings beyond its delivery limit.

mod broker_error;
mod consumer;
mod dead_letter;
mod properties;
mod publisher;
mod session;
mod topology;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use lapin::uri::AMQPUri;

use self::broker_error::{broker, broker_reason};
use self::publisher::Failure;
use self::session::{Session, Shared};
use crate::topic::check_name;
use crate::{Bus, BusError, Consumer, DeadLetter, Message, PublishOutcome, QueueSpec, QueueStats};

/// How to reach RabbitMQ and how to behave when the connection is lost.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:port/vhost` (vhost `/` is `%2f`). Query parameters lapin
    /// understands (`heartbeat`, `connection_timeout`, `frame_max`) are honoured.
    pub url: String,
    /// Name shown for the connection in RabbitMQ's management UI and `rabbitmqctl`.
    /// Default `nerve`.
    pub connection_name: String,
    /// Heartbeat interval negotiated with the broker (unless the URL sets one); a connection
    /// silent for about two intervals counts as lost. Default 10 s.
    pub heartbeat: Duration,
    /// Wait before the second reconnect attempt; doubled after each failed one.
    /// Default 100 ms.
    pub reconnect_initial_delay: Duration,
    /// Longest wait between reconnect attempts; also how long one connection attempt may take
    /// (at least 1 s) unless the URL sets `connection_timeout`. Default 10 s.
    pub reconnect_max_delay: Duration,
    /// The exchange queues dead-letter to (direct, durable). Default `nerve.dead_letters`.
    pub dead_letter_exchange: String,
    /// When set, queues (and their dead-letter queues) are deleted by the broker after being
    /// unused this long (`x-expires`: no consumer, no `basic.get`, no re-declaration), and
    /// exchanges are auto-delete. For tests and scratch brokers, so leftovers disappear; leave
    /// unset in production. Default none.
    pub expire_unused: Option<Duration>,
}

impl AmqpConfig {
    /// The default configuration for the broker at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// The URL without its password, for messages and logs.
    pub fn redacted_url(&self) -> String {
        match self.url.parse::<AMQPUri>() {
            Ok(uri) => {
                let scheme = self.url.split("://").next().unwrap_or("amqp");
                let authority = &uri.authority;
                format!(
                    "{scheme}://{}@{}:{}/{}",
                    authority.userinfo.username, authority.host, authority.port, uri.vhost
                )
            }
            Err(_) => "<invalid AMQP URL>".to_owned(),
        }
    }

    /// The parsed URL with this configuration's heartbeat unless the URL sets one.
    fn uri(&self) -> Result<AMQPUri, BusError> {
        let mut uri = self.url.parse::<AMQPUri>().map_err(|reason| {
            broker_reason(format!("parse AMQP URL {}", self.redacted_url()), &reason)
        })?;
        if uri.query.heartbeat.is_none() {
            let seconds = u16::try_from(self.heartbeat.as_secs().max(1)).unwrap_or(u16::MAX);
            uri.query.heartbeat = Some(seconds);
        }
        if uri.query.connection_timeout.is_none() {
            let millis = u64::try_from(self.reconnect_max_delay.as_millis()).unwrap_or(u64::MAX);
            uri.query.connection_timeout = Some(millis.max(1_000));
        }
        Ok(uri)
    }
}

impl Default for AmqpConfig {
    /// RabbitMQ's defaults: `amqp://guest:guest@127.0.0.1:5672/%2f`.
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            connection_name: "nerve".to_owned(),
            heartbeat: Duration::from_secs(10),
            reconnect_initial_delay: Duration::from_millis(100),
            reconnect_max_delay: Duration::from_secs(10),
            dead_letter_exchange: "nerve.dead_letters".to_owned(),
            expire_unused: None,
        }
    }
}

impl fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &self.redacted_url())
            .field("connection_name", &self.connection_name)
            .field("heartbeat", &self.heartbeat)
            .field("reconnect_initial_delay", &self.reconnect_initial_delay)
            .field("reconnect_max_delay", &self.reconnect_max_delay)
            .field("dead_letter_exchange", &self.dead_letter_exchange)
            .field("expire_unused", &self.expire_unused)
            .finish()
    }
}

/// The bus over RabbitMQ (3.10 or later). Cheap to clone: clones share one connection.
/// Dropping the last clone closes the connection and ends its consumers.
///
/// Queues are durable quorum queues whose dead letters wait in `<queue>.dead`; messages are
/// persistent and every publish waits for the broker's confirm. A lost connection is
/// re-established by the bus itself, with backoff, re-declaring what it declared; consumers
/// resume on their own, and publishes that were in flight fail with [`BusError::Broker`].
///
/// ```no_run
/// # async fn example() -> Result<(), nerve_bus::BusError> {
/// use nerve_bus::{AmqpBus, AmqpConfig, Bus, Message, QueueSpec};
///
/// let bus = AmqpBus::connect(AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f")).await?;
/// bus.declare_exchange("nerve.executions").await?;
/// bus.declare_queue(QueueSpec::new("nerve.worker.noop", "nerve.executions").bind("request.noop"))
///     .await?;
/// bus.publish("nerve.executions", Message::new("01J", "request.noop", "{}")).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AmqpBus {
    handle: Arc<Handle>,
}

/// Closes everything when the last [`AmqpBus`] clone is dropped.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

impl fmt::Debug for AmqpBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpBus")
            .field("config", &self.shared().config)
            .finish_non_exhaustive()
    }
}

impl AmqpBus {
    /// Connects to the broker. Must be called within a tokio runtime, which then runs the
    /// connection, its supervisor and the consumers.
    ///
    /// # Errors
    ///
    /// [`BusError::Broker`] when the URL is invalid or the broker cannot be reached now (later
    /// losses are handled by reconnecting).
    pub async fn connect(config: AmqpConfig) -> Result<Self, BusError> {
        let shared = Shared::connect(config).await?;
        Ok(Self {
            handle: Arc::new(Handle { shared }),
        })
    }

    /// This bus's configuration.
    pub fn config(&self) -> &AmqpConfig {
        &self.shared().config
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    async fn declare_exchange_now(&self, name: &str) -> Result<(), BusError> {
        check_name("exchange", name)?;
        let session = self.shared().session().await?;
        let operation = || format!("declare exchange `{name}`");
        let mut channel = session
            .channel()
            .await
            .map_err(|error| broker(operation(), error))?;
        if let Err(error) = topology::declare_exchange(&channel, &self.shared().config, name).await
        {
            channel.discard();
            return Err(broker(operation(), error));
        }
        self.shared().topology.lock().record_exchange(name);
        Ok(())
    }

    async fn declare_queue_now(&self, spec: QueueSpec) -> Result<(), BusError> {
        spec.validate()?;
        let session = self.shared().session().await?;
        self.ensure_exchange(&session, &spec.exchange).await?;
        let config = &self.shared().config;
        let operation = || format!("declare queue `{}`", spec.name);
        let mut channel = session
            .channel()
            .await
            .map_err(|error| broker(operation(), error))?;
        if let Err(error) = session.ensure_dead_letter_exchange(&channel, config).await {
            channel.discard();
            return Err(broker(operation(), error));
        }
        let bindings: Vec<(String, String)> = spec
            .bindings
            .iter()
            .map(|pattern| (spec.exchange.clone(), pattern.clone()))
            .collect();
        if let Err(error) =
            topology::declare_queue(&channel, config, &spec.name, spec.max_deliveries, &bindings)
                .await
        {
            channel.discard();
            return Err(error);
        }
        self.shared()
            .topology
            .lock()
            .record_queue(&spec.name, spec.max_deliveries, &bindings);
        Ok(())
    }

    /// Checks that `exchange` exists (once; the answer is remembered).
    async fn ensure_exchange(&self, session: &Session, exchange: &str) -> Result<(), BusError> {
        let not_found = || BusError::ExchangeNotFound {
            exchange: exchange.to_owned(),
        };
        if check_name("exchange", exchange).is_err() {
            return Err(not_found());
        }
        if self.shared().topology.lock().is_known_exchange(exchange) {
            return Ok(());
        }
        let mut channel = session
            .channel()
            .await
            .map_err(|error| broker(format!("look up exchange `{exchange}`"), error))?;
        match topology::exchange_exists(&channel, exchange).await {
            Ok(true) => {
                self.shared().topology.lock().learn_exchange(exchange);
                Ok(())
            }
            Ok(false) => {
                channel.discard();
                Err(not_found())
            }
            Err(error) => {
                channel.discard();
                Err(broker(format!("look up exchange `{exchange}`"), error))
            }
        }
    }

    /// Publishes, waiting for a connection. A message that never reached the broker (its
    /// channel or connection closed first) is published again: on the next connection, or on
    /// a new channel a couple of times.
    async fn publish_now(
        &self,
        exchange: &str,
        message: Message,
    ) -> Result<PublishOutcome, BusError> {
        const CHANNEL_RETRIES: u32 = 2;
        message.validate()?;
        properties::check(&message)?;
        let mut channel_retries = 0;
        loop {
            let session = self.shared().session().await?;
            self.ensure_exchange(&session, exchange).await?;
            let published = session
                .publish(exchange, &message.routing_key, &message, None)
                .await;
            return match published {
                Ok(outcome) => Ok(outcome),
                Err(Failure::NotSent(_)) if !session.connection.status().connected() => continue,
                Err(Failure::NotSent(_)) if channel_retries < CHANNEL_RETRIES => {
                    channel_retries += 1;
                    continue;
                }
                Err(Failure::Failed(BusError::ExchangeNotFound { exchange })) => {
                    self.shared().topology.lock().forget_exchange(&exchange);
                    Err(BusError::ExchangeNotFound { exchange })
                }
                Err(failure) => Err(failure.into()),
            };
        }
    }
}

impl Bus for AmqpBus {
    fn declare_exchange<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BusError>> {
        self.declare_exchange_now(name).boxed()
    }

    fn declare_queue(&self, spec: QueueSpec) -> BoxFuture<'_, Result<(), BusError>> {
        self.declare_queue_now(spec).boxed()
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
        consumer::consume(self.shared(), queue, prefetch).boxed()
    }

    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BusError>> {
        dead_letter::list(self.shared(), queue).boxed()
    }

    fn replay_dead_letters<'a>(
        &'a self,
        queue: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BusError>> {
        dead_letter::replay(self.shared(), queue, ids).boxed()
    }

    fn queue_stats<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<QueueStats, BusError>> {
        dead_letter::stats(self.shared(), queue).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_password() {
        let config = AmqpConfig::new("amqp://nerve:s3cret@rabbit.example:5672/%2f");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("nerve@rabbit.example:5672"), "{shown}");
    }

    #[test]
    fn the_heartbeat_goes_into_the_url_unless_it_sets_one() {
        let config = AmqpConfig {
            heartbeat: Duration::from_secs(7),
            ..AmqpConfig::default()
        };
        assert_eq!(config.uri().expect("valid URL").query.heartbeat, Some(7));
        let explicit = AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=3");
        assert_eq!(explicit.uri().expect("valid URL").query.heartbeat, Some(3));
        assert!(AmqpConfig::new("http://nope").uri().is_err());
    }
}
