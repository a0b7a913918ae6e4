//! `GET /v1/orders/{id}`, `GET /v1/campaigns/{id}/winners`, and both across a restart.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::{TestServer, expect_error, is_rfc3339, read_json, unknown_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_is_shown_to_its_winner_and_the_admin_only() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(3).await;
    let (order, amount) = server.win(&campaign, "alice").await;
    let path = format!("/v1/orders/{order}");

    let (status, json) = read_json(server.get_as("alice", &path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json.as_object().unwrap().len(), 7, "{json}");
    assert!(is_rfc3339(json["expires_at"].as_str().unwrap()), "{json}");
    assert_eq!(json["order_id"], order.as_str());
    assert_eq!(json["campaign_id"], campaign.as_str());
    assert_eq!(json["user_id"], "alice");
    assert_eq!(json["state"], "pending_payment");
    assert_eq!(json["amount_cents"], amount);
    assert!(is_rfc3339(json["created_at"].as_str().unwrap()), "{json}");

    let (status, as_admin) = read_json(server.get_as_admin(&path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(as_admin, json);

    // Strangers cannot tell a foreign order from a missing one.
    expect_error(
        server.get_as("mallory", &path).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    expect_error(
        server
            .get_as("alice", &format!("/v1/orders/{}", unknown_id("o_")))
            .await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    expect_error(
        server.get(&path).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    for bad in ["nope", "o_123", &unknown_id("c_")] {
        let message = expect_error(
            server.get_as("alice", &format!("/v1/orders/{bad}")).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.contains("order_id"), "{bad}: {message}");
    }
    server.shutdown().await;
}

/// Wins one item for each of `users` in turn; returns the order ids in win order.
async fn win_each(server: &TestServer, campaign: &str, users: &[&str]) -> Vec<String> {
    let mut orders = Vec::new();
    for user in users {
        orders.push(server.win(campaign, user).await.0);
    }
    orders
}

fn order_ids(winners: &[Value]) -> Vec<&str> {
    winners
        .iter()
        .map(|w| w["order_id"].as_str().expect("order_id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winners_page_in_win_order() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(10).await;
    let users = ["u1", "u2", "u3", "u4", "u5"];
    let orders = win_each(&server, &campaign, &users).await;

    let (sizes, winners) = server.all_winners(&campaign, 2).await;
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(order_ids(&winners), orders);
    for (winner, user) in winners.iter().zip(users) {
        assert_eq!(winner["user_id"], user);
        assert_eq!(winner["amount_cents"], 1999);
        assert_eq!(winner["state"], "pending_payment");
        assert!(is_rfc3339(winner["won_at"].as_str().unwrap()), "{winner}");
    }

    // The default page holds them all; an exactly full last page still ends with `next: null`.
    let (sizes, all) = server.all_winners(&campaign, 100).await;
    assert_eq!(sizes, [5]);
    assert_eq!(all, winners);
    let (sizes, _) = server.all_winners(&campaign, 5).await;
    assert_eq!(sizes.iter().sum::<usize>(), 5);
    let (status, json) = read_json(
        server
            .get_as_admin(&format!("/v1/campaigns/{campaign}/winners"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["winners"].as_array().unwrap().len(), 5);
    assert_eq!(json["next"], Value::Null);
    // A cursor past the end is an empty last page.
    let (status, json) = read_json(
        server
            .get_as_admin(&format!("/v1/campaigns/{campaign}/winners?after=1000"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json, serde_json::json!({ "winners": [], "next": null }));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winners_query_and_auth_errors() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(10).await;
    server.win(&campaign, "alice").await;
    let base = format!("/v1/campaigns/{campaign}/winners");
    for query in [
        "?limit=0",
        "?limit=1001",
        "?limit=abc",
        "?limit=-1",
        "?after=x",
        "?after=-1",
        "?page=2",
        "?limit=1&limit=2",
    ] {
        let response = server.get_as_admin(&format!("{base}{query}")).await;
        expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let (status, _) = read_json(server.get_as_admin(&format!("{base}?limit=1000")).await).await;
    assert_eq!(status, StatusCode::OK);

    expect_error(
        server.get(&base).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        server.get_as("alice", &base).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        server
            .get_as_admin(&format!("/v1/campaigns/{}/winners", unknown_id("c_")))
            .await,
        StatusCode::NOT_FOUND,
        "campaign_not_found",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart() {
    let server = TestServer::start().await;
    let seckill = server.create_seckill(5).await;
    let packets = server.create_red_packet(500, 4, 10).await;
    let seckill_orders = win_each(&server, &seckill, &["alice", "bob", "carol"]).await;
    let (packet_order, packet_amount) = server.win(&packets, "zoe").await;

    let seckill_before = server.campaign(&seckill).await;
    let packets_before = server.campaign(&packets).await;
    let (_, winners_before) = server.all_winners(&seckill, 2).await;
    let order_path = format!("/v1/orders/{}", seckill_orders[1]);
    let (_, order_before) = read_json(server.get_as("bob", &order_path).await).await;

    let server = server.restart().await;

    assert_eq!(server.campaign(&seckill).await, seckill_before);
    assert_eq!(server.campaign(&packets).await, packets_before);
    assert_eq!(seckill_before["remaining"], 2);
    assert_eq!(
        packets_before["remaining_cents"].as_u64(),
        Some(500 - packet_amount)
    );
    let (_, winners_after) = server.all_winners(&seckill, 2).await;
    assert_eq!(winners_after, winners_before);
    assert_eq!(order_ids(&winners_after), seckill_orders);
    let (status, order_after) = read_json(server.get_as("bob", &order_path).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order_after, order_before);
    let (status, packet) = read_json(
        server
            .get_as_admin(&format!("/v1/orders/{packet_order}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(packet["amount_cents"], packet_amount);

    // Winners are still recognised, and the remaining stock is still sold exactly once.
    let (status, again) = read_json(server.grab(&seckill, "alice").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["outcome"], "already_won");
    assert_eq!(again["order_id"], seckill_orders[0].as_str());
    let new_orders = win_each(&server, &seckill, &["dave", "erin"]).await;
    expect_error(
        server.grab(&seckill, "frank").await,
        StatusCode::GONE,
        "sold_out",
    )
    .await;
    let (_, winners) = server.all_winners(&seckill, 2).await;
    let expected: Vec<&str> = seckill_orders
        .iter()
        .chain(&new_orders)
        .map(String::as_str)
        .collect();
    assert_eq!(order_ids(&winners), expected);

    // A second restart replays the new records too.
    let server = server.restart().await;
    let shown = server.campaign(&seckill).await;
    assert_eq!(shown["remaining"], 0);
    assert_eq!(shown["status"], "sold_out");
    server.shutdown().await;
}
