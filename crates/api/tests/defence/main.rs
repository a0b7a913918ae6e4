//! The defences over HTTP, one layer a file: rules (admin API, per-ip limits, action status,
//! dry run, concurrency queue), hot reload from the config file, block and allow lists,
//! automatic bans, degrade switches, the per-address connection limit, their metrics, and the
//! README's worked example config. The helpers they share are below.
//!
//! Clients bind other 127.x.y.z source addresses (reqwest's `local_address`) to look like
//! other machines; the server reads the socket peer, so no header is trusted. Tests that wait
//! out a window or a ban start their server on a manual clock and move it.

#[path = "../support/mod.rs"]
mod support;

mod bans;
mod blocklist;
mod connections;
mod example;
mod reload;
mod rules;
mod switches;

use std::net::IpAddr;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use support::{SETTLE_LIMIT, TestServer, expect_error, expect_rate_limited, retry_after_secs};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("an IP address")
}

/// A client whose connections leave from `source` (any 127.x.y.z works on Linux loopback).
fn client_from(source: &str) -> Client {
    Client::builder()
        .local_address(ip(source))
        .build()
        .expect("client builds")
}

async fn grab_from(server: &TestServer, client: &Client, campaign: &str, user: &str) -> Response {
    client
        .post(server.url(&format!("/v1/campaigns/{campaign}/grab")))
        .header("authorization", server.token(user))
        .send()
        .await
        .expect("request sent")
}

/// A grab by `user` from the address `source`.
async fn grab_as_from(server: &TestServer, source: &str, campaign: &str, user: &str) -> Response {
    grab_from(server, &client_from(source), campaign, user).await
}

/// Asserts `response` is 403 `blocked`; returns the message.
async fn expect_blocked(response: Response) -> String {
    expect_error(response, StatusCode::FORBIDDEN, "blocked").await
}

async fn admin_json(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .request(method, path)
        .header("authorization", server.admin());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let text = response.text().await.expect("body read");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn put_rules(server: &TestServer, rules: Value) -> (StatusCode, Value) {
    admin_json(
        server,
        Method::PUT,
        "/v1/admin/rules",
        Some(json!({ "rules": rules })),
    )
    .await
}

/// `PUT /v1/admin/rules` that must be accepted; returns the rules shown.
async fn install_rules(server: &TestServer, rules: Value) -> Value {
    let (status, json) = put_rules(server, rules).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

async fn rule_names(server: &TestServer) -> Vec<String> {
    let (status, json) = admin_json(server, Method::GET, "/v1/admin/rules", None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["rules"]
        .as_array()
        .expect("rules array")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect()
}

/// A seckill that never sells out in a test and lets one user win many times.
async fn roomy_campaign(server: &TestServer) -> String {
    server
        .create_seckill_with(json!({ "stock": 1000, "per_user_limit": 100 }))
        .await
}

async fn metrics_text(server: &TestServer) -> String {
    server.get("/metrics").await.text().await.expect("metrics")
}

/// The value of the first sample of `name` whose labels contain every `labels` fragment.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .find(|l| labels.iter().all(|frag| l.contains(frag)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `POST /v1/admin/blocklist` that must be accepted; returns the entry shown.
async fn block(server: &TestServer, body: Value) -> Value {
    let (status, json) = admin_json(server, Method::POST, "/v1/admin/blocklist", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

async fn unblock(server: &TestServer, kind: &str, value: &str, query: &str) -> StatusCode {
    server
        .request(
            Method::DELETE,
            &format!("/v1/admin/blocklist/{kind}/{value}{query}"),
        )
        .header("authorization", server.admin())
        .send()
        .await
        .unwrap()
        .status()
}

/// Asserts each `(kind, value, query)` unblock answers its status, in order.
async fn unblock_expecting(server: &TestServer, cases: &[(&str, &str, &str, StatusCode)]) {
    for (kind, value, query, status) in cases {
        assert_eq!(
            unblock(server, kind, value, query).await,
            *status,
            "DELETE {kind}/{value}{query}"
        );
    }
}

async fn entries(server: &TestServer) -> Vec<Value> {
    let (status, json) = admin_json(server, Method::GET, "/v1/admin/blocklist", None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["entries"].as_array().expect("entries").clone()
}

async fn set_switch(server: &TestServer, name: &str, on: bool) -> (StatusCode, Value) {
    let response = server
        .request(Method::PUT, &format!("/v1/admin/switches/{name}"))
        .header("authorization", server.admin())
        .header("x-operator", "ops-oncall")
        .json(&json!({ "on": on }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A raw TCP connection to the server from the address `source`.
async fn connect_from(server: &TestServer, source: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let addr = server.base.trim_start_matches("http://").parse().unwrap();
    socket.connect(addr).await.expect("TCP connect")
}

/// Sends `request` (raw HTTP/1.1, `Connection: close`) from 127.0.0.1; the answer's status.
async fn raw_status(server: &TestServer, request: String) -> u16 {
    let mut stream = connect_from(server, "127.0.0.1").await;
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request written");
    let text = support::read_to_close(&mut stream, SETTLE_LIMIT).await;
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}
