//! Measures `NatsLog` appends on a three-server, three-replica JetStream cluster started on
//! this machine (`sync_interval: always`): one writer, batches of 1, 64 and 1,024 records of
//! `RECORD_BYTES`, each append waiting for JetStream's acknowledgement (the commit latency a
//! shard's leader sees per group commit).
//!
//! `cargo run -p stampede-cluster --release --example append_rate`

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time
#![allow(missing_docs)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use stampede_cluster::{NatsLog, ShardId, Tip};
use tokio::runtime::Handle;

/// About an engine record (a win with its order id, user and amounts).
const RECORD_BYTES: usize = 160;
/// How long each batch size runs.
const RUN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    let Some(cluster) = support::NatsCluster::start("append_rate").await else {
        return;
    };
    let (connection, stream) = support::connect(&cluster, "bench").await;
    for (shard, batch) in [1_usize, 64, 1024].into_iter().enumerate() {
        let shard = ShardId::new(u32::try_from(shard).expect("three shards"));
        let mut log = NatsLog::begin(
            Handle::current(),
            connection.clone(),
            stream.clone(),
            shard,
            support::node("bench"),
            1,
            Tip::default(),
        )
        .await
        .expect("begin");
        let record = vec![0x5a_u8; RECORD_BYTES];
        let records: Vec<&[u8]> = vec![record.as_slice(); batch];
        let mut latencies = Vec::new();
        let started = Instant::now();
        while started.elapsed() < RUN {
            let sent = Instant::now();
            log.append(&records).await.expect("append");
            latencies.push(sent.elapsed().as_micros() as u64);
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let count = latencies.len();
        let at = |q: f64| latencies[((count as f64 * q) as usize).min(count - 1)];
        println!(
            "batch {batch:>4} x {RECORD_BYTES} B: {:>6.0} appends/s, {:>8.0} records/s, \
             commit p50 {:>5} us, p99 {:>6} us, max {:>6} us",
            count as f64 / seconds,
            (count * batch) as f64 / seconds,
            at(0.5),
            at(0.99),
            latencies[count - 1],
        );
    }
}
