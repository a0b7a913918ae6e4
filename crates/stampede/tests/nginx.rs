//! `deploy/nginx/stampede.conf` in front of real `stampede serve` nodes, with the machine's
//! nginx (Debian's `nginx`; `.ci/run` installs it; elsewhere the tests skip, loudly, when it
//! is missing). Only the config's `listen` line and its upstream's `server` lines are
//! replaced, with free loopback ports.
//!
//! - A stampede through nginx passes its audit, and Stampede's per-IP defences see each
//!   client's own address (nginx appends it to X-Forwarded-For; the node trusts nginx).
//! - One user's requests reach one node (consistent hashing on the credential); when that
//!   node is down, they reach another, and nginx's own answers are JSON with a stable code.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use support::nginx::{Nginx, nginx_binary};
use support::{ADMIN_KEY, Server, TOKEN_SECRET, admin, bench_succeeds, binary};

/// A node that trusts nginx's address for X-Forwarded-For.
async fn node(dir: &Path) -> Server {
    Server::start(dir, &["--trusted-proxies", "127.0.0.1"]).await
}

fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stampede_through_nginx_passes_its_audit_and_defences_see_each_client() {
    let Some(nginx_binary) =
        nginx_binary("a_stampede_through_nginx_passes_its_audit_and_defences_see_each_client")
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let node = node(data.path()).await;
    let nginx = Nginx::start(&nginx_binary, &[node.port]).await;

    // Every population, from many loopback addresses, through nginx.
    let report = bench_succeeds(
        Command::new(binary())
            .args(["bench", "--quiet", "--target", &nginx.base])
            .args(["--token-secret", TOKEN_SECRET, "--admin-key", ADMIN_KEY])
            .args(["--users", "3000", "--stock", "300", "--scripts", "5"])
            .args(["--botnet-users", "300", "--botnet-ips", "20"])
            .args(["--connections", "32", "--duration", "10"])
            .args(["--max-requests", "20000"]),
    );
    assert!(report.contains("audit: PASSED"), "{report}");

    // The node sees each client's own address: blocking one blocks it and no other.
    let client = reqwest::Client::new();
    let blocked = client
        .post(format!("{}/v1/admin/blocklist", nginx.base))
        .header("authorization", admin())
        .json(&serde_json::json!({ "kind": "ip", "value": "127.0.0.77", "reason": "test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 201);
    let campaign = support::send_json(
        client
            .post(format!("{}/v1/campaigns", nginx.base))
            .header("authorization", admin())
            .json(&serde_json::json!({
                "kind": "seckill", "name": "nginx", "stock": 10, "price_cents": 100
            })),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let grab = |from: &'static str, user: &'static str| {
        let url = format!("{}/v1/campaigns/{campaign}/grab", nginx.base);
        async move {
            let response = client_from(from)
                .post(url)
                .bearer_auth(support::token(user))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let (status, body) = grab("127.0.0.77", "ann").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "blocked", "{body}");
    let (status, body) = grab("127.0.0.78", "ben").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "won", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_requests_stay_on_one_node_and_move_when_it_is_down() {
    let Some(nginx_binary) =
        nginx_binary("a_users_requests_stay_on_one_node_and_move_when_it_is_down")
    else {
        return;
    };
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = node(dirs[0].path()).await;
    let second = node(dirs[1].path()).await;
    let nginx = Nginx::start(&nginx_binary, &[first.port, second.port]).await;
    let client = reqwest::Client::new();

    // Independent nodes (no cluster yet) each hold their own campaigns: which node a user's
    // requests reach shows in whether a campaign created on one is found.
    let created = support::send_json(
        client
            .post(format!("{}/v1/campaigns", first.base))
            .header("authorization", admin())
            .json(&serde_json::json!({
                "kind": "seckill", "name": "on-first", "stock": 1000, "price_cents": 100
            })),
    )
    .await;
    let campaign = created["id"].as_str().unwrap().to_owned();
    // Each request carries a token of its own (a later expiry each time, as a client that
    // renews its token): the user, not the token, decides the node.
    let renewals = std::sync::atomic::AtomicU64::new(0);
    let status_for = |user: String| {
        let client = client.clone();
        let url = format!("{}/v1/campaigns/{campaign}/grab", nginx.base);
        let renewal = renewals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = stampede_api::mint_token(
            TOKEN_SECRET.as_bytes(),
            &user,
            support::token_expiry() + renewal,
        );
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Each of 40 users gets the same node every time, whatever its token: always found (200)
    // or never (404).
    let mut on_first = Vec::new();
    for i in 0..40 {
        let user = format!("sticky-{i}");
        let statuses = [
            status_for(user.clone()).await,
            status_for(user.clone()).await,
            status_for(user.clone()).await,
        ];
        assert!(
            statuses.iter().all(|s| *s == statuses[0]) && [200, 404].contains(&statuses[0]),
            "{user} moved between nodes: {statuses:?}"
        );
        if statuses[0] == 200 {
            on_first.push(user);
        }
    }
    assert!(
        !on_first.is_empty() && on_first.len() < 40,
        "the users spread over both nodes: {} of 40 on the first",
        on_first.len()
    );

    // The first node goes down: its users reach the second (a refused connection is retried
    // there, which cannot double an effect: the first never saw the request).
    first.kill();
    for user in &on_first {
        assert_eq!(status_for(user.clone()).await, 404, "{user} did not move");
    }

    // No node up: nginx answers for them, in JSON with a stable code and a Retry-After.
    second.kill();
    let response = client
        .get(format!("{}/v1/campaigns/{campaign}", nginx.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");

    // A write nginx could not place has an unknown outcome as far as the client can tell (a
    // node may have died after taking it): `degraded`, retry safe — not `unavailable`.
    let response = client
        .post(format!("{}/v1/campaigns/{campaign}/grab", nginx.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "degraded", "{body}");
}
