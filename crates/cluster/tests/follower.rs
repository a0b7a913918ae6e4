//! A follower tailing a shard's log on a real three-server JetStream cluster.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use stampede_cluster::{Follower, MessageKind, ShardId, Tip};

use support::{NatsCluster, begin, connect, eventually, node};

/// Records as applied: position and payload.
type Records = Vec<(u64, Vec<u8>)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_applies_every_record_in_order_and_tracks_its_progress() {
    let Some(cluster) = NatsCluster::start("a_follower_applies_every_record").await else {
        return;
    };
    let (connection, stream) = connect(&cluster, "a").await;
    let shard = ShardId::new(1);
    let subject = connection.names().log_subject(shard);
    let mut writer = begin(&connection, &stream, shard, node("a"), 7, Tip::default())
        .await
        .expect("begin");
    writer.append(&[b"before the follower"]).await.unwrap();
    // Another shard's messages in the same stream are not this follower's.
    let mut other = begin(
        &connection,
        &stream,
        ShardId::new(2),
        node("a"),
        8,
        Tip::default(),
    )
    .await
    .unwrap();
    other.append(&[b"other shard"]).await.unwrap();

    let applied: Arc<Mutex<Records>> = Arc::default();
    let epochs: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (records, seen_epochs) = (Arc::clone(&applied), Arc::clone(&epochs));
    let follower = Follower::start(
        stream.clone(),
        subject,
        shard,
        Tip::default(),
        Box::new(move |followed_shard, message| {
            assert_eq!(followed_shard, shard);
            if message.meta.kind == MessageKind::Epoch {
                seen_epochs.lock().unwrap().push(message.meta.epoch);
            }
            let mut records = records.lock().unwrap();
            for (position, record) in (message.meta.first_position..).zip(&message.records) {
                records.push((position, record.to_vec()));
            }
            Ok(())
        }),
    );
    for batch in 0..20_u8 {
        writer.append(&[&[batch], &[batch, batch]]).await.unwrap();
    }
    let tip = writer.tip();
    eventually("the follower at the writer's tip", || async {
        (follower.progress().applied == tip).then_some(())
    })
    .await;
    assert!(follower.catch_up(Duration::from_secs(5)).await.unwrap());
    let progress = follower.progress();
    assert_eq!(progress.leader_epoch, 7);
    assert!(progress.last_seq >= tip.last_seq);
    let stopped_at = follower.stop().await.expect("stopped cleanly");
    assert_eq!(stopped_at, tip);

    let applied = applied.lock().unwrap();
    assert_eq!(applied.len(), 41);
    assert_eq!(applied[0], (0, b"before the follower".to_vec()));
    for (index, (position, record)) in applied.iter().enumerate().skip(1) {
        let batch = ((index - 1) / 2) as u8;
        let expected = if index % 2 == 1 {
            vec![batch]
        } else {
            vec![batch, batch]
        };
        assert_eq!((*position, record), (index as u64, &expected));
    }
    assert_eq!(*epochs.lock().unwrap(), vec![7]);
}
