//! The hot campaign's shard leader is paused (SIGSTOP) for three leases while clients grab
//! through it and through the other nodes, then resumed (SIGCONT): another node takes the
//! shard meanwhile; the paused node's writer, waking with grabs in hand, is fenced by the log
//! on its next publish, so it answers no win the log does not hold; it rejoins as a
//! follower, healthy, with the same winners as everyone.

use std::process::Command;
use std::time::Duration;

use tokio::time::Instant;

use crate::burst::{self, Burst};
use crate::nodes::{Cluster, LEASE_MS};
use crate::support::send_json;
use crate::{Answer, counter, create_seckill};

/// How long the leader stays stopped: three leases, so its lease surely runs out and
/// another node takes the shard while it cannot act.
const PAUSE: Duration = Duration::from_millis(3 * LEASE_MS);
/// Longest the bursts may run.
const BURST_LIMIT: Duration = Duration::from_secs(60);
/// Grabs each of the paused node's clients sends through it after it wakes.
const RESUMED_GRABS: usize = 10;
/// Longest wait for the resumed node to settle (healthy, caught up, agreeing on leaders).
const REJOIN_WITHIN: Duration = Duration::from_secs(30);

/// Sends `signal` (`STOP`, `CONT`) to process `pid` with kill(1) (the tests forbid
/// `unsafe`, so not `libc::kill`).
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_fenced_and_rejoins_as_a_follower() {
    let Some(cluster) = Cluster::start("a_paused_leader_is_fenced_and_rejoins_as_a_follower").await
    else {
        return;
    };
    let client = reqwest::Client::new();
    const STOCK: usize = 3_000;
    let campaign = create_seckill(&client, cluster.base(0), "paused sale", STOCK).await;
    let (shard, paused) = cluster.campaign_leader(&campaign).await;
    let others: Vec<usize> = (0..3).filter(|i| *i != paused).collect();
    let paused_base = cluster.base(paused).to_owned();
    let other_bases: Vec<String> = others.iter().map(|i| cluster.base(*i).to_owned()).collect();
    let pid = cluster.nodes[paused].as_ref().expect("running").child.id();

    // Four clients grab through the leader itself (their grabs hang while it is stopped:
    // the client waits up to 30 s), eight through the other nodes, pausing between grabs
    // so the stock outlasts the scenario.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    let pace = |clients, pause_ms| burst::Pace {
        clients,
        pause: Duration::from_millis(pause_ms),
        limit: BURST_LIMIT,
    };
    let leader_base = std::slice::from_ref(&paused_base);
    // The leader's own clients do not pause: one of their grabs is in its writer when it
    // stops, so it wakes with a batch to publish.
    let at_leader = Burst::start(
        &patient,
        leader_base,
        &campaign,
        STOCK,
        "at-leader",
        pace(4, 0),
    );
    let elsewhere = Burst::start(
        &client,
        &other_bases,
        &campaign,
        STOCK,
        "elsewhere",
        pace(8, 20),
    );
    at_leader.until_wins(5, Duration::from_secs(30)).await;
    elsewhere.until_wins(5, Duration::from_secs(30)).await;

    let fenced_before = counter(&client, &paused_base, "stampede_cluster_fenced_total").await;
    signal(pid, "STOP");
    let stopped_at = Instant::now();
    // Another node takes the shard while the leader cannot act.
    let deadline = stopped_at + PAUSE;
    let mut taken_by = None;
    while taken_by.is_none() && Instant::now() < deadline {
        taken_by = cluster
            .leader_of(others[0], shard)
            .await
            .filter(|leader| *leader != paused);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep_until(deadline).await;
    signal(pid, "CONT");
    let resumed_at = Instant::now();
    let taken_by = taken_by.expect("another node took the shard during the pause");
    // The clients of the paused node go on through it for a while after it wakes.
    let answered = at_leader.answered();
    let going_on = tokio::time::timeout(Duration::from_secs(30), async {
        while at_leader.answered() < answered + 4 * RESUMED_GRABS {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(
        going_on.await.is_ok(),
        "the paused node's clients got no answers after it woke"
    );
    at_leader.stop();
    elsewhere.stop();
    let mut log = at_leader.finish().await;
    log.extend(elsewhere.finish().await);

    // What the paused node told its own clients whose grabs it held while stopped (sent
    // before or during the pause, answered after it).
    let held: Vec<&burst::Grabbed> = log
        .iter()
        .filter(|g| g.user.starts_with("at-leader") && g.sent < resumed_at)
        .filter(|g| g.answered > resumed_at)
        .collect();
    let won_during_pause = log
        .iter()
        .filter(|g| g.sent > stopped_at && g.answered < resumed_at)
        .filter(|g| matches!(g.answer, Answer::Won(_)))
        .count();
    let (unavailable, span) = burst::unavailable_after(&log, stopped_at);
    eprintln!(
        "paused node-{} for {PAUSE:?}; node-{} took the shard; {won_during_pause} wins \
         acknowledged during the pause; the {} grabs it held answered {:?}; {unavailable} \
         grabs answered 503 over {span:?}",
        paused + 1,
        taken_by + 1,
        held.len(),
        held.iter().map(|g| &g.answer).collect::<Vec<_>>(),
    );
    assert!(
        won_during_pause > 0,
        "no win acknowledged while the leader was stopped"
    );

    // The paused node rejoins: healthy, caught up, agreeing with the others on who leads
    // the shard (not itself, unless it took the lease again in a later round), and its
    // winners list is everyone's.
    let mut rejoined = false;
    let deadline = Instant::now() + REJOIN_WITHIN;
    while !rejoined && Instant::now() < deadline {
        let health = send_json(client.get(format!("{paused_base}/healthz"))).await;
        let seen = cluster.leader_of(paused, shard).await;
        rejoined = health["status"] == "ok"
            && health["caught_up"] == true
            && seen.is_some()
            && seen == cluster.leader_of(others[0], shard).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rejoined,
        "the paused node did not rejoin within {REJOIN_WITHIN:?}"
    );
    let all_bases = [vec![paused_base.clone()], other_bases].concat();
    burst::assert_no_win_lost(&client, &all_bases, &campaign, &log, STOCK).await;

    let fenced =
        counter(&client, &paused_base, "stampede_cluster_fenced_total").await - fenced_before;
    eprintln!(
        "node-{}: stampede_cluster_fenced_total +{fenced}",
        paused + 1
    );
    // The batch it woke with was refused by the log (and, checked above, answered as no
    // win: every acknowledged win is in every node's list).
    assert!(
        fenced >= 1.0,
        "the paused leader's next publish was not fenced"
    );
}
