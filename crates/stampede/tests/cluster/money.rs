//! Money on a cluster: orders of campaigns on several shards, each paid through another node
//! (so through the desks of followers as well as leaders), reconcile clean on every shard's
//! leader, and the channels view shows every shard's desk.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::nodes::{Cluster, SHARDS};
use crate::support::{admin, send_json, token};
use crate::{Answer, create_seckill, grab};

/// Campaigns created, one through each node in turn (a node creates on a shard it leads):
/// enough to land on several shards.
const CAMPAIGNS: usize = 6;
/// Winners per campaign, each paying its order.
const BUYERS: usize = 4;
/// Longest wait for every order to read `paid` (the simulated customer pays 50 ms after
/// `pay`; the callback is journaled through the shard's leader).
const PAID_WITHIN: Duration = Duration::from_secs(60);

/// `POST /v1/orders/{order}/pay {}` by `user` through `base`, asked again while the shard
/// answers 503 (a lease changing hands); the answer's status.
async fn pay(client: &reqwest::Client, base: &str, order: &str, user: &str) -> u16 {
    let deadline = tokio::time::Instant::now() + PAID_WITHIN;
    loop {
        let response = client
            .post(format!("{base}/v1/orders/{order}/pay"))
            .header("authorization", format!("Bearer {}", token(user)))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("pay answers");
        let status = response.status().as_u16();
        if status != 503 || tokio::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every node shows `campaign` (it has applied its creation: milliseconds).
async fn wait_shown(client: &reqwest::Client, cluster: &Cluster, campaign: &str) {
    let deadline = tokio::time::Instant::now() + PAID_WITHIN;
    for node in 0..3 {
        let url = format!("{}/v1/campaigns/{campaign}", cluster.base(node));
        while !send_json(client.get(&url)).await["id"].is_string() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{campaign} not shown on node {node}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until `order` reads `paid` through `base`.
async fn wait_paid(client: &reqwest::Client, base: &str, order: &str, user: &str) {
    let paid = |shown: &serde_json::Value| shown["state"] == "paid";
    wait_order(client, (base, order, user), "paid", PAID_WITHIN, paid).await;
}

/// Waits (at most `within`) until `order`, read by `user` through `base`, is `what`.
async fn wait_order(
    client: &reqwest::Client,
    (base, order, user): (&str, &str, &str),
    what: &str,
    within: Duration,
    is: impl Fn(&serde_json::Value) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let shown = send_json(
            client
                .get(format!("{base}/v1/orders/{order}"))
                .header("authorization", format!("Bearer {}", token(user))),
        )
        .await;
        if is(&shown) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{order} not {what} within {within:?}: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_on_a_cluster_reconcile_clean_on_every_shards_leader() {
    // No grace: every payment made before the reconciliation is on its desk's statement.
    let Some(cluster) = Cluster::start_with(
        "payments_on_a_cluster_reconcile_clean_on_every_shards_leader",
        &["--reconcile-grace-secs", "0"],
    )
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let mut orders = Vec::new();
    let mut shards = BTreeSet::new();
    for c in 0..CAMPAIGNS {
        let campaign = create_seckill(&client, cluster.base(c % 3), &format!("paid {c}"), 10).await;
        let id = stampede_core::CampaignId::parse(&campaign).expect("a campaign id");
        shards.insert(stampede_core::shard_index(id, SHARDS));
        wait_shown(&client, &cluster, &campaign).await;
        for b in 0..BUYERS {
            let user = format!("buyer-{c}-{b}");
            match grab(&client, cluster.base(b % 3), &campaign, &user).await {
                Answer::Won(order) => orders.push((order, user, b)),
                other => panic!("{user} did not win on a healthy cluster: {other:?}"),
            }
        }
    }
    assert!(
        shards.len() > 1,
        "the campaigns landed on several shards: {shards:?}"
    );
    // Each order paid through a node other than the one it was won on: followers' desks pay
    // as well as leaders'.
    for (order, user, b) in &orders {
        let status = pay(&client, cluster.base((b + 1) % 3), order, user).await;
        assert_eq!(status, 200, "paying {order}");
    }
    for (order, user, b) in &orders {
        wait_paid(&client, cluster.base(*b % 3), order, user).await;
    }

    // Every node reconciles the shards it leads; together they cover every shard, and each
    // payment is on exactly one desk's statement.
    let mut covered = BTreeSet::new();
    let (mut compared, mut elsewhere, mut records, mut took_ms) = (0, 0, 0, 0);
    for node in 0..3 {
        let base = cluster.base(node);
        let run = send_json(
            client
                .post(format!("{base}/v1/admin/reconciliation"))
                .header("authorization", admin()),
        )
        .await;
        assert_eq!(run["clean"], true, "{base}: {run}");
        let led: Vec<u64> = serde_json::from_value(run["led_shards"].clone()).expect("led_shards");
        let runs = run["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), led.len(), "{run}");
        for shard_run in runs {
            assert_eq!(shard_run["clean"], true, "{shard_run}");
            let shard = shard_run["shard"]
                .as_u64()
                .expect("the run names its shard");
            assert!(led.contains(&shard), "{shard} is one {base} leads");
            assert!(
                covered.insert(shard),
                "shard {shard} reconciled by two nodes"
            );
            records += shard_run["records"].as_u64().expect("records");
            took_ms = shard_run["took_ms"].as_u64().expect("took_ms").max(took_ms);
            for statement in shard_run["report"]["statements"]
                .as_array()
                .expect("statements")
            {
                compared += statement["matched"].as_u64().expect("matched");
                elsewhere += statement["other_desks_payments"].as_u64().unwrap_or(0);
                assert_eq!(
                    statement["matched"], statement["books_payments"],
                    "{statement}"
                );
            }
        }
        // The GET answers the runs just made.
        let last = send_json(
            client
                .get(format!("{base}/v1/admin/reconciliation"))
                .header("authorization", admin()),
        )
        .await;
        assert_eq!(last["led_shards"], run["led_shards"], "{last}");
        assert_eq!(last["clean"], true, "{last}");
    }
    assert_eq!(
        covered,
        (0..u64::from(SHARDS)).collect(),
        "every shard reconciled"
    );
    eprintln!(
        "reconciled {SHARDS} shards from their logs: {records} records replayed, slowest run \
         {took_ms} ms; {compared} payments on their desk's statement, {elsewhere} made through \
         another node's desk"
    );
    assert!(records > 0, "the shards' logs were replayed");
    let paid = orders.len() as u64;
    assert_eq!(
        compared + elsewhere,
        paid,
        "each payment counted once on its shard's leader"
    );
    assert!(
        compared > 0 && elsewhere > 0,
        "payments made through the leader's desk were compared ({compared}), those made through \
         other nodes' desks counted apart ({elsewhere})"
    );

    // The channels view: every shard's desk, and the channel over all of them.
    let channels = send_json(
        client
            .get(format!("{}/v1/admin/channels", cluster.base(0)))
            .header("authorization", admin()),
    )
    .await;
    assert_eq!(channels["channels"][0]["name"], "sim", "{channels}");
    let per_shard = channels["shards"].as_array().expect("per shard");
    assert_eq!(per_shard.len(), SHARDS as usize, "{channels}");
    for (shard, desk) in per_shard.iter().enumerate() {
        assert_eq!(desk["shard"], shard, "{desk}");
        assert_eq!(desk["channels"][0]["name"], "sim", "{desk}");
    }
    // Each shard's desk keeps its books in its own directory; none in the data directory.
    for node in 0..3 {
        let dir = cluster.dir(node);
        assert!(!dir.join("channel-sim.log").exists(), "{}", dir.display());
        for shard in 0..SHARDS {
            let books = stampede_server::shard_books_dir(dir, shard).join("channel-sim.log");
            assert!(books.exists(), "{}", books.display());
        }
    }
}

/// A signed callback of the simulated channel through `cluster`'s node `node` (signed with
/// that node's `sim` secret), paying `order` 9.90 under `txn_id`: its status and body.
async fn callback(
    client: &reqwest::Client,
    cluster: &Cluster,
    node: usize,
    order: &str,
    txn_id: &str,
) -> (u16, serde_json::Value) {
    let secret = std::fs::read(cluster.dir(node).join("sim_channel_secret")).expect("sim secret");
    let body = serde_json::json!({
        "order_id": order, "txn_id": txn_id, "amount_cents": 990,
        "paid_at": "2026-12-08T00:00:00Z",
    })
    .to_string();
    let signature = stampede_api::signer::Signer::new(&secret).sign_hex(body.as_bytes());
    let deadline = tokio::time::Instant::now() + PAID_WITHIN;
    loop {
        let response = client
            .post(format!("{}/v1/payments/callbacks/sim", cluster.base(node)))
            .header(
                stampede_api::handlers::payments::SIGNATURE_HEADER,
                &signature,
            )
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("the callback answers");
        let status = response.status().as_u16();
        let answer = response.json().await.expect("a JSON body");
        // 503: the shard's lease is changing hands; the channel would retry.
        if status != 503 || tokio::time::Instant::now() > deadline {
            return (status, answer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transaction_pays_one_order_whatever_the_shards() {
    let Some(cluster) = Cluster::start("one_transaction_pays_one_order_whatever_the_shards").await
    else {
        return;
    };
    let client = reqwest::Client::new();
    // Two orders on two shards (a node creates on a shard it leads).
    let mut orders: Vec<(u32, String, String)> = Vec::new();
    for c in 0..CAMPAIGNS {
        let campaign = create_seckill(&client, cluster.base(c % 3), &format!("txn {c}"), 10).await;
        let id = stampede_core::CampaignId::parse(&campaign).expect("a campaign id");
        let shard = stampede_core::shard_index(id, SHARDS);
        if orders.iter().any(|(s, _, _)| *s == shard) {
            continue;
        }
        wait_shown(&client, &cluster, &campaign).await;
        let user = format!("payer-{c}");
        match grab(&client, cluster.base(0), &campaign, &user).await {
            Answer::Won(order) => orders.push((shard, order, user)),
            other => panic!("{user} did not win on a healthy cluster: {other:?}"),
        }
        if orders.len() == 2 {
            break;
        }
    }
    let [(_, first, first_user), (_, second, second_user)] = &orders[..] else {
        panic!("no two campaigns on two shards: {orders:?}")
    };

    let (status, paid) = callback(&client, &cluster, 0, first, "txn-shared-1").await;
    assert_eq!(status, 200, "{paid}");
    // The same transaction for an order of another shard, through another node: refused.
    let (status, refused) = callback(&client, &cluster, 1, second, "txn-shared-1").await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "txn_conflict", "{refused}");
    // The channel's retry for the order it paid is answered as before.
    let (status, again) = callback(&client, &cluster, 2, first, "txn-shared-1").await;
    assert_eq!(status, 200, "{again}");
    wait_paid(&client, cluster.base(1), first, first_user).await;
    let second_shown = send_json(
        client
            .get(format!("{}/v1/orders/{second}", cluster.base(2)))
            .header("authorization", format!("Bearer {}", token(second_user))),
    )
    .await;
    assert_eq!(second_shown["state"], "pending_payment", "{second_shown}");
}

/// A cluster whose `sim` channel has `setting` (a line of its `[[channels]]` table) and
/// whose nodes get `extra` flags; the config file's directory, kept while the test runs.
async fn start_with_sim(
    test: &str,
    setting: &str,
    extra: &[&str],
) -> Option<(Cluster, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("channels.toml");
    let table = format!("[[channels]]\nname = \"sim\"\n{setting}\n");
    std::fs::write(&config, table).expect("the channels file");
    let config = config.to_str().expect("a UTF-8 path");
    let mut flags = vec!["--config", config];
    flags.extend_from_slice(extra);
    let cluster = Cluster::start_with(test, &flags).await?;
    Some((cluster, dir))
}

/// Longest wait for a duplicate payment's refund (the refund jobs tick every second).
const REFUNDED_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_paid_through_a_follower_is_refunded_by_the_desk_that_took_it() {
    // The simulated customer pays every order twice (two transactions): the second is a
    // duplicate, refunded by the desk that minted it. Orders are paid through nodes that do
    // not lead their shard, whose desks' books alone hold those payments.
    let Some((cluster, _config)) = start_with_sim(
        "a_duplicate_paid_through_a_follower_is_refunded_by_the_desk_that_took_it",
        "duplicate_payment_rate_ppm = 1000000",
        &[],
    )
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let campaign = create_seckill(&client, cluster.base(0), "paid twice", 10).await;
    wait_shown(&client, &cluster, &campaign).await;
    let (_, leader) = cluster.campaign_leader(&campaign).await;
    let mut orders = Vec::new();
    for node in (0..3).filter(|node| *node != leader) {
        let user = format!("twice-{node}");
        let order = match grab(&client, cluster.base(node), &campaign, &user).await {
            Answer::Won(order) => order,
            other => panic!("{user} did not win on a healthy cluster: {other:?}"),
        };
        assert_eq!(pay(&client, cluster.base(node), &order, &user).await, 200);
        orders.push((order, user, node));
    }
    // One payment paid the order, the other is refunded.
    let refunded = |shown: &serde_json::Value| {
        let payments = shown["payments"].as_array().cloned().unwrap_or_default();
        let refunds: Vec<&str> = (payments.iter())
            .filter_map(|p| p["refund"].as_str())
            .collect();
        shown["state"] == "paid" && payments.len() == 2 && refunds == ["refunded"]
    };
    for (order, user, node) in &orders {
        let read = (cluster.base(*node), order.as_str(), user.as_str());
        wait_order(
            &client,
            read,
            "refunded its duplicate",
            REFUNDED_WITHIN,
            refunded,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_whose_callback_was_lost_is_found_by_the_node_that_took_it() {
    // Every callback is lost: a payment reaches the books only through a query. It was made
    // through a follower's desk, whose channel's books alone hold it; the order is read only
    // through the leader, whose desk cannot find it, so only the follower's query job can.
    let Some((cluster, _config)) = start_with_sim(
        "a_payment_whose_callback_was_lost_is_found_by_the_node_that_took_it",
        "drop_callback_rate_ppm = 1000000",
        &["--payment-query-after-secs", "1"],
    )
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let campaign = create_seckill(&client, cluster.base(0), "lost callbacks", 10).await;
    wait_shown(&client, &cluster, &campaign).await;
    let (_, leader) = cluster.campaign_leader(&campaign).await;
    let follower = (leader + 1) % 3;
    let order = match grab(&client, cluster.base(follower), &campaign, "quiet-payer").await {
        Answer::Won(order) => order,
        other => panic!("no win on a healthy cluster: {other:?}"),
    };
    let status = pay(&client, cluster.base(follower), &order, "quiet-payer").await;
    assert_eq!(status, 200, "paying {order}");
    wait_paid(&client, cluster.base(leader), &order, "quiet-payer").await;
}
