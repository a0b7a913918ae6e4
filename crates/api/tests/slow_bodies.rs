//! Request bodies that arrive slowly or never: thousands of them held open do not starve other
//! clients (a body is read before its request takes an in-flight permit), and one that stops
//! arriving is answered 408 `request_timeout` and its connection closed — at the deadline, or
//! sooner when it falls below the minimum rate.
//!
//! Stalled clients leave from many 127.x.y.z source addresses, as many machines would, each
//! under the per-address connection cap.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::{
    ADMIN_KEY, TestServer, assert_closing_error, expect_error, read_json, read_to_close,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// Connections whose body never comes: thousands, as in an attack, yet quick to open.
const STALLED: usize = 2_048;
/// Source addresses they come from: 128 connections each, far under the per-address cap.
const SOURCES: usize = 16;
/// A small in-flight limit, so that stalled bodies holding permits would show at once.
const MAX_IN_FLIGHT: usize = 8;
/// Requests of ordinary clients while the stalls are held (more than `MAX_IN_FLIGHT`).
const ORDINARY: usize = 40;
/// Upper bound for what the server does by itself; polls end as soon as the condition holds.
const DEADLINE: Duration = Duration::from_secs(60);
/// The `Content-Length` a stalled request declares; it sends one byte of it.
const DECLARED: usize = 100;

async fn connect_from(server: &TestServer, source: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("address"))
        .expect("bind a loopback source address");
    let addr = server.base.trim_start_matches("http://").parse().unwrap();
    socket.connect(addr).await.expect("TCP connect")
}

/// Complete headers of a request declaring a `DECLARED`-byte JSON body, and its first byte.
fn stalled_request(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {DECLARED}\r\n\r\n{{"
    )
}

/// Opens a connection from `source` and sends a request whose body stops after one byte.
async fn stall(server: &TestServer, source: &str, path: &str) -> TcpStream {
    let mut stream = connect_from(server, source).await;
    stream
        .write_all(stalled_request(path).as_bytes())
        .await
        .expect("headers written");
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_stalled_bodies_do_not_starve_other_clients() {
    let server = TestServer::start_with(|c| {
        c.max_in_flight = MAX_IN_FLIGHT;
        // The stalls are held for the whole test: nothing times them out to make room.
        c.body_read_timeout_secs = 300;
        c.body_read_min_bytes_per_sec = 0;
        c.grab_rate_per_second = 1_000;
        c.grab_rate_burst = 1_000;
    })
    .await;
    let campaign = server
        .create_seckill_with(json!({ "stock": 1000, "per_user_limit": 100 }))
        .await;
    // Bodies read before any credential is checked: a campaign (admin) and a payment
    // callback (signed). Neither needs an account to stall.
    let paths = ["/v1/campaigns", "/v1/payments/callbacks/sim"];
    let mut stalled = Vec::with_capacity(STALLED);
    for i in 0..STALLED {
        let source = format!("127.0.{}.1", 40 + i % SOURCES);
        stalled.push(stall(&server, &source, paths[i % paths.len()]).await);
    }
    // Every stall has reached the server: its body is being waited for — or, were the body
    // read under an in-flight permit, the permits are all held (the starvation this guards
    // against, which the ordinary clients below would then meet as 503 `overloaded`).
    let reads = server.state.body_reads.clone();
    let in_flight = server.state.in_flight.clone();
    support::eventually_within("every stalled body to be waited for", DEADLINE, || async {
        reads.waiting() >= STALLED || in_flight.current() >= MAX_IN_FLIGHT
    })
    .await;

    // Ordinary clients keep being answered: reads, grabs, and requests with a body.
    for i in 0..ORDINARY {
        let (status, json) = read_json(server.get("/healthz").await).await;
        assert_eq!(status, StatusCode::OK, "health check {i}: {json}");
        let (order, _) = server.win(&campaign, &format!("shopper-{}", i % 4)).await;
        let (status, json) =
            read_json(server.get_as_admin(&format!("/v1/orders/{order}")).await).await;
        assert_eq!(status, StatusCode::OK, "order read {i}: {json}");
        if i % 8 == 0 {
            server.create_seckill(1).await;
        }
    }
    // The stalls were there all along, and none of them holds an in-flight permit.
    assert!(
        reads.waiting() >= STALLED,
        "{} stalls left",
        reads.waiting()
    );
    assert_eq!(in_flight.current(), 0);

    // A stalled request whose body finally comes is handled as any other (no admin key: 401).
    let mut late = stalled.pop().expect("a stalled connection");
    let rest = format!("{}}}", " ".repeat(DECLARED - 2));
    late.write_all(rest.as_bytes())
        .await
        .expect("rest of the body");
    let answer = read_first_answer(&mut late).await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer:?}");
    drop(stalled);
    server.shutdown().await;
}

/// Reads the first answer on a keep-alive connection (it stays open after it).
async fn read_first_answer(stream: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 4096];
    let read = tokio::time::timeout(DEADLINE, stream.read(&mut buffer))
        .await
        .expect("answered in time")
        .expect("answer read");
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_and_closed_at_the_deadline() {
    let server = TestServer::start_with(|c| {
        c.body_read_timeout_secs = 1;
        c.body_read_min_bytes_per_sec = 0;
    })
    .await;
    let mut stream = stall(&server, "127.0.39.1", "/v1/campaigns").await;
    assert_closing_error(
        &read_to_close(&mut stream, DEADLINE).await,
        408,
        "request_timeout",
    );
    let text = server.get("/metrics").await.text().await.unwrap();
    assert!(
        text.lines().any(|l| {
            l.starts_with("stampede_http_body_refusals_total{reason=\"timeout\"} ")
                && !l.ends_with(" 0")
        }),
        "{text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_below_the_minimum_rate_is_cut_before_the_deadline() {
    // The deadline is far beyond this test's bound: only the rate rule can answer in time.
    let server = TestServer::start_with(|c| {
        c.body_read_timeout_secs = 300;
        c.body_read_min_bytes_per_sec = 1_024;
    })
    .await;
    let mut stream = stall(&server, "127.0.39.2", "/v1/payments/callbacks/sim").await;
    assert_closing_error(
        &read_to_close(&mut stream, DEADLINE).await,
        408,
        "request_timeout",
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_in_several_chunks_is_read_whole() {
    let server = TestServer::start().await;
    let mut stream = connect_from(&server, "127.0.39.3").await;
    let body =
        json!({ "kind": "seckill", "name": "chunked", "stock": 3, "price_cents": 500 }).to_string();
    let (first, second) = body.split_at(body.len() / 2);
    let head = format!(
        "POST /v1/campaigns HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {ADMIN_KEY}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    for part in [
        head,
        format!("{:x}\r\n{first}\r\n", first.len()),
        format!("{:x}\r\n{second}\r\n0\r\n\r\n", second.len()),
    ] {
        stream.write_all(part.as_bytes()).await.expect("written");
        stream.flush().await.expect("flushed");
    }
    let answer = read_to_close(&mut stream, DEADLINE).await;
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer:?}");
    // And a declared body over the limit is refused at once, before it is sent.
    let response = server
        .request(reqwest::Method::POST, "/v1/campaigns")
        .header("authorization", server.admin())
        .header("content-type", "application/json")
        .body(vec![b' '; stampede_api::json::MAX_BODY_BYTES + 1])
        .send()
        .await
        .expect("request sent");
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    server.shutdown().await;
}
