//! `POST /v1/campaigns/{id}/grab` over real HTTP: outcomes, limits, auth, idempotency.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::{
    TOKEN_SECRET, TestServer, bearer, expect_error, expect_rate_limited, read_json,
    retry_after_secs, rfc3339_from_now, unix_now, unknown_id, user_token,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn win_then_already_won_then_sold_out() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(2).await;

    let (status, won) = read_json(server.grab(&campaign, "alice").await).await;
    assert_eq!(status, StatusCode::OK);
    let object = won.as_object().unwrap();
    assert_eq!(object.len(), 3, "{won}");
    assert_eq!(won["outcome"], "won");
    assert_eq!(won["amount_cents"], 1999);
    let order = won["order_id"].as_str().unwrap().to_owned();
    assert!(support::is_id(&order, "o_"), "{order}");

    let (status, again) = read_json(server.grab(&campaign, "alice").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again,
        json!({ "outcome": "already_won", "order_id": order, "amount_cents": 1999 })
    );

    let (bob_order, _) = server.win(&campaign, "bob").await;
    assert_ne!(bob_order, order);
    expect_error(
        server.grab(&campaign, "carol").await,
        StatusCode::GONE,
        "sold_out",
    )
    .await;

    // A winner still gets their order back once the campaign is sold out.
    let (status, again) = read_json(server.grab(&campaign, "alice").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["outcome"], "already_won");
    assert_eq!(again["order_id"], order.as_str());
    assert_eq!(server.campaign(&campaign).await["remaining"], 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_and_unknown_campaigns_refuse() {
    let server = TestServer::start().await;
    let scheduled = server
        .create_seckill_with(json!({ "stock": 5, "starts_at": rfc3339_from_now(3600) }))
        .await;
    expect_error(
        server.grab(&scheduled, "alice").await,
        StatusCode::CONFLICT,
        "not_started",
    )
    .await;

    let ended = server
        .create_seckill_with(json!({
            "stock": 5,
            "starts_at": rfc3339_from_now(-7200),
            "ends_at": rfc3339_from_now(-3600),
        }))
        .await;
    expect_error(
        server.grab(&ended, "bob").await,
        StatusCode::CONFLICT,
        "ended",
    )
    .await;

    expect_error(
        server.grab(&unknown_id("c_"), "carol").await,
        StatusCode::NOT_FOUND,
        "campaign_not_found",
    )
    .await;
    let message = expect_error(
        server.grab("c_nope", "dave").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("campaign_id"), "{message}");

    // None of the refusals took stock.
    assert_eq!(server.campaign(&scheduled).await["remaining"], 5);
    assert_eq!(server.campaign(&ended).await["remaining"], 5);
    server.shutdown().await;
}

/// `token` with its last MAC digit changed (always to a different digit).
fn flip_last_hex_digit(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    let flipped = if last == "0" { "1" } else { "0" };
    format!("{head}{flipped}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_answer_401() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(5).await;
    let future = unix_now() + 3600;
    let good = user_token(TOKEN_SECRET, "alice", future);
    let tampered_user = good.replacen("alice", "alicf", 1);
    let cases = [
        None,
        Some(String::new()),
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Basic {good}")),
        Some(good.clone()),
        Some(bearer("garbage")),
        Some(bearer("v1.alice")),
        Some(bearer(&format!("v1.alice.{future}.zz"))),
        Some(bearer(&format!("v1.al ice.{future}.{}", "0".repeat(64)))),
        Some(bearer(&user_token(TOKEN_SECRET, "alice", unix_now() - 10))),
        Some(bearer(&user_token(
            "another-secret-0123456789abcdef",
            "alice",
            future,
        ))),
        Some(bearer(&tampered_user)),
        Some(bearer(&flip_last_hex_digit(&good))),
        Some(server.admin()),
    ];
    for authorization in &cases {
        let response = server
            .grab_with(&campaign, authorization.as_deref(), None)
            .await;
        let message = expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert!(!message.is_empty(), "{authorization:?}");
    }
    assert_eq!(server.campaign(&campaign).await["remaining"], 5);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_user_limit_allows_that_many_wins() {
    let server = TestServer::start_with(|c| c.grab_rate_burst = 3).await;
    let campaign = server
        .create_seckill_with(json!({ "stock": 10, "per_user_limit": 2 }))
        .await;
    let (first, _) = server.win(&campaign, "alice").await;
    let (second, _) = server.win(&campaign, "alice").await;
    assert_ne!(first, second);
    let (status, third) = read_json(server.grab(&campaign, "alice").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(third["outcome"], "already_won");
    assert!(
        third["order_id"] == first.as_str() || third["order_id"] == second.as_str(),
        "{third}"
    );
    assert_eq!(server.campaign(&campaign).await["remaining"], 8);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after() {
    // Defaults: 1 grab per second per user, burst 1. A limit of 3 keeps alice off the
    // `already_won` fast path, so her second grab reaches the limiter. The server's clock
    // stands still unless moved, so the second grab is always inside the window.
    let server = TestServer::start_manual(|_| {}).await;
    let campaign = server
        .create_seckill_with(json!({ "stock": 10, "per_user_limit": 3 }))
        .await;
    server.win(&campaign, "alice").await;
    let response = server.grab(&campaign, "alice").await;
    retry_after_secs(&response);
    expect_rate_limited(response).await;

    // Another user is not limited by alice's budget.
    server.win(&campaign, "bob").await;
    // Just short of a second she is still refused; after the second, she may grab again.
    server.advance(Duration::from_millis(900));
    expect_rate_limited(server.grab(&campaign, "alice").await).await;
    server.advance(Duration::from_millis(100));
    server.win(&campaign, "alice").await;
    assert_eq!(server.campaign(&campaign).await["remaining"], 7);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_packets_split_the_total_exactly() {
    let server = TestServer::start().await;
    let (total, count, min) = (1_000_u64, 9_u64, 7_u64);
    let campaign = server.create_red_packet(total, count, min).await;
    let mut sum = 0;
    for i in 0..count {
        let user = format!("user-{i}");
        let (order, amount) = server.win(&campaign, &user).await;
        assert!(amount >= min, "{user} got {amount}");
        sum += amount;
        // The order of a red packet is `won` (nothing to pay).
        let (status, json) =
            read_json(server.get_as(&user, &format!("/v1/orders/{order}")).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["state"], "won");
        assert_eq!(json["amount_cents"], amount);
    }
    assert_eq!(sum, total);
    let shown = server.campaign(&campaign).await;
    assert_eq!(shown["status"], "sold_out");
    assert_eq!(shown["remaining"], 0);
    assert_eq!(shown["remaining_cents"], 0);
    expect_error(
        server.grab(&campaign, "late").await,
        StatusCode::GONE,
        "sold_out",
    )
    .await;
    let (status, again) = read_json(server.grab(&campaign, "user-0").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["outcome"], "already_won");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_response() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    let alice = server.token("alice");
    let keyed = |key: &'static str, authorization: String| {
        let campaign = campaign.clone();
        let server = &server;
        async move {
            let response = server
                .grab_with(&campaign, Some(&authorization), Some(key))
                .await;
            let status = response.status();
            let content_type = response.headers().get("content-type").cloned();
            (status, content_type, response.bytes().await.unwrap())
        }
    };

    let first = keyed("key-1", alice.clone()).await;
    assert_eq!(first.0, StatusCode::OK);
    let won: serde_json::Value = serde_json::from_slice(&first.2).unwrap();
    assert_eq!(won["outcome"], "won");
    // A fresh grab would now say `already_won`; the key replays `won` byte for byte.
    let replay = keyed("key-1", alice.clone()).await;
    assert_eq!(replay, first);
    // A different key is decided afresh.
    let (status, other) = read_json(
        server
            .grab_with(&campaign, Some(&alice), Some("key-2"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(other["outcome"], "already_won");
    assert_eq!(other["order_id"], won["order_id"]);

    // The same key is scoped to its user: bob's `key-1` is his own (and the stock is gone).
    let bob = server.token("bob");
    let sold_out = keyed("key-1", bob.clone()).await;
    assert_eq!(sold_out.0, StatusCode::GONE);
    assert_eq!(keyed("key-1", bob).await, sold_out);
    // The scope includes the campaign: bob's `key-1` on another campaign is decided afresh.
    let second = server.create_seckill(1).await;
    let (status, json) = read_json(
        server
            .grab_with(&second, Some(&server.token("bob")), Some("key-1"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["outcome"], "won");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_idempotency_keys_answer_400() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(5).await;
    let alice = server.token("alice");
    let too_long = "k".repeat(129);
    for key in ["", "has space", too_long.as_str(), "tab\there", "ключ"] {
        let mut request = server
            .request(
                reqwest::Method::POST,
                &format!("/v1/campaigns/{campaign}/grab"),
            )
            .header("authorization", &alice);
        request = request.header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
        );
        let message = expect_error(
            request.send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.starts_with("Idempotency-Key"), "{key:?}: {message}");
    }
    // The longest allowed key works, and nothing was taken before.
    let longest = "k".repeat(128);
    let (status, json) = read_json(
        server
            .grab_with(&campaign, Some(&alice), Some(&longest))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(server.campaign(&campaign).await["remaining"], 4);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_skips_transient_refusals_and_expires_after_ttl() {
    // Rate 1/s, burst 1, keys kept 1 s; a limit of 3 keeps alice off the `already_won` path.
    // Both windows read the server's clock, which moves only when the test moves it.
    let server = TestServer::start_manual(|c| c.idempotency_ttl_secs = 1).await;
    let campaign = server
        .create_seckill_with(json!({ "stock": 10, "per_user_limit": 3 }))
        .await;
    let alice = server.token("alice");
    let send = |key: &'static str| {
        let (server, campaign, alice) = (&server, &campaign, &alice);
        async move {
            let response = server.grab_with(campaign, Some(alice), Some(key)).await;
            (response.status(), response.bytes().await.unwrap())
        }
    };

    let first = send("k1").await;
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(send("k1").await, first, "replayed within the ttl");
    let limited = send("k2").await;
    assert_eq!(limited.0, StatusCode::TOO_MANY_REQUESTS);

    // Just inside the ttl, `k1` still replays; `k2` is still refused (and still not stored).
    server.advance(Duration::from_millis(900));
    assert_eq!(send("k1").await, first, "replayed within the ttl");
    assert_eq!(send("k2").await.0, StatusCode::TOO_MANY_REQUESTS);
    server.advance(Duration::from_millis(200));
    // The 429 was not stored: `k2` is decided afresh and wins.
    let (status, second) = send("k2").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(second, first.1);
    // `k1` outlived its ttl: decided afresh (alice just grabbed, so now she is limited).
    let (status, _) = send("k1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(server.campaign(&campaign).await["remaining"], 8);
    server.shutdown().await;
}
