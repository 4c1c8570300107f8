//! Reading a child's output as lines with a length cap, so a sensor that writes a gigabyte
//! without a newline costs a counter, not memory.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line (without the newline; a last line without one counts too).
    Text(String),
    /// A line longer than the cap: its bytes were skipped.
    TooLong(usize),
    /// End of the stream.
    Eof,
}

/// Reads the next line of at most `max` bytes.
pub(crate) async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Line> {
    buffer.clear();
    let mut skipped = 0usize;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if skipped > 0 {
                Line::TooLong(skipped)
            } else if buffer.is_empty() {
                Line::Eof
            } else {
                Line::Text(String::from_utf8_lossy(buffer).into_owned())
            });
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (&available[..at], Some(at + 1)),
            None => (available, None),
        };
        if skipped > 0 || buffer.len() + chunk.len() > max {
            skipped += buffer.len() + chunk.len();
            buffer.clear();
        } else {
            buffer.extend_from_slice(chunk);
        }
        let consumed = done.unwrap_or(available.len());
        reader.consume(consumed);
        if done.is_some() {
            if skipped > 0 {
                return Ok(Line::TooLong(skipped));
            }
            if buffer.last() == Some(&b'\r') {
                buffer.pop();
            }
            return Ok(Line::Text(String::from_utf8_lossy(buffer).into_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_capped_and_counted() {
        let input = b"short\r\nxxxxxxxxxxxxxxxxxxxx\nok\nlast".to_vec();
        let mut reader = tokio::io::BufReader::with_capacity(4, &input[..]);
        let mut buffer = Vec::new();
        let mut got = Vec::new();
        loop {
            let line = next_line(&mut reader, 10, &mut buffer).await.unwrap();
            if line == Line::Eof {
                break;
            }
            got.push(line);
        }
        assert_eq!(
            got,
            vec![
                Line::Text("short".into()),
                Line::TooLong(20),
                Line::Text("ok".into()),
                Line::Text("last".into()),
            ]
        );
    }
}
