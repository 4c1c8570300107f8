//! The connection to the broker and its supervisor: one [`Session`] per successful
//! connection, replaced after a loss by reconnecting with backoff and re-declaring the
//! topology.
//!
//! Operations wait for a session through [`Shared::session`]: while the link is down they wait
//! for the supervisor to reconnect (or fail once the bus is dropped). A session owns the
//! publishing channels and a small pool of channels for declarations and `basic.get`; consumers
//! own their channels (see `consumer`). This module does not publish or consume.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties, Event};
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::AmqpConfig;
use super::broker_error::{broker, broker_reason};
use super::consumer::ConsumerState;
use super::publisher::{Failure, Publisher};
use super::topology::{self, Topology};
use crate::{BusError, Message, PublishOutcome};

/// Idle channels kept per session for declarations, passive declares and `basic.get`.
const IDLE_CHANNELS: usize = 2;
/// How often the supervisor looks at the connection's state besides its error events.
const STATUS_CHECK: Duration = Duration::from_millis(250);

/// State shared by the bus handle, its supervisor and its consumers.
pub(super) struct Shared {
    pub(super) config: AmqpConfig,
    uri: AMQPUri,
    pub(super) runtime: tokio::runtime::Handle,
    link: watch::Sender<Link>,
    pub(super) topology: Mutex<Topology>,
    /// Consumers of this process, for their unacked counts.
    consumers: Mutex<Vec<Weak<ConsumerState>>>,
    /// One lock per queue whose dead letters are being listed or replayed: both hold every
    /// dead letter unacked while they run.
    dead_letter_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Cancelled when the last bus handle is dropped.
    pub(super) cancel: CancellationToken,
    /// Asks the supervisor to look at the connection now: an operation found it closed.
    check_now: Notify,
}

/// Whether operations can use the broker now.
#[derive(Clone)]
enum Link {
    Up(Arc<Session>),
    /// Reconnecting.
    Down,
    /// The bus was dropped.
    Closed,
}

impl Shared {
    /// Connects once (failing when the broker is unreachable) and starts the supervisor.
    pub(super) async fn connect(config: AmqpConfig) -> Result<Arc<Self>, BusError> {
        let uri = config.uri()?;
        let (link, _) = watch::channel(Link::Down);
        let shared = Arc::new(Self {
            config,
            uri,
            runtime: tokio::runtime::Handle::current(),
            link,
            topology: Mutex::new(Topology::default()),
            consumers: Mutex::new(Vec::new()),
            dead_letter_locks: Mutex::new(HashMap::new()),
            cancel: CancellationToken::new(),
            check_now: Notify::new(),
        });
        let (session, events) = Session::open(&shared, 1).await.map_err(|error| {
            broker(
                format!("connect to {}", shared.config.redacted_url()),
                error,
            )
        })?;
        shared.link.send_replace(Link::Up(Arc::clone(&session)));
        shared
            .runtime
            .spawn(supervise(Arc::clone(&shared), session, events));
        Ok(shared)
    }

    /// The current session, waiting while the supervisor reconnects (also when the current
    /// connection has closed and the supervisor has not noticed yet).
    ///
    /// # Errors
    ///
    /// [`BusError::Broker`] once the bus has been dropped.
    pub(super) async fn session(&self) -> Result<Arc<Session>, BusError> {
        let mut link = self.link.subscribe();
        loop {
            let current = link.borrow_and_update().clone();
            match current {
                Link::Up(session) if session.connection.status().connected() => {
                    return Ok(session);
                }
                Link::Up(_) => self.check_now.notify_one(),
                Link::Closed => return Err(closed()),
                Link::Down => {}
            }
            if link.changed().await.is_err() {
                return Err(closed());
            }
        }
    }

    pub(super) fn register_consumer(&self, consumer: &Arc<ConsumerState>) {
        let mut consumers = self.consumers.lock();
        consumers.retain(|consumer| consumer.strong_count() > 0);
        consumers.push(Arc::downgrade(consumer));
    }

    /// Deliveries of `queue` that this process's consumers hold unacked.
    pub(super) fn unacked(&self, queue: &str) -> u64 {
        self.consumers
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|consumer| consumer.queue() == queue)
            .map(|consumer| consumer.unacked())
            .sum()
    }

    pub(super) fn dead_letter_lock(&self, queue: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.dead_letter_locks.lock();
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(locks.entry(queue.to_owned()).or_default())
    }

    /// Waits `delay`; false when the bus was dropped meanwhile.
    pub(super) async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            () = self.cancel.cancelled() => false,
            () = tokio::time::sleep(delay) => true,
        }
    }
}

fn closed() -> BusError {
    broker_reason("use the AMQP bus", "the bus was dropped")
}

/// One connection and the channels that live as long as it.
pub(super) struct Session {
    pub(super) generation: u64,
    pub(super) connection: Connection,
    publisher: Publisher,
    idle: Mutex<Vec<Channel>>,
    dead_letter_exchange_declared: AtomicBool,
}

impl Session {
    /// Connects and re-declares the topology recorded so far.
    async fn open(
        shared: &Shared,
        generation: u64,
    ) -> Result<(Arc<Self>, BoxStream<'static, Event>), lapin::Error> {
        let properties = ConnectionProperties::default()
            .with_connection_name(shared.config.connection_name.as_str().into())
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        let connection = Connection::connect_uri(shared.uri.clone(), properties).await?;
        let events = connection.events_listener().boxed();
        let session = Arc::new(Self {
            generation,
            publisher: Publisher::new(),
            connection,
            idle: Mutex::new(Vec::new()),
            dead_letter_exchange_declared: AtomicBool::new(false),
        });
        session.redeclare(shared).await?;
        Ok((session, events))
    }

    /// Publishes with a confirm (see `publisher`).
    pub(super) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        message: &Message,
        original_routing_key: Option<&str>,
    ) -> Result<PublishOutcome, Failure> {
        self.publisher
            .publish(
                &self.connection,
                exchange,
                routing_key,
                message,
                original_routing_key,
            )
            .await
    }

    /// A channel for a short operation; returned to the pool when dropped, unless discarded.
    pub(super) async fn channel(&self) -> Result<PooledChannel<'_>, lapin::Error> {
        let idle = self.idle.lock().pop();
        let channel = match idle {
            Some(channel) if channel.status().connected() => channel,
            _ => self.connection.create_channel().await?,
        };
        Ok(PooledChannel {
            session: self,
            channel,
            reusable: true,
        })
    }

    /// Declares the dead-letter exchange once per connection (every time when exchanges are
    /// auto-delete: it may have gone with its last binding).
    pub(super) async fn ensure_dead_letter_exchange(
        &self,
        channel: &Channel,
        config: &AmqpConfig,
    ) -> Result<(), lapin::Error> {
        if config.expire_unused.is_some()
            || !self.dead_letter_exchange_declared.load(Ordering::Acquire)
        {
            topology::declare_dead_letter_exchange(channel, config).await?;
            self.dead_letter_exchange_declared
                .store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Re-declares every exchange and queue recorded in the topology. A declaration the broker
    /// refuses (someone changed a queue meanwhile) is logged and skipped; losing the connection
    /// fails the whole re-declaration.
    async fn redeclare(&self, shared: &Shared) -> Result<(), lapin::Error> {
        let (exchanges, queues) = shared.topology.lock().snapshot();
        if exchanges.is_empty() && queues.is_empty() {
            return Ok(());
        }
        let config = &shared.config;
        for exchange in &exchanges {
            let mut channel = self.channel().await?;
            if let Err(error) = topology::declare_exchange(&channel, config, exchange).await {
                channel.discard();
                self.skip_or_fail(error, "exchange", exchange)?;
            }
        }
        if !queues.is_empty() {
            let channel = self.channel().await?;
            self.ensure_dead_letter_exchange(&channel, config).await?;
        }
        for queue in &queues {
            let mut channel = self.channel().await?;
            let declared = topology::declare_queue(
                &channel,
                config,
                &queue.name,
                queue.max_deliveries,
                &queue.bindings,
            )
            .await;
            if let Err(error) = declared {
                channel.discard();
                if !self.connection.status().connected() {
                    return Err(lapin::ErrorKind::InvalidConnectionState(
                        self.connection.status().state(),
                    )
                    .into());
                }
                tracing::error!(
                    queue = %queue.name,
                    error = %error,
                    "Re-declaring a queue after reconnecting failed; skipped."
                );
            }
        }
        Ok(())
    }

    fn skip_or_fail(
        &self,
        error: lapin::Error,
        kind: &str,
        name: &str,
    ) -> Result<(), lapin::Error> {
        if self.connection.status().connected() {
            tracing::error!(%kind, %name, %error, "Re-declaring after reconnecting failed; skipped.");
            Ok(())
        } else {
            Err(error)
        }
    }
}

/// A channel borrowed from a session's pool.
pub(super) struct PooledChannel<'a> {
    session: &'a Session,
    channel: Channel,
    reusable: bool,
}

impl PooledChannel<'_> {
    /// Marks the channel as not to be reused (the broker closed it, or it holds state).
    pub(super) fn discard(&mut self) {
        self.reusable = false;
    }
}

impl Deref for PooledChannel<'_> {
    type Target = Channel;

    fn deref(&self) -> &Channel {
        &self.channel
    }
}

impl Drop for PooledChannel<'_> {
    fn drop(&mut self) {
        if self.reusable && self.channel.status().connected() {
            let mut idle = self.session.idle.lock();
            if idle.len() < IDLE_CHANNELS {
                idle.push(self.channel.clone());
            }
        }
        // Otherwise dropping the last handle closes the channel (lapin closes it on drop).
    }
}

/// Watches the connection; on loss, reconnects with backoff, re-declares the topology and
/// hands the new session to waiting operations and consumers. Ends when the bus is dropped.
async fn supervise(
    shared: Arc<Shared>,
    mut session: Arc<Session>,
    mut events: BoxStream<'static, Event>,
) {
    loop {
        let reason = tokio::select! {
            () = shared.cancel.cancelled() => {
                shared.link.send_replace(Link::Closed);
                if session.connection.status().connected() {
                    let _ = session.connection.close(200, "bus dropped").await;
                }
                return;
            }
            reason = lost(&shared, &session, &mut events) => reason,
        };
        shared.link.send_replace(Link::Down);
        let generation = session.generation + 1;
        drop(session);
        let down_since = Instant::now();
        tracing::warn!(
            url = %shared.config.redacted_url(),
            error = %reason,
            "AMQP connection lost; reconnecting."
        );

        let mut delay = shared.config.reconnect_initial_delay;
        let mut attempts: u32 = 0;
        let (next, next_events) = loop {
            attempts += 1;
            match Session::open(&shared, generation).await {
                Ok(opened) => break opened,
                Err(error) => {
                    tracing::debug!(%error, attempts, retry_in = ?delay, "AMQP reconnect attempt failed.");
                    if !shared.pause(delay).await {
                        shared.link.send_replace(Link::Closed);
                        return;
                    }
                    delay = (delay * 2).min(shared.config.reconnect_max_delay);
                }
            }
        };
        tracing::info!(
            url = %shared.config.redacted_url(),
            attempts,
            down_ms = u64::try_from(down_since.elapsed().as_millis()).unwrap_or(u64::MAX),
            "AMQP connection re-established; topology re-declared."
        );
        session = next;
        events = next_events;
        shared.link.send_replace(Link::Up(Arc::clone(&session)));
    }
}

/// Resolves with a reason when the session's connection is gone. Channel errors (a `404` on
/// one channel) are reported as events too; only a closed connection counts.
async fn lost(
    shared: &Shared,
    session: &Session,
    events: &mut BoxStream<'static, Event>,
) -> String {
    let mut check = tokio::time::interval(STATUS_CHECK);
    let mut last_error = None;
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Error(error)) => last_error = Some(error.to_string()),
                Some(_) => {}
                None => return last_error.unwrap_or_else(|| "the connection ended".to_owned()),
            },
            _ = check.tick() => {}
            () = shared.check_now.notified() => {}
        }
        if !session.connection.status().connected() {
            return last_error.unwrap_or_else(|| "the connection closed".to_owned());
        }
        // An error event while the connection stays up was about one channel.
        last_error = None;
    }
}
