//! A grab under an `Idempotency-Key` retried after its shard's leader died: the new leader
//! has no memory of the first answer, only the shard's log, where the win travels with its
//! key. With a per-user limit of 2, a retry decided afresh would win a second item; it must
//! answer the first win instead.

use std::time::Duration;

use crate::nodes::Cluster;
use crate::support::{token, winners};
use crate::{create, survivors_index};
use stampede_engine::stopwatch;

/// Longest the test retries the key while the shard has no leader (503s): well past the
/// lease and a node's catch-up.
const RETRY_FOR: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_win_retried_after_its_leader_died_is_answered_again_not_won_twice() {
    let Some(mut cluster) =
        Cluster::start("a_keyed_win_retried_after_its_leader_died_is_answered_again_not_won_twice")
            .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let spec = serde_json::json!({
        "kind": "seckill", "name": "keyed failover", "stock": 10, "price_cents": 990,
        "per_user_limit": 2,
    });
    let campaign = create(&client, cluster.base(0), spec).await;
    let (_, leader) = cluster.campaign_leader(&campaign).await;
    let (near, far) = (
        survivors_index(leader),
        survivors_index(survivors_index(leader)),
    );
    let bases: Vec<String> = (0..3).map(|i| cluster.base(i).to_owned()).collect();
    let keyed = |node: usize, key: &'static str| {
        let request = client
            .post(format!("{}/v1/campaigns/{campaign}/grab", bases[node]))
            .header("authorization", format!("Bearer {}", token("keyed-user")))
            .header("idempotency-key", key);
        async move {
            let response = request.send().await.expect("an answer");
            let status = response.status().as_u16();
            (status, response.text().await.expect("a body"))
        }
    };

    let first = keyed(near, "the-key").await;
    assert_eq!(first.0, 200, "{}", first.1);
    assert!(first.1.contains(r#""outcome":"won""#), "{}", first.1);

    cluster.kill(leader);
    let started = stopwatch();
    let retried = loop {
        let answer = keyed(near, "the-key").await;
        if answer.0 != 503 {
            break answer;
        }
        assert!(
            started.elapsed() < RETRY_FOR,
            "the key's retry still 503 after {RETRY_FOR:?}: {}",
            answer.1
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "keyed retry answered {} after {:?} without the leader",
        retried.0,
        started.elapsed()
    );
    assert_eq!(retried, first, "the first decision, after the failover");
    assert_eq!(keyed(far, "the-key").await, first, "through the other node");

    let won: Vec<_> = winners(&client, &bases[far], &campaign)
        .await
        .into_iter()
        .filter(|(user, _)| user == "keyed-user")
        .collect();
    assert_eq!(won.len(), 1, "one item for one key: {won:?}");
    // The limit allowed a second item: another key wins it.
    let (status, body) = keyed(far, "another-key").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""outcome":"won""#), "{body}");
}
