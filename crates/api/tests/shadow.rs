//! A shadow stampede on a live campaign while real grabs go on beside it: the real stock,
//! orders, winners and metric series move only with the real grabs, and the shadow copy is
//! consistent with what the shadow clients were answered.
//!
//! Alone in its binary: the metrics recorder is process-wide, so the counts read from
//! `/metrics` here are this test's grabs and nobody else's.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::Value;
use stampede_api::stats::registry::counter_by_label;
use support::{TestServer, read_json};

const STOCK: u64 = 40;
/// Real users, each grabbing once (the default per-user rule allows one grab a second).
const REAL_USERS: usize = 25;
/// Shadow users, each grabbing [`SHADOW_TRIES`] times; their ids overlap the real users'.
const SHADOW_USERS: usize = 100;
const SHADOW_TRIES: usize = 3;

/// One grab's answer: (user, HTTP status, outcome or error code, order id if any).
type Answer = (String, StatusCode, String, Option<String>);

async fn grab(client: reqwest::Client, url: String, user: String, authorization: String) -> Answer {
    let response = (client.post(url).header("authorization", authorization))
        .send()
        .await
        .expect("request sent");
    let (status, json) = read_json(response).await;
    let code = json["outcome"]
        .as_str()
        .or_else(|| json["error"]["code"].as_str())
        .unwrap_or_else(|| panic!("an outcome or an error: {json}"))
        .to_owned();
    let order = json["order_id"].as_str().map(str::to_owned);
    (user, status, code, order)
}

fn tally(answers: &[Answer]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for (_, _, code, _) in answers {
        *counts.entry(code.clone()).or_insert(0) += 1;
    }
    counts
}

fn series(text: &str, family: &str) -> BTreeMap<String, u64> {
    (counter_by_label(text, family, "outcome").into_iter())
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shadow_stampede_leaves_the_real_sale_alone() {
    // Hundreds of grabs at once on a debug build and a shared machine: a real win may wait
    // for its fsync longer than the default reply timeout, which would answer it `degraded`.
    let server = TestServer::start_with(|config| config.journal_reply_timeout_ms = 10_000).await;
    let campaign = server.create_seckill(STOCK).await;

    // Real and shadow grabs at once, interleaved: one real grab among every four shadow ones.
    let url = server.url(&format!("/v1/campaigns/{campaign}/grab"));
    let spawn = |user: String, authorization: String| {
        tokio::spawn(grab(
            server.client.clone(),
            url.clone(),
            user,
            authorization,
        ))
    };
    let mut real_tasks = Vec::new();
    let mut shadow_tasks = Vec::new();
    for i in 0..SHADOW_USERS * SHADOW_TRIES {
        if i % 4 == 0 && real_tasks.len() < REAL_USERS {
            let user = format!("u{}", real_tasks.len());
            real_tasks.push(spawn(user.clone(), server.token(&user)));
        }
        let user = format!("u{}", i % SHADOW_USERS);
        shadow_tasks.push(spawn(user.clone(), server.shadow_token(&user)));
    }
    assert_eq!(real_tasks.len(), REAL_USERS);
    let mut real = Vec::new();
    for task in real_tasks {
        real.push(task.await.expect("grab task"));
    }
    let mut shadow = Vec::new();
    for task in shadow_tasks {
        shadow.push(task.await.expect("grab task"));
    }

    // Real: every real user won, nothing else.
    assert_eq!(
        tally(&real),
        BTreeMap::from([("won".into(), REAL_USERS as u64)])
    );
    let real_orders: BTreeMap<String, String> = (real.iter())
        .map(|(user, _, _, order)| (user.clone(), order.clone().expect("won")))
        .collect();
    let detail = server.campaign(&campaign).await;
    assert_eq!(detail["remaining"], STOCK - REAL_USERS as u64, "{detail}");
    let (_, winners) = server.all_winners(&campaign, 100).await;
    let listed: BTreeMap<String, String> = (winners.iter())
        .map(|w| (owned(&w["user_id"]), owned(&w["order_id"])))
        .collect();
    assert_eq!(
        listed, real_orders,
        "the real winners are the real grabs' wins"
    );
    assert_eq!(
        server
            .state
            .shards
            .home()
            .engine
            .inspect(|ledger| ledger.order_count()),
        REAL_USERS,
        "no shadow order in the real ledger"
    );

    // Shadow: the copy sold its whole stock, once per user, to the users answered `won`.
    let counts = tally(&shadow);
    assert_eq!(counts.get("won"), Some(&STOCK), "{counts:?}");
    let shadow_wins: BTreeMap<String, String> = (shadow.iter())
        .filter(|(_, _, code, _)| code == "won")
        .map(|(user, _, _, order)| (user.clone(), order.clone().expect("won")))
        .collect();
    assert_eq!(shadow_wins.len() as u64, STOCK, "one win per shadow user");
    for (user, status, code, order) in &shadow {
        match code.as_str() {
            "won" | "already_won" => {
                assert_eq!(*status, StatusCode::OK);
                assert_eq!(order.as_ref(), shadow_wins.get(user), "{user}'s order");
            }
            "sold_out" => assert_eq!(*status, StatusCode::GONE),
            other => panic!("shadow grab by {user} answered {other}"),
        }
    }
    let real_ids: BTreeSet<&String> = real_orders.values().collect();
    assert!(
        shadow_wins.values().all(|order| !real_ids.contains(order)),
        "shadow order ids are not real ones"
    );
    let (status, copy) =
        read_json((server.get_as_admin(&format!("/v1/admin/shadow/campaigns/{campaign}"))).await)
            .await;
    assert_eq!(status, StatusCode::OK, "{copy}");
    assert_eq!(copy["total"], STOCK);
    assert_eq!(copy["remaining"], 0);
    assert_eq!(copy["winners"], STOCK);
    assert_eq!(copy["status"], "sold_out");
    let (status, page) = read_json(
        (server.get_as_admin(&format!(
            "/v1/admin/shadow/campaigns/{campaign}/winners?limit=1000"
        )))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let copy_winners: BTreeMap<String, String> = (page["winners"].as_array().unwrap().iter())
        .map(|w| (owned(&w["user_id"]), owned(&w["order_id"])))
        .collect();
    assert_eq!(
        copy_winners, shadow_wins,
        "the copy's winners are the shadow wins"
    );
    assert_eq!(page["next"], Value::Null);

    // Metrics: the real family counts exactly the real grabs, the shadow family the rest.
    let text = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        series(&text, "stampede_grab_outcomes_total"),
        tally(&real),
        "the real series moved only with the real grabs"
    );
    assert_eq!(series(&text, "stampede_shadow_grab_outcomes_total"), counts);
    let latency_count = |family: &str| {
        (text.lines())
            .find_map(|line| line.strip_prefix(&format!("{family}_count ")))
            .map(|n| n.parse::<u64>().unwrap())
    };
    assert_eq!(
        latency_count("stampede_grab_latency_seconds"),
        Some(REAL_USERS as u64)
    );
    assert_eq!(
        latency_count("stampede_shadow_grab_latency_seconds"),
        Some((SHADOW_USERS * SHADOW_TRIES) as u64)
    );

    // The real sale goes on after the rehearsal: its remaining stock is still there.
    let (order, _) = server.win(&campaign, "late-buyer").await;
    assert!(!shadow_wins.values().any(|o| *o == order));
    server.shutdown().await;
}

fn owned(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}
