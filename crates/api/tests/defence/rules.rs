//! Rules through the admin API: who may read and replace them, an invalid set refused whole,
//! per-address limits, a rule's own status, dry run, and the concurrency queue.

use reqwest::{Method, StatusCode};
use serde_json::json;
use stampede_admission::rules::{RequestKeys, Route, Stage};

use crate::support::{TestServer, expect_error, read_json};
use crate::{
    client_from, expect_rate_limited, grab_from, install_rules, ip, metrics_text, put_rules,
    retry_after_secs, roomy_campaign, rule_names, sample,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_admin_only_and_an_invalid_set_leaves_the_old_in_force() {
    let server = TestServer::start().await;
    // The default rule set: one per-user rule.
    assert_eq!(rule_names(&server).await, ["per-user"]);
    for auth in [None, Some(server.token("alice"))] {
        let mut get = server.request(Method::GET, "/v1/admin/rules");
        let mut put = server
            .request(Method::PUT, "/v1/admin/rules")
            .json(&json!({ "rules": [] }));
        if let Some(auth) = &auth {
            get = get.header("authorization", auth);
            put = put.header("authorization", auth);
        }
        for request in [get, put] {
            expect_error(
                request.send().await.unwrap(),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
            )
            .await;
        }
    }

    let one_per_minute = json!({
        "name": "ip-once", "dimension": "ip",
        "limiter": { "kind": "sliding_window", "limit": 1, "window_secs": 60 }
    });
    let json = install_rules(&server, json!([one_per_minute])).await;
    assert_eq!(json["rules"][0]["name"], "ip-once");
    let campaign = roomy_campaign(&server).await;
    let (status, _) = read_json(server.grab(&campaign, "alice").await).await;
    assert_eq!(status, StatusCode::OK);
    expect_rate_limited(server.grab(&campaign, "bob").await).await;

    // Invalid: the second rule's burst is 0. Refused whole, naming the field.
    let bad = json!([
        { "name": "fine", "dimension": "user",
          "limiter": { "kind": "token_bucket", "rate_per_sec": 5, "burst": 5 } },
        { "name": "broken", "dimension": "user",
          "limiter": { "kind": "token_bucket", "rate_per_sec": 5, "burst": 0 } },
    ]);
    let response = server
        .request(Method::PUT, "/v1/admin/rules")
        .header("authorization", server.admin())
        .json(&json!({ "rules": bad }))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("rules[1].limiter.burst"), "{message}");
    // Unknown fields and kinds are refused too.
    for bad in [
        json!([{ "name": "x", "dimension": "user", "brust": 1,
                 "limiter": { "kind": "token_bucket", "rate_per_sec": 1, "burst": 1 } }]),
        json!([{ "name": "x", "dimension": "planet",
                 "limiter": { "kind": "token_bucket", "rate_per_sec": 1, "burst": 1 } }]),
        json!([{ "name": "x", "dimension": "user", "action": { "status": 418 },
                 "limiter": { "kind": "token_bucket", "rate_per_sec": 1, "burst": 1 } }]),
    ] {
        let (status, json) = put_rules(&server, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {json}");
    }
    // The old rule is still listed and still limits (its state was not reset either).
    assert_eq!(rule_names(&server).await, ["ip-once"]);
    expect_rate_limited(server.grab(&campaign, "carol").await).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_ip_leaky_bucket_limits_one_address_while_another_passes() {
    // The server's clock stands still unless moved: the second request from an address is
    // always within the first one's second.
    let server = TestServer::start_manual(|_| {}).await;
    install_rules(
        &server,
        json!([{ "name": "leaky-ip", "dimension": "ip", "routes": ["grab", "order"],
                 "limiter": { "kind": "leaky_bucket", "rate_per_sec": 1, "burst": 0 } }]),
    )
    .await;
    let campaign = roomy_campaign(&server).await;
    let busy = client_from("127.0.7.1");
    let other = client_from("127.0.7.2");

    // One request a second from 127.0.7.1: the first passes, the second is refused.
    let (status, json) = read_json(grab_from(&server, &busy, &campaign, "u0").await).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let refused = grab_from(&server, &busy, &campaign, "u1").await;
    retry_after_secs(&refused);
    expect_rate_limited(refused).await;

    // Another address has its own bucket.
    let (status, json) = read_json(grab_from(&server, &other, &campaign, "v1").await).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    // A second later the busy address is let through again.
    server.advance(std::time::Duration::from_secs(1));
    let (status, json) = read_json(grab_from(&server, &busy, &campaign, "u2").await).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_answers_its_configured_status() {
    let server = TestServer::start().await;
    install_rules(
        &server,
        json!([{ "name": "ip-once-503", "dimension": "ip", "action": { "status": 503 },
                 "limiter": { "kind": "sliding_window", "limit": 1, "window_secs": 60 } }]),
    )
    .await;
    let campaign = roomy_campaign(&server).await;
    server.win(&campaign, "alice").await;
    let response = server.grab(&campaign, "bob").await;
    assert!(response.headers().contains_key("retry-after"));
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "rate_limited").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_counts_what_it_would_reject_and_rejects_nothing() {
    let server = TestServer::start().await;
    install_rules(
        &server,
        json!([{ "name": "shadow-ip", "dimension": "ip", "dry_run": true,
                 "limiter": { "kind": "sliding_window", "limit": 1, "window_secs": 60 } }]),
    )
    .await;
    let campaign = roomy_campaign(&server).await;
    for n in 0..5 {
        server.win(&campaign, &format!("user{n}")).await;
    }
    let text = metrics_text(&server).await;
    let counted = |outcome: &str| {
        sample(
            &text,
            "stampede_admission_decisions_total",
            &[
                "layer=\"rule\"",
                "rule=\"shadow-ip\"",
                &format!("outcome=\"{outcome}\""),
            ],
        )
    };
    assert_eq!(counted("dry_run_rejected"), Some(4.0), "{text}");
    assert_eq!(counted("rejected").unwrap_or(0.0), 0.0, "{text}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_concurrency_queue_answers_queue_timeout() {
    let server = TestServer::start().await;
    install_rules(
        &server,
        json!([{ "name": "one-at-a-time", "dimension": "global",
                 "limiter": { "kind": "concurrency", "max": 1, "queue": 4, "max_wait_ms": 300 } }]),
    )
    .await;
    let campaign = roomy_campaign(&server).await;
    // Hold the only slot deterministically: a grab handler drops its permit before its body
    // is even read, so an HTTP request cannot be parked in it; take the permit through the
    // server's own rule set instead, exactly as a grab in flight holds it.
    let keys = RequestKeys {
        route: Route::Grab,
        ip: Some(ip("127.0.0.1")),
        user: None,
        campaign: None,
    };
    let held = server
        .state
        .defence
        .admit(Stage::BeforeAuth, &keys, server.state.now_ms())
        .await
        .expect("the slot is free");
    let response = server.grab(&campaign, "alice").await;
    assert!(response.headers().contains_key("retry-after"));
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "queue_timeout").await;
    drop(held);
    server.win(&campaign, "alice").await;
    server.shutdown().await;
}
