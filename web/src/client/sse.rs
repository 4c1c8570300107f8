//! A minimal server-sent events reader: bytes in, `(event, data)` frames out. Comments
//! (heartbeats) are skipped; multi-line `data` is joined with newlines.

use futures_util::{Stream, StreamExt};

use super::ClientError;

/// One SSE frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFrame {
    /// The `event:` name (`message` when absent).
    pub event: String,
    /// The `data:` lines joined by newlines.
    pub data: String,
}

/// Incremental parser state.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buffer: String,
    event: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    /// Feeds bytes (UTF-8, possibly split anywhere); returns the frames completed.
    pub(crate) fn feed(&mut self, chunk: &str) -> Vec<SseFrame> {
        self.buffer.push_str(chunk);
        let mut frames = Vec::new();
        while let Some(end) = self.buffer.find('\n') {
            let line: String = self.buffer.drain(..=end).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() || self.event.is_some() {
                    frames.push(SseFrame {
                        event: self.event.take().unwrap_or_else(|| "message".to_owned()),
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = Some(value.to_owned()),
                "data" => self.data.push(value.to_owned()),
                _ => {}
            }
        }
        frames
    }
}

/// The frames of an SSE response body.
pub(crate) fn frames(
    response: reqwest::Response,
    url: String,
) -> impl Stream<Item = Result<SseFrame, ClientError>> {
    async_stream::stream! {
        let mut parser = SseParser::default();
        let mut bytes = response.bytes_stream();
        // Bytes of a UTF-8 character split across chunks wait here.
        let mut pending: Vec<u8> = Vec::new();
        while let Some(chunk) = bytes.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(source) => {
                    yield Err(ClientError::Transport { url: url.clone(), source });
                    return;
                }
            };
            pending.extend_from_slice(&chunk);
            let valid = match std::str::from_utf8(&pending) {
                Ok(text) => text.len(),
                Err(error) => error.valid_up_to(),
            };
            let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
            pending.drain(..valid);
            for frame in parser.feed(&text) {
                yield Ok(frame);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_are_parsed() {
        let mut parser = SseParser::default();
        let mut frames = parser.feed(": heartbeat\n\nevent: a\nda");
        assert!(frames.is_empty());
        frames.extend(parser.feed("ta: {\"x\":1}\n\nevent: b\r\ndata: one\ndata: two\n\n"));
        assert_eq!(
            frames,
            vec![
                SseFrame {
                    event: "a".into(),
                    data: "{\"x\":1}".into()
                },
                SseFrame {
                    event: "b".into(),
                    data: "one\ntwo".into()
                },
            ]
        );
    }
}
