//! Reading one output pipe: splitting it into lines as the bytes arrive, forwarding each line to
//! the sink, and keeping a capped copy for the result.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{OutputLine, Stream};

/// Caps that keep a flooding process from exhausting Nerve's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Bytes of each stream kept in [`Captured::text`]; the rest is counted and dropped.
    pub max_captured_bytes: usize,
    /// Longest line forwarded as one [`OutputLine`]; longer lines are split.
    pub max_line_bytes: usize,
}

impl Default for OutputLimits {
    /// 1 MiB kept per stream, lines split at 64 KiB.
    fn default() -> Self {
        Self {
            max_captured_bytes: 1024 * 1024,
            max_line_bytes: 64 * 1024,
        }
    }
}

/// What was kept of one output stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first [`OutputLimits::max_captured_bytes`] bytes, decoded as UTF-8 (invalid bytes
    /// replaced), followed by a truncation marker line if anything was dropped.
    pub text: String,
    /// Every byte the process wrote to the stream.
    pub total_bytes: u64,
    /// Bytes that were read but not kept.
    pub dropped_bytes: u64,
}

impl Captured {
    /// Whether some output was dropped.
    pub fn is_truncated(&self) -> bool {
        self.dropped_bytes > 0
    }

    /// The marker appended to [`Captured::text`] when output was dropped.
    pub fn truncation_marker(dropped_bytes: u64) -> String {
        format!("\n[nerve: output truncated, {dropped_bytes} more bytes were not kept]\n")
    }
}

/// How a reader is told to finish early.
#[derive(Clone, Default)]
pub(crate) struct ReaderStop {
    /// Stop waiting for new data: take what is already in the pipe (up to [`DRAIN_BUDGET`]),
    /// deliver it, and finish.
    pub(crate) soft: CancellationToken,
    /// Stop delivering to the sink too (a consumer that does not keep up is abandoned; the
    /// captured copy is unaffected).
    pub(crate) hard: CancellationToken,
}

/// The most read from a pipe after a soft stop (a pipe holds 64 KiB; this only bounds a
/// descendant that keeps writing).
const DRAIN_BUDGET: usize = 1024 * 1024;

/// Reads `reader` to EOF (or until told to stop), sending lines to `sink` and keeping a capped
/// copy.
pub(crate) async fn read_stream<R>(
    mut reader: R,
    stream: Stream,
    sink: mpsc::Sender<OutputLine>,
    limits: OutputLimits,
    stop: ReaderStop,
) -> Captured
where
    R: AsyncRead + Unpin,
{
    let mut splitter = LineSplitter::new(limits.max_line_bytes);
    let mut keeper = Keeper::new(limits.max_captured_bytes);
    let mut forwarder = Forwarder {
        stream,
        sink,
        hard_stop: stop.hard.clone(),
    };
    let mut buffer = vec![0_u8; 32 * 1024];
    let mut drained_after_stop = 0_usize;
    loop {
        let read = if stop.soft.is_cancelled() {
            if drained_after_stop >= DRAIN_BUDGET {
                break;
            }
            // Only what is already there: a zero timeout still polls the read once.
            match tokio::time::timeout(Duration::ZERO, reader.read(&mut buffer)).await {
                Ok(read) => read,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                biased;
                () = stop.soft.cancelled() => continue,
                read = reader.read(&mut buffer) => read,
            }
        };
        let chunk = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => &buffer[..n],
        };
        if stop.soft.is_cancelled() {
            drained_after_stop += chunk.len();
        }
        keeper.push(chunk);
        for line in splitter.push(chunk) {
            forwarder.send(line).await;
        }
    }
    if let Some(line) = splitter.finish() {
        forwarder.send(line).await;
    }
    keeper.finish()
}

struct Forwarder {
    stream: Stream,
    sink: mpsc::Sender<OutputLine>,
    hard_stop: CancellationToken,
}

impl Forwarder {
    async fn send(&mut self, line: Vec<u8>) {
        if self.sink.is_closed() || self.hard_stop.is_cancelled() {
            return;
        }
        let line = OutputLine {
            stream: self.stream,
            line: String::from_utf8_lossy(&line).into_owned(),
        };
        tokio::select! {
            biased;
            () = self.hard_stop.cancelled() => {}
            // A closed sink just means nobody is listening.
            _ = self.sink.send(line) => {}
        }
    }
}

/// Splits a byte stream into lines (without their `\n`), cutting lines longer than the limit at
/// a UTF-8 character boundary where possible.
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
    max_line_bytes: usize,
}

impl LineSplitter {
    pub(crate) fn new(max_line_bytes: usize) -> Self {
        Self {
            pending: Vec::new(),
            max_line_bytes: max_line_bytes.max(4),
        }
    }

    /// The complete lines that `chunk` finishes.
    pub(crate) fn push(&mut self, mut chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        while !chunk.is_empty() {
            let room = self.max_line_bytes - self.pending.len();
            let window = &chunk[..chunk.len().min(room + 1)];
            if let Some(newline) = window.iter().position(|&byte| byte == b'\n')
                && newline <= room
            {
                self.pending.extend_from_slice(&chunk[..newline]);
                lines.push(std::mem::take(&mut self.pending));
                chunk = &chunk[newline + 1..];
                continue;
            }
            let take = chunk.len().min(room);
            self.pending.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.pending.len() >= self.max_line_bytes {
                let cut = complete_prefix_len(&self.pending);
                let rest = self.pending.split_off(cut);
                lines.push(std::mem::replace(&mut self.pending, rest));
            }
        }
        lines
    }

    /// The last line if the stream did not end with `\n`.
    pub(crate) fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence
/// (looking back at most four bytes; anything that is not UTF-8 is left as it is).
fn complete_prefix_len(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let start = len - back;
        let byte = bytes[start];
        if is_continuation(byte) {
            continue;
        }
        let width = match byte {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        return if start + width > len && start > 0 {
            start
        } else {
            len
        };
    }
    len
}

fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

/// Keeps the first `max` bytes and counts the rest.
pub(crate) struct Keeper {
    kept: Vec<u8>,
    max: usize,
    total: u64,
}

impl Keeper {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            kept: Vec::new(),
            max,
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.max.saturating_sub(self.kept.len());
        if room > 0 {
            self.kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    pub(crate) fn finish(mut self) -> Captured {
        if self.total > self.kept.len() as u64 {
            let cut = complete_prefix_len(&self.kept);
            self.kept.truncate(cut);
        }
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        let dropped_bytes = self.total - self.kept.len() as u64;
        if dropped_bytes > 0 {
            text.push_str(&Captured::truncation_marker(dropped_bytes));
        }
        Captured {
            text,
            total_bytes: self.total,
            dropped_bytes,
        }
    }
}
