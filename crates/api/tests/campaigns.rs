//! `POST /v1/campaigns` and `GET /v1/campaigns/{id}` over real HTTP.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{
    TestServer, expect_error, id_of, is_id, is_rfc3339, read_json, rfc3339_from_now, unknown_id,
};

/// Keys every campaign shows, whatever its kind.
const COMMON_KEYS: &[&str] = &[
    "id",
    "kind",
    "name",
    "status",
    "total",
    "remaining",
    "per_user_limit",
    "created_at",
    "starts_at",
    "ends_at",
];

fn keys(json: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn expected_keys(extra: &[&'static str]) -> Vec<&'static str> {
    let mut keys: Vec<&str> = COMMON_KEYS.iter().chain(extra).copied().collect();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seckill_is_created_with_defaults_and_shown() {
    let server = TestServer::start().await;
    let created = server
        .create_campaign(&json!({
            "kind": "seckill", "name": "Phone drop", "stock": 50, "price_cents": 19_999,
        }))
        .await;
    assert!(is_id(created["id"].as_str().unwrap(), "c_"), "{created}");
    assert_eq!(
        keys(&created),
        expected_keys(&["price_cents", "payment_window_secs", "regrab_after_release"])
    );
    assert_eq!(created["regrab_after_release"], false);
    assert_eq!(created["kind"], "seckill");
    assert_eq!(created["name"], "Phone drop");
    assert_eq!(created["status"], "active");
    assert_eq!(created["total"], 50);
    assert_eq!(created["remaining"], 50);
    assert_eq!(created["per_user_limit"], 1);
    assert_eq!(created["price_cents"], 19_999);
    assert_eq!(created["payment_window_secs"], 900);
    assert!(is_rfc3339(created["created_at"].as_str().unwrap()));
    assert_eq!(created["starts_at"], Value::Null);
    assert_eq!(created["ends_at"], Value::Null);

    let shown = server.campaign(&id_of(&created)).await;
    assert_eq!(shown, created);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seckill_accepts_every_optional_field() {
    let server = TestServer::start().await;
    let starts = rfc3339_from_now(3600);
    let created = server
        .create_campaign(&json!({
            "kind": "seckill", "name": "later", "stock": 3, "price_cents": 1,
            "per_user_limit": 100, "payment_window_secs": 60,
            "starts_at": starts, "ends_at": "2999-01-01T00:00:00+08:00",
        }))
        .await;
    assert_eq!(created["per_user_limit"], 100);
    assert_eq!(created["payment_window_secs"], 60);
    assert_eq!(created["price_cents"], 1);
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["ends_at"], "2998-12-31T16:00:00Z");
    assert!(is_rfc3339(created["starts_at"].as_str().unwrap()));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_packet_is_created_and_shown() {
    let server = TestServer::start().await;
    let created = server
        .create_campaign(&json!({
            "kind": "red_packet", "name": "New year", "total_cents": 10_000, "count": 10,
        }))
        .await;
    assert_eq!(
        keys(&created),
        expected_keys(&[
            "total_cents",
            "remaining_cents",
            "min_cents",
            "claim_window_secs",
            "refundable_cents"
        ])
    );
    assert_eq!(created["kind"], "red_packet");
    assert_eq!(created["status"], "active");
    assert_eq!(created["total"], 10);
    assert_eq!(created["remaining"], 10);
    assert_eq!(created["per_user_limit"], 1);
    assert_eq!(created["total_cents"], 10_000);
    assert_eq!(created["remaining_cents"], 10_000);
    assert_eq!(created["min_cents"], 1);
    assert_eq!(created["claim_window_secs"], 86_400);
    assert_eq!(created["refundable_cents"], 0);
    assert_eq!(server.campaign(&id_of(&created)).await, created);

    // count × min == total is the tightest allowed split.
    server.create_red_packet(100, 10, 10).await;
    server.shutdown().await;
}

/// Posts `body` as the admin and expects `400 bad_request` whose message starts with `field`.
async fn expect_rejected(server: &TestServer, body: Value, field: &str) {
    let message = expect_error(
        server.post_campaign(&body).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(
        message.starts_with(field),
        "{body}: message {message:?} should start with {field:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bodies_answer_400_naming_the_field() {
    let server = TestServer::start().await;
    let seckill = |extra: Value| {
        let mut body = json!({ "kind": "seckill", "name": "s", "stock": 5, "price_cents": 100 });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let packet = |extra: Value| {
        let mut body = json!({ "kind": "red_packet", "name": "r", "total_cents": 100, "count": 5 });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };

    // Wrong types and out-of-range numbers.
    for stock in [json!(2.5), json!(-1), json!("3"), json!(null), json!(0)] {
        expect_rejected(&server, seckill(json!({ "stock": stock })), "stock").await;
    }
    expect_rejected(&server, seckill(json!({ "stock": 10_000_001 })), "stock").await;
    expect_rejected(
        &server,
        seckill(json!({ "per_user_limit": 101 })),
        "per_user_limit",
    )
    .await;
    expect_rejected(
        &server,
        seckill(json!({ "per_user_limit": 0 })),
        "per_user_limit",
    )
    .await;
    expect_rejected(
        &server,
        seckill(json!({ "price_cents": "free" })),
        "price_cents",
    )
    .await;
    expect_rejected(
        &server,
        seckill(json!({ "payment_window_secs": 0 })),
        "payment_window_secs",
    )
    .await;
    expect_rejected(&server, packet(json!({ "count": 0 })), "count").await;
    expect_rejected(&server, packet(json!({ "count": 1_000_001 })), "count").await;
    expect_rejected(&server, packet(json!({ "count": 1.5 })), "count").await;
    expect_rejected(&server, packet(json!({ "total_cents": 0 })), "total_cents").await;
    expect_rejected(&server, packet(json!({ "min_cents": 0 })), "min_cents").await;
    // count × min_cents > total_cents: 5 × 21 = 105 > 100.
    expect_rejected(&server, packet(json!({ "min_cents": 21 })), "count").await;

    // Unknown fields and fields of the other kind are named.
    expect_rejected(&server, seckill(json!({ "colour": "red" })), "colour").await;
    expect_rejected(&server, seckill(json!({ "total_cents": 5 })), "total_cents").await;
    expect_rejected(&server, seckill(json!({ "count": 5 })), "count").await;
    expect_rejected(&server, seckill(json!({ "min_cents": 1 })), "min_cents").await;
    expect_rejected(&server, packet(json!({ "stock": 5 })), "stock").await;
    expect_rejected(&server, packet(json!({ "price_cents": 5 })), "price_cents").await;
    expect_rejected(
        &server,
        packet(json!({ "per_user_limit": 1 })),
        "per_user_limit",
    )
    .await;
    expect_rejected(
        &server,
        packet(json!({ "payment_window_secs": 60 })),
        "payment_window_secs",
    )
    .await;

    // Missing required fields, bad kind, name and times.
    expect_rejected(
        &server,
        json!({ "kind": "seckill", "name": "s", "price_cents": 1 }),
        "stock",
    )
    .await;
    expect_rejected(
        &server,
        json!({ "kind": "seckill", "name": "s", "stock": 1 }),
        "price_cents",
    )
    .await;
    expect_rejected(
        &server,
        json!({ "kind": "red_packet", "name": "r", "count": 1 }),
        "total_cents",
    )
    .await;
    expect_rejected(&server, seckill(json!({ "kind": "lottery" })), "kind").await;
    expect_rejected(&server, seckill(json!({ "name": "  " })), "name").await;
    expect_rejected(&server, seckill(json!({ "name": "x".repeat(201) })), "name").await;
    expect_rejected(
        &server,
        seckill(json!({ "starts_at": "tomorrow" })),
        "starts_at",
    )
    .await;
    expect_rejected(
        &server,
        seckill(json!({ "starts_at": rfc3339_from_now(60), "ends_at": rfc3339_from_now(30) })),
        "ends_at",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_framing_errors_have_their_own_codes() {
    let server = TestServer::start().await;
    let valid = r#"{"kind":"seckill","name":"s","stock":1,"price_cents":1}"#;
    let post = |content_type: Option<&str>, body: String| {
        let mut request = server
            .request(Method::POST, "/v1/campaigns")
            .header("authorization", server.admin())
            .body(body);
        if let Some(value) = content_type {
            request = request.header("content-type", value);
        }
        request.send()
    };

    let response = post(None, valid.into()).await.unwrap();
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = post(Some("text/plain"), valid.into()).await.unwrap();
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let huge = format!(
        r#"{{"kind":"seckill","name":"{}","stock":1,"price_cents":1}}"#,
        "x".repeat(17 * 1024)
    );
    let response = post(Some("application/json"), huge).await.unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    for broken in ["", "{", "not json", r#"{"kind":"seckill",}"#, "[]", "null"] {
        let response = post(Some("application/json"), broken.into()).await.unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    // The valid body with a charset parameter is accepted.
    let response = post(Some("application/json; charset=utf-8"), valid.into())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_requires_the_admin_key() {
    let server = TestServer::start().await;
    let body = json!({ "kind": "seckill", "name": "s", "stock": 1, "price_cents": 1 });
    let credentials = [
        None,
        Some(server.token("alice")),
        Some("Bearer wrong-admin-key-0123456789".to_owned()),
        Some(format!("Basic {}", support::ADMIN_KEY)),
        Some(support::ADMIN_KEY.to_owned()),
    ];
    for authorization in credentials {
        let mut request = server.request(Method::POST, "/v1/campaigns").json(&body);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follows_schedule_and_stock() {
    let server = TestServer::start().await;
    let scheduled = server
        .create_seckill_with(json!({ "stock": 1, "starts_at": rfc3339_from_now(3600) }))
        .await;
    assert_eq!(server.campaign(&scheduled).await["status"], "scheduled");

    let ended = server
        .create_seckill_with(json!({
            "stock": 1,
            "starts_at": rfc3339_from_now(-7200),
            "ends_at": rfc3339_from_now(-3600),
        }))
        .await;
    assert_eq!(server.campaign(&ended).await["status"], "ended");

    let running = server
        .create_seckill_with(json!({
            "stock": 1,
            "starts_at": rfc3339_from_now(-60),
            "ends_at": rfc3339_from_now(3600),
        }))
        .await;
    assert_eq!(server.campaign(&running).await["status"], "active");
    server.win(&running, "alice").await;
    let sold = server.campaign(&running).await;
    assert_eq!(sold["status"], "sold_out");
    assert_eq!(sold["remaining"], 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_campaign_ids() {
    let server = TestServer::start().await;
    let response = server
        .get(&format!("/v1/campaigns/{}", unknown_id("c_")))
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "campaign_not_found").await;

    let short = format!("c_{}", "a".repeat(31));
    let long = format!("c_{}", "a".repeat(33));
    let wrong_prefix = unknown_id("o_");
    let not_hex = format!("c_{}", "g".repeat(32));
    for bad in ["nope", short.as_str(), &long, &wrong_prefix, &not_hex, "c_"] {
        let message = expect_error(
            server.get(&format!("/v1/campaigns/{bad}")).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
        assert!(message.contains("campaign_id"), "{bad}: {message}");
    }

    // No trailing data after the id is served as the campaign.
    let (status, _) = read_json(
        server
            .get(&format!("/v1/campaigns/{}/extra", unknown_id("c_")))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.shutdown().await;
}
