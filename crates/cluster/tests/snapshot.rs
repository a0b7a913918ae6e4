//! Snapshots in the object store and trimming the log below them, on a real three-server
//! JetStream cluster.

mod support;

use stampede_cluster::{ReadError, ShardId, SnapshotStore, Tip};

use support::{NatsCluster, REPLICAS, begin, connect, node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_store_load_and_trim_the_log_below_the_oldest_kept() {
    let Some(cluster) = NatsCluster::start("snapshots_store_load_and_trim").await else {
        return;
    };
    let (connection, stream) = connect(&cluster, "a").await;
    let shard = ShardId::new(5);
    let store = SnapshotStore::open(&connection, stream.clone(), REPLICAS)
        .await
        .expect("store");
    assert_eq!(store.latest(shard).await.unwrap(), None);

    let mut writer = begin(&connection, &stream, shard, node("a"), 1, Tip::default())
        .await
        .unwrap();
    let mut tips = Vec::new();
    for round in 0..3_u8 {
        for batch in 0..5_u8 {
            writer.append(&[&[round, batch]]).await.unwrap();
        }
        tips.push(writer.tip());
        store
            .put(shard, writer.tip(), &[b's', round])
            .await
            .unwrap();
    }
    writer.append(&[b"after the last snapshot"]).await.unwrap();
    // Another shard's snapshot is not this one's.
    store
        .put(
            ShardId::new(6),
            Tip {
                last_seq: 1,
                next_position: 99,
            },
            b"other",
        )
        .await
        .unwrap();

    let latest = store.latest(shard).await.unwrap().expect("a snapshot");
    assert_eq!(latest.tip, tips[2]);
    assert_eq!(latest.state, b"s\x02");

    let pruned = store.prune(shard).await.unwrap();
    assert_eq!(pruned.snapshots, 1, "two kept");
    assert!(
        pruned.messages >= 5,
        "the log below the oldest kept is purged: {pruned:?}"
    );
    assert_eq!(store.latest(shard).await.unwrap().unwrap().tip, tips[2]);

    // What the kept snapshots cover is still readable; below them it is gone.
    let mut seen = Vec::new();
    let end = writer
        .read(tips[1].next_position, &mut |position, payload| {
            seen.push((position, payload.to_vec()));
            Ok(())
        })
        .await
        .expect("read after the oldest kept snapshot");
    assert_eq!(end, 16);
    assert_eq!(seen.first(), Some(&(10, vec![2, 0])));
    assert_eq!(seen.len(), 6);
    let trimmed = writer.read(0, &mut |_, _| Ok(())).await;
    assert!(
        matches!(trimmed, Err(ReadError::Trimmed { asked: 0, .. })),
        "{trimmed:?}"
    );

    // The writer goes on appending after the trim: its fencing sequence is still there.
    writer
        .append(&[b"after the trim"])
        .await
        .expect("append after trim");
    assert_eq!(writer.tip().next_position, 17);
}
