//! The per-address connection limit (nginx `limit_conn`): one connection too many is answered
//! 503 `too_many_connections` and closed; trusted proxies are exempt.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, SETTLE_LIMIT, TestServer, eventually};
use crate::{connect_from, metrics_text, sample};

/// Sends `GET /healthz` on a keep-alive connection; whether a 200 came back.
async fn healthz_on(stream: &mut TcpStream) -> bool {
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 512];
    match tokio::time::timeout(SETTLE_LIMIT, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => buf[..n].starts_with(b"HTTP/1.1 200"),
        _ => false,
    }
}

/// A connection from `source` that must be served.
async fn served_from(server: &TestServer, source: &str) -> TcpStream {
    let mut connection = connect_from(server, source).await;
    assert!(
        healthz_on(&mut connection).await,
        "a connection from {source} was not served"
    );
    connection
}

/// Reads a refused connection to its end: a 503 `too_many_connections` (as nginx `limit_conn`
/// answers), then the server's close — at once, not left hanging.
async fn expect_refused_with_503(stream: &mut TcpStream) {
    let text = support::read_to_close(stream, SETTLE_LIMIT).await;
    support::assert_closing_error(&text, 503, "too_many_connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_connection_from_one_address_is_answered_503_and_closed() {
    let server = TestServer::start_with(|c| c.max_connections_per_ip = 2).await;
    let first = served_from(&server, "127.0.15.1").await;
    let second = served_from(&server, "127.0.15.1").await;

    // Whether or not the client has sent its request yet.
    let mut third = connect_from(&server, "127.0.15.1").await;
    expect_refused_with_503(&mut third).await;
    let mut fourth = connect_from(&server, "127.0.15.1").await;
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("request written");
    expect_refused_with_503(&mut fourth).await;
    // Another address is not affected.
    served_from(&server, "127.0.15.2").await;
    let text = metrics_text(&server).await;
    assert!(
        sample(
            &text,
            "stampede_connections_refused_total",
            &["reason=\"max_connections_per_ip\""]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    // Closing one frees its place (once the server has seen the close).
    drop(first);
    eventually("a freed connection place", || async {
        let mut again = connect_from(&server, "127.0.15.1").await;
        healthz_on(&mut again).await
    })
    .await;
    drop(second);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_are_exempt_from_the_per_address_connection_limit() {
    let server = TestServer::start_with(|c| {
        c.max_connections_per_ip = 1;
        c.trusted_proxies = "127.0.16.1".into();
    })
    .await;
    // A load balancer carries many clients on its connections: all three are served.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(served_from(&server, "127.0.16.1").await);
    }
    // Any other address keeps the limit of one.
    let _first = served_from(&server, "127.0.16.2").await;
    let mut second = connect_from(&server, "127.0.16.2").await;
    expect_refused_with_503(&mut second).await;
    drop(held);
    server.shutdown().await;
}
