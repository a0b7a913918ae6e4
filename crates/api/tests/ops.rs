//! Health, metrics, routing fallbacks, overload shedding and config loading.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use stampede_server::{Config, ConfigArgs};
use support::{TestServer, expect_error, read_json};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_ok() {
    let server = TestServer::start().await;
    let (status, json) = read_json(server.get("/healthz").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, json!({ "status": "ok" }));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_the_named_series() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(3).await;
    server.win(&campaign, "alice").await;
    server.grab(&campaign, "alice").await;
    server.get("/healthz").await;

    let response = server.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    for series in [
        "stampede_http_requests_total",
        "stampede_grab_latency_seconds",
        "stampede_journal_records_per_fsync",
        "stampede_journal_fsync_seconds",
        "stampede_campaign_remaining",
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("stampede_grab_outcomes_total{outcome=\"won\"}")),
        "no grab outcome counter:\n{text}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_answer_json() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    for path in [
        "/",
        "/v1",
        "/v1/nope",
        "/v2/campaigns",
        "/healthz/x",
        "/v1/orders",
    ] {
        expect_error(server.get(path).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let wrong_methods = [
        (Method::GET, "/v1/campaigns".to_owned()),
        (Method::DELETE, "/v1/campaigns".to_owned()),
        (Method::POST, "/healthz".to_owned()),
        (Method::PUT, "/metrics".to_owned()),
        (Method::GET, format!("/v1/campaigns/{campaign}/grab")),
        (Method::PATCH, format!("/v1/campaigns/{campaign}")),
        (Method::POST, format!("/v1/campaigns/{campaign}/winners")),
        (
            Method::DELETE,
            format!("/v1/orders/{}", support::unknown_id("o_")),
        ),
    ];
    for (method, path) in wrong_methods {
        let response = server.request(method.clone(), &path).send().await.unwrap();
        let message = expect_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
        assert!(!message.is_empty(), "{method} {path}");
    }
    server.shutdown().await;
}

/// Requests wait (bounded) for this many in-flight requests on the server.
async fn wait_in_flight(server: &TestServer, count: usize) {
    server
        .wait_until(&format!("{count} request(s) in flight"), |state| {
            state.in_flight.current() == count
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_max_in_flight_are_shed_with_503() {
    // The payment channel answers after a minute, so a `pay` holds the only slot until then —
    // or until its client goes away. (A body still on its way holds no slot: it is read
    // before the slot is taken; see `slow_bodies.rs`.)
    let server = TestServer::start_with(|c| {
        c.max_in_flight = 1;
        c.payment_call_timeout_ms = 60_000;
        c.channels = vec![stampede_money::SimChannelConfig {
            auto_pay: false,
            latency_ms: 60_000,
            ..Default::default()
        }];
    })
    .await;
    let campaign = server.create_seckill(1).await;
    let (order, _) = server.win(&campaign, "alice").await;
    let request = format!(
        "POST /v1/orders/{order}/pay HTTP/1.1\r\nhost: test\r\nauthorization: {}\r\n\
         content-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}",
        server.token("alice")
    );
    let addr = server.base.trim_start_matches("http://");
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(request.as_bytes()).await.unwrap();
    wait_in_flight(&server, 1).await;

    let response = server.get("/healthz").await;
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    let campaign = support::unknown_id("c_");
    let response = server.grab(&campaign, "alice").await;
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;

    // The held request's client goes away: its slot is freed.
    drop(slow);
    wait_in_flight(&server, 0).await;
    let (status, _) = read_json(server.get("/healthz").await).await;
    assert_eq!(status, StatusCode::OK);
    server.shutdown().await;
}

fn load_from_file(text: &str) -> Result<Config, stampede_server::ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stampede.toml");
    std::fs::write(&file, text).unwrap();
    Config::load(ConfigArgs {
        config: Some(file),
        ..ConfigArgs::default()
    })
}

#[test]
fn config_load_names_the_bad_field() {
    for (text, field) in [
        ("max_in_flight = 0\n", "max_in_flight"),
        ("grab_rate_per_second = 0\n", "grab_rate_per_second"),
        ("idempotency_ttl_secs = 0\n", "idempotency_ttl_secs"),
        ("body_read_timeout_secs = 0\n", "body_read_timeout_secs"),
        (
            "body_read_min_bytes_per_sec = 2000000\n",
            "body_read_min_bytes_per_sec",
        ),
        ("max_in_flight = \"many\"\n", "max_in_flight"),
        ("durability = \"sometimes\"\n", "durability"),
        ("token_secret = \"short\"\n", "token_secret"),
        ("listen_port = 80\n", "listen_port"),
    ] {
        let error = load_from_file(text).unwrap_err().to_string();
        assert!(error.contains(field), "{text:?}: {error}");
    }
    let config = load_from_file("max_in_flight = 7\ndurability = \"os\"\n").unwrap();
    assert_eq!(config.max_in_flight, 7);
    assert_eq!(config.grab_rate_per_second, 1);
}
