//! Payment callbacks are bound to their channel: each `[[channels]]` entry has its own secret
//! (configured, or generated into the data directory), and a genuine body signed for one
//! channel is 401 on another, with nothing recorded.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stampede_api::handlers::payments::sign;
use stampede_core::OrderId;
use support::{TestServer, expect_error, read_json};

const ALIPAY_SECRET: &str = "alipay-callback-secret-0123456789";

fn channel(name: &str, secret: &str) -> stampede_money::SimChannelConfig {
    stampede_money::SimChannelConfig {
        name: stampede_core::ChannelName::parse(name).unwrap(),
        secret: secret.into(),
        auto_pay: false,
        ..Default::default()
    }
}

async fn callback(
    server: &TestServer,
    channel: &str,
    raw: &[u8],
    signature: &str,
) -> reqwest::Response {
    server
        .request(Method::POST, &format!("/v1/payments/callbacks/{channel}"))
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(raw.to_vec())
        .send()
        .await
        .expect("request sent")
}

async fn payments_of(server: &TestServer, order: &str) -> usize {
    let id = OrderId::parse(order).expect("order id");
    server
        .state
        .shards
        .home()
        .engine
        .read_durable(|ledger| ledger.payments_of(id).len())
        .await
        .expect("durable read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_signed_for_one_channel_is_refused_on_another() {
    // alipay's secret is configured; wechat's is generated into the data directory.
    let server = TestServer::start_with(|config| {
        config.channels = vec![channel("alipay", ALIPAY_SECRET), channel("wechat", "")];
    })
    .await;
    let wechat_secret =
        std::fs::read_to_string(server.config.data_dir.join("channel-wechat.secret"))
            .expect("wechat's generated secret");
    assert_ne!(wechat_secret.trim(), ALIPAY_SECRET);

    let campaign = server.create_seckill(2).await;
    let (order, amount) = server.win(&campaign, "alice").await;
    let (status, paying) = read_json(
        server
            .request(Method::POST, &format!("/v1/orders/{order}/pay"))
            .header("authorization", server.token("alice"))
            .json(&json!({"channel": "alipay"}))
            .send()
            .await
            .expect("request sent"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{paying}");

    let body: Value = json!({"order_id": order, "txn_id": "ali-1", "amount_cents": amount,
        "paid_at": "2026-01-01T00:00:00Z"});
    let raw = serde_json::to_vec(&body).unwrap();
    let alipay_signature = sign(ALIPAY_SECRET.as_bytes(), &raw);
    // The genuine alipay callback, re-posted to wechat's URL before and after alipay's own.
    expect_error(
        callback(&server, "wechat", &raw, &alipay_signature).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(payments_of(&server, &order).await, 0, "nothing recorded");
    let (status, paid) =
        read_json(callback(&server, "alipay", &raw, &alipay_signature).await).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["recorded"], "paid");
    expect_error(
        callback(&server, "wechat", &raw, &alipay_signature).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        payments_of(&server, &order).await,
        1,
        "no duplicate payment (and no refund) on wechat"
    );

    // wechat's own secret signs wechat's callbacks, and only those.
    let body = json!({"order_id": order, "txn_id": "wx-1", "amount_cents": amount,
        "paid_at": "2026-01-01T00:00:00Z"});
    let raw = serde_json::to_vec(&body).unwrap();
    let wechat_signature = sign(wechat_secret.trim().as_bytes(), &raw);
    expect_error(
        callback(&server, "alipay", &raw, &wechat_signature).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let (status, duplicate) =
        read_json(callback(&server, "wechat", &raw, &wechat_signature).await).await;
    assert_eq!(status, StatusCode::OK, "{duplicate}");
    assert_eq!(duplicate["recorded"], "duplicate_payment");
    assert_eq!(payments_of(&server, &order).await, 2);
    server.shutdown().await;
}

#[test]
fn channel_secret_settings_that_would_not_bind_are_refused() {
    let base = stampede_server::Config::default();
    let named = |config: stampede_server::Config| config.validate().unwrap_err().to_string();
    // Two channels sharing one secret.
    let shared = stampede_server::Config {
        channels: vec![channel("a", ALIPAY_SECRET), channel("b", ALIPAY_SECRET)],
        ..base.clone()
    };
    assert!(named(shared).contains("channels[1].secret"));
    // A short secret.
    let short = stampede_server::Config {
        channels: vec![channel("a", "short")],
        ..base.clone()
    };
    assert!(named(short).contains("channels[0].secret"));
    // `sim_channel_secret` with no channel named `sim`: it would verify nothing.
    let orphan = stampede_server::Config {
        sim_channel_secret: "sim-channel-secret-0123456789".into(),
        channels: vec![channel("alipay", "")],
        ..base.clone()
    };
    assert!(named(orphan).contains("sim_channel_secret"));
    // ... or beside the `sim` channel's own secret.
    let both = stampede_server::Config {
        sim_channel_secret: "sim-channel-secret-0123456789".into(),
        channels: vec![channel("sim", ALIPAY_SECRET)],
        ..base.clone()
    };
    assert!(named(both).contains("sim_channel_secret"));
    let short = stampede_server::Config {
        sim_channel_secret: "short".into(),
        ..base.clone()
    };
    assert!(named(short).contains("sim_channel_secret"));
    // The default `sim` channel takes it, as before.
    let sim = stampede_server::Config {
        sim_channel_secret: "sim-channel-secret-0123456789".into(),
        ..base
    };
    sim.validate().expect("the default channel is `sim`");
}
