//! What axum's own extractors would refuse in plain text — a path segment that does not decode
//! (`%FF` is not UTF-8), a body over the limit — answers the JSON error with a stable code on
//! every route that reads a raw path segment or a raw body.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use stampede_api::handlers::payments::sign;
use support::{TestServer, expect_error};

const SIM_SECRET: &str = "sim-channel-secret-0123456789";

async fn start() -> TestServer {
    TestServer::start_with(|config| config.sim_channel_secret = SIM_SECRET.into()).await
}

/// A signed callback of `body` to `channel` (the path segment as sent, percent-encoded).
async fn callback(server: &TestServer, channel: &str, body: Vec<u8>) -> reqwest::Response {
    let signature = sign(SIM_SECRET.as_bytes(), &body);
    server
        .request(Method::POST, &format!("/v1/payments/callbacks/{channel}"))
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(body)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_to_an_undecodable_channel_is_a_json_400() {
    let server = start().await;
    for channel in ["%FF", "%C3%28", "sim%FF"] {
        let message = expect_error(
            callback(&server, channel, b"{}".to_vec()).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.starts_with("path: "), "{channel}: {message}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_callback_is_a_json_413() {
    let server = start().await;
    let order = support::unknown_id("o_");
    let body = json!({
        "order_id": order,
        "txn_id": "x".repeat(17 * 1024),
        "amount_cents": 1,
        "paid_at": "2026-01-01T00:00:00Z",
    });
    let body = serde_json::to_vec(&body).unwrap();
    assert!(body.len() > stampede_api::json::MAX_BODY_BYTES);
    expect_error(
        callback(&server, "sim", body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    // Just under the limit it is read, verified and parsed: the order is unknown.
    let body = json!({
        "order_id": order,
        "txn_id": "t1",
        "amount_cents": 1,
        "paid_at": "2026-01-01T00:00:00Z",
    });
    expect_error(
        callback(&server, "sim", serde_json::to_vec(&body).unwrap()).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_path_segments_that_do_not_decode_are_a_json_400_after_authentication() {
    let server = start().await;
    let set_switch = |name: &str, authorization: Option<String>| {
        let mut request = server
            .request(Method::PUT, &format!("/v1/admin/switches/{name}"))
            .json(&json!({ "on": true }));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    expect_error(
        set_switch("%FF", Some(server.admin())).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // Credentials are checked first, as for a malformed body.
    expect_error(
        set_switch("%FF", None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // A well-formed name still reaches the handler.
    expect_error(
        set_switch("checkout", Some(server.admin())).await.unwrap(),
        StatusCode::NOT_FOUND,
        "switch_not_found",
    )
    .await;

    let unblock = |path: &str, authorization: Option<String>| {
        let mut request = server.request(Method::DELETE, &format!("/v1/admin/blocklist/{path}"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    for path in ["%FF/mallory", "user/%FF", "ip/10.0.0.0%FF/8"] {
        expect_error(
            unblock(path, Some(server.admin())).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        expect_error(
            unblock(path, None).await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
    }
    // A network (the value holds a `/`) still decodes: nothing is listed under it.
    expect_error(
        unblock("ip/10.0.0.0/8", Some(server.admin()))
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_listed",
    )
    .await;
    server.shutdown().await;
}
