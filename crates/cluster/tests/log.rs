//! The fenced shard log on a real three-server JetStream cluster: positions, fencing, and a
//! server killed under a writer.

mod support;

use stampede_cluster::{AppendError, NatsLog, ShardId, Tip, current_tip, fenced_in};
use stampede_journal::{JournalError, Log, MAX_RECORD_BYTES};

use support::{NatsCluster, begin, connect, node};

const SHARD: ShardId = ShardId::new(3);

/// Every record of the shard at `from` or later, read through the `Log` trait.
async fn read_all(mut log: NatsLog, from: u64) -> (NatsLog, u64, Vec<(u64, Vec<u8>)>) {
    tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        let end = log
            .read_from(from, &mut |position, payload| {
                seen.push((position, payload.to_vec()));
                Ok(())
            })
            .expect("read_from");
        (log, end, seen)
    })
    .await
    .expect("reader thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_batches_read_back_at_their_positions() {
    let Some(cluster) = NatsCluster::start("appended_batches_read_back_at_their_positions").await
    else {
        return;
    };
    let (connection, stream) = connect(&cluster, "a").await;
    let log = begin(&connection, &stream, SHARD, node("a"), 1, Tip::default())
        .await
        .expect("begin");
    // A batch over max_payload (1 MiB): split over several fenced messages.
    let big: Vec<Vec<u8>> = (0..40_u8).map(|i| vec![i; MAX_RECORD_BYTES]).collect();
    let (log, stats) = tokio::task::spawn_blocking(move || {
        let mut log = log;
        let first = log.append_batch(&[b"a", b"b"]).expect("first batch");
        let second = log.append_batch(&[b"c"]).expect("second batch");
        let big_refs: Vec<&[u8]> = big.iter().map(Vec::as_slice).collect();
        let third = log.append_batch(&big_refs).expect("split batch");
        let empty = log.append_batch(&[]).expect("empty batch");
        (log, [first, second, third, empty])
    })
    .await
    .unwrap();
    let positions: Vec<(u64, usize)> = stats
        .iter()
        .map(|s| (s.first_position, s.records))
        .collect();
    assert_eq!(positions, vec![(0, 2), (2, 1), (3, 40), (43, 0)]);
    assert_eq!(log.next_position(), 43);
    let tip = current_tip(&stream, &connection, SHARD).await.unwrap();
    assert_eq!(tip, log.tip(), "the server's tip is the writer's");
    assert!(tip.last_seq >= 5, "epoch + 2 + at least 3 parts: {tip:?}");

    let (log, end, seen) = read_all(log, 1).await;
    assert_eq!(end, 43);
    assert_eq!(seen.len(), 42);
    assert_eq!(seen[0], (1, b"b".to_vec()));
    assert_eq!(seen[1], (2, b"c".to_vec()));
    for (offset, (position, payload)) in seen[2..].iter().enumerate() {
        assert_eq!(*position, 3 + offset as u64);
        assert_eq!(payload, &vec![offset as u8; MAX_RECORD_BYTES]);
    }
    let (log, end, seen) = read_all(log, 20).await;
    assert_eq!(
        (end, seen.len(), seen[0].0),
        (43, 23, 20),
        "a read from inside a split batch"
    );
    let (_, end, seen) = read_all(log, 43).await;
    assert_eq!((end, seen.len()), (43, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_behind_the_log_is_fenced_and_nothing_of_its_batch_is_stored() {
    let Some(cluster) = NatsCluster::start("a_writer_behind_the_log_is_fenced").await else {
        return;
    };
    let (connection, stream) = connect(&cluster, "a").await;
    let mut old = begin(&connection, &stream, SHARD, node("a"), 1, Tip::default())
        .await
        .expect("begin epoch 1");
    old.append(&[b"one"]).await.expect("first writer appends");

    // A new leader, built from the log as it is, fences the old one with its epoch message.
    let tip = current_tip(&stream, &connection, SHARD).await.unwrap();
    let mut new = begin(&connection, &stream, SHARD, node("b"), 2, tip)
        .await
        .expect("begin epoch 2");
    // A writer whose state is behind the log cannot even begin.
    let stale = begin(&connection, &stream, SHARD, node("c"), 3, Tip::default()).await;
    assert!(
        matches!(stale, Err(AppendError::Fenced { .. })),
        "{:?}",
        stale.err()
    );

    // The old writer's next append, through the Log trait, is refused as fenced.
    let (old, refused, again) = tokio::task::spawn_blocking(move || {
        let refused = old.append_batch(&[b"stale win"]);
        let again = old.append_batch(&[b"another"]);
        (old, refused, again)
    })
    .await
    .unwrap();
    let refused = refused.expect_err("a deposed writer's append must fail");
    assert!(
        fenced_in(&refused).is_some(),
        "fenced, not some other failure: {refused}"
    );
    assert!(
        matches!(again, Err(JournalError::Poisoned { .. })),
        "{again:?}"
    );
    assert_eq!(old.next_position(), 1, "the refused batch took no position");

    new.append(&[b"two"]).await.expect("the new leader appends");
    let (_, end, seen) = read_all(old, 0).await;
    assert_eq!(end, 2);
    assert_eq!(
        seen,
        vec![(0, b"one".to_vec()), (1, b"two".to_vec())],
        "nothing of the fenced batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_go_on_when_a_server_is_killed_and_nothing_acknowledged_is_lost() {
    let Some(mut cluster) = NatsCluster::start("appends_go_on_when_a_server_is_killed").await
    else {
        return;
    };
    let (connection, mut stream) = connect(&cluster, "a").await;
    let log = begin(&connection, &stream, SHARD, node("a"), 1, Tip::default())
        .await
        .expect("begin");
    // The stream leader is the server whose loss hurts: kill that one.
    let leader = stream
        .info()
        .await
        .unwrap()
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("stream leader");
    let victim = leader
        .trim_start_matches('n')
        .parse::<usize>()
        .expect("server name n1..n3")
        - 1;

    const BATCHES: usize = 200;
    const KILL_AFTER: usize = 50;
    let (killed_sender, killed) = std::sync::mpsc::channel::<()>();
    let (half_sender, mut half) = tokio::sync::mpsc::channel::<()>(1);
    let writer = tokio::task::spawn_blocking(move || {
        let mut log = log;
        let mut acknowledged = Vec::new();
        for batch in 0..BATCHES {
            if batch == KILL_AFTER {
                half_sender.blocking_send(()).unwrap();
                killed.recv().unwrap();
            }
            let records: Vec<Vec<u8>> = (0..8)
                .map(|i| format!("{batch}/{i}").into_bytes())
                .collect();
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            let stats = log
                .append_batch(&refs)
                .unwrap_or_else(|error| panic!("batch {batch}: {error}"));
            acknowledged.extend((stats.first_position..).zip(records));
        }
        (log, acknowledged)
    });
    half.recv().await.unwrap();
    cluster.kill(victim);
    killed_sender.send(()).unwrap();
    let (log, acknowledged) = writer.await.unwrap();
    assert_eq!(acknowledged.len(), BATCHES * 8);
    let (_, end, seen) = read_all(log, 0).await;
    assert_eq!(end, (BATCHES * 8) as u64);
    assert_eq!(
        seen, acknowledged,
        "every acknowledged record, in order, once"
    );
}
