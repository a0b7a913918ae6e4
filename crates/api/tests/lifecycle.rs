//! The order lifecycle over HTTP: `POST /v1/orders/{id}/cancel` (200, 404, 409) and expiry
//! after `payment_window_secs`, by the writer's timer and on read, giving the item back. The
//! expiry test moves the server's clock past the window instead of waiting it out.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{TestServer, eventually, expect_error, is_rfc3339, read_json};

async fn cancel_as(server: &TestServer, authorization: &str, order: &str) -> reqwest::Response {
    server
        .request(Method::POST, &format!("/v1/orders/{order}/cancel"))
        .header("authorization", authorization)
        .send()
        .await
        .expect("request sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_returns_the_item_once() {
    let server = TestServer::start_with(|c| c.grab_rate_burst = 3).await;
    let campaign = server.create_seckill(1).await;
    let (order, _) = server.win(&campaign, "alice").await;
    assert_eq!(server.campaign(&campaign).await["status"], "sold_out");

    let (status, json) =
        read_json(server.get_as("alice", &format!("/v1/orders/{order}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_rfc3339(json["expires_at"].as_str().unwrap()), "{json}");

    // Another user cannot tell the order exists.
    expect_error(
        cancel_as(&server, &server.token("mallory"), &order).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;

    let (status, json) = read_json(cancel_as(&server, &server.token("alice"), &order).await).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["state"], "cancelled");
    assert_eq!(json["order_id"], order.as_str());
    assert!(json.get("expires_at").is_none(), "{json}");
    let shown = server.campaign(&campaign).await;
    assert_eq!(shown["remaining"], 1, "{shown}");
    assert_eq!(shown["status"], "active");

    // Already closed: 409 for the user and the admin, and nothing changes.
    for authorization in [server.token("alice"), server.admin()] {
        expect_error(
            cancel_as(&server, &authorization, &order).await,
            StatusCode::CONFLICT,
            "invalid_transition",
        )
        .await;
    }
    assert_eq!(server.campaign(&campaign).await["remaining"], 1);

    // Default `regrab_after_release: false`: alice may not win again; bob takes the item.
    let (status, json) = read_json(server.grab(&campaign, "alice").await).await;
    assert_eq!(
        (status, &json["outcome"]),
        (StatusCode::OK, &json!("already_won"))
    );
    server.win(&campaign, "bob").await;
    let (_, winners) = server.all_winners(&campaign, 10).await;
    let states: Vec<&Value> = winners.iter().map(|w| &w["state"]).collect();
    assert_eq!(states, [&json!("cancelled"), &json!("pending_payment")]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_may_cancel_and_regrab_setting_lets_the_user_back() {
    let server = TestServer::start_with(|c| c.grab_rate_burst = 3).await;
    let campaign = server
        .create_seckill_with(json!({ "stock": 1, "regrab_after_release": true }))
        .await;
    assert_eq!(
        server.campaign(&campaign).await["regrab_after_release"],
        true
    );
    let (order, _) = server.win(&campaign, "alice").await;
    let (status, json) = read_json(cancel_as(&server, &server.admin(), &order).await).await;
    assert_eq!(
        (status, &json["state"]),
        (StatusCode::OK, &json!("cancelled"))
    );
    server.win(&campaign, "alice").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_orders_expire_and_the_item_can_be_won_again() {
    // The server's clock moves only when the test moves it: nothing expires before that.
    let server = TestServer::start_manual(|_| {}).await;
    let campaign = server
        .create_seckill_with(json!({ "stock": 2, "payment_window_secs": 1 }))
        .await;
    let (read_order, _) = server.win(&campaign, "alice").await;
    let (timer_order, _) = server.win(&campaign, "bob").await;
    assert_eq!(server.campaign(&campaign).await["status"], "sold_out");
    let path = format!("/v1/orders/{read_order}");
    let state_of_alices = || async {
        let (status, json) = read_json(server.get_as("alice", &path).await).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        json["state"].clone()
    };
    assert_eq!(state_of_alices().await, "pending_payment");

    // Passive: reading alice's order after its deadline shows it expired, at once.
    server.advance(Duration::from_millis(1_001));
    assert_eq!(state_of_alices().await, "expired");
    // The timer (the writer's, ticking on its own): bob's item comes back without anyone
    // reading his order.
    eventually("timer expiry", || async {
        server.campaign(&campaign).await["remaining"] == 2
    })
    .await;
    let (_, json) = read_json(
        server
            .get_as("bob", &format!("/v1/orders/{timer_order}"))
            .await,
    )
    .await;
    assert_eq!(json["state"], "expired");
    // Expired is closed: cancelling it is an invalid transition.
    expect_error(
        cancel_as(&server, &server.token("bob"), &timer_order).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;

    // Others win the returned items; the stock is back exactly once (two items, two wins).
    server.win(&campaign, "carol").await;
    server.win(&campaign, "dave").await;
    let (status, json) = read_json(server.grab(&campaign, "erin").await).await;
    assert_eq!(status, StatusCode::GONE, "{json}");
    server.shutdown().await;
}
