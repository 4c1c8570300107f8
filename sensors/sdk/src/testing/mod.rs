//! Test helpers: [`FakeHost`] runs a sensor in-process over in-memory pipes and plays the
//! host's part of the protocol.
//!
//! The fake host sends `hello`, answers key-value requests from a [`KvStore`] (shareable
//! between runs, so a test can restart a sensor with its state), answers dispatches that carry
//! an id (accepting them, or rejecting them by a rule you give), counts heartbeats, and hands
//! every other message to the test. Every wait has a deadline and panics with a clear message
//! when it passes; it never sleeps.
//!
//! It models the real host's key scoping (`local` keys are stored as `<sensor ref>:<key>`) but
//! not TTLs or encryption at rest.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nerve_sensor_protocol::{
    Hello, HostMessage, KvEntry, KvRequest, PROTOCOL_VERSION, Reply, SensorMessage, TriggerDict,
    decode_sensor, encode,
};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{
    Exit, PassiveSensor, PollingSensor, RunOptions, run_passive_with_io, run_polling_with_io,
};

/// An in-memory key-value store with the host's semantics; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct KvStore {
    entries: Arc<Mutex<BTreeMap<String, StoredValue>>>,
}

#[derive(Debug, Clone)]
struct StoredValue {
    value: String,
    secret: bool,
}

impl KvStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StoredValue>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value of a full key name (e.g. `pack.Sensor:cursor`).
    pub fn get(&self, key: &str) -> Option<String> {
        self.lock().get(key).map(|stored| stored.value.clone())
    }

    /// Sets a full key name.
    pub fn insert(&self, key: impl Into<String>, value: impl Into<String>) {
        let stored = StoredValue {
            value: value.into(),
            secret: false,
        };
        self.lock().insert(key.into(), stored);
    }

    /// Removes a full key name; whether it existed.
    pub fn remove(&self, key: &str) -> bool {
        self.lock().remove(key).is_some()
    }

    /// All full key names, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Runs one request as the host would, for the sensor `sensor_ref`.
    fn answer(&self, sensor_ref: &str, request: KvRequest) -> Reply {
        let scoped = |local: bool, key: &str| {
            if local {
                format!("{sensor_ref}:{key}")
            } else {
                key.to_owned()
            }
        };
        match request {
            KvRequest::KvGet {
                id,
                key,
                local,
                decrypt,
            } => {
                let value = match self.lock().get(&scoped(local, &key)) {
                    Some(stored) if stored.secret && !decrypt => json!("********"),
                    Some(stored) => json!(stored.value),
                    None => Value::Null,
                };
                Reply::ok(id, value)
            }
            KvRequest::KvSet {
                id,
                key,
                value,
                local,
                encrypt,
                ..
            } => {
                let stored = StoredValue {
                    value,
                    secret: encrypt,
                };
                self.lock().insert(scoped(local, &key), stored);
                Reply::ok(id, json!(true))
            }
            KvRequest::KvDelete { id, key, local } => {
                let existed = self.lock().remove(&scoped(local, &key)).is_some();
                Reply::ok(id, json!(existed))
            }
            KvRequest::KvList {
                id,
                prefix,
                local,
                limit,
                offset,
            } => {
                let prefix = scoped(local, prefix.as_deref().unwrap_or(""));
                let entries: Vec<KvEntry> = self
                    .lock()
                    .iter()
                    .filter(|(name, _)| name.starts_with(&prefix))
                    .skip(offset.unwrap_or(0))
                    .take(limit.unwrap_or(usize::MAX))
                    .map(|(name, stored)| KvEntry {
                        name: name.clone(),
                        value: if stored.secret {
                            "********".to_owned()
                        } else {
                            stored.value.clone()
                        },
                        secret: stored.secret,
                        expire_timestamp: None,
                    })
                    .collect();
                Reply::ok(id, serde_json::to_value(entries).unwrap_or(Value::Null))
            }
        }
    }
}

/// Decides whether the fake host rejects a dispatch: `Some(reason)` rejects it.
pub type RejectRule = Arc<dyn Fn(&str, &Value) -> Option<String> + Send + Sync>;

/// A dispatch the sensor sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// The trigger ref.
    pub trigger: String,
    /// The payload.
    pub payload: Value,
    /// The trace tag.
    pub trace_tag: Option<String>,
    /// The request id, for a checked dispatch.
    pub id: Option<String>,
}

/// Builds a [`FakeHost`]: the `hello` to send, the key-value store, the rejection rule.
#[must_use]
pub struct FakeHostBuilder {
    hello: Hello,
    kv: KvStore,
    deadline: Duration,
    reject: Option<RejectRule>,
    options: RunOptions,
}

impl FakeHostBuilder {
    /// The sensor ref (and pack, and class name) in `hello`; default `tests.TestSensor`.
    pub fn sensor(mut self, sensor_ref: &str) -> Self {
        let (pack, class_name) = sensor_ref.split_once('.').unwrap_or(("tests", sensor_ref));
        self.hello.sensor = sensor_ref.to_owned();
        self.hello.pack = pack.to_owned();
        self.hello.class_name = class_name.to_owned();
        self
    }

    /// The protocol version the fake host announces.
    pub fn protocol(mut self, version: u32) -> Self {
        self.hello.protocol = version;
        self
    }

    /// The `hello`'s poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.hello.poll_interval = Some(interval.as_secs_f64());
        self
    }

    /// The pack config in `hello`.
    pub fn config(mut self, config: Map<String, Value>) -> Self {
        self.hello.config = config;
        self
    }

    /// The key-value store to answer from (share one between runs to keep state).
    pub fn kv(mut self, kv: KvStore) -> Self {
        self.kv = kv;
        self
    }

    /// How long each wait of the fake host may take before the test fails; default 10 s.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Rejects the dispatches for which `rule(trigger, payload)` gives a reason.
    pub fn reject_dispatches(
        mut self,
        rule: impl Fn(&str, &Value) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.reject = Some(Arc::new(rule));
        self
    }

    /// The sensor's runtime options.
    pub fn run_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts a polling sensor and waits for its `ready`.
    ///
    /// # Panics
    /// The sensor did not answer `ready` before the deadline.
    pub async fn start_polling<S: PollingSensor>(self, sensor: S) -> FakeHost {
        let mut host = self.spawn_polling(sensor);
        host.expect_ready().await;
        host
    }

    /// Starts a passive sensor and waits for its `ready`.
    ///
    /// # Panics
    /// The sensor did not answer `ready` before the deadline.
    pub async fn start_passive<S: PassiveSensor>(self, sensor: S) -> FakeHost {
        let mut host = self.spawn_passive(sensor);
        host.expect_ready().await;
        host
    }

    /// Starts a polling sensor and sends `hello`, without waiting for anything.
    pub fn spawn_polling<S: PollingSensor>(self, sensor: S) -> FakeHost {
        let options = self.options.clone();
        self.spawn(move |reader, writer| {
            tokio::spawn(run_polling_with_io(sensor, reader, writer, options))
        })
    }

    /// Starts a passive sensor and sends `hello`, without waiting for anything.
    pub fn spawn_passive<S: PassiveSensor>(self, sensor: S) -> FakeHost {
        let options = self.options.clone();
        self.spawn(move |reader, writer| {
            tokio::spawn(run_passive_with_io(sensor, reader, writer, options))
        })
    }

    fn spawn(self, run: impl FnOnce(DuplexStream, DuplexStream) -> JoinHandle<Exit>) -> FakeHost {
        let (host_writer, sensor_reader) = tokio::io::duplex(64 * 1024);
        let (sensor_writer, host_reader) = tokio::io::duplex(64 * 1024);
        let sensor = run(sensor_reader, sensor_writer);

        let (to_sensor, outbox) = mpsc::unbounded_channel();
        tokio::spawn(write_to_sensor(host_writer, outbox));
        let shared = Arc::new(Shared {
            sensor_ref: self.hello.sensor.clone(),
            kv: self.kv,
            reject: self.reject,
            heartbeats: AtomicU64::new(0),
            next_instance: AtomicU64::new(1),
        });
        let (inbox_tx, inbox) = mpsc::unbounded_channel();
        tokio::spawn(read_from_sensor(
            host_reader,
            shared.clone(),
            to_sensor.clone(),
            inbox_tx,
        ));
        let _ = to_sensor.send(Some(HostMessage::Hello(self.hello)));
        FakeHost {
            to_sensor,
            inbox,
            shared,
            sensor: Some(sensor),
            exit: None,
            deadline: self.deadline,
        }
    }
}

/// A line for the sensor, or `None` to close its input.
type ToSensor = Option<HostMessage>;

struct Shared {
    sensor_ref: String,
    kv: KvStore,
    reject: Option<RejectRule>,
    heartbeats: AtomicU64,
    next_instance: AtomicU64,
}

/// The host's side of a sensor running in-process. See the [module docs](self).
pub struct FakeHost {
    to_sensor: mpsc::UnboundedSender<ToSensor>,
    inbox: mpsc::UnboundedReceiver<SensorMessage>,
    shared: Arc<Shared>,
    sensor: Option<JoinHandle<Exit>>,
    exit: Option<Exit>,
    deadline: Duration,
}

impl std::fmt::Debug for FakeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHost")
            .field("sensor", &self.shared.sensor_ref)
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl FakeHost {
    /// A builder with a `hello` for `tests.TestSensor`, protocol version 1, an empty store.
    pub fn builder() -> FakeHostBuilder {
        FakeHostBuilder {
            hello: Hello {
                protocol: PROTOCOL_VERSION,
                sensor: "tests.TestSensor".to_owned(),
                pack: "tests".to_owned(),
                class_name: "TestSensor".to_owned(),
                config: Map::new(),
                poll_interval: None,
                trigger_types: Vec::new(),
                ready_timeout: None,
            },
            kv: KvStore::new(),
            deadline: Duration::from_secs(10),
            reject: None,
            options: RunOptions::default(),
        }
    }

    /// The key-value store the fake host answers from.
    pub fn kv(&self) -> &KvStore {
        &self.shared.kv
    }

    /// The full name of a key in the sensor's own scope.
    pub fn local_key(&self, key: &str) -> String {
        format!("{}:{key}", self.shared.sensor_ref)
    }

    /// Heartbeats received so far.
    pub fn heartbeats(&self) -> u64 {
        self.shared.heartbeats.load(Ordering::Relaxed)
    }

    /// Sends any message to the sensor.
    pub fn send(&self, message: HostMessage) {
        let _ = self.to_sensor.send(Some(message));
    }

    /// Sends `add_trigger`.
    pub fn add_trigger(&self, trigger: TriggerDict) {
        self.send(HostMessage::AddTrigger { trigger });
    }

    /// Sends `update_trigger`.
    pub fn update_trigger(&self, trigger: TriggerDict) {
        self.send(HostMessage::UpdateTrigger { trigger });
    }

    /// Sends `remove_trigger`.
    pub fn remove_trigger(&self, trigger: TriggerDict) {
        self.send(HostMessage::RemoveTrigger { trigger });
    }

    /// Closes the sensor's stdin (end of input).
    pub fn close_input(&self) {
        let _ = self.to_sensor.send(None);
    }

    /// The next message from the sensor other than heartbeats and key-value requests (which
    /// the fake host handles).
    ///
    /// # Panics
    /// Nothing arrived before the deadline, or the sensor closed its output.
    pub async fn next_message(&mut self) -> SensorMessage {
        let deadline = self.deadline;
        match tokio::time::timeout(deadline, self.inbox.recv()).await {
            Ok(Some(message)) => message,
            Ok(None) => panic!("the sensor closed its output (exit: {:?})", self.exit),
            Err(_) => panic!("no message from the sensor within {deadline:?}"),
        }
    }

    /// The next message if one arrives within `within`; for checking that nothing comes.
    pub async fn try_next_message(&mut self, within: Duration) -> Option<SensorMessage> {
        tokio::time::timeout(within, self.inbox.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits for `ready` and returns it.
    ///
    /// # Panics
    /// Another message came first, or none before the deadline.
    pub async fn expect_ready(&mut self) -> nerve_sensor_protocol::Ready {
        match self.next_message().await {
            SensorMessage::Ready(ready) => ready,
            other => panic!("expected `ready`, got {other:?}"),
        }
    }

    /// The next dispatch, skipping `log` messages.
    ///
    /// # Panics
    /// The sensor sent `error`, or no dispatch came before the deadline.
    pub async fn next_dispatch(&mut self) -> Dispatch {
        loop {
            match self.next_message().await {
                SensorMessage::Dispatch {
                    trigger,
                    payload,
                    trace_tag,
                    id,
                } => {
                    return Dispatch {
                        trigger,
                        payload,
                        trace_tag,
                        id,
                    };
                }
                SensorMessage::Error { message } => panic!("the sensor gave up: {message}"),
                _ => {}
            }
        }
    }

    /// The next `count` dispatches.
    ///
    /// # Panics
    /// As [`FakeHost::next_dispatch`].
    pub async fn dispatches(&mut self, count: usize) -> Vec<Dispatch> {
        let mut dispatches = Vec::with_capacity(count);
        while dispatches.len() < count {
            dispatches.push(self.next_dispatch().await);
        }
        dispatches
    }

    /// The next `log` message's text, skipping other messages.
    ///
    /// # Panics
    /// No log message came before the deadline.
    pub async fn next_log(&mut self) -> String {
        loop {
            if let SensorMessage::Log { message, .. } = self.next_message().await {
                return message;
            }
        }
    }

    /// Sends `shutdown`, waits for the sensor to exit and returns every message it sent
    /// meanwhile (besides heartbeats and key-value requests).
    ///
    /// # Panics
    /// The sensor did not exit before the deadline.
    pub async fn shutdown(&mut self) -> (Exit, Vec<SensorMessage>) {
        self.send(HostMessage::Shutdown {});
        self.wait_exit().await
    }

    /// Waits for the sensor to exit and returns its exit and every message it sent that was
    /// not read yet.
    ///
    /// # Panics
    /// The sensor did not exit (or did not close its output) before the deadline, or it
    /// panicked.
    pub async fn wait_exit(&mut self) -> (Exit, Vec<SensorMessage>) {
        let deadline = self.deadline;
        let mut rest = Vec::new();
        let drain = async {
            while let Some(message) = self.inbox.recv().await {
                rest.push(message);
            }
        };
        if tokio::time::timeout(deadline, drain).await.is_err() {
            panic!("the sensor did not close its output within {deadline:?}");
        }
        if let Some(sensor) = self.sensor.take() {
            let exit = match tokio::time::timeout(deadline, sensor).await {
                Ok(Ok(exit)) => exit,
                Ok(Err(error)) => panic!("the sensor task failed: {error}"),
                Err(_) => panic!("the sensor did not exit within {deadline:?}"),
            };
            self.exit = Some(exit);
        }
        let exit = self.exit.clone().unwrap_or(Exit::HostClosed);
        (exit, rest)
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        if let Some(sensor) = self.sensor.take() {
            sensor.abort();
        }
    }
}

async fn write_to_sensor(mut writer: DuplexStream, mut outbox: mpsc::UnboundedReceiver<ToSensor>) {
    while let Some(item) = outbox.recv().await {
        let Some(message) = item else {
            break;
        };
        let mut line = encode(&message);
        line.push('\n');
        if writer.write_all(line.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = writer.shutdown().await;
}

async fn read_from_sensor(
    reader: DuplexStream,
    shared: Arc<Shared>,
    to_sensor: mpsc::UnboundedSender<ToSensor>,
    inbox: mpsc::UnboundedSender<SensorMessage>,
) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let message = match decode_sensor(&line) {
            Ok(message) => message,
            Err(error) => SensorMessage::Error {
                message: format!("fake host: the sensor wrote an invalid line: {error}"),
            },
        };
        let reply = match &message {
            SensorMessage::Heartbeat {} => {
                shared.heartbeats.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            SensorMessage::Kv(request) => {
                let reply = shared.kv.answer(&shared.sensor_ref, request.clone());
                let _ = to_sensor.send(Some(HostMessage::Reply(reply)));
                continue;
            }
            SensorMessage::Dispatch {
                trigger,
                payload,
                id,
                ..
            } => {
                let rejection = shared
                    .reject
                    .as_ref()
                    .and_then(|rule| rule(trigger, payload));
                match (rejection, id) {
                    (Some(reason), id) => Some(HostMessage::Rejected {
                        trigger: trigger.clone(),
                        reason,
                        id: id.clone(),
                    }),
                    (None, Some(id)) => {
                        let instance = shared.next_instance.fetch_add(1, Ordering::Relaxed);
                        let value = json!({ "trigger_instance": format!("ti-{instance}") });
                        Some(HostMessage::Reply(Reply::ok(id.clone(), value)))
                    }
                    (None, None) => None,
                }
            }
            _ => None,
        };
        if let Some(reply) = reply {
            let _ = to_sensor.send(Some(reply));
        }
        if inbox.send(message).is_err() {
            break;
        }
    }
}
