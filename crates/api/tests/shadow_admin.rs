//! Rehearsals: the admin's shadow endpoints, the bound on shadow copies, and the defences a
//! shadow grab meets like a real one.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::json;
use stampede_engine::MAX_SHADOW_CAMPAIGNS;
use support::{TestServer, expect_error, read_json, unknown_id};

async fn shadow_grab(server: &TestServer, campaign: &str, user: &str) -> reqwest::Response {
    server
        .grab_with(campaign, Some(&server.shadow_token(user)), None)
        .await
}

fn copy_path(campaign: &str) -> String {
    format!("/v1/admin/shadow/campaigns/{campaign}")
}

async fn reset(server: &TestServer, campaign: &str) -> StatusCode {
    (server.request(Method::DELETE, &copy_path(campaign)))
        .header("authorization", server.admin())
        .send()
        .await
        .expect("request sent")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_inspects_and_resets_a_rehearsal() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(3).await;
    let path = copy_path(&campaign);

    // Before any shadow grab there is nothing to show.
    expect_error(
        server.get_as_admin(&path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        server.get_as_admin(&format!("{path}/winners")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let (status, won) = read_json(shadow_grab(&server, &campaign, "alice").await).await;
    assert_eq!(
        (status, won["outcome"].as_str()),
        (StatusCode::OK, Some("won")),
        "{won}"
    );
    let (status, copy) = read_json(server.get_as_admin(&path).await).await;
    assert_eq!(status, StatusCode::OK, "{copy}");
    assert_eq!(
        (copy["total"].as_u64(), copy["remaining"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(copy["winners"], 1);
    assert_eq!(copy["status"], "active");
    assert_eq!(copy["campaign_id"], campaign.as_str());
    assert!(
        support::is_rfc3339(copy["started_at"].as_str().unwrap()),
        "{copy}"
    );
    let (status, page) = read_json(
        server
            .get_as_admin(&format!("{path}/winners?limit=1"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["winners"][0]["user_id"], "alice");
    assert_eq!(page["winners"][0]["order_id"], won["order_id"]);
    assert_eq!(page["winners"][0]["state"], "pending_payment");
    expect_error(
        server
            .get_as_admin(&format!("{path}/winners?limit=0"))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // The real campaign saw nothing.
    assert_eq!(server.campaign(&campaign).await["remaining"], 3);
    assert!(server.all_winners(&campaign, 10).await.1.is_empty());

    // A shadow token is good for grabs only: no order read, pay or cancel.
    let order = won["order_id"].as_str().unwrap();
    let response = (server.request(Method::GET, &format!("/v1/orders/{order}")))
        .header("authorization", server.shadow_token("alice"))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(message.contains("shadow"), "{message}");

    // Admin only, ids checked.
    expect_error(
        server.get(&path).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        server.get_as("alice", &path).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        server.get_as_admin("/v1/admin/shadow/campaigns/nope").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;

    // A reset starts a fresh rehearsal; resetting again is harmless.
    assert_eq!(reset(&server, &campaign).await, StatusCode::NO_CONTENT);
    assert_eq!(reset(&server, &campaign).await, StatusCode::NO_CONTENT);
    expect_error(
        server.get_as_admin(&path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let (_, again) = read_json(shadow_grab(&server, &campaign, "alice").await).await;
    assert_eq!(again["outcome"], "won", "a new rehearsal: {again}");
    let (_, copy) = read_json(server.get_as_admin(&path).await).await;
    assert_eq!(copy["remaining"], 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_grabs_meet_the_same_defences_and_refusals() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(5).await;
    expect_error(
        shadow_grab(&server, &unknown_id("c_"), "alice").await,
        StatusCode::NOT_FOUND,
        "campaign_not_found",
    )
    .await;
    let response = server
        .grab_with(&campaign, Some(&server.shadow_token("alice")), Some(""))
        .await;
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;

    // The user blocklist applies to a user's shadow grabs.
    let response = (server.request(Method::POST, "/v1/admin/blocklist"))
        .header("authorization", server.admin())
        .json(&json!({ "kind": "user", "value": "mallory", "reason": "test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    expect_error(
        shadow_grab(&server, &campaign, "mallory").await,
        StatusCode::FORBIDDEN,
        "blocked",
    )
    .await;

    // So does the grab switch.
    let response = (server.request(Method::PUT, "/v1/admin/switches/grab"))
        .header("authorization", server.admin())
        .json(&json!({ "on": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    expect_error(
        shadow_grab(&server, &campaign, "alice").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "degraded",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_campaign_bound_a_new_rehearsal_waits_for_a_reset() {
    let server = TestServer::start().await;
    let mut campaigns = Vec::new();
    for _ in 0..=MAX_SHADOW_CAMPAIGNS {
        campaigns.push(server.create_seckill(2).await);
    }
    let (last, rehearsed) = campaigns.split_last().unwrap();
    for campaign in rehearsed {
        let (status, json) = read_json(shadow_grab(&server, campaign, "alice").await).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    let message = expect_error(
        shadow_grab(&server, last, "alice").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "shadow_full",
    )
    .await;
    assert!(
        message.contains("DELETE /v1/admin/shadow/campaigns"),
        "{message}"
    );
    expect_error(
        server.get_as_admin(&copy_path(last)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The real sale is not bounded by rehearsals, and copies already made go on.
    server.win(last, "alice").await;
    let (_, json) = read_json(shadow_grab(&server, &rehearsed[0], "bob").await).await;
    assert_eq!(json["outcome"], "won");
    // One reset makes room.
    assert_eq!(reset(&server, &rehearsed[0]).await, StatusCode::NO_CONTENT);
    let (_, json) = read_json(shadow_grab(&server, last, "alice").await).await;
    assert_eq!(json["outcome"], "won", "{json}");
    server.shutdown().await;
}
