//! One client connection: grabs answered by the lane ([`stampede_api::lane`]) straight from
//! the socket's bytes, and from the first request that is anything else on, hyper and the
//! router, handed the bytes read so far ([`Prefixed`]).
//!
//! The lane keeps hyper's connection rules: the time to send a request head is bounded by
//! the header-read timeout (idle keep-alive time included, as in hyper), `Connection: close`
//! closes after the answer, and shutdown closes an idle connection at once and a busy one
//! after its answer (`connection: close`). The header deadline costs a clock read per
//! request, not a timer: one sleep per connection is armed at the first wait and only
//! re-armed when it fires early.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use hyper_util::service::TowerToHyperService;
use stampede_api::AppState;
use stampede_api::lane::{self, DateCache, Head, head::MAX_HEAD_BYTES};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Room kept free in a connection's read buffer before each read.
const READ_CHUNK: usize = 4096;
/// A connection's response buffer, kept across requests.
const WRITE_BUFFER: usize = 512;

/// What every connection shares.
pub(crate) struct Shared {
    /// The lane's state.
    pub state: Arc<AppState>,
    /// The router, for everything the lane leaves.
    pub app: Router,
    /// hyper's settings (keep-alive, header-read timeout).
    pub builder: http1::Builder,
    /// Time a client has to send a request head.
    pub header_read_timeout: Duration,
}

/// Serves one connection until it closes, fails, times out or shutdown closes it.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    watcher: Watcher,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(WRITE_BUFFER);
    let mut date = DateCache::default();
    let mut deadline = HeadDeadline::new(shared.header_read_timeout);
    loop {
        match lane::parse(&buf) {
            Head::Grab(head) => {
                let close = head.close || *shutdown.borrow();
                out.clear();
                let answered =
                    lane::answer(&shared.state, &head, peer, close, &mut date, &mut out).await;
                let consumed = head.len;
                if stream.write_all(&out).await.is_err() || close {
                    return;
                }
                buf.drain(..consumed);
                deadline.next_head(Instant::from_std(answered));
            }
            Head::Other => break,
            Head::Partial => {
                if buf.capacity() - buf.len() < READ_CHUNK {
                    buf.reserve(READ_CHUNK);
                }
                let read = tokio::select! {
                    biased;
                    read = stream.read_buf(&mut buf) => read,
                    () = deadline.expired() => return,
                    _ = shutdown.changed(), if buf.is_empty() => return,
                };
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => debug_assert!(buf.len() <= MAX_HEAD_BYTES + READ_CHUNK * 2),
                }
            }
        }
    }
    let io = Prefixed {
        prefix: buf,
        position: 0,
        inner: stream,
    };
    let service = shared
        .app
        .clone()
        .map_request(move |mut request: axum::extract::Request<_>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            request
        });
    let connection = shared
        .builder
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    let _ = watcher.watch(connection).await;
}

/// The header-read deadline: measured from the end of the previous answer (or the accept).
struct HeadDeadline {
    timeout: Duration,
    started: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl HeadDeadline {
    fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            started: Instant::now(),
            sleep: None,
        }
    }

    /// A new head is awaited from `answered` (when the previous answer was ready: a clock
    /// reading the lane has already made, not another).
    fn next_head(&mut self, answered: Instant) {
        self.started = answered;
    }

    /// Resolves once the head has taken longer than the timeout. The sleep may have been
    /// armed for an earlier head: when it fires early it is re-armed for this one.
    async fn expired(&mut self) {
        let due = self.started + self.timeout;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        loop {
            sleep.as_mut().await;
            if Instant::now() >= due {
                return;
            }
            sleep.as_mut().reset(due);
        }
    }
}

/// The connection's stream, read first from the bytes the lane had already read.
struct Prefixed {
    prefix: Vec<u8>,
    position: usize,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let rest = &this.prefix[this.position..];
        if rest.is_empty() {
            if !this.prefix.is_empty() {
                this.prefix = Vec::new();
                this.position = 0;
            }
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let n = rest.len().min(out.remaining());
        out.put_slice(&rest[..n]);
        this.position += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
