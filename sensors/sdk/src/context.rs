//! [`SensorContext`]: the sensor's handle on the host (dispatch, key-value, log), and the
//! connection state it shares with the runtime's reader and writer tasks ([`Link`]).
//!
//! Requests carry an `id` and wait for the host's `reply` (or `rejected`) with that id, up to
//! [`crate::RunOptions::request_timeout`]. This module does no IO itself: messages go to the
//! writer task through a bounded queue (so a sensor that dispatches faster than the host
//! records waits instead of growing memory).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nerve_sensor_protocol::{Hello, KvEntry, KvRequest, LogLevel, SensorMessage};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Why a request to the host failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The host did not answer in time.
    #[error("no reply to request `{id}` within {after:?}")]
    Timeout {
        /// The request's id.
        id: String,
        /// How long the SDK waited.
        after: Duration,
    },
    /// The host answered `ok: false`.
    #[error("the host refused request `{id}`: {reason}")]
    Refused {
        /// The request's id.
        id: String,
        /// The host's `error`.
        reason: String,
    },
    /// The host refused the dispatch (`rejected`); the event was not recorded.
    #[error("the host rejected the dispatch to `{trigger}`: {reason}")]
    Rejected {
        /// The trigger ref dispatched to.
        trigger: String,
        /// Why.
        reason: String,
    },
    /// The connection to the host is closed (it went away, or the sensor is exiting).
    #[error("the connection to the host is closed")]
    Disconnected,
    /// The reply's value does not have the shape this request expects.
    #[error("unexpected reply to request `{id}`: {reason}")]
    BadReply {
        /// The request's id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Options of [`SensorContext::kv_set`]. The default writes a plain value in the sensor's own
/// scope, without expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvOptions {
    /// Time to live (whole seconds on the wire, rounded up).
    pub ttl: Option<Duration>,
    /// In the sensor's own scope (`pack.Class:key`, StackStorm's `local=True`).
    pub local: bool,
    /// Store as a secret (encrypted at rest).
    pub encrypt: bool,
}

impl Default for KvOptions {
    fn default() -> Self {
        Self {
            ttl: None,
            local: true,
            encrypt: false,
        }
    }
}

/// Options of [`SensorContext::kv_get_with`]. The default reads the sensor's own scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvGetOptions {
    /// In the sensor's own scope.
    pub local: bool,
    /// Return a secret's plain text.
    pub decrypt: bool,
}

impl Default for KvGetOptions {
    fn default() -> Self {
        Self {
            local: true,
            decrypt: false,
        }
    }
}

/// Options of [`SensorContext::kv_list_with`]. The default lists the sensor's own keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvListOptions {
    /// Only keys starting with this (after the sensor's scope when `local`).
    pub prefix: Option<String>,
    /// Only the sensor's own keys.
    pub local: bool,
    /// At most this many.
    pub limit: Option<usize>,
    /// Skip this many.
    pub offset: Option<usize>,
}

impl Default for KvListOptions {
    fn default() -> Self {
        Self {
            prefix: None,
            local: true,
            limit: None,
            offset: None,
        }
    }
}

/// A cloneable handle on the host, given to every hook. Clones share the connection and can
/// move into tasks the sensor spawns.
#[derive(Clone)]
pub struct SensorContext {
    inner: Arc<Inner>,
}

struct Inner {
    hello: Hello,
    link: Arc<Link>,
    request_timeout: Duration,
}

impl fmt::Debug for SensorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SensorContext")
            .field("sensor", &self.inner.hello.sensor)
            .field("stopping", &self.is_stopping())
            .finish_non_exhaustive()
    }
}

impl SensorContext {
    pub(crate) fn new(hello: Hello, link: Arc<Link>, request_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                hello,
                link,
                request_timeout,
            }),
        }
    }

    /// The host's `hello`: sensor ref, pack, class name, pack config, poll interval, trigger
    /// types.
    pub fn hello(&self) -> &Hello {
        &self.inner.hello
    }

    /// The sensor ref (`pack.ClassName`).
    pub fn sensor_ref(&self) -> &str {
        &self.inner.hello.sensor
    }

    /// The sensor's pack.
    pub fn pack(&self) -> &str {
        &self.inner.hello.pack
    }

    /// The pack config.
    pub fn config(&self) -> &Map<String, Value> {
        &self.inner.hello.config
    }

    /// The `hello`'s poll interval, when it names a valid one.
    pub fn poll_interval(&self) -> Option<Duration> {
        self.inner
            .hello
            .poll_interval
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
    }

    /// Whether the host asked the sensor to stop (or went away).
    pub fn is_stopping(&self) -> bool {
        self.inner.link.stopping.is_cancelled()
    }

    /// A token cancelled when the host asks the sensor to stop (or goes away); for tasks the
    /// sensor spawns. Cancelling it yourself does not stop the sensor.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.link.stopping.child_token()
    }

    /// How many dispatches the host has rejected so far.
    pub fn rejected_count(&self) -> u64 {
        self.inner.link.rejected.load(Ordering::Relaxed)
    }

    /// Dispatches an event to `trigger` without waiting for the host. If the host refuses it,
    /// the sensor learns through [`crate::Sensor::rejected`] (and
    /// [`SensorContext::rejected_count`]).
    ///
    /// # Errors
    /// [`RequestError::Disconnected`]: the connection to the host is closed.
    pub async fn dispatch(&self, trigger: &str, payload: Value) -> Result<(), RequestError> {
        self.send(dispatch_message(trigger, payload, None, None))
            .await
    }

    /// [`SensorContext::dispatch`] with a trace tag.
    ///
    /// # Errors
    /// [`RequestError::Disconnected`]: the connection to the host is closed.
    pub async fn dispatch_with_trace_tag(
        &self,
        trigger: &str,
        payload: Value,
        trace_tag: &str,
    ) -> Result<(), RequestError> {
        let message = dispatch_message(trigger, payload, Some(trace_tag.to_owned()), None);
        self.send(message).await
    }

    /// Dispatches an event and waits until the host recorded it; `Ok` is the trigger
    /// instance id.
    ///
    /// # Errors
    /// [`RequestError::Rejected`] when the host refused the event; otherwise the request
    /// failed and whether the event was recorded is unknown.
    pub async fn dispatch_checked(
        &self,
        trigger: &str,
        payload: Value,
    ) -> Result<String, RequestError> {
        let value = self
            .request(|id| dispatch_message(trigger, payload, None, Some(id)))
            .await?;
        Ok(trigger_instance_id(value))
    }

    /// Dispatches several events to one trigger and waits until the host answered all of
    /// them (they are sent back to back, not one round trip each). One result per payload, in
    /// order, as [`SensorContext::dispatch_checked`] gives.
    pub async fn dispatch_checked_all(
        &self,
        trigger: &str,
        payloads: impl IntoIterator<Item = Value>,
    ) -> Vec<Result<String, RequestError>> {
        let link = &self.inner.link;
        let mut waits = Vec::new();
        for payload in payloads {
            let id = link.next_id();
            let Some(reply) = link.register(&id) else {
                waits.push(Err(RequestError::Disconnected));
                continue;
            };
            let guard = PendingGuard {
                link,
                id: id.clone(),
            };
            let message = dispatch_message(trigger, payload, None, Some(id.clone()));
            match self.send(message).await {
                Ok(()) => waits.push(Ok((id, reply, guard))),
                Err(error) => waits.push(Err(error)),
            }
        }
        let deadline = Instant::now() + self.inner.request_timeout;
        let mut results = Vec::with_capacity(waits.len());
        for wait in waits {
            results.push(match wait {
                Ok((id, reply, _guard)) => self
                    .await_reply(id, reply, deadline)
                    .await
                    .map(trigger_instance_id),
                Err(error) => Err(error),
            });
        }
        results
    }

    /// Reads a key of the sensor's own scope; `None` when it does not exist.
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_get(&self, key: &str) -> Result<Option<String>, RequestError> {
        self.kv_get_with(key, &KvGetOptions::default()).await
    }

    /// Reads a secret of the sensor's own scope as plain text.
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_get_decrypted(&self, key: &str) -> Result<Option<String>, RequestError> {
        let options = KvGetOptions {
            decrypt: true,
            ..KvGetOptions::default()
        };
        self.kv_get_with(key, &options).await
    }

    /// Reads a key with explicit options (scope, decryption).
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_get_with(
        &self,
        key: &str,
        options: &KvGetOptions,
    ) -> Result<Option<String>, RequestError> {
        let value = self
            .request(|id| {
                SensorMessage::Kv(KvRequest::KvGet {
                    id,
                    key: key.to_owned(),
                    local: options.local,
                    decrypt: options.decrypt,
                })
            })
            .await?;
        Ok(match value {
            Value::Null => None,
            Value::String(text) => Some(text),
            other => Some(other.to_string()),
        })
    }

    /// Writes a key.
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_set(
        &self,
        key: &str,
        value: impl Into<String>,
        options: &KvOptions,
    ) -> Result<(), RequestError> {
        let value = value.into();
        self.request(|id| {
            SensorMessage::Kv(KvRequest::KvSet {
                id,
                key: key.to_owned(),
                value,
                ttl: options.ttl.map(whole_seconds),
                local: options.local,
                encrypt: options.encrypt,
            })
        })
        .await?;
        Ok(())
    }

    /// Deletes a key of the sensor's own scope; `Ok(true)` when it existed.
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_delete(&self, key: &str) -> Result<bool, RequestError> {
        self.kv_delete_with(key, true).await
    }

    /// Deletes a key, in the sensor's own scope when `local`; `Ok(true)` when it existed.
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_delete_with(&self, key: &str, local: bool) -> Result<bool, RequestError> {
        let value = self
            .request(|id| {
                SensorMessage::Kv(KvRequest::KvDelete {
                    id,
                    key: key.to_owned(),
                    local,
                })
            })
            .await?;
        Ok(value.as_bool().unwrap_or(!value.is_null()))
    }

    /// Lists the sensor's own keys starting with `prefix`. Entry names are full names (with
    /// the sensor's scope prefix); secrets are masked.
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_list(&self, prefix: Option<&str>) -> Result<Vec<KvEntry>, RequestError> {
        let options = KvListOptions {
            prefix: prefix.map(str::to_owned),
            ..KvListOptions::default()
        };
        self.kv_list_with(&options).await
    }

    /// Lists keys with explicit options.
    ///
    /// # Errors
    /// The request failed (see [`RequestError`]).
    pub async fn kv_list_with(
        &self,
        options: &KvListOptions,
    ) -> Result<Vec<KvEntry>, RequestError> {
        let mut request_id = String::new();
        let value = self
            .request(|id| {
                request_id.clone_from(&id);
                SensorMessage::Kv(KvRequest::KvList {
                    id,
                    prefix: options.prefix.clone(),
                    local: options.local,
                    limit: options.limit,
                    offset: options.offset,
                })
            })
            .await?;
        if value.is_null() {
            return Ok(Vec::new());
        }
        serde_json::from_value(value).map_err(|error| RequestError::BadReply {
            id: request_id,
            reason: format!("not a list of key-value entries ({error})"),
        })
    }

    /// Sends a `log` message to the host (it keeps it in the sensor's log tail). Does
    /// nothing once the connection is closed.
    pub async fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = SensorMessage::Log {
            level,
            message: message.into(),
            logger: None,
        };
        if self.send(message).await.is_err() {
            tracing::debug!(sensor = %self.sensor_ref(), "Log message dropped; the host is gone.");
        }
    }

    async fn send(&self, message: SensorMessage) -> Result<(), RequestError> {
        self.inner.link.send(message).await
    }

    async fn request(
        &self,
        build: impl FnOnce(String) -> SensorMessage,
    ) -> Result<Value, RequestError> {
        let link = &self.inner.link;
        let id = link.next_id();
        let reply = link.register(&id).ok_or(RequestError::Disconnected)?;
        let _guard = PendingGuard {
            link,
            id: id.clone(),
        };
        self.send(build(id.clone())).await?;
        let deadline = Instant::now() + self.inner.request_timeout;
        self.await_reply(id, reply, deadline).await
    }

    async fn await_reply(
        &self,
        id: String,
        reply: oneshot::Receiver<Result<Value, RequestError>>,
        deadline: Instant,
    ) -> Result<Value, RequestError> {
        match tokio::time::timeout_at(deadline, reply).await {
            Ok(Ok(result)) => result,
            Ok(Err(_closed)) => Err(RequestError::Disconnected),
            Err(_elapsed) => Err(RequestError::Timeout {
                id,
                after: self.inner.request_timeout,
            }),
        }
    }
}

fn dispatch_message(
    trigger: &str,
    payload: Value,
    trace_tag: Option<String>,
    id: Option<String>,
) -> SensorMessage {
    SensorMessage::Dispatch {
        trigger: trigger.to_owned(),
        payload,
        trace_tag,
        id,
    }
}

/// The host answers an accepted dispatch with `{"trigger_instance": id}`; accept a bare
/// string too.
fn trigger_instance_id(value: Value) -> String {
    match value {
        Value::String(id) => id,
        Value::Object(map) => match map.get("trigger_instance").or_else(|| map.get("id")) {
            Some(Value::String(id)) => id.clone(),
            _ => Value::Object(map).to_string(),
        },
        other => other.to_string(),
    }
}

fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// What a request waits on.
type Waiter = oneshot::Sender<Result<Value, RequestError>>;

/// Why the connection ended (the first reason wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The host sent `shutdown`.
    Shutdown,
    /// stdin reached its end (or failed).
    HostClosed,
    /// Writing to stdout failed.
    WriteFailed,
}

/// One item for the writer task.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Message(SensorMessage),
    Flush(oneshot::Sender<()>),
}

/// The connection state shared by contexts, the reader task and the writer task.
#[derive(Debug)]
pub(crate) struct Link {
    outgoing: mpsc::Sender<Outgoing>,
    pending: Mutex<Pending>,
    next_id: AtomicU64,
    /// Cancelled on `shutdown` and when the connection ends.
    pub(crate) stopping: CancellationToken,
    /// Cancelled when the connection ends.
    pub(crate) closed: CancellationToken,
    stop_reason: Mutex<Option<StopReason>>,
    pub(crate) rejected: AtomicU64,
    /// Rejection notices delivered but not yet read (to bound the notice queue).
    pub(crate) queued_rejections: AtomicUsize,
}

#[derive(Debug, Default)]
struct Pending {
    closed: bool,
    waiters: HashMap<String, Waiter>,
}

impl Link {
    pub(crate) fn new(outgoing: mpsc::Sender<Outgoing>) -> Self {
        Self {
            outgoing,
            pending: Mutex::default(),
            next_id: AtomicU64::new(1),
            stopping: CancellationToken::new(),
            closed: CancellationToken::new(),
            stop_reason: Mutex::new(None),
            rejected: AtomicU64::new(0),
            queued_rejections: AtomicUsize::new(0),
        }
    }

    pub(crate) async fn send(&self, message: SensorMessage) -> Result<(), RequestError> {
        self.outgoing
            .send(Outgoing::Message(message))
            .await
            .map_err(|_closed| RequestError::Disconnected)
    }

    /// Queues a message if there is room; drops it otherwise.
    pub(crate) fn try_send(&self, message: SensorMessage) {
        let _ = self.outgoing.try_send(Outgoing::Message(message));
    }

    /// Waits until everything queued before was written and flushed (or the writer is gone).
    pub(crate) async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.outgoing.send(Outgoing::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    fn next_id(&self) -> String {
        self.next_id.fetch_add(1, Ordering::Relaxed).to_string()
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a request; `None` when the connection is already closed.
    fn register(&self, id: &str) -> Option<oneshot::Receiver<Result<Value, RequestError>>> {
        let mut pending = self.pending();
        if pending.closed {
            return None;
        }
        let (waiter, reply) = oneshot::channel();
        pending.waiters.insert(id.to_owned(), waiter);
        Some(reply)
    }

    /// Answers a request; `false` when nothing waits for that id.
    pub(crate) fn resolve(&self, id: &str, result: Result<Value, RequestError>) -> bool {
        let waiter = self.pending().waiters.remove(id);
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(result);
                true
            }
            None => false,
        }
    }

    fn forget(&self, id: &str) {
        self.pending().waiters.remove(id);
    }

    /// The host asked the sensor to stop; requests still work.
    pub(crate) fn shutdown_requested(&self) {
        self.set_reason(StopReason::Shutdown);
        self.stopping.cancel();
    }

    /// The connection ended: every waiting and future request fails with `Disconnected`.
    pub(crate) fn close(&self, reason: StopReason) {
        self.set_reason(reason);
        let waiters = {
            let mut pending = self.pending();
            pending.closed = true;
            std::mem::take(&mut pending.waiters)
        };
        drop(waiters);
        self.stopping.cancel();
        self.closed.cancel();
    }

    pub(crate) fn stop_reason(&self) -> Option<StopReason> {
        *self
            .stop_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_reason(&self, reason: StopReason) {
        self.stop_reason
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert(reason);
    }
}

/// Forgets a request's waiter when the request ends (answered, timed out or cancelled).
struct PendingGuard<'a> {
    link: &'a Link,
    id: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.link.forget(&self.id);
    }
}
