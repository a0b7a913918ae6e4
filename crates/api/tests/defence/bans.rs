//! Automatic bans: a key that keeps being refused by an `auto_ban` rule is put on the
//! blocklist for a while, listed with origin `auto_ban`, and can be lifted by hand.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestServer;
use crate::{
    client_from, entries, expect_blocked, grab_from, install_rules, roomy_campaign,
    unblock_expecting,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_user_is_limited_then_banned_and_the_ban_can_be_lifted() {
    // The server's clock stands still unless moved: every loop below is within one second.
    let server = TestServer::start_manual(|c| c.auto_ban_threshold = 3).await;
    let campaign = roomy_campaign(&server).await;
    let mut statuses = Vec::new();
    let mut banned = None;
    for _ in 0..50 {
        let response = server.grab(&campaign, "looper").await;
        statuses.push(response.status().as_u16());
        if response.status() == StatusCode::FORBIDDEN {
            banned = Some(response);
            break;
        }
    }
    let banned = banned.unwrap_or_else(|| panic!("never banned: {statuses:?}"));
    let message = expect_blocked(banned).await;
    assert!(message.contains("auto-ban"), "{message}");
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited > 3, "banned after {limited} 429s: {statuses:?}");

    let list = entries(&server).await;
    let ban = list
        .iter()
        .find(|e| e["value"] == "looper")
        .unwrap_or_else(|| panic!("ban not listed: {list:?}"));
    assert_eq!(ban["kind"], "user");
    assert_eq!(ban["origin"], "auto_ban");
    assert_eq!(ban["list"], "block");
    assert!(ban["expires_at"].is_string(), "{ban}");
    assert!(
        ban["reason"].as_str().unwrap().contains("per-user"),
        "{ban}"
    );
    // Others are unaffected; the ban holds for every campaign.
    server.win(&campaign, "alice").await;
    expect_blocked(server.grab(&campaign, "looper").await).await;

    unblock_expecting(&server, &[("user", "looper", "", StatusCode::NO_CONTENT)]).await;
    // Lifted, the user is back under the per-user rule: served once its second has passed.
    server.advance(Duration::from_secs(1));
    server.win(&campaign, "looper").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_address_is_banned_by_an_ip_rule() {
    let server = TestServer::start_with(|c| c.auto_ban_threshold = 2).await;
    install_rules(
        &server,
        json!([{ "name": "ip-ban", "dimension": "ip", "auto_ban": true,
                 "limiter": { "kind": "sliding_window", "limit": 1, "window_secs": 60 } }]),
    )
    .await;
    let campaign = roomy_campaign(&server).await;
    let flood = client_from("127.0.14.1");
    let mut statuses = Vec::new();
    for n in 0..5 {
        statuses.push(
            grab_from(&server, &flood, &campaign, &format!("bot{n}"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 429, 429, 429, 403]);
    let list = entries(&server).await;
    assert!(
        list.iter()
            .any(|e| e["kind"] == "ip" && e["value"] == "127.0.14.1" && e["origin"] == "auto_ban"),
        "{list:?}"
    );
    server.shutdown().await;
}
