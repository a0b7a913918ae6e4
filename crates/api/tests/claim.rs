//! Red-packet claims over HTTP: `POST /v1/orders/{id}/claim` (200 with one payout however often
//! it is called, 404, 409), `claim_window_secs` expiry and `refundable_cents`.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{TestServer, expect_error, read_json};

async fn claim_as(server: &TestServer, authorization: &str, order: &str) -> reqwest::Response {
    server
        .request(Method::POST, &format!("/v1/orders/{order}/claim"))
        .header("authorization", authorization)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_pays_once_and_repeats_its_answer() {
    let server = TestServer::start().await;
    let campaign = server.create_red_packet(1_000, 10, 1).await;
    let json = server.campaign(&campaign).await;
    assert_eq!(json["claim_window_secs"], 86_400, "{json}");
    assert_eq!(json["refundable_cents"], 0, "{json}");
    let (order, amount) = server.win(&campaign, "alice").await;

    expect_error(
        claim_as(&server, &server.token("mallory"), &order).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    let (status, first) = read_json(claim_as(&server, &server.token("alice"), &order).await).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["state"], "claimed");
    assert_eq!(first["amount_cents"], amount);
    let payout = first["payout_id"].as_str().expect("payout_id").to_owned();

    // Repeated and concurrent claims answer the first payout.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let send = server
                .request(Method::POST, &format!("/v1/orders/{order}/claim"))
                .header("authorization", server.token("alice"))
                .send();
            tokio::spawn(send)
        })
        .collect();
    for task in tasks {
        let (status, json) = read_json(task.await.unwrap().expect("request sent")).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["payout_id"], payout.as_str(), "the first payout");
    }
    let (status, json) = read_json(claim_as(&server, &server.admin(), &order).await).await;
    assert_eq!(
        (status, json["payout_id"].as_str()),
        (StatusCode::OK, Some(payout.as_str()))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seckill_order_is_not_claimable() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(1).await;
    let (order, _) = server.win(&campaign, "alice").await;
    expect_error(
        claim_as(&server, &server.token("alice"), &order).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclaimed_packets_expire_and_are_refundable() {
    // The server's clock moves only when the test moves it: nothing expires before that.
    let server = TestServer::start_manual(|_| {}).await;
    let body = json!({
        "kind": "red_packet", "name": "short", "total_cents": 500, "count": 5,
        "claim_window_secs": 1,
    });
    let campaign = support::id_of(&server.create_campaign(&body).await);
    let (order, amount) = server.win(&campaign, "alice").await;
    let state = || async {
        let (_, json) =
            read_json(server.get_as("alice", &format!("/v1/orders/{order}")).await).await;
        json["state"].clone()
    };
    assert_ne!(state().await, "claim_expired");
    assert_eq!(server.campaign(&campaign).await["refundable_cents"], 0);
    server.advance(Duration::from_millis(1_001));
    // The writer's timer (ticking on its own) expires the packet.
    support::eventually("the packet's claim to expire", || async {
        state().await == "claim_expired"
    })
    .await;
    assert_eq!(server.campaign(&campaign).await["refundable_cents"], amount);
    expect_error(
        claim_as(&server, &server.token("alice"), &order).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    let seckill = json!({ "kind": "seckill", "name": "s", "stock": 1, "price_cents": 1, "claim_window_secs": 5 });
    let (status, _) = read_json(server.post_campaign(&seckill).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.shutdown().await;
}
