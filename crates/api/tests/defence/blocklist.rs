//! Block and allow lists through the admin API: users, addresses and networks refused until
//! lifted, entries that lapse, the allow list's exemption, persistence across a restart, bad
//! input, and the client address read behind a trusted proxy.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, expect_error, read_json};
use crate::{
    block, client_from, entries, expect_blocked, grab_as_from, raw_status, roomy_campaign,
    unblock_expecting,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_users_ips_and_networks_get_403_until_lifted() {
    // The server's clock stands still unless moved (the per-user rule's second, below).
    let server = TestServer::start_manual(|_| {}).await;
    let campaign = roomy_campaign(&server).await;
    let (order, _) = server.win(&campaign, "mallory").await;

    let shown = block(
        &server,
        json!({ "kind": "user", "value": "mallory", "reason": "chargebacks" }),
    )
    .await;
    assert_eq!(shown["origin"], "manual");
    assert_eq!(shown["list"], "block");
    assert_eq!(shown["expires_at"], Value::Null);
    let message = expect_blocked(server.grab(&campaign, "mallory").await).await;
    assert!(message.contains("chargebacks"), "{message}");
    expect_blocked(
        server
            .get_as("mallory", &format!("/v1/orders/{order}"))
            .await,
    )
    .await;
    server.win(&campaign, "alice").await;

    // A single address and a network (DELETE with a '/' in the value).
    for (value, reason) in [("127.0.9.1", "scraper"), ("127.0.10.0/24", "botnet")] {
        block(
            &server,
            json!({ "kind": "ip", "value": value, "reason": reason }),
        )
        .await;
    }
    for source in ["127.0.9.1", "127.0.10.77"] {
        expect_blocked(grab_as_from(&server, source, &campaign, "bob").await).await;
    }
    // Order reads check the address before the token.
    expect_blocked(
        client_from("127.0.10.3")
            .get(server.url(&format!("/v1/orders/{order}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (status, _) = read_json(grab_as_from(&server, "127.0.11.1", &campaign, "bob").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entries(&server).await.len(), 3);

    unblock_expecting(
        &server,
        &[
            ("ip", "127.0.10.0/24", "", StatusCode::NO_CONTENT),
            ("ip", "127.0.10.0/24", "", StatusCode::NOT_FOUND),
            ("user", "mallory", "", StatusCode::NO_CONTENT),
        ],
    )
    .await;
    let (status, _) =
        read_json(grab_as_from(&server, "127.0.10.77", &campaign, "carol").await).await;
    assert_eq!(status, StatusCode::OK);
    // Lifted: within the second of her win the per-user rule still limits mallory (429, not
    // 403); a second later she is served.
    expect_error(
        server.grab(&campaign, "mallory").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    server.advance(Duration::from_secs(1));
    let (status, json) = read_json(server.grab(&campaign, "mallory").await).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    expect_blocked(grab_as_from(&server, "127.0.9.1", &campaign, "dave").await).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_with_a_ttl_lapses_by_itself() {
    let server = TestServer::start_manual(|_| {}).await;
    let campaign = roomy_campaign(&server).await;
    let shown = block(
        &server,
        json!({ "kind": "user", "value": "brief", "reason": "cool off", "ttl_secs": 1 }),
    )
    .await;
    assert!(shown["expires_at"].is_string(), "{shown}");
    expect_blocked(server.grab(&campaign, "brief").await).await;
    // Just short of its second the entry holds; past it, it lapses.
    server.advance(Duration::from_millis(900));
    expect_blocked(server.grab(&campaign, "brief").await).await;
    assert_eq!(entries(&server).await.len(), 1);
    server.advance(Duration::from_millis(200));
    let (status, json) = read_json(server.grab(&campaign, "brief").await).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(
        entries(&server).await.is_empty(),
        "a lapsed entry is not listed"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_exempts_from_blocks_and_bans() {
    let server = TestServer::start_with(|c| c.auto_ban_threshold = 1).await;
    let campaign = roomy_campaign(&server).await;
    for (kind, value, reason, list) in [
        ("ip", "127.0.12.0/24", "noisy office", "block"),
        ("ip", "127.0.12.5", "our QA box", "allow"),
        ("user", "vip", "load tester", "allow"),
    ] {
        block(
            &server,
            json!({ "kind": kind, "value": value, "reason": reason, "list": list }),
        )
        .await;
    }
    expect_blocked(grab_as_from(&server, "127.0.12.6", &campaign, "a").await).await;
    let (status, _) = read_json(grab_as_from(&server, "127.0.12.5", &campaign, "b").await).await;
    assert_eq!(status, StatusCode::OK);
    // An allowed user is rate limited but never banned.
    for _ in 0..10 {
        let status = server.grab(&campaign, "vip").await.status();
        assert_ne!(status, StatusCode::FORBIDDEN);
    }
    assert!(
        entries(&server)
            .await
            .iter()
            .all(|e| e["origin"] == "manual"),
        "no automatic ban for an allowed user"
    );
    // Lifting an allow entry needs ?list=allow.
    unblock_expecting(
        &server,
        &[
            ("ip", "127.0.12.5", "", StatusCode::NOT_FOUND),
            ("ip", "127.0.12.5", "?list=allow", StatusCode::NO_CONTENT),
        ],
    )
    .await;
    expect_blocked(grab_as_from(&server, "127.0.12.5", &campaign, "c").await).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_survive_a_restart() {
    let server = TestServer::start().await;
    let campaign = roomy_campaign(&server).await;
    block(
        &server,
        json!({ "kind": "user", "value": "mallory", "reason": "fraud" }),
    )
    .await;
    block(
        &server,
        json!({ "kind": "ip", "value": "127.0.13.0/24", "reason": "botnet", "ttl_secs": 3600 }),
    )
    .await;
    let before = entries(&server).await;
    assert!(
        server
            .config
            .data_dir
            .join(stampede_api::defence::BLOCKLIST_FILE)
            .exists()
    );
    let server = server.restart().await;
    assert_eq!(entries(&server).await, before);
    expect_blocked(server.grab(&campaign, "mallory").await).await;
    expect_blocked(grab_as_from(&server, "127.0.13.9", &campaign, "bob").await).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_blocklist_input_is_refused_naming_the_field() {
    let server = TestServer::start().await;
    let user = |extra: Value| {
        let mut body = json!({ "kind": "user", "value": "alice", "reason": "r" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (body, field) in [
        (
            json!({ "kind": "email", "value": "a@b", "reason": "r" }),
            "kind",
        ),
        (
            json!({ "kind": "ip", "value": "300.1.1.1", "reason": "r" }),
            "value",
        ),
        (
            json!({ "kind": "ip", "value": "10.0.0.0/33", "reason": "r" }),
            "value",
        ),
        (user(json!({ "value": "no spaces allowed" })), "value"),
        (user(json!({ "ttl_secs": 0 })), "ttl_secs"),
        (user(json!({ "reason": "  " })), "reason"),
        (user(json!({ "colour": "red" })), "colour"),
        (user(json!({ "list": "grey" })), "list"),
    ] {
        let response = server
            .request(Method::POST, "/v1/admin/blocklist")
            .header("authorization", server.admin())
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    unblock_expecting(
        &server,
        &[
            ("email", "a@b", "", StatusCode::BAD_REQUEST),
            ("user", "nobody", "?list=grey", StatusCode::BAD_REQUEST),
            ("user", "nobody", "", StatusCode::NOT_FOUND),
        ],
    )
    .await;
    let response = server
        .request(Method::POST, "/v1/admin/blocklist")
        .header("authorization", server.token("alice"))
        .json(&json!({ "kind": "user", "value": "bob", "reason": "r" }))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(entries(&server).await.is_empty());
    server.shutdown().await;
}

/// Behind a trusted proxy every `X-Forwarded-For` line counts (HAProxy appends a line of its
/// own): the lines are one list in order, and its right-most untrusted address is the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_x_forwarded_for_line_counts_behind_a_trusted_proxy() {
    let server = TestServer::start_with(|c| c.trusted_proxies = "127.0.0.1".into()).await;
    let campaign = roomy_campaign(&server).await;
    block(
        &server,
        json!({ "kind": "ip", "value": "5.6.7.8", "reason": "fraud ring" }),
    )
    .await;
    let grab = |user: &str, lines: &[&str]| {
        let forwarded: String = lines
            .iter()
            .map(|line| format!("x-forwarded-for: {line}\r\n"))
            .collect();
        format!(
            "POST /v1/campaigns/{campaign}/grab HTTP/1.1\r\nhost: test\r\n\
             authorization: {}\r\n{forwarded}connection: close\r\n\r\n",
            server.token(user)
        )
    };
    for (user, lines, status) in [
        ("two-lines", &["1.2.3.4", "5.6.7.8"][..], 403),
        ("one-line", &["1.2.3.4, 5.6.7.8"][..], 403),
        ("three-lines", &["1.2.3.4", "5.6.7.8", "127.0.0.1"][..], 403),
        // The same two lines the other way round: the client is 1.2.3.4.
        ("reversed", &["5.6.7.8", "1.2.3.4"][..], 200),
    ] {
        assert_eq!(
            raw_status(&server, grab(user, lines)).await,
            status,
            "{lines:?}: 403 when the client is 5.6.7.8, blocked"
        );
    }
    server.shutdown().await;
}
