//! The money around a win, over HTTP with the simulated channel: a customer who pays is
//! recorded through the in-process callback; a lost callback is found by the query job and by
//! reading the order; a late payment (after cancel) and a duplicate payment are recorded,
//! answered 200 and refunded exactly once by the refund job, still refunded after a restart; the router
//! takes a failing channel out of rotation; unknown or unhealthy channels answer 404 / 503;
//! reconciliations asked for at once run one at a time; a refund that can never complete is
//! logged a bounded number of times.
//!
//! Over 400 lines on purpose: each case is one whole money story over HTTP (win, pay, callback,
//! restart, refund), sharing this file's callback and channel helpers.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stampede_api::handlers::payments::sign;
use stampede_core::{OrderId, OrderState};
use stampede_money::SimChannelConfig;
use stampede_server::Config;
use support::{TestServer, read_json};

const SIM_SECRET: &str = "sim-channel-secret-0123456789";

fn with_channels(channels: Vec<SimChannelConfig>) -> impl FnOnce(&mut Config) {
    move |config| {
        // The secret of the channel named `sim`; the others' callbacks are in-process.
        if channels.iter().any(|c| c.name == "sim") {
            config.sim_channel_secret = SIM_SECRET.into();
        }
        config.channels = channels;
        config.payment_query_after_secs = 1;
        // These tests grab in loops on a shared 2-core machine; a slow fsync is not what
        // they test.
        config.journal_reply_timeout_ms = 10_000;
    }
}

fn sim(tweak: impl FnOnce(&mut SimChannelConfig)) -> SimChannelConfig {
    let mut c = SimChannelConfig {
        pay_delay_ms: 10,
        ..Default::default()
    };
    tweak(&mut c);
    c
}

async fn pay(
    server: &TestServer,
    user: &str,
    order: &str,
    channel: Option<&str>,
) -> (StatusCode, Value) {
    let body = match channel {
        Some(c) => json!({ "channel": c }),
        None => json!({}),
    };
    read_json(
        server
            .request(Method::POST, &format!("/v1/orders/{order}/pay"))
            .header("authorization", server.token(user))
            .json(&body)
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

async fn callback(server: &TestServer, channel: &str, body: &Value) -> (StatusCode, Value) {
    let raw = serde_json::to_vec(body).unwrap();
    read_json(
        server
            .request(Method::POST, &format!("/v1/payments/callbacks/{channel}"))
            .header("content-type", "application/json")
            .header("x-signature", sign(SIM_SECRET.as_bytes(), &raw))
            .body(raw)
            .send()
            .await
            .expect("request sent"),
    )
    .await
}

async fn cancel(server: &TestServer, user: &str, order: &str) -> StatusCode {
    server
        .request(Method::POST, &format!("/v1/orders/{order}/cancel"))
        .header("authorization", server.token(user))
        .send()
        .await
        .expect("request sent")
        .status()
}

fn state_of(server: &TestServer, order: &str) -> OrderState {
    let id = OrderId::parse(order).unwrap();
    server.state.shards.home().engine.order(id).unwrap().state
}

fn refund_count(server: &TestServer, channel: &str) -> usize {
    server
        .state
        .shards
        .home()
        .payments
        .desk()
        .sim(&stampede_core::ChannelName::parse(channel).unwrap())
        .unwrap()
        .refund_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_who_pays_is_recorded_through_the_channel() {
    let server = TestServer::start_with(with_channels(vec![sim(|_| {})])).await;
    let campaign = server.create_seckill(2).await;
    let (order, amount) = server.win(&campaign, "alice").await;
    let (status, json) = pay(&server, "alice", &order, None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["payment"]["channel"], "sim",
        "the router's only channel"
    );
    assert_eq!(json["payment"]["amount_cents"], amount);
    let id = OrderId::parse(&order).unwrap();
    server
        .wait_until("the callback pays the order", |s| {
            s.shards.home().engine.order(id).unwrap().state == OrderState::Paid
        })
        .await;
    let (status, json) =
        read_json(server.get_as("alice", &format!("/v1/orders/{order}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["payments"][0]["kind"], "paid");
    assert_eq!(json["payments"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_callback_is_found_by_reading_the_order_and_by_the_query_job() {
    let server = TestServer::start_with(with_channels(vec![sim(|c| {
        c.drop_callback_rate_ppm = 1_000_000;
    })]))
    .await;
    let campaign = server.create_seckill(2).await;
    let (read, _) = server.win(&campaign, "alice").await;
    let (unread, _) = server.win(&campaign, "bob").await;
    assert_eq!(pay(&server, "alice", &read, None).await.0, StatusCode::OK);
    assert_eq!(pay(&server, "bob", &unread, None).await.0, StatusCode::OK);
    let sim = server.sim();
    let paid_at_channel = |order: &str| !sim.payments_of(OrderId::parse(order).unwrap()).is_empty();
    support::eventually("the customers to pay", || async {
        paid_at_channel(&read) && paid_at_channel(&unread)
    })
    .await;
    // Reading the order asks the channel (the callback never comes).
    let (status, json) =
        read_json(server.get_as("alice", &format!("/v1/orders/{read}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["state"], "paid", "{json}");
    // Nobody reads bob's order: the query job finds it after payment_query_after_secs.
    let id = OrderId::parse(&unread).unwrap();
    server
        .wait_until("the query job records bob's payment", |s| {
            s.shards.home().engine.order(id).unwrap().state == OrderState::Paid
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_payment_is_recorded_and_refunded_once_even_across_a_restart() {
    let server = TestServer::start_with(|config| {
        with_channels(vec![sim(|c| c.auto_pay = false)])(config);
        config.reconcile_grace_secs = 0;
    })
    .await;
    let campaign = server.create_seckill(1).await;
    let (order, amount) = server.win(&campaign, "alice").await;
    assert_eq!(
        pay(&server, "alice", &order, Some("sim")).await.0,
        StatusCode::OK
    );
    assert_eq!(cancel(&server, "alice", &order).await, StatusCode::OK);
    // The customer pays at the channel anyway; its callback arrives after the cancel.
    let id = OrderId::parse(&order).unwrap();
    let payment = server
        .sim()
        .pay_now(id, stampede_core::Cents(amount))
        .unwrap();
    let body = json!({"order_id": order, "txn_id": payment.txn_id, "amount_cents": amount,
        "paid_at": "2026-01-01T00:00:00Z"});
    let (status, json) = callback(&server, "sim", &body).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["recorded"], "late_payment");
    assert_ne!(
        json["state"], "paid",
        "a late payment leaves the order closed"
    );
    assert_eq!(
        server.campaign(&campaign).await["remaining"],
        1,
        "stock returned once"
    );
    server
        .wait_until("the refund job refunds the late payment", |s| {
            s.shards.home().engine.order(id).unwrap().state == OrderState::Refunded
        })
        .await;
    assert_eq!(refund_count(&server, "sim"), 1);
    // The channel retries the callback: the same 200, nothing more happens.
    let (status, again) = callback(&server, "sim", &body).await;
    assert_eq!(
        (status, &again["recorded"]),
        (StatusCode::OK, &json!("late_payment"))
    );
    let (_, shown) = read_json(server.get_as("alice", &format!("/v1/orders/{order}")).await).await;
    assert_eq!(shown["payments"][0]["refund"], "refunded");
    assert!(shown["payments"][0]["refund_id"].is_string());

    // After a restart the refund is still confirmed and nothing is pending; the channel (its
    // books live in the data directory, like a real channel's) still holds the payment and
    // its one refund, and the books reconcile clean against its statement.
    let server = server.restart().await;
    assert_eq!(state_of(&server, &order), OrderState::Refunded);
    assert_eq!(
        server
            .state
            .shards
            .home()
            .engine
            .pending_refunds(10)
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(refund_count(&server, "sim"), 1);
    assert_eq!(server.sim().payments_of(id), vec![payment]);
    let run = server
        .state
        .shards
        .home()
        .reconciler
        .run_once()
        .await
        .unwrap();
    assert!(run.clean, "{}", run.report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_pending_at_a_restart_is_made_once_after_it() {
    let server = TestServer::start_with(|config| {
        with_channels(vec![sim(|c| c.auto_pay = false)])(config);
        config.reconcile_grace_secs = 0;
    })
    .await;
    let campaign = server.create_seckill(1).await;
    let (order, amount) = server.win(&campaign, "alice").await;
    let id = OrderId::parse(&order).unwrap();
    let sim = server.sim();
    let first = sim.pay_now(id, stampede_core::Cents(amount)).unwrap();
    let second = sim.pay_now(id, stampede_core::Cents(amount)).unwrap();
    // The refund job cannot reach the channel before the restart.
    sim.fail_next(1_000);
    for p in [&first, &second] {
        let body = json!({"order_id": order, "txn_id": p.txn_id, "amount_cents": amount,
            "paid_at": "2026-01-01T00:00:00Z"});
        assert_eq!(callback(&server, "sim", &body).await.0, StatusCode::OK);
    }
    assert_eq!(sim.refund_count(), 0);
    drop(sim);
    let server = server.restart().await;
    server
        .wait_until("the duplicate is refunded after the restart", |s| {
            s.shards.home().engine.inspect(|l| l.pending_refund_count()) == 0
        })
        .await;
    assert_eq!(refund_count(&server, "sim"), 1);
    assert_eq!(state_of(&server, &order), OrderState::Paid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_payment_is_refunded_and_the_order_stays_paid() {
    let server = TestServer::start_with(with_channels(vec![sim(|c| {
        c.duplicate_payment_rate_ppm = 1_000_000;
    })]))
    .await;
    let campaign = server.create_seckill(1).await;
    let (order, _) = server.win(&campaign, "alice").await;
    assert_eq!(pay(&server, "alice", &order, None).await.0, StatusCode::OK);
    let id = OrderId::parse(&order).unwrap();
    server
        .wait_until("both payments recorded and the duplicate refunded", |s| {
            let payments = s.shards.home().engine.inspect(|l| l.payments_of(id));
            payments.len() == 2
                && payments
                    .iter()
                    .any(|p| matches!(p.refund, Some(stampede_core::RefundStatus::Refunded { .. })))
        })
        .await;
    assert_eq!(state_of(&server, &order), OrderState::Paid);
    assert_eq!(refund_count(&server, "sim"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_skips_a_failing_channel_and_names_unknown_ones() {
    let server = TestServer::start_with(with_channels(vec![
        sim(|c| {
            c.name = stampede_core::ChannelName::parse("broken").unwrap();
            c.failure_rate_ppm = 1_000_000;
            c.auto_pay = false;
        }),
        sim(|c| {
            c.name = stampede_core::ChannelName::parse("good").unwrap();
            c.auto_pay = false;
        }),
    ]))
    .await;
    let campaign = server.create_seckill(200).await;
    let (order, _) = server.win(&campaign, "u0").await;
    let (status, json) = pay(&server, "u0", &order, Some("nope")).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("channel_not_found"))
    );
    let (status, json) = pay(&server, "u0", &order, Some("broken")).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("channel_unavailable")),
        "{json}"
    );
    // Many payments without a channel: the broken one fails, is down-weighted and taken out
    // of rotation, so almost all land on the good one.
    let mut on = std::collections::HashMap::<String, usize>::new();
    for i in 1..120 {
        let user = format!("u{i}");
        let (order, _) = server.win(&campaign, &user).await;
        let (status, json) = pay(&server, &user, &order, None).await;
        let key = if status == StatusCode::OK {
            json["payment"]["channel"].as_str().unwrap().to_owned()
        } else {
            json["error"]["code"].as_str().unwrap().to_owned()
        };
        *on.entry(key).or_default() += 1;
    }
    let good = on.get("good").copied().unwrap_or(0);
    assert!(good >= 100, "the healthy channel took the traffic: {on:?}");
    let health = server.state.shards.home().payments.desk().health();
    let broken = health.iter().find(|h| h.name == "broken").unwrap();
    assert!(
        broken.effective_weight <= 1 || broken.state != stampede_engine::BreakerState::Closed,
        "down-weighted or out of rotation: {health:?}"
    );
    let (status, json) = read_json(server.get_as_admin("/v1/admin/channels").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["channels"][1]["name"], "good");
    assert_eq!(json["channels"][1]["state"], "closed");
    assert!(
        json["channels"][0]["effective_weight"].as_u64().unwrap() < 100,
        "{json}"
    );
    assert_eq!(
        server.get("/v1/admin/channels").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_finds_money_the_books_never_saw() {
    let server = TestServer::start_with(|config| {
        with_channels(vec![sim(|c| c.auto_pay = false)])(config);
        config.reconcile_grace_secs = 0;
        config.reconcile_interval_secs = 0;
    })
    .await;
    let before = server.get_as_admin("/v1/admin/reconciliation").await;
    assert_eq!(before.status(), StatusCode::NOT_FOUND, "nothing ran yet");
    let campaign = server.create_seckill(3).await;
    let (paid, amount) = server.win(&campaign, "alice").await;
    let (lost, _) = server.win(&campaign, "bob").await;
    let sim = server.sim();
    // Alice pays and the callback arrives; bob pays but his callback is lost and nobody asks.
    for order in [&paid, &lost] {
        sim.pay_now(OrderId::parse(order).unwrap(), stampede_core::Cents(amount))
            .unwrap();
    }
    let txn = sim.payments_of(OrderId::parse(&paid).unwrap())[0]
        .txn_id
        .clone();
    let body = json!({"order_id": paid, "txn_id": txn, "amount_cents": amount,
        "paid_at": "2026-01-01T00:00:00Z"});
    assert_eq!(callback(&server, "sim", &body).await.0, StatusCode::OK);

    let run = |server: &TestServer| {
        server
            .request(Method::POST, "/v1/admin/reconciliation")
            .header("authorization", server.admin())
            .send()
    };
    let (status, json) = read_json(run(&server).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["clean"], false, "{json}");
    assert_eq!(
        json["report"]["discrepancy_counts"]["paid_but_not_opened"], 1,
        "{json}"
    );
    assert_eq!(
        json["report"]["discrepancies"][0]["order_id"],
        lost.as_str()
    );
    // The query path finds bob's payment; the books now agree with the channel.
    let stale = stampede_core::StalePaying {
        order_id: OrderId::parse(&lost).unwrap(),
        channels: vec![stampede_core::ChannelName::parse("sim").unwrap()],
    };
    assert_eq!(
        server
            .state
            .shards
            .home()
            .payments
            .query_order(&stale)
            .await,
        1
    );
    let (status, json) = read_json(run(&server).await.unwrap()).await;
    assert_eq!(
        (status, &json["clean"]),
        (StatusCode::OK, &json!(true)),
        "{json}"
    );
    let (_, last) = read_json(server.get_as_admin("/v1/admin/reconciliation").await).await;
    assert_eq!(last["clean"], true);
    assert_eq!(last["report"]["campaigns"][0]["paid_orders"], 2, "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reconciliations_run_one_at_a_time() {
    let server = TestServer::start_with(|config| {
        with_channels(vec![sim(|_| {})])(config);
        config.reconcile_grace_secs = 0;
        config.reconcile_interval_secs = 0;
    })
    .await;
    let campaign = server.create_seckill(2).await;
    server.win(&campaign, "alice").await;
    let home = server.state.shards.home();
    let run = || home.reconciler.run_once();
    let post = async {
        let response = server
            .request(Method::POST, "/v1/admin/reconciliation")
            .header("authorization", server.admin())
            .send()
            .await
            .unwrap();
        read_json(response).await
    };
    // Four at once: each waits for the one before (two at once would trip the run permit's
    // assertion in the blocking thread, and that run would answer an error).
    let (a, b, c, (status, json)) = tokio::join!(run(), run(), run(), post);
    for run in [a, b, c] {
        let run = run.expect("each run ran");
        assert!(run.clean, "{}", run.report);
    }
    assert_eq!(
        (status, &json["clean"]),
        (StatusCode::OK, &json!(true)),
        "{json}"
    );
    assert!(!home.reconciler.last().is_running());
}

/// A refund the channel declines for good (a payment its books never held, as a callback
/// re-posted from another channel leaves) is retried with backoff on a driven clock: in
/// eleven minutes of one-second passes it is logged at its seven steps (1 s doubling to the
/// longest wait, then once as stuck) and in one summary; the next hour adds one summary line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_that_can_never_complete_is_logged_a_bounded_number_of_times() {
    use stampede_money::jobs::{RefundScope, refund_pending};
    use stampede_money::refund_backoff::RefundBackoff;

    let server = TestServer::start_with(|config| {
        with_channels(vec![sim(|c| c.auto_pay = false)])(config);
        config.reconcile_grace_secs = 0;
    })
    .await;
    let campaign = server.create_seckill(1).await;
    let (order, amount) = server.win(&campaign, "alice").await;
    assert_eq!(cancel(&server, "alice", &order).await, StatusCode::OK);
    let id = OrderId::parse(&order).unwrap();
    let ghost = stampede_core::Payment {
        channel: stampede_core::ChannelName::parse("sim").unwrap(),
        txn_id: "never-taken-1".into(),
        amount_cents: stampede_core::Cents(amount),
        paid_at: stampede_core::UnixMillis(1),
    };
    let recorded = server
        .state
        .shards
        .home()
        .payments
        .record(id, ghost)
        .await
        .unwrap();
    assert!(
        matches!(
            recorded,
            stampede_core::PaymentOutcome::Recorded {
                kind: stampede_core::PaymentKind::Late,
                ..
            }
        ),
        "{recorded:?}"
    );

    let mut backoff = RefundBackoff::default();
    let mut logged_by = Vec::new();
    let eleven_minutes = (0..=11 * 60).map(|s| (s, 1));
    let the_next_hour = (11 * 60 + 10..=71 * 60 + 10).step_by(10).map(|s| (s, 2));
    for (second, period) in eleven_minutes.chain(the_next_hour) {
        let now = Duration::from_secs(second);
        let payments = &server.state.shards.home().payments;
        let pass = refund_pending(payments, &mut backoff, now, RefundScope::SINGLE).await;
        assert_eq!(pass.confirmed, 0, "the channel never held that payment");
        logged_by.extend(std::iter::repeat_n(period, pass.logged()));
    }
    let in_period = |p| logged_by.iter().filter(|&&q| q == p).count();
    assert_eq!(in_period(1), 7 + 1, "seven steps and the first summary");
    assert_eq!(in_period(2), 1, "an hour at the longest wait: one summary");
    assert_eq!(backoff.stuck(), 1);
    assert_eq!(state_of(&server, &order), OrderState::RefundPending);
    server.shutdown().await;
}
