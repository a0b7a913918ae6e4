//! Input that is almost right is refused, not half-read: bytes after the JSON value, a media
//! type that only starts like `application/json`, a seckill that can never be paid, names
//! that show nothing or reorder the text around them, and tokens that never expire.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use stampede_api::handlers::payments::sign;
use support::{TestServer, expect_error, read_json};

const SIM_SECRET: &str = "sim-channel-secret-0123456789";

async fn start() -> TestServer {
    TestServer::start_with(|config| config.sim_channel_secret = SIM_SECRET.into()).await
}

/// `POST /v1/campaigns` as the admin with a raw body and content type.
async fn post_campaign_raw(
    server: &TestServer,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    server
        .request(Method::POST, "/v1/campaigns")
        .header("authorization", server.admin())
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent")
}

/// How many campaigns the engine holds.
fn campaigns(server: &TestServer) -> usize {
    server.state.shards.home().engine.campaign_ids().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_bytes_after_the_json_value_are_refused_everywhere() {
    let server = start().await;
    let valid = r#"{"kind":"seckill","name":"s","stock":1,"price_cents":1}"#;
    for body in [
        format!("{valid} xx"),
        format!("{valid}{valid}"),
        format!("{valid}\n{valid}"),
        format!("{valid},"),
    ] {
        let message = expect_error(
            post_campaign_raw(&server, "application/json", &body).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.starts_with("body: trailing"), "{body}: {message}");
    }
    assert_eq!(campaigns(&server), 0, "no campaign was created");
    // Whitespace after the value is not trailing data.
    let response = post_campaign_raw(&server, "application/json", &format!("{valid}\r\n ")).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // A genuine, correctly signed callback with a second object after it is refused before
    // anything is recorded.
    let campaign = server.create_seckill(1).await;
    let (order, amount) = server.win(&campaign, "alice").await;
    let one = json!({"order_id": order, "txn_id": "t1", "amount_cents": amount,
        "paid_at": "2026-01-01T00:00:00Z"});
    let two = json!({"order_id": order, "txn_id": "t2", "amount_cents": amount,
        "paid_at": "2026-01-01T00:00:00Z"});
    let body = format!("{one}{two}").into_bytes();
    let response = server
        .request(Method::POST, "/v1/payments/callbacks/sim")
        .header("content-type", "application/json")
        .header("x-signature", sign(SIM_SECRET.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .expect("request sent");
    let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.starts_with("body: trailing"), "{message}");
    let (status, shown) =
        read_json(server.get_as("alice", &format!("/v1/orders/{order}")).await).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        shown["state"], "pending_payment",
        "nothing was recorded: {shown}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_json_media_type_is_json() {
    let server = start().await;
    let valid = r#"{"kind":"seckill","name":"s","stock":1,"price_cents":1}"#;
    for content_type in [
        "application/jsonfoo",
        "application/json-seq",
        "application/json5",
        "application/jsonx; charset=utf-8",
        "text/json",
    ] {
        expect_error(
            post_campaign_raw(&server, content_type, valid).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
    assert_eq!(campaigns(&server), 0);
    for content_type in [
        "application/json",
        "APPLICATION/JSON",
        "application/json;charset=UTF-8",
        "application/json ; charset=utf-8",
    ] {
        let response = post_campaign_raw(&server, content_type, valid).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{content_type}");
    }
    server.shutdown().await;
}

/// Posts a campaign and expects `400 bad_request` whose message names `field`; nothing is
/// created.
async fn expect_refused(server: &TestServer, body: serde_json::Value, field: &str) {
    let before = campaigns(server);
    let message = expect_error(
        server.post_campaign(&body).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.starts_with(field), "{body}: {message}");
    assert_eq!(campaigns(server), before, "{body} created a campaign");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_seckill_is_refused_naming_the_price() {
    let server = start().await;
    let body = json!({"kind": "seckill", "name": "free", "stock": 5, "price_cents": 0});
    expect_refused(&server, body, "price_cents").await;
    // One cent is a price; a giveaway is a red packet.
    server
        .create_seckill_with(json!({"stock": 5, "price_cents": 1}))
        .await;
    server.create_red_packet(100, 5, 1).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_hide_or_reorder_text_are_refused() {
    let server = start().await;
    for name in [
        "\u{200B}",                // zero-width space only
        "\u{3164}\u{3164}",        // Hangul fillers only
        "\u{2800}",                // Braille blank only
        "\u{3000}\u{00A0}",        // ideographic and no-break spaces only
        "Sale\u{202E}gnp.exe",     // right-to-left override
        "\u{2067}Sale\u{2069}",    // right-to-left isolate
        "Sa\u{200D}le",            // zero-width joiner
        "\u{FEFF}Sale",            // byte-order mark
        "Sale\u{2028}second line", // line separator
    ] {
        let body = json!({"kind": "seckill", "name": name, "stock": 5, "price_cents": 100});
        expect_refused(&server, body, "name").await;
        let body = json!({"kind": "red_packet", "name": name, "total_cents": 100, "count": 5});
        expect_refused(&server, body, "name").await;
    }
    // Any script, emoji and combining marks on a letter are names.
    for name in ["双十一秒杀", "عرض رمضان", "🎉 party", "Cafe\u{0301}"] {
        server
            .create_seckill_with(json!({"stock": 5, "name": name}))
            .await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expiring_too_far_ahead_are_refused() {
    let server = TestServer::start_with(|config| config.max_token_ttl_secs = 3_600).await;
    let campaign = server.create_seckill(5).await;
    let now = support::unix_now();
    let token = |expires: u64| {
        support::bearer(&support::user_token(
            support::TOKEN_SECRET,
            "alice",
            expires,
        ))
    };
    // Never-expiring and just-over-the-limit tokens are refused on the grab route and on the
    // routes that identify a caller; nothing is taken.
    for expires in [u64::MAX, now + 3_600 + 120] {
        let message = expect_error(
            server
                .grab_with(&campaign, Some(&token(expires)), None)
                .await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        assert!(message.contains("too far ahead"), "{message}");
        let response = server
            .request(
                Method::GET,
                &format!("/v1/orders/{}", support::unknown_id("o_")),
            )
            .header("authorization", token(expires))
            .send()
            .await
            .expect("request sent");
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(server.campaign(&campaign).await["remaining"], 5);
    // Within the limit (less a minute for the clock moving on during the test) it works.
    let (status, json) = read_json(
        server
            .grab_with(&campaign, Some(&token(now + 3_600 - 60)), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    server.shutdown().await;
}
