//! The handshake and the three connection tasks: writer, reader, heartbeat.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nerve_sensor_protocol::{
    Hello, HostMessage, LogLevel, PROTOCOL_VERSION, Ready, SensorMessage, decode_host, encode,
};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter, Lines,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::{Exit, RunOptions, Session};
use crate::context::{Link, Outgoing, StopReason};
use crate::{Notice, Notices, Rejection, RequestError, SensorContext};

/// Rejection notices queued and not yet read beyond which further ones are only counted.
const MAX_QUEUED_REJECTIONS: usize = 1024;

pub(super) async fn start<R, W>(reader: R, writer: W, options: &RunOptions) -> Result<Session, Exit>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (outgoing, queue) = mpsc::channel(options.queue_capacity.max(1));
    let link = Arc::new(Link::new(outgoing));
    let writer_task = tokio::spawn(write_loop(writer, queue, link.clone()));
    let mut lines = BufReader::new(reader).lines();

    let hello = match read_hello(&mut lines).await {
        Ok(hello) => hello,
        Err(Handshake::Closed) => {
            link.close(StopReason::HostClosed);
            writer_task.abort();
            let _ = writer_task.await;
            return Err(Exit::HostClosed);
        }
        Err(Handshake::Invalid(reason)) => {
            let message = format!("expected `hello` as the first message: {reason}");
            give_up(&link, writer_task, message).await;
            return Err(Exit::BadHandshake { reason });
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        let message = format!(
            "protocol version mismatch: host speaks {}, this sensor SDK speaks {PROTOCOL_VERSION}",
            hello.protocol
        );
        give_up(&link, writer_task, message).await;
        return Err(Exit::VersionMismatch {
            host: hello.protocol,
        });
    }

    let ready = SensorMessage::Ready(Ready {
        protocol: PROTOCOL_VERSION,
        heartbeat: Some(options.heartbeat_interval.as_secs_f64()),
    });
    let _ = link.send(ready).await;

    let (notice_tx, notice_rx) = mpsc::unbounded_channel();
    let ctx = SensorContext::new(hello, link.clone(), options.request_timeout);
    let reader_task = tokio::spawn(read_loop(lines, link.clone(), notice_tx));
    let heartbeat_task = tokio::spawn(heartbeat_loop(
        link.clone(),
        options.heartbeat_interval.max(Duration::from_millis(1)),
    ));
    Ok(Session {
        ctx,
        notices: Notices::new(notice_rx, link.clone()),
        link,
        tasks: vec![reader_task, heartbeat_task, writer_task],
    })
}

enum Handshake {
    Closed,
    Invalid(String),
}

async fn read_hello<R: AsyncRead + Unpin>(
    lines: &mut Lines<BufReader<R>>,
) -> Result<Hello, Handshake> {
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return Err(Handshake::Closed),
            Err(error) => {
                tracing::debug!(%error, "Reading the hello failed.");
                return Err(Handshake::Closed);
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        return match decode_host(&line) {
            Ok(HostMessage::Hello(hello)) => Ok(hello),
            Ok(other) => Err(Handshake::Invalid(format!(
                "got `{}`",
                message_type(&other)
            ))),
            Err(error) => Err(Handshake::Invalid(error.to_string())),
        };
    }
}

fn message_type(message: &HostMessage) -> String {
    serde_json::to_value(message)
        .ok()
        .and_then(|value| value.get("type")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Sends `error {message}`, waits until it is written, and stops the writer.
async fn give_up(link: &Link, writer_task: tokio::task::JoinHandle<()>, message: String) {
    let _ = link.send(SensorMessage::Error { message }).await;
    link.flush().await;
    link.close(StopReason::HostClosed);
    writer_task.abort();
    let _ = writer_task.await;
}

/// The only writer to the host: one line per message, flushed whenever the queue is empty.
async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    mut queue: mpsc::Receiver<Outgoing>,
    link: Arc<Link>,
) {
    let mut writer = BufWriter::new(writer);
    while let Some(item) = queue.recv().await {
        let mut result = match item {
            Outgoing::Message(message) => {
                let mut line = encode(&message);
                line.push('\n');
                writer.write_all(line.as_bytes()).await
            }
            Outgoing::Flush(done) => {
                let result = writer.flush().await;
                let _ = done.send(());
                result
            }
        };
        if result.is_ok() && queue.is_empty() {
            result = writer.flush().await;
        }
        if let Err(error) = result {
            tracing::debug!(%error, "Writing to the host failed; stopping.");
            link.close(StopReason::WriteFailed);
            break;
        }
    }
}

/// Reads the host's lines until the end: replies go to the waiting requests, trigger changes
/// and rejections to the notices, `shutdown` ends the notices.
async fn read_loop<R: AsyncRead + Unpin>(
    mut lines: Lines<BufReader<R>>,
    link: Arc<Link>,
    notices: mpsc::UnboundedSender<Notice>,
) {
    let mut notices = Some(notices);
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(%error, "Reading from the host failed; stopping.");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let message = match decode_host(&line) {
            Ok(message) => message,
            Err(error) => {
                warn(&link, format!("ignored a line from the host: {error}"));
                continue;
            }
        };
        let notice = match message {
            HostMessage::Hello(_) => {
                warn(&link, "ignored a second `hello`".to_owned());
                None
            }
            HostMessage::AddTrigger { trigger } => Some(Notice::AddTrigger(trigger)),
            HostMessage::UpdateTrigger { trigger } => Some(Notice::UpdateTrigger(trigger)),
            HostMessage::RemoveTrigger { trigger } => Some(Notice::RemoveTrigger(trigger)),
            HostMessage::Reply(reply) => {
                let result = if reply.ok {
                    Ok(reply.value)
                } else {
                    Err(RequestError::Refused {
                        id: reply.id.clone(),
                        reason: reply.error.unwrap_or_default(),
                    })
                };
                if !link.resolve(&reply.id, result) {
                    tracing::debug!(id = %reply.id, "Reply to no waiting request (timed out?).");
                }
                None
            }
            HostMessage::Rejected {
                trigger,
                reason,
                id,
            } => {
                link.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%trigger, %reason, "The host rejected a dispatch.");
                let answered = id.is_some_and(|id| {
                    link.resolve(
                        &id,
                        Err(RequestError::Rejected {
                            trigger: trigger.clone(),
                            reason: reason.clone(),
                        }),
                    )
                });
                let queued = link.queued_rejections.load(Ordering::Relaxed);
                if answered || queued >= MAX_QUEUED_REJECTIONS {
                    None
                } else {
                    link.queued_rejections.fetch_add(1, Ordering::Relaxed);
                    Some(Notice::Rejected(Rejection { trigger, reason }))
                }
            }
            HostMessage::Shutdown {} => {
                link.shutdown_requested();
                notices = None;
                None
            }
        };
        let Some(notice) = notice else { continue };
        let is_rejection = matches!(notice, Notice::Rejected(_));
        let delivered = notices
            .as_ref()
            .is_some_and(|sender| sender.send(notice).is_ok());
        if is_rejection && !delivered {
            link.queued_rejections.fetch_sub(1, Ordering::Relaxed);
        }
    }
    link.close(StopReason::HostClosed);
}

/// A warning about the host's input, sent as a `log` without waiting (the reader never
/// blocks on the writer, or replies would stall behind a full queue).
fn warn(link: &Link, message: String) {
    tracing::debug!(%message, "Protocol warning.");
    link.try_send(SensorMessage::Log {
        level: LogLevel::Warning,
        message,
        logger: None,
    });
}

async fn heartbeat_loop(link: Arc<Link>, every: Duration) {
    let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if link.send(SensorMessage::Heartbeat {}).await.is_err() {
            break;
        }
    }
}
