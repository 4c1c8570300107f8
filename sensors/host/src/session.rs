//! One process lifetime: spawn, `hello`, the message loop, and the end (exit, hang, stop).
//!
//! Dispatches are recorded concurrently (up to [`HostConfig::dispatch_window`] at once, so the
//! store's group commit shares flushes between them); a full window stops reading the sensor's
//! stdout, which blocks the sensor. When the process ends, what it wrote before the end is
//! still read and recorded: an event a sensor dispatched is never lost because it died next.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use nerve_runner::{Exit, Spawn, spawn_interactive};
use nerve_sensor_protocol::{
    HostMessage, KvRequest, PROTOCOL_VERSION, Reply, SensorMessage, TriggerDict, decode_sensor,
    encode,
};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::lines::{Line, next_line};
use crate::status::{self, ExitRecord, LogLine, LogSource, SensorState};
use crate::supervisor::Command;
use crate::{HostConfig, HostServices, KvOp, Launch, ProcessEvent, SensorSpec, SensorStatus};

/// What the supervisor does after a session.
pub(crate) enum After {
    Stop,
    Restart,
    Replace(Box<SensorSpec>),
    Crashed,
}

pub(crate) struct End {
    pub(crate) after: After,
    pub(crate) uptime: Duration,
}

pub(crate) struct Session<'a, S> {
    pub(crate) services: &'a Arc<S>,
    pub(crate) config: &'a HostConfig,
    pub(crate) status: &'a Arc<Mutex<SensorStatus>>,
    pub(crate) logger: &'a Logger<S>,
    pub(crate) cancel: &'a CancellationToken,
}

type Recording<'a> =
    Pin<Box<dyn Future<Output = (Option<String>, String, Result<String, String>)> + Send + 'a>>;

/// Why the message loop ended.
enum Ending {
    Exited(Option<Exit>),
    Asked(After),
    Broken(String),
}

impl<S: HostServices> Session<'_, S> {
    pub(crate) async fn run(
        &self,
        spec: &mut SensorSpec,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> End {
        let started = Instant::now();
        let Launch::Command {
            program,
            args,
            cwd,
            env,
            ..
        } = &spec.launch
        else {
            return End {
                after: After::Crashed,
                uptime: Duration::ZERO,
            };
        };
        let mut spawn = Spawn::new(program, cwd);
        spawn.args = args.clone();
        spawn.env = env.clone();
        let (mut child, pipes) = match spawn_interactive(&spawn).await {
            Ok(started) => started,
            Err(error) => {
                let message = format!("failed to start: {error}");
                self.logger.line(LogSource::Host, "error", &message);
                let mut status = status::lock(self.status);
                status.last_error = Some(message.clone());
                status.last_exit = Some(ExitRecord {
                    exit_code: None,
                    at: status::now(),
                    reason: message,
                });
                return End {
                    after: After::Crashed,
                    uptime: Duration::ZERO,
                };
            }
        };
        let pid = child.pid;
        {
            let mut status = status::lock(self.status);
            status.state = SensorState::Starting;
            status.pid = Some(pid);
            status.started_at = Some(status::now());
            status.protocol = None;
            status.command = spec.command_line();
            status.triggers = Vec::new();
        }
        self.logger
            .line(LogSource::Host, "info", &format!("started, pid {pid}"));
        self.services
            .process_event(ProcessEvent::Spawned {
                sensor: spec.sensor_ref.clone(),
                pid,
                cmd: spec.command_line(),
            })
            .await;

        let (to_sensor, outgoing) = mpsc::channel::<HostMessage>(256);
        let writer = tokio::spawn(write_messages(pipes.stdin, outgoing));
        let (lines_tx, mut lines) = mpsc::channel::<Line>(64);
        let max_line = self.config.max_line_bytes;
        let reader = tokio::spawn(async move {
            let mut stdout = BufReader::new(pipes.stdout);
            let mut buffer = Vec::new();
            loop {
                let line = next_line(&mut stdout, max_line, &mut buffer)
                    .await
                    .unwrap_or(Line::Eof);
                let eof = line == Line::Eof;
                if lines_tx.send(line).await.is_err() || eof {
                    break;
                }
            }
        });
        let stderr_logger = self.logger.clone();
        let stderr_task = tokio::spawn(async move {
            let mut stderr = BufReader::new(pipes.stderr);
            let mut buffer = Vec::new();
            loop {
                match next_line(&mut stderr, 64 * 1024, &mut buffer).await {
                    Ok(Line::Text(text)) => stderr_logger.line(LogSource::Stderr, "info", &text),
                    Ok(Line::TooLong(bytes)) => stderr_logger.line(
                        LogSource::Host,
                        "warning",
                        &format!("skipped a {bytes}-byte stderr line"),
                    ),
                    Ok(Line::Eof) | Err(_) => break,
                }
            }
        });

        let hello = nerve_sensor_protocol::Hello {
            protocol: PROTOCOL_VERSION,
            sensor: spec.sensor_ref.clone(),
            pack: spec.pack.clone(),
            class_name: spec.class_name.clone(),
            config: spec.config.clone(),
            poll_interval: spec.poll_interval,
            trigger_types: spec.trigger_types.clone(),
            ready_timeout: Some(self.config.ready_timeout.as_secs_f64()),
        };
        let _ = to_sensor.send(HostMessage::Hello(hello)).await;

        let mut state = LoopState {
            ready: false,
            heartbeat: None,
            last_seen: Instant::now(),
            ready_deadline: Instant::now() + self.config.ready_timeout,
            sent: BTreeMap::new(),
            stdout_open: true,
        };
        let mut inflight: FuturesUnordered<Recording<'_>> = FuturesUnordered::new();
        let ending = loop {
            let deadline = state.deadline(self.config);
            tokio::select! {
                () = self.cancel.cancelled() => break Ending::Asked(After::Stop),
                exit = child.wait() => break Ending::Exited(exit),
                command = commands.recv() => match command {
                    None | Some(Command::Stop) => break Ending::Asked(After::Stop),
                    Some(Command::Restart) => break Ending::Asked(After::Restart),
                    Some(Command::Replace(new)) => break Ending::Asked(After::Replace(Box::new(new))),
                    Some(Command::Update(new)) => {
                        *spec = new;
                        if state.ready {
                            self.send_triggers(&mut state, spec, &to_sensor).await;
                        }
                        status::lock(self.status).problems = spec.problems.clone();
                    }
                },
                Some((id, trigger, result)) = inflight.next(), if !inflight.is_empty() => {
                    self.recorded(id, trigger, result, &to_sensor).await;
                }
                line = lines.recv(), if state.stdout_open && inflight.len() < self.config.dispatch_window => {
                    let Some(line) = line.filter(|l| *l != Line::Eof) else {
                        state.stdout_open = false;
                        continue;
                    };
                    state.last_seen = Instant::now();
                    if let Some(broken) = self.handle_line(line, spec, &mut state, &to_sensor, &mut inflight).await {
                        break Ending::Broken(broken);
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    break Ending::Broken(state.hang_reason(self.config));
                }
            }
        };

        // Whatever ended the loop, the process goes now (if it has not already).
        let (exit, reason, after) = match ending {
            Ending::Exited(exit) => {
                let reason = match exit {
                    Some(Exit::Code(code)) => format!("exited with code {code}"),
                    Some(Exit::Signal(signal)) => format!("killed by signal {signal}"),
                    None => "ended".to_owned(),
                };
                (exit, reason, After::Crashed)
            }
            Ending::Asked(after) => {
                let _ = to_sensor.send(HostMessage::Shutdown {}).await;
                // The sensor saves its state on shutdown (kv requests) and may still
                // dispatch: it is served as before until it exits or the grace is over.
                let grace = Instant::now() + self.config.shutdown_grace;
                let exited = loop {
                    tokio::select! {
                        exit = child.wait() => break Some(exit),
                        Some((id, trigger, result)) = inflight.next(), if !inflight.is_empty() => {
                            self.recorded(id, trigger, result, &to_sensor).await;
                        }
                        line = lines.recv(), if state.stdout_open && inflight.len() < self.config.dispatch_window => {
                            match line.filter(|l| *l != Line::Eof) {
                                Some(line) => {
                                    let _ = self.handle_line(line, spec, &mut state, &to_sensor, &mut inflight).await;
                                }
                                None => state.stdout_open = false,
                            }
                        }
                        () = tokio::time::sleep_until(grace) => break None,
                    }
                };
                let exit = match exited {
                    Some(exit) => exit,
                    None => child.stop(self.config.kill_grace).await,
                };
                let reason = match &after {
                    After::Stop => "stopped",
                    After::Restart => "restart asked",
                    After::Replace(_) => "sensor changed",
                    After::Crashed => "crashed",
                };
                (exit, reason.to_owned(), after)
            }
            Ending::Broken(why) => {
                self.logger.line(LogSource::Host, "error", &why);
                status::lock(self.status).last_error = Some(why.clone());
                let exit = child.stop(self.config.kill_grace).await;
                (exit, why, After::Crashed)
            }
        };
        child.kill_group();
        // What the sensor wrote before it ended is still recorded.
        let drain = async {
            while let Some(line) = lines.recv().await {
                if line == Line::Eof {
                    break;
                }
                let _ = self
                    .handle_line(line, spec, &mut state, &to_sensor, &mut inflight)
                    .await;
            }
            while let Some((id, trigger, result)) = inflight.next().await {
                self.recorded(id, trigger, result, &to_sensor).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            self.logger.line(
                LogSource::Host,
                "error",
                "gave up reading the output of the ended process after 10s",
            );
        }
        drop(to_sensor);
        reader.abort();
        let _ = tokio::time::timeout(Duration::from_secs(1), stderr_task).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
        drop(child);

        let exit_code = exit.map(Exit::return_code);
        {
            let mut status = status::lock(self.status);
            status.pid = None;
            status.last_exit = Some(ExitRecord {
                exit_code,
                at: status::now(),
                reason: reason.clone(),
            });
            if matches!(after, After::Crashed) && exit.is_some_and(|e| e != Exit::Code(0)) {
                status.last_error.get_or_insert_with(|| reason.clone());
            }
        }
        let level = if matches!(after, After::Crashed) {
            "error"
        } else {
            "info"
        };
        self.logger
            .line(LogSource::Host, level, &format!("process {pid} {reason}"));
        self.services
            .process_event(ProcessEvent::Exited {
                sensor: spec.sensor_ref.clone(),
                exit_code,
            })
            .await;
        End {
            after,
            uptime: started.elapsed(),
        }
    }

    /// Handles one stdout line; `Some(reason)` when the sensor must be stopped.
    async fn handle_line<'f>(
        &'f self,
        line: Line,
        spec: &SensorSpec,
        state: &mut LoopState,
        to_sensor: &mpsc::Sender<HostMessage>,
        inflight: &mut FuturesUnordered<Recording<'f>>,
    ) -> Option<String> {
        let text = match line {
            Line::Text(text) => text,
            Line::TooLong(bytes) => {
                status::lock(self.status).invalid_lines += 1;
                self.logger.line(
                    LogSource::Host,
                    "warning",
                    &format!(
                        "skipped a {bytes}-byte stdout line (longer than {} bytes)",
                        self.config.max_line_bytes
                    ),
                );
                return None;
            }
            Line::Eof => return None,
        };
        if text.trim().is_empty() {
            return None;
        }
        let message = match decode_sensor(&text) {
            Ok(message) => message,
            Err(error) => {
                status::lock(self.status).invalid_lines += 1;
                self.logger
                    .line(LogSource::Host, "warning", &format!("stdout: {error}"));
                return None;
            }
        };
        match message {
            SensorMessage::Ready(ready) => {
                if ready.protocol != PROTOCOL_VERSION {
                    return Some(format!(
                        "protocol version mismatch: the sensor speaks {}, this host speaks {PROTOCOL_VERSION}",
                        ready.protocol
                    ));
                }
                state.ready = true;
                state.heartbeat = ready
                    .heartbeat
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(|s| Duration::from_secs_f64(s.min(3600.0)));
                {
                    let mut status = status::lock(self.status);
                    status.state = SensorState::Running;
                    status.protocol = Some(ready.protocol);
                }
                self.send_triggers(state, spec, to_sensor).await;
            }
            SensorMessage::Dispatch {
                trigger,
                payload,
                trace_tag,
                id,
            } => {
                let resolved = spec
                    .triggers
                    .iter()
                    .find(|t| t.trigger_ref == trigger)
                    .cloned();
                let services = self.services.clone();
                let sensor = spec.sensor_ref.clone();
                inflight.push(Box::pin(async move {
                    let target = resolved
                        .as_ref()
                        .map_or_else(|| trigger.clone(), trigger_key);
                    let result = services
                        .dispatch(&sensor, &target, payload, trace_tag)
                        .await;
                    (id, trigger, result)
                }));
            }
            SensorMessage::Kv(request) => {
                let id = request.id().to_owned();
                let op = kv_op(&spec.sensor_ref, request);
                let reply = match self.services.kv(&spec.sensor_ref, op).await {
                    Ok(value) => Reply::ok(id, value),
                    Err(error) => Reply::error(id, error),
                };
                let _ = to_sensor.send(HostMessage::Reply(reply)).await;
            }
            SensorMessage::Log {
                level,
                message,
                logger,
            } => {
                let level = serde_json::to_value(level)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "info".to_owned());
                let message = match logger {
                    Some(logger) => format!("{logger}: {message}"),
                    None => message,
                };
                self.logger.line(LogSource::Log, &level, &message);
            }
            SensorMessage::Heartbeat {} => {}
            SensorMessage::Error { message } => {
                self.logger.line(LogSource::Log, "error", &message);
                status::lock(self.status).last_error = Some(message);
            }
        }
        None
    }

    async fn recorded(
        &self,
        id: Option<String>,
        trigger: String,
        result: Result<String, String>,
        to_sensor: &mpsc::Sender<HostMessage>,
    ) {
        match result {
            Ok(instance) => {
                status::lock(self.status).dispatched += 1;
                if let Some(id) = id {
                    let reply = Reply::ok(id, serde_json::json!({"trigger_instance": instance}));
                    let _ = to_sensor.send(HostMessage::Reply(reply)).await;
                }
            }
            Err(reason) => {
                status::lock(self.status).rejected += 1;
                self.logger.line(
                    LogSource::Host,
                    "warning",
                    &format!("rejected dispatch to `{trigger}`: {reason}"),
                );
                let _ = to_sensor
                    .send(HostMessage::Rejected {
                        trigger,
                        reason,
                        id,
                    })
                    .await;
            }
        }
    }

    /// Sends what changed between the triggers the sensor has and the spec's.
    async fn send_triggers(
        &self,
        state: &mut LoopState,
        spec: &SensorSpec,
        to_sensor: &mpsc::Sender<HostMessage>,
    ) {
        let wanted: BTreeMap<String, TriggerDict> = spec
            .triggers
            .iter()
            .map(|t| (t.id.clone(), t.clone()))
            .collect();
        let removed: Vec<TriggerDict> = state
            .sent
            .iter()
            .filter(|(id, _)| !wanted.contains_key(*id))
            .map(|(_, t)| t.clone())
            .collect();
        for trigger in removed {
            state.sent.remove(&trigger.id);
            let _ = to_sensor.send(HostMessage::RemoveTrigger { trigger }).await;
        }
        for (id, trigger) in &wanted {
            let message = match state.sent.get(id) {
                None => HostMessage::AddTrigger {
                    trigger: trigger.clone(),
                },
                Some(old) if old != trigger => HostMessage::UpdateTrigger {
                    trigger: trigger.clone(),
                },
                Some(_) => continue,
            };
            let _ = to_sensor.send(message).await;
        }
        state.sent = wanted;
        status::lock(self.status).triggers = state.sent.values().cloned().collect();
    }
}

/// The engine's trigger key for a trigger dict (as `Rule::trigger_key`).
fn trigger_key(trigger: &TriggerDict) -> String {
    nerve_model::trigger_key(&trigger.trigger_type, &trigger.parameters)
}

#[cfg(test)]
pub(crate) fn trigger_key_for_tests(trigger: &TriggerDict) -> String {
    trigger_key(trigger)
}

/// The sensor's key scope (StackStorm's `<pack>.<Class>:`).
fn scoped(sensor_ref: &str, local: bool, key: &str) -> String {
    if local {
        format!("{sensor_ref}:{key}")
    } else {
        key.to_owned()
    }
}

fn kv_op(sensor_ref: &str, request: KvRequest) -> KvOp {
    match request {
        KvRequest::KvGet {
            key,
            local,
            decrypt,
            ..
        } => KvOp::Get {
            key: scoped(sensor_ref, local, &key),
            decrypt,
        },
        KvRequest::KvSet {
            key,
            value,
            ttl,
            local,
            encrypt,
            ..
        } => KvOp::Set {
            key: scoped(sensor_ref, local, &key),
            value,
            ttl,
            secret: encrypt,
        },
        KvRequest::KvDelete { key, local, .. } => KvOp::Delete {
            key: scoped(sensor_ref, local, &key),
        },
        KvRequest::KvList {
            prefix,
            local,
            limit,
            offset,
            ..
        } => KvOp::List {
            prefix: scoped(sensor_ref, local, prefix.as_deref().unwrap_or("")),
            limit,
            offset: offset.unwrap_or(0),
        },
    }
}

struct LoopState {
    ready: bool,
    heartbeat: Option<Duration>,
    last_seen: Instant,
    ready_deadline: Instant,
    sent: BTreeMap<String, TriggerDict>,
    stdout_open: bool,
}

impl LoopState {
    fn deadline(&self, config: &HostConfig) -> Instant {
        if !self.ready {
            return self.ready_deadline;
        }
        match self.heartbeat {
            Some(interval) => self.last_seen + interval * config.heartbeat_misses.max(1),
            None => Instant::now() + Duration::from_secs(3600),
        }
    }

    fn hang_reason(&self, config: &HostConfig) -> String {
        if self.ready {
            let interval = self.heartbeat.unwrap_or_default();
            format!(
                "hung: no message for {:.1}s (heartbeat promised every {:.1}s)",
                (interval * config.heartbeat_misses.max(1)).as_secs_f64(),
                interval.as_secs_f64()
            )
        } else {
            format!(
                "hung: no `ready` within {:.1}s of `hello`",
                config.ready_timeout.as_secs_f64()
            )
        }
    }
}

async fn write_messages(
    mut stdin: tokio::process::ChildStdin,
    mut outgoing: mpsc::Receiver<HostMessage>,
) {
    while let Some(message) = outgoing.recv().await {
        let mut line = encode(&message);
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
}

/// Keeps a sensor's log lines in its tail and forwards them, rate-limited, to Nerve's log and
/// the services.
pub(crate) struct Logger<S> {
    services: Arc<S>,
    status: Arc<Mutex<SensorStatus>>,
    sensor: String,
    rate: u32,
    window: Arc<Mutex<(Instant, u32)>>,
}

impl<S> Clone for Logger<S> {
    fn clone(&self) -> Self {
        Self {
            services: self.services.clone(),
            status: self.status.clone(),
            sensor: self.sensor.clone(),
            rate: self.rate,
            window: self.window.clone(),
        }
    }
}

impl<S: HostServices> Logger<S> {
    pub(crate) fn new(
        services: &Arc<S>,
        status: &Arc<Mutex<SensorStatus>>,
        spec: &SensorSpec,
        config: &HostConfig,
    ) -> Self {
        Self {
            services: services.clone(),
            status: status.clone(),
            sensor: spec.sensor_ref.clone(),
            rate: config.log_rate,
            window: Arc::new(Mutex::new((Instant::now(), 0))),
        }
    }

    pub(crate) fn line(&self, source: LogSource, level: &str, message: &str) {
        let line = LogLine {
            at: status::now(),
            source,
            level: level.to_owned(),
            message: message.to_owned(),
        };
        let forward = {
            let mut window = self
                .window
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if window.0.elapsed() >= Duration::from_secs(1) {
                *window = (Instant::now(), 0);
            }
            window.1 += 1;
            window.1 <= self.rate || source == LogSource::Host
        };
        {
            let mut status = status::lock(&self.status);
            if !forward {
                status.log_suppressed += 1;
            }
            status.push_log(line.clone());
        }
        if forward {
            let sensor = self.sensor.as_str();
            match level {
                "error" | "critical" => tracing::error!(sensor, ?source, "{message}"),
                "warning" | "warn" => tracing::warn!(sensor, ?source, "{message}"),
                "debug" => tracing::debug!(sensor, ?source, "{message}"),
                _ => tracing::info!(sensor, ?source, "{message}"),
            }
        }
        self.services.log(&self.sensor, &line);
    }
}
