//! End-to-end crash test: the real binary, many concurrent clients, SIGKILL mid-burst, restart;
//! every win a client received a 200 for is still there, and winners + remaining == total.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{Server, admin, send_json, token, wait_for, winners};
use tokio::sync::Mutex;

const STOCK: u64 = 100_000;
const CLIENTS: usize = 48;
/// Kill after this many acknowledged wins (well before stock runs out, so the burst is live).
const KILL_AFTER_WINS: usize = 1_500;
const ROUNDS: usize = 2;
/// How long the clients may take to reach `KILL_AFTER_WINS` (a debug build on a loaded
/// machine takes seconds) before the test fails instead of hanging.
const WINS_DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_wins_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let rate = [
        "--grab-rate-per-second",
        "1000",
        "--grab-rate-burst",
        "1000",
    ];
    let client = reqwest::Client::new();
    let server = Server::start(dir.path(), &rate).await;
    let created = send_json(
        client
            .post(format!("{}/v1/campaigns", server.base))
            .header("authorization", admin())
            .json(&serde_json::json!({"kind":"seckill","name":"crash","stock":STOCK,"price_cents":100})),
    )
    .await;
    let campaign = created["id"].as_str().unwrap().to_owned();

    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let mut server = Some(server);
    for round in 0..ROUNDS {
        let live = server.take().unwrap_or_else(|| unreachable!());
        let wins = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let (client, base, campaign) = (client.clone(), live.base.clone(), campaign.clone());
            let (acked, wins) = (Arc::clone(&acked), Arc::clone(&wins));
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let user = format!("r{round}c{c}n{n}");
                    let sent = client
                        .post(format!("{base}/v1/campaigns/{campaign}/grab"))
                        .header("authorization", format!("Bearer {}", token(&user)))
                        .send()
                        .await;
                    let Ok(response) = sent else { return }; // the server died
                    if response.status() != 200 {
                        continue;
                    }
                    let Ok(body) = response.json::<serde_json::Value>().await else {
                        return;
                    };
                    assert_eq!(body["outcome"], "won");
                    acked
                        .lock()
                        .await
                        .insert(user, body["order_id"].as_str().unwrap().to_owned());
                    wins.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        wait_for("wins to kill the server after", WINS_DEADLINE, || {
            wins.load(Ordering::Relaxed) >= KILL_AFTER_WINS
        })
        .await;
        live.kill(); // mid-burst: 48 clients still sending
        for task in tasks {
            task.await.unwrap();
        }
        let restarted = Server::start(dir.path(), &rate).await;
        check(&client, &restarted.base, &campaign, &*acked.lock().await).await;
        server = Some(restarted);
    }
}

async fn check(
    client: &reqwest::Client,
    base: &str,
    campaign: &str,
    acked: &HashMap<String, String>,
) {
    let listed = winners(client, base, campaign).await;
    let by_user: HashMap<&str, &str> = listed
        .iter()
        .map(|(u, o)| (u.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        by_user.len(),
        listed.len(),
        "a user appears twice among the winners"
    );
    let orders: HashSet<&str> = listed.iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(orders.len(), listed.len(), "an order id appears twice");
    for (user, order) in acked {
        assert_eq!(
            by_user.get(user.as_str()),
            Some(&order.as_str()),
            "acknowledged win of {user} lost"
        );
    }
    let shown = send_json(client.get(format!("{base}/v1/campaigns/{campaign}"))).await;
    let remaining = shown["remaining"].as_u64().unwrap();
    assert_eq!(
        remaining + listed.len() as u64,
        STOCK,
        "winners + remaining != total"
    );
    assert!(listed.len() >= acked.len());
}

/// A win under an `Idempotency-Key`, then SIGKILL and a restart: the key's retry answers the
/// same win, from the journal (the key travels with the win), not a second item (the limit
/// is 2, so a retry decided afresh would win one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_win_is_answered_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path(), &[]).await;
    let created = send_json(
        client
            .post(format!("{}/v1/campaigns", server.base))
            .header("authorization", admin())
            .json(&serde_json::json!({"kind":"seckill","name":"keyed","stock":5,"price_cents":100,"per_user_limit":2})),
    )
    .await;
    let campaign = created["id"].as_str().unwrap().to_owned();
    let keyed = |base: &str, key: &str| {
        client
            .post(format!("{base}/v1/campaigns/{campaign}/grab"))
            .header("authorization", format!("Bearer {}", token("keyed-user")))
            .header("idempotency-key", key)
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };
    let first = answer(keyed(&server.base, "the-key").await.unwrap()).await;
    assert_eq!(first.0, 200, "{}", first.1);
    assert!(first.1.contains(r#""outcome":"won""#), "{}", first.1);
    server.kill();
    let restarted = Server::start(dir.path(), &[]).await;
    let retried = answer(keyed(&restarted.base, "the-key").await.unwrap()).await;
    assert_eq!(retried, first, "the first decision, after the restart");
    let won = winners(&client, &restarted.base, &campaign).await;
    assert_eq!(won.len(), 1, "one item for one key: {won:?}");
}
