//! Shard leases on a real three-server JetStream cluster: acquire, renew, expiry, takeover,
//! loss, spreading over nodes, and a deposed writer fenced.

mod support;

use std::time::Duration;

use stampede_cluster::{
    AppendError, Connection, LeaseConfig, LeaseEvent, LeaseManager, Names, ShardCount, ShardId,
    current_tip,
};
use tokio::time::Instant;

use support::{NatsCluster, PATIENCE, REPLICAS, begin, connect, eventually, node};

/// A short lease keeps the tests short; the rules scale with it.
const LEASE: Duration = Duration::from_millis(1_000);

fn config(shards: u32) -> LeaseConfig {
    LeaseConfig {
        lease: LEASE,
        shards: ShardCount::new(shards).unwrap(),
        replicas: REPLICAS,
    }
}

async fn manager(connection: &Connection, id: &str, shards: u32) -> LeaseManager {
    LeaseManager::start(
        connection,
        node(id),
        format!("http://{id}:8080"),
        config(shards),
    )
    .await
    .expect("lease manager")
}

async fn next(manager: &mut LeaseManager) -> LeaseEvent {
    tokio::time::timeout(PATIENCE, manager.next_event())
        .await
        .expect("a lease event in time")
        .expect("manager running")
}

/// The revision of shard 0's lease key, if held.
async fn revision(connection: &Connection) -> Option<u64> {
    let bucket = connection.lease_bucket(LEASE, REPLICAS).await.ok()?;
    let entry = bucket
        .entry(Names::lease_key(ShardId::new(0)))
        .await
        .ok()??;
    (entry.operation == async_nats::jetstream::kv::Operation::Put).then_some(entry.revision)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_renewed_while_held_and_taken_over_once_it_runs_out() {
    let Some(cluster) = NatsCluster::start("a_lease_is_renewed_while_held").await else {
        return;
    };
    let (connection, _) = connect(&cluster, "a").await;
    let mut a = manager(&connection, "a", 1).await;
    let LeaseEvent::Acquired {
        shard,
        epoch: first,
    } = next(&mut a).await
    else {
        panic!("the only node takes the only shard");
    };
    assert_eq!(shard, ShardId::new(0));
    let (other, _) = connect(&cluster, "b").await;
    let mut b = manager(&other, "b", 1).await;

    // Renewals: the key's revision moves on four times (more than a lease's worth), and b
    // takes nothing meanwhile.
    let mut seen = revision(&connection).await.expect("held");
    for _ in 0..4 {
        seen = eventually("a renewal", || async {
            revision(&connection).await.filter(|now| *now > seen)
        })
        .await;
    }
    assert!(
        tokio::time::timeout(Duration::ZERO, b.next_event())
            .await
            .is_err(),
        "b took a lease a renewed"
    );

    // a stops renewing without giving the lease up (as if frozen): b takes over, not before
    // the lease ran out.
    let stopped = Instant::now();
    a.abandon();
    let LeaseEvent::Acquired {
        shard,
        epoch: second,
    } = next(&mut b).await
    else {
        panic!("b takes the shard over");
    };
    let waited = stopped.elapsed();
    assert_eq!(shard, ShardId::new(0));
    assert!(
        second > first,
        "a later leader has a larger epoch: {first} then {second}"
    );
    assert!(
        waited >= LEASE / 2,
        "taken over {waited:?} after the last renewal could have been"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_whose_key_is_taken_reports_the_loss() {
    let Some(cluster) = NatsCluster::start("a_holder_whose_key_is_taken").await else {
        return;
    };
    let (connection, _) = connect(&cluster, "a").await;
    let mut a = manager(&connection, "a", 1).await;
    assert!(matches!(next(&mut a).await, LeaseEvent::Acquired { .. }));
    // Another writer replaces the key behind a's back (as a node would after a's lease ran
    // out unnoticed): a's next compare-and-set fails and a reports the loss.
    let bucket = connection.lease_bucket(LEASE, REPLICAS).await.unwrap();
    bucket
        .put(Names::lease_key(ShardId::new(0)), "intruder".into())
        .await
        .unwrap();
    assert_eq!(
        next(&mut a).await,
        LeaseEvent::Lost {
            shard: ShardId::new(0)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_spreads_over_the_live_nodes() {
    let Some(cluster) = NatsCluster::start("leadership_spreads_over_the_live_nodes").await else {
        return;
    };
    let mut managers = Vec::new();
    for id in ["a", "b", "c"] {
        let (connection, _) = connect(&cluster, id).await;
        managers.push(manager(&connection, id, 6).await);
    }
    // Each node ends up leading its fair share, 2 of 6, and every shard has a leader.
    let view = eventually("2 shards per node", || async {
        let view = managers[0].view().await;
        let mut counts = std::collections::BTreeMap::new();
        for leader in view.leaders.values() {
            *counts.entry(leader.clone()).or_insert(0) += 1;
        }
        (view.leaders.len() == 6 && counts.len() == 3 && counts.values().all(|n| *n == 2))
            .then_some(view)
    })
    .await;
    assert_eq!(view.nodes.len(), 3);
    assert_eq!(view.nodes[&node("b")], "http://b:8080");
    // A node leaving gives its shards up at once; the others take them.
    let left = managers.pop().unwrap().shutdown().await;
    let mut held = std::collections::BTreeSet::new();
    for event in left {
        match event {
            LeaseEvent::Acquired { shard, .. } => assert!(held.insert(shard)),
            LeaseEvent::Lost { shard } => assert!(held.remove(&shard)),
        }
    }
    assert!(
        held.is_empty(),
        "a node that leaves reports every shard lost: {held:?}"
    );
    eventually("the two others lead all six", || async {
        let view = managers[0].view().await;
        (view.leaders.len() == 6 && view.leaders.values().all(|leader| leader != "c")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_whose_lease_was_taken_is_fenced_on_its_next_append() {
    let Some(cluster) = NatsCluster::start("a_writer_whose_lease_was_taken_is_fenced").await else {
        return;
    };
    let (connection_a, stream) = connect(&cluster, "a").await;
    let mut a = manager(&connection_a, "a", 1).await;
    let LeaseEvent::Acquired { shard, epoch } = next(&mut a).await else {
        panic!("a leads");
    };
    let tip = current_tip(&stream, &connection_a, shard).await.unwrap();
    let mut writer_a = begin(&connection_a, &stream, shard, node("a"), epoch, tip)
        .await
        .expect("a begins");
    writer_a
        .append(&[b"a's win"])
        .await
        .expect("a appends while it leads");

    // a freezes; b takes the lease after it runs out and begins from the log as it is.
    a.abandon();
    let (connection_b, stream_b) = connect(&cluster, "b").await;
    let mut b = manager(&connection_b, "b", 1).await;
    let LeaseEvent::Acquired { epoch: epoch_b, .. } = next(&mut b).await else {
        panic!("b takes over");
    };
    let tip = current_tip(&stream_b, &connection_b, shard).await.unwrap();
    let mut writer_b = begin(&connection_b, &stream_b, shard, node("b"), epoch_b, tip)
        .await
        .expect("b begins");

    // a wakes up still believing it leads: its append is refused.
    let refused = writer_a.append(&[b"a's late win"]).await;
    assert!(
        matches!(refused, Err(AppendError::Fenced { .. })),
        "{refused:?}"
    );
    writer_b.append(&[b"b's win"]).await.expect("b appends");
    assert_eq!(writer_b.tip().next_position, 2);
}
