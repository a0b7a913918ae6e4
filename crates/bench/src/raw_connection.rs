//! Raw mode's connection: one keep-alive TCP stream owned by its worker, a request written
//! as bytes into a reused buffer and the response parsed in place (status line,
//! `Content-Length`, `Retry-After`, `Connection: close`, the body). No client library, no
//! connection task and no allocation per request: raw mode saturates servers, so the
//! generator's own cost per request must stay below theirs (`bench/compare.sh generator`
//! compares it with wrk).
//!
//! It speaks only what raw mode needs: POST with an empty body, responses with a
//! `Content-Length` (what every server it is pointed at sends for these small answers; a
//! chunked or length-less response is an error, and the stream is dropped).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connection::{MAX_RESPONSE_BYTES, REQUEST_TIMEOUT, TransportError};

/// Largest response head read; the answers raw mode counts have a few short headers.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// One parsed response; the body is `RawConnection::body()` until the next request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawResponse {
    /// Status code.
    pub status: u16,
    /// `Retry-After` in seconds, if present and numeric.
    pub retry_after_secs: Option<u64>,
    body_start: usize,
    body_end: usize,
}

/// A keep-alive connection to one server, (re)opened lazily; one request at a time.
pub(crate) struct RawConnection {
    server: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    buffer: Vec<u8>,
    connects: u64,
}

impl RawConnection {
    pub(crate) fn new(server: SocketAddr) -> Self {
        Self {
            server,
            host: server.to_string(),
            stream: None,
            request: Vec::with_capacity(512),
            buffer: Vec::with_capacity(READ_CHUNK),
            connects: 0,
        }
    }

    /// TCP connections opened so far.
    pub(crate) fn connects(&self) -> u64 {
        self.connects
    }

    /// The body of the last response.
    pub(crate) fn body(&self, response: &RawResponse) -> &[u8] {
        &self.buffer[response.body_start..response.body_end]
    }

    /// POSTs an empty body to `path` with `Authorization: Bearer token` and reads the answer,
    /// within [`REQUEST_TIMEOUT`]. A failed or timed-out exchange drops the stream (a late
    /// answer must never be read as the next request's).
    pub(crate) async fn post(
        &mut self,
        path: &str,
        token: &str,
    ) -> Result<RawResponse, TransportError> {
        self.request.clear();
        for part in [
            "POST ",
            path,
            " HTTP/1.1\r\nHost: ",
            &self.host,
            "\r\nAuthorization: Bearer ",
            token,
            "\r\nContent-Length: 0\r\n\r\n",
        ] {
            self.request.extend_from_slice(part.as_bytes());
        }
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange()).await {
            Ok(Ok((response, keep))) => {
                if !keep {
                    self.stream = None;
                }
                Ok(response)
            }
            Ok(Err(error)) => {
                self.stream = None;
                Err(error)
            }
            Err(_) => {
                self.stream = None;
                Err(TransportError::Timeout(REQUEST_TIMEOUT))
            }
        }
    }

    async fn exchange(&mut self) -> Result<(RawResponse, bool), TransportError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.server).await.map_err(|source| {
                TransportError::Connect {
                    address: self.server,
                    source,
                }
            })?;
            let _ = stream.set_nodelay(true);
            self.connects += 1;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream
            .write_all(&self.request)
            .await
            .map_err(|e| TransportError::Http(format!("write: {e}")))?;
        self.buffer.clear();
        let (head_end, head) = loop {
            if let Some(end) = find_head_end(&self.buffer) {
                break (end, parse_head(&self.buffer[..end])?);
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Err(TransportError::Http("response head too large".into()));
            }
            read_more(stream, &mut self.buffer).await?;
        };
        let body_end = head_end + head.content_length;
        if body_end > head_end + MAX_RESPONSE_BYTES {
            return Err(TransportError::Http("response body too large".into()));
        }
        while self.buffer.len() < body_end {
            read_more(stream, &mut self.buffer).await?;
        }
        if self.buffer.len() > body_end {
            // One request at a time: bytes past the answer are not HTTP we asked for.
            return Err(TransportError::Http("bytes after the response".into()));
        }
        let response = RawResponse {
            status: head.status,
            retry_after_secs: head.retry_after_secs,
            body_start: head_end,
            body_end,
        };
        Ok((response, !head.close))
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<(), TransportError> {
    // Into the buffer's spare capacity: nothing is zeroed first.
    buffer.reserve(READ_CHUNK);
    match stream.read_buf(buffer).await {
        Ok(0) => Err(TransportError::Http(
            "connection closed by the server".into(),
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(TransportError::Http(format!("read: {e}"))),
    }
}

/// Where the head ends (just past `\r\n\r\n`), if it has.
fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| at + 4)
}

struct Head {
    status: u16,
    content_length: usize,
    retry_after_secs: Option<u64>,
    close: bool,
}

/// Parses a response head: `HTTP/1.1 NNN …` and the three headers raw mode reads.
fn parse_head(head: &[u8]) -> Result<Head, TransportError> {
    let bad = |what: &str| TransportError::Http(format!("bad response head: {what}"));
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().ok_or_else(|| bad("empty"))?;
    let status = status_line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix(b"HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| std::str::from_utf8(code).ok())
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad("status line"))?;
    let mut content_length = None;
    let mut retry_after_secs = None;
    let mut close = status_line.starts_with(b"HTTP/1.0");
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        let number = || {
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
        };
        if name.eq_ignore_ascii_case(b"content-length") {
            content_length = Some(number().ok_or_else(|| bad("content-length"))?);
        } else if name.eq_ignore_ascii_case(b"retry-after") {
            retry_after_secs = number();
        } else if name.eq_ignore_ascii_case(b"connection") {
            close = value.eq_ignore_ascii_case(b"close");
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(bad("transfer-encoding is not supported in raw mode"));
        }
    }
    let content_length = content_length.ok_or_else(|| bad("no content-length"))?;
    Ok(Head {
        status,
        content_length: usize::try_from(content_length).map_err(|_| bad("content-length"))?,
        retry_after_secs,
        close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_parsed_whatever_the_header_case() {
        let text = b"HTTP/1.1 410 Gone\r\ncontent-type: application/json\r\nContent-Length: 12\r\nRetry-After: 3\r\nconnection: Close\r\n\r\n";
        let end = find_head_end(text).unwrap();
        assert_eq!(end, text.len());
        let head = parse_head(&text[..end]).unwrap();
        assert_eq!(head.status, 410);
        assert_eq!(head.content_length, 12);
        assert_eq!(head.retry_after_secs, Some(3));
        assert!(head.close);
    }

    #[test]
    fn heads_raw_mode_cannot_read_are_errors() {
        for head in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
            b"SPDY 200\r\nContent-Length: 0\r\n\r\n",
        ] {
            assert!(
                parse_head(head).is_err(),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert!(find_head_end(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n").is_none());
    }
}
