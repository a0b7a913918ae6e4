//! Payments over HTTP: `POST /v1/orders/{id}/pay` (200, 404, 409) and signed callbacks on
//! `POST /v1/payments/callbacks/{channel}` (200, same again 200 with no second effect, 401,
//! 404, 400, 409 `amount_mismatch`, `txn_conflict`, `too_many_payments`).

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stampede_api::handlers::payments::sign;
use support::{TestServer, expect_error, read_json};

const SIM_SECRET: &str = "sim-channel-secret-0123456789";

async fn start() -> TestServer {
    TestServer::start_with(|config| config.sim_channel_secret = SIM_SECRET.into()).await
}

async fn pay(server: &TestServer, user: &str, order: &str) -> reqwest::Response {
    server
        .request(Method::POST, &format!("/v1/orders/{order}/pay"))
        .header("authorization", server.token(user))
        .json(&json!({"channel": "sim"}))
        .send()
        .await
        .expect("request sent")
}

async fn callback(server: &TestServer, body: &Value, signature: Option<&str>) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    let signature = signature.map_or_else(|| sign(SIM_SECRET.as_bytes(), &raw), str::to_owned);
    server
        .request(Method::POST, "/v1/payments/callbacks/sim")
        .header("content-type", "application/json")
        .header("x-signature", signature)
        .body(raw)
        .send()
        .await
        .expect("request sent")
}

fn payment(order: &str, txn: &str, amount: u64) -> Value {
    json!({"order_id": order, "txn_id": txn, "amount_cents": amount, "paid_at": "2026-01-01T00:00:00Z"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_then_callback_pays_once() {
    let server = start().await;
    let campaign = server.create_seckill(2).await;
    let (order, amount) = server.win(&campaign, "alice").await;

    expect_error(
        pay(&server, "mallory", &order).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    let (status, json) = read_json(pay(&server, "alice", &order).await).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["state"], "paying");
    assert_eq!(json["payment"]["amount_cents"], amount);
    assert!(
        json["payment"]["pay_url"]
            .as_str()
            .unwrap()
            .contains(&order)
    );
    let (status, again) = read_json(pay(&server, "alice", &order).await).await;
    assert_eq!(
        (status, &again["state"]),
        (StatusCode::OK, &json!("paying"))
    );

    // Bad signature, then mismatched amount: nothing changes.
    expect_error(
        callback(
            &server,
            &payment(&order, "t1", amount),
            Some(&"0".repeat(64)),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        callback(&server, &payment(&order, "t1", amount + 1), None).await,
        StatusCode::CONFLICT,
        "amount_mismatch",
    )
    .await;
    let message = expect_error(
        callback(&server, &json!({"order_id": order, "txn_id": "t1"}), None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("amount_cents"), "{message}");
    let (status, json) =
        read_json(server.get_as("alice", &format!("/v1/orders/{order}")).await).await;
    assert_eq!((status, &json["state"]), (StatusCode::OK, &json!("paying")));

    let (status, first) =
        read_json(callback(&server, &payment(&order, "t1", amount), None).await).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["state"], "paid");
    let records = server
        .state
        .shards
        .home()
        .engine
        .writer_counts()
        .journal_records;
    let (status, second) =
        read_json(callback(&server, &payment(&order, "t1", amount), None).await).await;
    assert_eq!(
        (status, &second),
        (StatusCode::OK, &first),
        "the same answer"
    );
    assert_eq!(
        server
            .state
            .shards
            .home()
            .engine
            .writer_counts()
            .journal_records,
        records,
        "no second effect"
    );

    // A paid order cannot be paid again; another transaction paying it is a duplicate:
    // recorded, answered 200 so the channel stops retrying, and a refund is opened.
    expect_error(
        pay(&server, "alice", &order).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    let (status, dup) =
        read_json(callback(&server, &payment(&order, "t2", amount), None).await).await;
    assert_eq!(status, StatusCode::OK, "{dup}");
    assert_eq!(dup["recorded"], "duplicate_payment");
    assert_eq!(dup["state"], "paid");
    assert_eq!(dup["payments"][1]["txn_id"], "t2");
    assert_eq!(dup["payments"][1]["kind"], "duplicate_payment");

    // Replay keeps the payment and its transaction id.
    let server = server.restart().await;
    let (status, json) =
        read_json(server.get_as("alice", &format!("/v1/orders/{order}")).await).await;
    assert_eq!((status, &json["state"]), (StatusCode::OK, &json!("paid")));
    let (status, again) =
        read_json(callback(&server, &payment(&order, "t1", amount), None).await).await;
    assert_eq!((status, &again["state"]), (StatusCode::OK, &json!("paid")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_channel_and_order() {
    let server = start().await;
    let unknown = "o_00000000000000000000000000000000";
    let response = server
        .request(Method::POST, "/v1/payments/callbacks/nope")
        .header("x-signature", "00")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "channel_not_found").await;
    expect_error(
        callback(&server, &payment(unknown, "t", 1), None).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    expect_error(
        pay(&server, "alice", unknown).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_txn_of_another_order_and_too_many_extra_payments_are_refused() {
    let server = start().await;
    let campaign = server.create_seckill(2).await;
    let (a, amount) = server.win(&campaign, "alice").await;
    let (b, _) = server.win(&campaign, "bob").await;
    let (status, _) = read_json(callback(&server, &payment(&a, "t0", amount), None).await).await;
    assert_eq!(status, StatusCode::OK);
    expect_error(
        callback(&server, &payment(&b, "t0", amount), None).await,
        StatusCode::CONFLICT,
        "txn_conflict",
    )
    .await;
    for i in 0..stampede_core::MAX_EXTRA_PAYMENTS_PER_ORDER {
        let (status, json) =
            read_json(callback(&server, &payment(&a, &format!("d{i}"), amount), None).await).await;
        assert_eq!(
            (status, &json["recorded"]),
            (StatusCode::OK, &json!("duplicate_payment"))
        );
    }
    expect_error(
        callback(&server, &payment(&a, "one-too-many", amount), None).await,
        StatusCode::CONFLICT,
        "too_many_payments",
    )
    .await;
    let (_, shown) = read_json(server.get_as("bob", &format!("/v1/orders/{b}")).await).await;
    assert_eq!(shown["state"], "pending_payment", "nothing changed for bob");
}
