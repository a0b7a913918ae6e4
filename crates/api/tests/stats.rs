//! `GET /v1/admin/stats` (the dashboard's snapshot) and `GET /dashboard` (its page): admin
//! only, figures that match what happened, a bounded campaign list, and a page that fetches
//! nothing from anywhere but this server.
//!
//! The grab counters and latency histogram live in the process-wide metrics registry, which
//! every server of this test binary shares: only `the_snapshot_counts_what_happened` grabs,
//! and it compares two snapshots, so its differences are its own grabs exactly.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stampede_api::stats::MAX_CAMPAIGNS;
use support::{TestServer, expect_error, expect_rate_limited, read_json};

async fn stats(server: &TestServer) -> Value {
    let response = server.get_as_admin("/v1/admin/stats").await;
    let content_type = response.headers()["content-type"].clone();
    let (status, json) = read_json(response).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(content_type, "application/json");
    json
}

/// The count of `outcome` in a snapshot (0 when the registry has not listed it).
fn outcome(stats: &Value, outcome: &str) -> u64 {
    stats["grabs"]["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|o| o["outcome"] == outcome)
        .map_or(0, |o| o["count"].as_u64().expect("a count"))
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

#[tokio::test]
async fn stats_are_for_the_admin_only() {
    let server = TestServer::start().await;
    expect_error(
        server.get("/v1/admin/stats").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        server.get_as("alice", "/v1/admin/stats").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let wrong_key = server
        .request(Method::GET, "/v1/admin/stats")
        .header("authorization", "Bearer not-the-admin-key-0123456789")
        .send()
        .await
        .expect("request sent");
    expect_error(wrong_key, StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect_error(
        server
            .request(Method::POST, "/v1/admin/stats")
            .header("authorization", server.admin())
            .send()
            .await
            .expect("request sent"),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let snapshot = stats(&server).await;
    assert_eq!(
        snapshot["node"],
        json!({ "id": "single node", "cluster": null })
    );
    assert_eq!(snapshot["campaigns_total"], 0);
    assert_eq!(snapshot["payments"]["channels"][0]["name"], "sim");
    assert_eq!(snapshot["payments"]["channels"][0]["state"], "closed");
    assert_eq!(snapshot["payments"]["pending_refunds"], 0);
    assert_eq!(snapshot["journal"]["breaker"], "closed");
    assert_eq!(snapshot["journal"]["failed"], false);
}

#[tokio::test]
async fn the_snapshot_counts_what_happened() {
    // On a clock that stands still, the per-user rule (one grab a second) refuses a second
    // grab however slowly the machine runs.
    let server = TestServer::start_manual(|_| {}).await;
    let scarce = server.create_seckill(3).await;
    // A millisecond later, so the second is the newer one (the clock stands still otherwise).
    server.advance(Duration::from_millis(1));
    let roomy = server
        .create_seckill_with(json!({ "stock": 100, "per_user_limit": 10 }))
        .await;
    let before = stats(&server).await;

    for user in ["u1", "u2", "u3"] {
        server.win(&scarce, user).await;
    }
    for user in ["u4", "u5"] {
        expect_error(
            server.grab(&scarce, user).await,
            StatusCode::GONE,
            "sold_out",
        )
        .await;
    }
    server.win(&roomy, "dave").await;
    expect_rate_limited(server.grab(&roomy, "dave").await).await;

    let after = stats(&server).await;
    let grew = |what: &str| outcome(&after, what) - outcome(&before, what);
    assert_eq!(grew("won"), 4, "{after}");
    assert_eq!(grew("sold_out"), 2, "{after}");
    assert_eq!(grew("rate_limited"), 1, "{after}");
    let answered = number(&after["grabs"]["total"]) - number(&before["grabs"]["total"]);
    assert_eq!(answered, 7, "{after}");
    let timed =
        number(&after["grabs"]["latency"]["count"]) - number(&before["grabs"]["latency"]["count"]);
    assert_eq!(timed, 7, "every answered grab is timed: {after}");
    let p50 = after["grabs"]["latency"]["p50_ms"].as_f64().expect("a p50");
    let p99 = after["grabs"]["latency"]["p99_ms"].as_f64().expect("a p99");
    assert!(0.0 < p50 && p50 <= p99, "{p50} {p99}");
    let win_rate = after["grabs"]["win_rate"].as_f64().expect("a win rate");
    assert!((0.0..=1.0).contains(&win_rate), "{win_rate}");

    let per_user: Vec<&Value> = (after["rejections"].as_array().expect("rejections").iter())
        .filter(|r| r["layer"] == "rule" && r["rule"] == "per-user")
        .collect();
    assert_eq!(
        per_user,
        [
            &json!({ "layer": "rule", "rule": "per-user", "outcome": "rejected", "count": 1 }),
            &json!({ "layer": "rule", "rule": "per-user", "outcome": "dry_run_rejected", "count": 0 }),
        ],
        "{after}"
    );

    let campaigns = after["campaigns"].as_array().expect("campaigns");
    assert_eq!(after["campaigns_total"], 2);
    // Newest first.
    assert_eq!(campaigns[0]["id"], roomy.as_str());
    assert_eq!(campaigns[0]["remaining"], 99);
    assert_eq!(campaigns[0]["status"], "active");
    assert_eq!(campaigns[1]["id"], scarce.as_str());
    assert_eq!(campaigns[1]["remaining"], 0);
    assert_eq!(campaigns[1]["total"], 3);
    assert_eq!(campaigns[1]["status"], "sold_out");

    // Two creations and four wins, each durable before its answer: at least six records, in
    // at most as many commits (group commit may carry several in one).
    let journal = &after["journal"];
    let records = number(&journal["records"]);
    let commits = number(&journal["commits"]);
    assert!(records >= 6, "{journal}");
    assert!((1..=records).contains(&commits), "{journal}");
    assert_eq!(
        number(&journal["fsyncs"]),
        commits,
        "durability fsync: {journal}"
    );
    assert!(
        number(&journal["commit_latency"]["count"]) >= 1,
        "{journal}"
    );
    let per_commit = journal["records_per_commit"]
        .as_f64()
        .expect("records per commit");
    assert!(
        (per_commit - records as f64 / commits as f64).abs() < 1e-9,
        "{journal}"
    );
}

#[tokio::test]
async fn the_campaign_list_is_bounded_live_ones_first() {
    let server = TestServer::start_manual(|_| {}).await;
    let mut live = Vec::new();
    for _ in 0..=MAX_CAMPAIGNS {
        live.push(server.create_seckill(1).await);
        // Each a millisecond after the last: the clock stands still otherwise.
        server.advance(Duration::from_millis(1));
    }
    // Created last, so the newest: ended, it still comes after every live campaign.
    let ending = server
        .create_seckill_with(json!({ "stock": 1, "ends_at": server.rfc3339_from_now(60) }))
        .await;
    server.advance(Duration::from_secs(120));

    let snapshot = stats(&server).await;
    assert_eq!(snapshot["campaigns_total"], MAX_CAMPAIGNS + 2);
    let shown: Vec<&str> = (snapshot["campaigns"].as_array().expect("campaigns").iter())
        .map(|c| c["id"].as_str().expect("an id"))
        .collect();
    let newest_live: Vec<&str> = live
        .iter()
        .rev()
        .take(MAX_CAMPAIGNS)
        .map(String::as_str)
        .collect();
    assert_eq!(shown, newest_live, "the live ones, newest first");
    assert!(!shown.contains(&ending.as_str()));
    assert!(
        !shown.contains(&live[0].as_str()),
        "the oldest live one is left out"
    );
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_and_fetches_only_from_it() {
    let server = TestServer::start().await;
    let mut bodies = Vec::new();
    for (path, content_type) in [
        ("/dashboard", "text/html; charset=utf-8"),
        ("/dashboard/app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/style.css", "text/css; charset=utf-8"),
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        let policy = headers["content-security-policy"].to_str().expect("ASCII");
        assert!(policy.starts_with("default-src 'none'"), "{policy}");
        assert!(policy.contains("connect-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        bodies.push(response.text().await.expect("a body"));
    }
    let [page, script, style] = &bodies[..] else {
        unreachable!("three assets")
    };
    // Everything the page loads is one of its own two assets.
    for attribute in ["src=\"", "href=\""] {
        for (i, _) in page.match_indices(attribute) {
            let target = &page[i + attribute.len()..];
            assert!(
                target.starts_with("/dashboard/"),
                "{}",
                &target[..40.min(target.len())]
            );
        }
    }
    assert!(page.contains("id=\"key\" type=\"password\""));
    // The script asks this server for the snapshot and nothing else, and keeps the key in
    // memory only.
    assert_eq!(script.matches("fetch(").count(), 1);
    assert!(script.contains("fetch(\"/v1/admin/stats\""));
    for forbidden in [
        "localStorage",
        "sessionStorage",
        "document.cookie",
        "indexedDB",
        "innerHTML",
    ] {
        assert!(!script.contains(forbidden), "the script uses {forbidden}");
    }
    assert!(!style.contains("url(") && !style.contains("@import"));
}
