//! Degrade switches (who flipped them, what each turns off) and the defences' metrics.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, expect_error};
use crate::{admin_json, block, metrics_text, roomy_campaign, sample, set_switch};

/// Asserts `response` is 503 `degraded`.
async fn expect_degraded(response: reqwest::Response) {
    expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "degraded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switches_turn_features_off_and_record_who() {
    let server = TestServer::start().await;
    let campaign = server.create_seckill(10).await;
    let (status, json) = admin_json(&server, Method::GET, "/v1/admin/switches", None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let switches = json["switches"].as_array().unwrap();
    let names: Vec<&str> = switches
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["grab", "campaign_detail", "winners"]);
    assert!(switches.iter().all(|s| s["on"] == true));
    expect_error(
        server.get("/v1/admin/switches").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    let (status, shown) = set_switch(&server, "grab", false).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["on"], false);
    assert_eq!(shown["changed_by"], "ops-oncall");
    let response = server.grab(&campaign, "alice").await;
    assert!(response.headers().contains_key("retry-after"));
    expect_degraded(response).await;
    set_switch(&server, "grab", true).await;
    server.win(&campaign, "alice").await;

    // campaign_detail off: the last cached copy, even as grabs change the stock.
    assert_eq!(server.campaign(&campaign).await["remaining"], 9);
    set_switch(&server, "campaign_detail", false).await;
    server.win(&campaign, "bob").await;
    assert_eq!(server.campaign(&campaign).await["remaining"], 9);
    // A campaign never cached has no copy to serve.
    let fresh = server.create_seckill(1).await;
    expect_degraded(server.get(&format!("/v1/campaigns/{fresh}")).await).await;
    set_switch(&server, "campaign_detail", true).await;
    assert_eq!(server.campaign(&campaign).await["remaining"], 8);

    let (status, _) = set_switch(&server, "winners", false).await;
    assert_eq!(status, StatusCode::OK);
    expect_degraded(
        server
            .get_as_admin(&format!("/v1/campaigns/{campaign}/winners"))
            .await,
    )
    .await;

    let (status, json) = set_switch(&server, "checkout", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    assert_eq!(json["error"]["code"], "switch_not_found");
    // Without X-Operator the admin's address is recorded.
    let (_, shown) = admin_json(
        &server,
        Method::PUT,
        "/v1/admin/switches/winners",
        Some(json!({ "on": true })),
    )
    .await;
    assert_eq!(shown["changed_by"], "admin@127.0.0.1");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_decisions_keys_breakers_switches_and_entries() {
    let server = TestServer::start().await;
    let campaign = roomy_campaign(&server).await;
    for _ in 0..3 {
        server.grab(&campaign, "metrics-user").await;
    }
    block(
        &server,
        json!({ "kind": "user", "value": "metrics-blocked", "reason": "r" }),
    )
    .await;
    server.grab(&campaign, "metrics-blocked").await;
    set_switch(&server, "winners", false).await;

    let text = metrics_text(&server).await;
    let decision = |labels: &[&str]| sample(&text, "stampede_admission_decisions_total", labels);
    let per_user = |outcome: &str| {
        decision(&[
            "layer=\"rule\"",
            "rule=\"per-user\"",
            &format!("outcome=\"{outcome}\""),
        ])
    };
    assert!(per_user("allowed").unwrap_or(0.0) >= 1.0, "{text}");
    assert!(per_user("rejected").is_some(), "{text}");
    assert!(
        decision(&["layer=\"blocklist\"", "outcome=\"blocked_user\""]).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    // Samples with a known value, and samples that must be at least one.
    for (name, labels, value) in [
        ("stampede_breaker_state", "breaker=\"journal\"", 0.0),
        ("stampede_switch_on", "switch=\"winners\"", 0.0),
        ("stampede_switch_on", "switch=\"grab\"", 1.0),
    ] {
        assert_eq!(
            sample(&text, name, &[labels]),
            Some(value),
            "{name}: {text}"
        );
    }
    for (name, labels) in [
        ("stampede_rule_tracked_keys", &["rule=\"per-user\""][..]),
        ("stampede_blocklist_entries", &[][..]),
    ] {
        assert!(
            sample(&text, name, labels).unwrap_or(0.0) >= 1.0,
            "{name}: {text}"
        );
    }
    server.shutdown().await;
}
