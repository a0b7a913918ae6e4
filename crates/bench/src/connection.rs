//! Raw HTTP/1.1 keep-alive connections (`hyper::client::conn::http1`), optionally bound to a
//! source address, reconnecting when the server closes one. Deliberately not a pooled client:
//! each load worker owns one [`Connection`] with at most one request in flight, so
//! "connections" means concurrency. A botnet worker serves users from several source
//! addresses; it keeps one idle keep-alive socket per address (like each bot machine keeping
//! its own), up to [`MAX_SOURCES_PER_CONNECTION`].

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// Largest response body read; the contract's bodies are small JSON, winners pages ≤ 1000 rows.
pub(crate) const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Idle sockets kept per worker, one per source address; beyond this the least useful (an
/// arbitrary one) is closed. 64 keeps fd use at ≤ 64 × connections for bot workers.
pub(crate) const MAX_SOURCES_PER_CONNECTION: usize = 64;
/// Give up on one request after this long; a grab slower than this is reported as a timeout.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Give up on opening a TCP connection after this long (within [`REQUEST_TIMEOUT`]). Nothing
/// is written before the connection is open, so a connect that outlives it is a connect
/// failure (the request surely did not reach the server) rather than a timeout of unknown
/// outcome. Three seconds lets a loaded server's listen queue drop a SYN once (Linux
/// retransmits it after 1 s) and still answer.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a request produced no response.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// TCP connect (within [`CONNECT_TIMEOUT`]) or HTTP handshake failed.
    #[error("connect to {address} failed: {source}")]
    Connect {
        /// The server address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A kept-alive connection closed before any of the request was written (the client
    /// library handed the request back unsent).
    #[error("connection closed before the request was sent: {0}")]
    NotSent(String),
    /// No complete response within [`REQUEST_TIMEOUT`].
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The exchange failed after connecting, perhaps after the request reached the server.
    #[error("request failed: {0}")]
    Http(String),
}

impl TransportError {
    /// True when none of the request was written, so the server cannot have acted on it and
    /// sending it again cannot double its effect.
    pub(crate) fn never_sent(&self) -> bool {
        matches!(
            self,
            TransportError::Connect { .. } | TransportError::NotSent(_)
        )
    }
}

/// A response with its body read.
#[derive(Debug)]
pub(crate) struct Response {
    /// Status code.
    pub status: StatusCode,
    /// `Retry-After` header, if any.
    pub retry_after: Option<String>,
    /// Body bytes.
    pub body: Bytes,
}

/// A keep-alive connection to `server` per source address, (re)opened lazily; one request at
/// a time.
pub(crate) struct Connection {
    server: SocketAddr,
    host: HeaderValue,
    senders: HashMap<Option<IpAddr>, SendRequest<Full<Bytes>>>,
    connects: u64,
}

impl Connection {
    /// A connection to `server`; nothing is opened until the first request.
    pub(crate) fn new(server: SocketAddr) -> Self {
        let host = HeaderValue::from_str(&server.to_string()).expect("socket address is ASCII");
        Self {
            server,
            host,
            senders: HashMap::new(),
            connects: 0,
        }
    }

    /// How many TCP connections this has opened so far.
    pub(crate) fn connects(&self) -> u64 {
        self.connects
    }

    /// Sends one request from `source` (None: the OS picks), reconnecting first when that
    /// source's previous connection closed.
    pub(crate) async fn send(
        &mut self,
        source: Option<IpAddr>,
        method: Method,
        path_and_query: &str,
        authorization: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Response, TransportError> {
        let request = self.build(method, path_and_query, authorization, body)?;
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(source, request)).await {
            Ok(result) => {
                if result.is_err() {
                    self.senders.remove(&source);
                }
                result
            }
            Err(_) => {
                // The connection may still deliver the late response; never reuse it.
                self.senders.remove(&source);
                Err(TransportError::Timeout(REQUEST_TIMEOUT))
            }
        }
    }

    fn build(
        &self,
        method: Method,
        path_and_query: &str,
        authorization: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, self.host.clone());
        if let Some(credentials) = authorization {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {credentials}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                json
            }
            None => Bytes::new(),
        };
        builder = builder.header(header::CONTENT_LENGTH, body.len());
        builder
            .body(Full::new(body))
            .map_err(|error| TransportError::Http(format!("bad request: {error}")))
    }

    async fn exchange(
        &mut self,
        source: Option<IpAddr>,
        request: Request<Full<Bytes>>,
    ) -> Result<Response, TransportError> {
        let reusable = self
            .senders
            .get(&source)
            .is_some_and(|sender| !sender.is_closed());
        if !reusable {
            self.senders.remove(&source);
            if self.senders.len() >= MAX_SOURCES_PER_CONNECTION {
                let evicted = *self.senders.keys().next().expect("map is full");
                self.senders.remove(&evicted);
            }
            let sender = self.connect(source).await?;
            self.senders.insert(source, sender);
        }
        let sender = self.senders.get_mut(&source).expect("connected above");
        sender
            .ready()
            .await
            .map_err(|error| TransportError::NotSent(error.to_string()))?;
        // `try_send_request` hands the request back when the connection closed before it was
        // serialised: then nothing reached the server.
        let response = sender
            .try_send_request(request)
            .await
            .map_err(|mut error| {
                let unsent = error.take_message().is_some();
                let reason = error.into_error().to_string();
                if unsent {
                    TransportError::NotSent(reason)
                } else {
                    TransportError::Http(reason)
                }
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| TransportError::Http(format!("reading body: {error}")))?
            .to_bytes();
        Ok(Response {
            status,
            retry_after,
            body,
        })
    }

    async fn connect(
        &mut self,
        source: Option<IpAddr>,
    ) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let connect_error = |source| TransportError::Connect {
            address: self.server,
            source,
        };
        let stream = open_stream(self.server, source)
            .await
            .map_err(connect_error)?;
        self.connects += 1;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| connect_error(std::io::Error::other(error)))?;
        // The connection future drives the socket; it ends when the socket closes or the sender
        // is dropped, so the task is bounded by the connection's life.
        tokio::spawn(async move {
            let _closed = connection.await;
        });
        Ok(sender)
    }
}

async fn open_stream(server: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(address) = source {
        socket.bind(SocketAddr::new(address, 0))?;
    }
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(server))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within {CONNECT_TIMEOUT:?}"),
            )
        })??;
    stream.set_nodelay(true)?;
    Ok(stream)
}
