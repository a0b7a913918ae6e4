//! A red-packet claim stranded `claiming` by its shard's leader's death is settled by the
//! next leader: after `LEADER_CLAIM_QUIET` it asks the payout provider about the order and
//! journals what it learns. The provider here takes 6 s to pay (`--payout-latency-ms`), past
//! the 5 s payout timeout, so the claim's outcome is unknown and nothing was paid; the new
//! leader's provider answers "no such payout" and the packet is `won` again (claimable).

use std::time::Duration;

use crate::nodes::Cluster;
use crate::support::{send_json, token};
use crate::{Answer, create, grab, survivors_index};

/// Longest wait for the stranded claim to be settled: the lease, a catch-up, the 11 s quiet
/// period, and a wide margin for a loaded machine.
const SETTLED_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_stranded_by_its_leaders_death_is_settled_by_the_next_leader() {
    let Some(mut cluster) = Cluster::start_with(
        "a_claim_stranded_by_its_leaders_death_is_settled_by_the_next_leader",
        &["--payout-latency-ms", "6000"],
    )
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let spec = serde_json::json!({
        "kind": "red_packet", "name": "stranded", "total_cents": 1_000, "count": 10,
    });
    let campaign = create(&client, cluster.base(0), spec).await;
    let (_, leader) = cluster.campaign_leader(&campaign).await;
    let survivor = cluster.base(survivors_index(leader)).to_owned();
    let order = match grab(&client, cluster.base(leader), &campaign, "packet-user").await {
        Answer::Won(order) => order,
        other => panic!("no packet won on a healthy cluster: {other:?}"),
    };
    let read = |base: String| {
        let request = client
            .get(format!("{base}/v1/orders/{order}"))
            .header("authorization", format!("Bearer {}", token("packet-user")));
        async move { send_json(request).await }
    };

    // Through the leader: `claiming` is journaled, the payout call times out (outcome
    // unknown), and the order stays `claiming`.
    let claimed = client
        .post(format!("{}/v1/orders/{order}/claim", cluster.base(leader)))
        .header("authorization", format!("Bearer {}", token("packet-user")))
        .send()
        .await
        .expect("the claim answers");
    let status = claimed.status().as_u16();
    let body = claimed.text().await.expect("a body");
    assert_ne!(status, 200, "paid although the provider takes 6 s: {body}");
    let shown = read(survivor.clone()).await;
    assert_eq!(shown["state"], "claiming", "{shown}");

    cluster.kill(leader);
    let deadline = tokio::time::Instant::now() + SETTLED_WITHIN;
    loop {
        let shown = read(survivor.clone()).await;
        if shown["state"] == "won" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stranded claim was not settled within {SETTLED_WITHIN:?}: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
