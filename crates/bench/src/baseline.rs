//! The ceiling: a minimal hyper HTTP/1.1 server that answers every request with the same small
//! JSON body. Benching it shows what this machine and client can do with no engine behind the
//! socket, so server numbers can be read as a fraction of that.

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The fixed answer, shaped like a grab reply so parsing costs are comparable.
pub const BODY: &str = r#"{"outcome":"won","order_id":"baseline","amount_cents":1}"#;

/// Pause after a failed accept: long enough to let fds free up, short against any bench.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Serves until `shutdown` completes, then stops accepting and closes open connections.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    // Per-connection failures (e.g. out of fds, aborted handshake) must not end
                    // the server; pause so a persistent one (EMFILE) is not a hot loop.
                    Err(_) => {
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                connections.spawn(async move {
                    let service = service_fn(|_request: Request<Incoming>| async {
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header(header::CONTENT_TYPE, "application/json")
                                .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                                .expect("static response is valid"),
                        )
                    });
                    let _closed = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            // Reap finished connections so the set stays as large as the open connections.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    Ok(())
}
