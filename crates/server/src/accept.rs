//! The accept loop: a bounded number of connections (overall and per address), each served
//! by [`crate::connection`] — grabs on the lane, the rest by hyper HTTP/1.1 with keep-alive
//! and a header-read timeout (settings `axum::serve` does not expose) — and graceful
//! shutdown. `run(listener, state, limits, shutdown)` lives in the library so tests drive it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use hyper_util::server::graceful::GracefulShutdown;
use stampede_api::AppState;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::connection::{self, Shared};

use crate::refusal::{MAX_REFUSALS_IN_PROGRESS, REFUSAL_TIMEOUT, Refusals};

/// How long shutdown waits for open connections to finish their current request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(20);

/// Connection-level limits.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Most open connections; more are closed at accept.
    pub max_connections: usize,
    /// Most open connections from one address (nginx `limit_conn`; 0: no per-address limit);
    /// one more is answered 503 `too_many_connections` and closed (see [`crate::refusal`]).
    pub max_connections_per_ip: usize,
    /// Peers exempt from the per-address limit: the trusted proxies, whose connections carry
    /// many clients (the per-client limits then apply by `X-Forwarded-For` in the rules).
    pub trusted_proxies: stampede_admission::client_ip::TrustedProxies,
    /// Time a client has to send request headers.
    pub header_read_timeout: Duration,
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains connections.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let refused =
        metrics::counter!("stampede_connections_refused_total", "reason" => "max_connections");
    let refused_per_ip = metrics::counter!("stampede_connections_refused_total", "reason" => "max_connections_per_ip");
    let per_ip_counts: PerIpCounts = Arc::default();
    let refusals = Refusals::new(MAX_REFUSALS_IN_PROGRESS, REFUSAL_TIMEOUT);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    // Tells lane connections to close when idle (hyper's are told by `graceful`).
    let (stopping, stop_watch) = watch::channel(false);
    let shared = Arc::new(Shared {
        app: stampede_api::app(Arc::clone(&state)),
        state,
        builder,
        header_read_timeout: limits.header_read_timeout,
    });
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            refused.increment(1);
            drop(stream);
            continue;
        };
        let Some(per_ip) =
            PerIpPermit::acquire(&per_ip_counts, peer.ip(), per_ip_limit(&limits, peer.ip()))
        else {
            refused_per_ip.increment(1);
            // 503 on a bounded side task (closed unanswered when it is full); see `refusal`.
            drop(permit);
            refusals.refuse(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = connection::serve(
            Arc::clone(&shared),
            stream,
            peer,
            graceful.watcher(),
            stop_watch.clone(),
        );
        tokio::spawn(async move {
            connection.await;
            drop(per_ip);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(stop_watch);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
    Ok(())
}

/// Open connections per client address. Entries exist only while a connection from that
/// address is open, so the map is bounded by `max_connections`. Touched once per connection
/// (accept and close), never per request.
type PerIpCounts = Arc<parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>;

/// The per-address limit for `ip` (0: none; trusted proxies are exempt).
fn per_ip_limit(limits: &ServerLimits, ip: std::net::IpAddr) -> usize {
    if limits.trusted_proxies.contains(ip) {
        0
    } else {
        limits.max_connections_per_ip
    }
}

/// One connection counted against its address; uncounted on drop.
struct PerIpPermit {
    counts: PerIpCounts,
    ip: std::net::IpAddr,
}

impl PerIpPermit {
    fn acquire(counts: &PerIpCounts, ip: std::net::IpAddr, max: usize) -> Option<Self> {
        let mut map = counts.lock();
        let open = map.entry(ip).or_default();
        // `open >= max >= 1` here, so a refused address never leaves an empty entry behind.
        if max != 0 && *open >= max {
            return None;
        }
        *open += 1;
        Some(Self {
            counts: Arc::clone(counts),
            ip,
        })
    }
}

impl Drop for PerIpPermit {
    fn drop(&mut self) {
        let mut map = self.counts.lock();
        if let Some(open) = map.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                map.remove(&self.ip);
            }
        }
    }
}
