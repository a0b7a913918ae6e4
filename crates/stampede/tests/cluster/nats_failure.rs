//! One of the three nats-servers is SIGKILLed mid-burst: JetStream keeps a quorum (2 of 3),
//! so wins keep being taken, and nothing acknowledged is lost.

use std::time::Duration;

use tokio::time::Instant;

use crate::burst::{self, Burst};
use crate::nodes::Cluster;
use crate::{Answer, create_seckill};

/// The log stream of the test cluster (`<cluster name>_log`, the default cluster name).
const LOG_STREAM: &str = "stampede_log";
/// Longest the burst may run: the stock sells out well within it while a quorum is up.
const BURST_LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_server_dies_mid_burst_and_wins_keep_being_taken() {
    let Some(mut cluster) =
        Cluster::start("a_nats_server_dies_mid_burst_and_wins_keep_being_taken").await
    else {
        return;
    };
    let client = reqwest::Client::new();
    const STOCK: usize = 200;
    let campaign = create_seckill(&client, cluster.base(0), "quorum sale", STOCK).await;
    let bases: Vec<String> = (0..3).map(|i| cluster.base(i).to_owned()).collect();

    // Twelve clients grab through all three nodes; once a fifth of the stock is sold, the
    // server leading the log stream (the hardest one to lose: the stream elects a new
    // leader) is killed.
    let pace = burst::Pace {
        clients: 12,
        pause: Duration::ZERO,
        limit: BURST_LIMIT,
    };
    let burst = Burst::start(&client, &bases, &campaign, STOCK, "quorum", pace);
    burst.until_wins(STOCK / 5, Duration::from_secs(60)).await;
    let victim = cluster.nats.stream_leader(LOG_STREAM).await.unwrap_or(0);
    let killed_at = Instant::now();
    cluster.nats.kill(victim);
    let log = burst.finish().await;

    let won_after: Vec<Duration> = log
        .iter()
        .filter(|g| g.sent > killed_at && matches!(g.answer, Answer::Won(_)))
        .map(|g| g.answered - killed_at)
        .collect();
    let sold_out = log
        .iter()
        .any(|g| matches!(&g.answer, Answer::Lost(code) if code == "sold_out"));
    let (unavailable, span) = burst::unavailable_after(&log, killed_at);
    let acknowledged = burst::acknowledged(&log).len();
    eprintln!(
        "nats-server n{} (the log stream's leader) killed: {} wins acknowledged after it \
         (first {:?} after the kill); {unavailable} grabs answered 503 over {span:?}; \
         {acknowledged} acknowledged in all, sold out: {sold_out}",
        victim + 1,
        won_after.len(),
        won_after.iter().min(),
    );
    assert!(
        !won_after.is_empty(),
        "no win was acknowledged after the nats-server died"
    );
    // Two of three servers are a quorum: the sale goes on to its end.
    assert!(
        sold_out || acknowledged == STOCK,
        "the burst did not sell out within {BURST_LIMIT:?} ({acknowledged} acknowledged)"
    );
    burst::assert_no_win_lost(&client, &bases, &campaign, &log, STOCK).await;
}
