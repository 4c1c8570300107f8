//! The load generator of the throughput and shell rounds: posts over plain HTTP/1.1 keep-alive
//! connections, one request in flight per connection, written and parsed by hand.
//!
//! The benchmark shares the machine with the server, so every cycle the client spends is taken
//! from the server. A general-purpose client (reqwest) cost about 60 µs of CPU per post here,
//! a third of what the server spends on a whole event; this one costs a few µs: it formats one
//! request and reads one response head and body. It checks the status and nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Where and how to post.
#[derive(Debug, Clone)]
pub(super) struct Poster {
    /// `127.0.0.1:port`.
    address: String,
    /// The request path, e.g. `/api/v1/webhooks/bench`.
    path: String,
    token: String,
    /// The status every response must have.
    expected: u16,
}

impl Poster {
    /// A poster for `base_url` (`http://127.0.0.1:<port>`) and `path`, expecting `expected`.
    pub(super) fn new(
        base_url: &str,
        path: &str,
        token: &str,
        expected: u16,
    ) -> anyhow::Result<Self> {
        let address = base_url
            .strip_prefix("http://")
            .with_context(|| format!("`{base_url}` is not an http:// URL"))?
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            address,
            path: path.to_owned(),
            token: token.to_owned(),
            expected,
        })
    }

    /// Posts `body(0)` to `body(count - 1)` over `connections` keep-alive connections, one
    /// request in flight on each; returns the time until the last one was answered.
    pub(super) async fn post_all(
        &self,
        count: usize,
        connections: usize,
        body: impl Fn(usize) -> String + Clone + Send + 'static,
    ) -> anyhow::Result<Duration> {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections.max(1) {
            let next = Arc::clone(&next);
            let poster = self.clone();
            let body = body.clone();
            tasks.spawn(async move {
                let mut connection: Option<Connection> = None;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return anyhow::Ok(());
                    }
                    let open = match connection.take() {
                        Some(open) => open,
                        None => Connection::open(&poster.address).await?,
                    };
                    let (open, keep_alive) = poster.post(open, &body(n)).await?;
                    if keep_alive {
                        connection = Some(open);
                    }
                }
            });
        }
        while let Some(result) = tasks.join_next().await {
            result.context("a posting task panicked")??;
        }
        Ok(started.elapsed())
    }

    /// One request and its response; returns the connection and whether it stays open.
    async fn post(
        &self,
        mut connection: Connection,
        body: &str,
    ) -> anyhow::Result<(Connection, bool)> {
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nX-Auth-Token: {}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.path,
            self.address,
            self.token,
            body.len()
        );
        connection
            .stream
            .write_all(request.as_bytes())
            .await
            .with_context(|| format!("POST {}: write failed", self.path))?;
        let response = connection.read_response().await?;
        if response.status != self.expected {
            bail!(
                "POST {}: expected {}, got {}: {}",
                self.path,
                self.expected,
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok((connection, response.keep_alive))
    }
}

struct Connection {
    stream: TcpStream,
    /// Bytes read past the last response (none with one request in flight, but kept honest).
    buffer: Vec<u8>,
}

struct Response {
    status: u16,
    keep_alive: bool,
    body: Vec<u8>,
}

impl Connection {
    async fn open(address: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("failed to connect to `{address}`"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// Reads one response: status line, headers, and a `Content-Length` body.
    async fn read_response(&mut self) -> anyhow::Result<Response> {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .context("the response head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("bad status line `{status_line}`"))?;
        let mut length = None;
        let mut keep_alive = true;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().context("bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                keep_alive = false;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not expected here (`{line}`)");
            }
        }
        let length = length.unwrap_or(0);
        while self.buffer.len() < head_end + length {
            self.fill().await?;
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        Ok(Response {
            status,
            keep_alive,
            body,
        })
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0_u8; 4096];
        let read = self
            .stream
            .read(&mut chunk)
            .await
            .context("reading the response failed")?;
        if read == 0 {
            bail!("the server closed the connection mid-response");
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
