//! The lane on real sockets: grabs answered from a connection's bytes, the connection handed
//! to hyper (with the bytes already read) at the first other request, and hyper's connection
//! rules kept: `Connection: close`, the header-read timeout, graceful shutdown.

mod support;

use std::time::Duration;

use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response read off a raw connection.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> String {
        let body: serde_json::Value = serde_json::from_str(&self.body).expect("a JSON body");
        body["error"]["code"]
            .as_str()
            .or(body["outcome"].as_str())
            .expect("a code or an outcome")
            .to_owned()
    }
}

/// Reads the next whole response (headers, then `content-length` bytes) from `stream`,
/// keeping what follows in `pending`; `None` at end of stream before any byte of one.
async fn next_response(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<RawResponse> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) = response.parse(pending).expect("valid HTTP") {
            let headers: Vec<(String, String)> = response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8(h.value.to_vec()).unwrap(),
                    )
                })
                .collect();
            let status = response.code.expect("a status");
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            if pending.len() >= head_len + length {
                let body =
                    String::from_utf8(pending[head_len..head_len + length].to_vec()).unwrap();
                pending.drain(..head_len + length);
                return Some(RawResponse {
                    status,
                    headers,
                    body,
                });
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(support::SETTLE_LIMIT, stream.read(&mut chunk))
            .await
            .expect("an answer in time")
            .expect("read");
        if n == 0 {
            assert!(pending.is_empty(), "stream ended inside a response");
            return None;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// Waits (bounded) for the server to close `stream`; returns whether it did.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut chunk = [0u8; 64];
    matches!(
        tokio::time::timeout(limit, stream.read(&mut chunk)).await,
        Ok(Ok(0) | Err(_))
    )
}

fn grab_head(campaign: &str, token: &str, extra: &str) -> String {
    format!(
        "POST /v1/campaigns/{campaign}/grab HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nContent-Length: 0\r\n{extra}\r\n"
    )
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

#[tokio::test]
async fn grabs_and_then_other_routes_on_one_connection_are_each_answered_once() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    let mut stream = connect(&server).await;
    let mut pending = Vec::new();
    // Two grabs, a route the lane leaves to hyper, and a grab after it, in one write: the
    // lane answers the first two, hyper the rest from the bytes the lane had read.
    let pipelined = format!(
        "{}{}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n{}",
        grab_head(&campaign, &server.token("alice"), ""),
        grab_head(&campaign, &server.token("bob"), ""),
        grab_head(&campaign, &server.token("alice"), ""),
    );
    stream.write_all(pipelined.as_bytes()).await.unwrap();
    let won = next_response(&mut stream, &mut pending).await.unwrap();
    assert_eq!((won.status, won.code().as_str()), (200, "won"), "{won:?}");
    assert_eq!(won.header("content-type"), Some("application/json"));
    assert!(
        won.header("date").is_some_and(|d| d.ends_with(" GMT")),
        "{won:?}"
    );
    let sold_out = next_response(&mut stream, &mut pending).await.unwrap();
    assert_eq!(
        (sold_out.status, sold_out.code().as_str()),
        (410, "sold_out")
    );
    let health = next_response(&mut stream, &mut pending).await.unwrap();
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.body.contains("ok"), "{health:?}");
    let again = next_response(&mut stream, &mut pending).await.unwrap();
    assert_eq!((again.status, again.code().as_str()), (200, "already_won"));
    // Exactly four answers: nothing was answered twice or left unanswered.
    assert!(pending.is_empty());
    stream
        .write_all(grab_head(&campaign, &server.token("carol"), "").as_bytes())
        .await
        .unwrap();
    let by_hyper = next_response(&mut stream, &mut pending).await.unwrap();
    assert_eq!(by_hyper.code(), "sold_out");
}

#[tokio::test]
async fn a_head_in_pieces_is_answered_once_whole() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    let mut stream = connect(&server).await;
    let head = grab_head(&campaign, &server.token("alice"), "");
    let (first, rest) = head.split_at(head.len() / 2);
    stream.write_all(first.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    // Two segments on loopback (which half the server reads first is up to the kernel; a
    // head cut at every byte is `lane::head`'s unit test).
    tokio::task::yield_now().await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let answer = next_response(&mut stream, &mut Vec::new()).await.unwrap();
    assert_eq!(answer.code(), "won");
}

#[tokio::test]
async fn connection_close_is_answered_then_closed() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    let mut stream = connect(&server).await;
    let head = grab_head(&campaign, &server.token("alice"), "Connection: close\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut pending = Vec::new();
    let answer = next_response(&mut stream, &mut pending).await.unwrap();
    assert_eq!(answer.code(), "won");
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(next_response(&mut stream, &mut pending).await.is_none());
}

#[tokio::test]
async fn a_grab_with_a_body_is_answered_by_the_router_as_before() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /v1/campaigns/{campaign}/grab HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        server.token("alice")
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = next_response(&mut stream, &mut Vec::new()).await.unwrap();
    assert_eq!((answer.status, answer.code().as_str()), (200, "won"));
}

#[tokio::test]
async fn a_head_that_stops_arriving_is_cut_at_the_header_read_timeout() {
    let server = TestServer::start_with(|c| c.header_read_timeout_secs = 1).await;
    let campaign = server.create_seckill(1).await;
    // Half a head, then silence: closed at the deadline, unanswered.
    let mut stalled = connect(&server).await;
    let head = grab_head(&campaign, &server.token("alice"), "");
    stalled.write_all(&head.as_bytes()[..20]).await.unwrap();
    let started = tokio::time::Instant::now();
    assert!(
        closed_within(&mut stalled, Duration::from_secs(10)).await,
        "still open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before its deadline: {:?}",
        started.elapsed()
    );
    // An idle keep-alive connection is cut the same way after its last answer, and each
    // answer gives the next head the full timeout again.
    let mut idle = connect(&server).await;
    let mut pending = Vec::new();
    for user in ["bob", "carol", "dave"] {
        idle.write_all(grab_head(&campaign, &server.token(user), "").as_bytes())
            .await
            .unwrap();
        next_response(&mut idle, &mut pending).await.unwrap();
    }
    assert!(
        closed_within(&mut idle, Duration::from_secs(10)).await,
        "still open"
    );
}

#[tokio::test]
async fn shutdown_closes_idle_lane_connections_at_once() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    let mut stream = connect(&server).await;
    stream
        .write_all(grab_head(&campaign, &server.token("alice"), "").as_bytes())
        .await
        .unwrap();
    next_response(&mut stream, &mut Vec::new()).await.unwrap();
    // The connection is idle on the lane: shutdown does not wait its grace period for it.
    let stopped = tokio::time::Instant::now();
    server.shutdown().await;
    assert!(
        stopped.elapsed() < stampede_server::accept::SHUTDOWN_GRACE,
        "shutdown waited for an idle connection"
    );
    assert!(closed_within(&mut stream, Duration::from_secs(1)).await);
}
